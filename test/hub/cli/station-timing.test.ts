// A station's timing settings have bounds (issue 18): `handover station add --timing NAME=VALUE`
// refuses a value outside them before registering anything, and `npm run flash` refuses a
// configuration edited past them, each with one line naming the setting and its bounds. Both run
// as child processes, as an administrator runs them (their own SQLite data directory).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-timing-'));

function handover(...args: string[]) {
  return spawnSync(process.execPath, [path.join(root, 'bin/handover.mjs'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DATABASE_URL: '', HANDOVER_DATA_DIR: path.join(dir, 'data') } });
}

function flash(configFile: string) {
  return spawnSync(process.execPath, [path.join(root, 'tools/flash.mjs'), '--dry-run', path.join(dir, 'upload.js'), '--config', configFile], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
}

describe('timing bounds', { timeout: 120_000 }, () => {
  it('station add refuses a pulse, a door timeout or a debounce out of bounds, and registers nothing', () => {
    const long = handover('station', 'add', 'room-7', '--lockers', '8', '--timing', 'unlockPulseMs=20000');
    expect(long.status).toBe(1);
    expect(long.stderr.split('\n')[0]).toBe('handover: station add: unlockPulseMs must be a whole number from 50 to 2000');
    const several = handover('station', 'add', 'room-7', '--timing', 'unlockPulseMs=10', '--timing', 'doorOpenTimeoutMs=1', '--timing', 'doorDebounceMs=fast');
    expect(several.status).toBe(1);
    expect(several.stderr).toContain('timing.doorOpenTimeoutMs must be a whole number from 200 to 30000');
    expect(several.stderr).toContain('unlockPulseMs must be a whole number from 50 to 2000');
    expect(several.stderr).toContain('doorDebounceMs must be a whole number from 5 to 500');
    const unknown = handover('station', 'add', 'room-7', '--timing', 'pulse=800');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/no setting "pulse"; the timing settings are unlockPulseMs, /);
    // Nothing was registered by the refusals: the id is still free.
    const made = handover('station', 'add', 'room-7', '--lockers', '8', '--timing', 'unlockPulseMs=2000', '--timing', 'doorLeftOpenMs=120000');
    expect(made.status, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ station: 'room-7', lockers: 8, unlockPulseMs: 2000, timing: { doorLeftOpenMs: 120000 } });
  });

  it('flash refuses a configuration edited past the bounds, and takes one within them', () => {
    const made = handover('station', 'add', 'room-8', '--lockers', '8');
    expect(made.status, made.stderr).toBe(0);
    const config = JSON.parse(made.stdout);
    const good = path.join(dir, 'good.json');
    fs.writeFileSync(good, JSON.stringify({ ...config, unlockPulseMs: 1500, watchdogSec: 20 }));
    expect(flash(good).status, flash(good).stderr).toBe(0);
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ ...config, unlockPulseMs: 20000, keepAliveSec: 0, timing: { staffSessionMs: 5 } }));
    const refused = flash(bad);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/unlockPulseMs must be a whole number from 50 to 2000/);
    expect(refused.stderr).toMatch(/keepAliveSec must be a whole number from 1 to 600/);
    expect(refused.stderr).toMatch(/timing\.staffSessionMs must be a whole number from 1000 to 60000/);
  });
});
