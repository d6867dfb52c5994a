// HANDOVER_HUB_NAME turns on several-hub mode (README "Several hubs"): a hub started with it but
// without what that mode needs stops at once with one line naming the setting and what is missing,
// before it touches a database or a broker.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';

const BIN = path.resolve(__dirname, '../../../bin/handover.mjs');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-hub-name-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function serve(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const full = { ...process.env, HANDOVER_DATA_DIR: dataDir, HANDOVER_HTTP_PORT: '0', HANDOVER_MQTT_PORT: '0', DATABASE_URL: '', ...env };
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'serve'], { env: full, timeout: 60_000 }, (error, _stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr }));
  });
}

it('refuses several-hub mode on the embedded broker, on SQLite, and with a bad name', async () => {
  const embedded = await serve({ HANDOVER_HUB_NAME: 'a', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
  expect(embedded.code).toBe(1);
  expect(embedded.stderr).toMatch(/HANDOVER_HUB_NAME \(hubName\): several hubs need an external broker with shared subscriptions \(Mosquitto 2\): set HANDOVER_EMBEDDED_BROKER=false/);
  const sqlite = await serve({ HANDOVER_HUB_NAME: 'a', HANDOVER_EMBEDDED_BROKER: 'false' });
  expect(sqlite.code).toBe(1);
  expect(sqlite.stderr).toMatch(/HANDOVER_HUB_NAME \(hubName\): several hubs need PostgreSQL: set DATABASE_URL/);
  const badName = await serve({ HANDOVER_HUB_NAME: 'Hub A', HANDOVER_EMBEDDED_BROKER: 'false', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
  expect(badName.code).toBe(1);
  expect(badName.stderr).toMatch(/HANDOVER_HUB_NAME \(hubName\): lower-case letters and digits, at most 16/);
  // Nothing was made: the SQLite file of a hub that refused to start does not exist.
  expect(fs.existsSync(path.join(dataDir, 'handover.sqlite'))).toBe(false);
}, 120_000);
