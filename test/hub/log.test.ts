// The hub's log (issue 18): pino records with a level and an area, one JSON object a line when the
// output is not a terminal (or HANDOVER_LOG_FORMAT=json), pino-pretty lines otherwise; fastify logs
// through it without a line per request unless HANDOVER_LOG_LEVEL=debug; a client's chosen text
// cannot forge or split a line in either format. The hub runs as `handover serve`, a child process
// writing to a pipe, as under a service manager.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../hub/src/log';
import { eventually } from '../support/eventually';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FORGED = '2026-12-07T12:00:00.000Z info [hub/ingest] demo-1 boot 1 #99 collect locker 0';

interface RunningHub {
  child: ChildProcess;
  output: () => string;
  lines: () => string[];
  httpUrl: string;
  mqttUrl: string;
}

let running: RunningHub | null = null;
afterEach(async () => {
  const child = running?.child;
  running = null;
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});

async function serve(env: Record<string, string>): Promise<RunningHub> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-log-'));
  let output = '';
  const child = spawn(process.execPath, [path.join(root, 'bin/handover.mjs'), 'serve'], {
    cwd: dataDir,
    env: { ...process.env, DATABASE_URL: '', HANDOVER_DATA_DIR: path.join(dataDir, 'data'), HANDOVER_HTTP_PORT: '0', HANDOVER_MQTT_PORT: '0', HANDOVER_LOG_FORMAT: '', HANDOVER_LOG_LEVEL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const hub: RunningHub = { child, output: () => output, lines: () => output.split('\n').filter((line) => line !== ''), httpUrl: '', mqttUrl: '' };
  running = hub;
  const started = await eventually(() => /office page on (http:\/\/[\d.:]+)\//.exec(output), 60_000, 'the hub started');
  hub.httpUrl = started![1];
  hub.mqttUrl = /embedded MQTT broker on (mqtt:\/\/[\d.:]+)/.exec(output)![1];
  return hub;
}

/** A CONNECT under a user name that carries a whole forged log line; refused. */
async function connectAs(url: string, username: string): Promise<void> {
  await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, username, password: 'guess', clientId: `laptop-${Math.random().toString(16).slice(2)}` }).then(
    (client) => client.endAsync().then(() => expect.unreachable('let in')),
    () => undefined,
  );
}

describe('the hub log, from outside', () => {
  it('writes one JSON record a line when its output is not a terminal, quiet about requests, unforgeable', async () => {
    const hub = await serve({});
    const records = hub.lines().map((line) => JSON.parse(line) as { level: string; time: string; area: string; msg: string });
    expect(records.length).toBeGreaterThan(3);
    for (const record of records) expect(record).toMatchObject({ level: expect.any(String), time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), area: expect.stringMatching(/^hub/), msg: expect.any(String) });
    expect(records.map((record) => record.msg)).toContain(`office page on ${hub.httpUrl}/`);
    expect(records.find((record) => record.msg.startsWith('listening on'))?.area).toBe('hub/ingest');
    const before = hub.lines().length;
    expect((await fetch(`${hub.httpUrl}/login`)).status).toBe(200);
    await connectAs(hub.mqttUrl, `x\n${FORGED}\u202e`);
    await eventually(() => hub.output().includes('refused connect by'), 10_000, 'the refusal logged');
    const after = hub.lines().slice(before);
    expect(after.filter((line) => /request|\/login/.test(line))).toEqual([]); // no line for the page request
    const refusals = after.filter((line) => line.includes('refused connect by'));
    expect(refusals).toHaveLength(1);
    const refusal = JSON.parse(refusals[0]) as { level: string; area: string; msg: string };
    expect(refusal).toMatchObject({ level: 'warn', area: 'hub/broker' });
    expect(refusal.msg).toMatch(/^refused connect by "x\\u000a2026-12-07T12:00/);
    expect(refusal.msg).not.toMatch(/[\n\u202e]/);
    expect(hub.lines().some((line) => line.startsWith(FORGED))).toBe(false);
  }, 90_000);

  it('pretty on request; at debug level every page request is logged by fastify, through the same log', async () => {
    const hub = await serve({ HANDOVER_LOG_FORMAT: 'pretty', HANDOVER_LOG_LEVEL: 'debug' });
    expect(hub.lines()[0]).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: \[hub\] database /);
    await fetch(`${hub.httpUrl}/login`);
    await eventually(() => hub.output().includes('[hub/web] request completed'), 10_000, 'the request logged');
    await connectAs(hub.mqttUrl, `x\n${FORGED}`);
    await eventually(() => hub.output().includes('refused connect by'), 10_000, 'the refusal logged');
    expect(hub.lines().filter((line) => line.includes('refused connect by'))).toEqual([expect.stringMatching(/WARN: \[hub\/broker\] refused connect by "x\\u000a2026/)]);
    expect(hub.lines().some((line) => line.startsWith(FORGED))).toBe(false);
  }, 90_000);

  it('refuses a level or format it does not know, naming the variable', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-log-'));
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(root, 'bin/handover.mjs'), 'serve'], { cwd: dataDir, env: { ...process.env, HANDOVER_DATA_DIR: path.join(dataDir, 'data'), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    const level = await run({ HANDOVER_LOG_LEVEL: 'verbose' });
    expect(level.code).toBe(1);
    expect(level.stderr).toContain('HANDOVER_LOG_LEVEL (logLevel): one of error, warn, info, debug');
    const format = await run({ HANDOVER_LOG_FORMAT: 'xml' });
    expect(format.code).toBe(1);
    expect(format.stderr).toContain('HANDOVER_LOG_FORMAT (logFormat): one of pretty, json');
  }, 60_000);
});

describe('createLogger', () => {
  it('writes a plain line per record to a sink, with its area, levels filtered, a client\'s text escaped', () => {
    const lines: string[] = [];
    const log = createLogger('hub', { sink: (line) => lines.push(line), level: 'info' }).child('broker');
    log.debug('not at info');
    log.info(`user x\n${FORGED}\u2028\u001b[2J`);
    log.warn('could not check', new Error('database gone'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z info \[hub\/broker\] user x\\u000a2026-12-07T12:00:00\.000Z info \[hub\/ingest\] demo-1 .*\\u2028\\u001b\[2J$/);
    expect(lines[1]).toMatch(/^\S+ warn \[hub\/broker\] could not check \(Error: database gone\\u000a {4}at /);
  });
});
