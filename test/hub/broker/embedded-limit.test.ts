// The embedded broker is for one school (README "Mosquitto instead of the embedded broker"): the
// hub, started as a subprocess, refuses to start it for more stations than
// HANDOVER_EMBEDDED_BROKER_MAX_STATIONS and says to use Mosquitto; with several schools under the
// limit it starts and warns in its log; `station add` past the limit warns as it registers.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { testDatabaseTarget, type TestDatabaseTarget } from '../../support/test-database';

const BIN = path.resolve(__dirname, '../../../bin/handover.mjs');
const targets: TestDatabaseTarget[] = [];
afterAll(async () => {
  for (const target of targets) await target.drop();
});

async function deployment(): Promise<Record<string, string>> {
  const target = await testDatabaseTarget();
  targets.push(target);
  const dataDir = target.dataDir;
  return { ...process.env, HANDOVER_DATA_DIR: dataDir, DATABASE_URL: target.databaseUrl ?? '', HANDOVER_HTTP_PORT: '0', HANDOVER_MQTT_PORT: '0', HANDOVER_EMBEDDED_BROKER_MAX_STATIONS: '3' } as Record<string, string>;
}

function handover(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, timeout: 90_000 }, (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

/** Starts `handover serve`; its output until it says it is running (then stops it), or until it exits. */
function serve(env: Record<string, string>): Promise<{ code: number | null; output: string; running: boolean }> {
  const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve) => {
    let running = false;
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (!running && output.includes('Handover hub running')) {
        running = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => resolve({ code, output, running }));
  });
}

it('refuses to start the embedded broker for more stations than its limit, and says to use Mosquitto', async () => {
  const env = await deployment();
  for (const id of ['room-1', 'room-2', 'room-3']) {
    const added = await handover(env, 'station', 'add', id, '--lockers', '8');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).not.toMatch(/warning/);
  }
  const under = await serve(env);
  expect(under.running, under.output).toBe(true);
  expect(under.output).not.toMatch(/embedded MQTT broker is for one school/);

  const fourth = await handover(env, 'station', 'add', 'room-4', '--lockers', '8');
  expect(fourth.code, fourth.stderr).toBe(0);
  expect(fourth.stderr).toMatch(/warning: the station is registered, but the hub will not start: the embedded MQTT broker is for one school, and 4 stations are registered/);

  const over = await serve(env);
  expect(over.running).toBe(false);
  expect(over.code).toBe(1);
  expect(over.output).toMatch(/handover: the embedded MQTT broker is for one school, and 4 stations are registered, more than HANDOVER_EMBEDDED_BROKER_MAX_STATIONS \(3\)/);
  expect(over.output).toMatch(/run Mosquitto 2 instead .* HANDOVER_EMBEDDED_BROKER=false/);

}, 240_000);

it('warns in its log when the embedded broker serves several schools', async () => {
  const env = await deployment();
  const school = await handover(env, 'school', 'add', 'north', '--name', 'North Primary');
  expect(school.code, school.stderr).toBe(0);
  const added = await handover(env, 'station', 'add', 'north-1', '--lockers', '8', '--school', 'north');
  expect(added.code, added.stderr).toBe(0);
  expect(added.stderr).toMatch(/warning: the embedded MQTT broker is for one school, and this deployment holds 2 schools \(1 station\)/);
  const started = await serve(env);
  expect(started.running, started.output).toBe(true);
  expect(started.output).toMatch(/the embedded MQTT broker is for one school, and this deployment holds 2 schools .*Mosquitto/);
}, 180_000);
