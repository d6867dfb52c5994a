// A station's timing settings have bounds (issue 18): `handover station add --timing NAME=VALUE`
// refuses a value outside them before registering anything, `npm run flash` refuses a
// configuration edited past them, and the station refuses it at boot, each with one line naming
// the setting and its bounds, in the same words. The CLI and flash run as child processes, as an
// administrator runs them (their own SQLite data directory); the station is the built bundle
// (dist/firmware.js, `npm run build` first) in the simulator.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimulatedStation } from '../../../hardware/sim/simulated-station';
import { eventually } from '../../support/eventually';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bundle = path.join(root, 'dist/firmware.js');
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
    expect(unknown.stderr.split('\n')[0]).toBe('handover: station add: pulse is not a configuration setting');
    expect(unknown.stderr).toMatch(/the timing settings are unlockPulseMs, /);
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

  // Every timing setting once, each wrong in its own way: as typed after --timing, as it would
  // stand in an edited handover.json, and the words every door must refuse it with.
  const BAD: Array<{ name: string; typed: string; inFile: unknown; words: string }> = [
    { name: 'unlockPulseMs', typed: '20000', inFile: 20000, words: 'unlockPulseMs must be a whole number from 50 to 2000' },
    { name: 'doorDebounceMs', typed: 'fast', inFile: 'fast', words: 'doorDebounceMs must be a whole number from 5 to 500' },
    { name: 'keepAliveSec', typed: '0', inFile: 0, words: 'keepAliveSec must be a whole number from 1 to 600' },
    { name: 'watchdogSec', typed: '2.5', inFile: 2.5, words: 'watchdogSec must be a whole number from 2 to 60' },
    { name: 'doorOpenTimeoutMs', typed: '1', inFile: 1, words: 'timing.doorOpenTimeoutMs must be a whole number from 200 to 30000' },
    { name: 'doorLeftOpenMs', typed: '3600001', inFile: 3600001, words: 'timing.doorLeftOpenMs must be a whole number from 1000 to 3600000' },
    { name: 'staffSessionMs', typed: '-3000', inFile: -3000, words: 'timing.staffSessionMs must be a whole number from 1000 to 60000' },
    { name: 'releaseWindowMs', typed: '1e6', inFile: 1e6, words: 'timing.releaseWindowMs must be a whole number from 1000 to 600000' },
    { name: 'unknownLimit', typed: '101', inFile: 101, words: 'timing.unknownLimit must be a whole number from 1 to 100' },
    { name: 'unknownWindowMs', typed: '999', inFile: 999, words: 'timing.unknownWindowMs must be a whole number from 1000 to 3600000' },
  ];

  it.skipIf(!fs.existsSync(bundle))('station add, flash and the station at boot refuse the same bad timing with the same words', async () => {
    const words = BAD.map((row) => row.words).join('; ');
    // Door 1: station add --timing.
    const typed = handover('station', 'add', 'room-9', '--lockers', '8', ...BAD.flatMap((row) => ['--timing', `${row.name}=${row.typed}`]));
    expect(typed.status).toBe(1);
    expect(typed.stderr.split('\n')[0]).toBe(`handover: station add: ${words}`);

    // The same values written into a configuration the hub printed (the top four at the top, the rest under timing).
    const made = handover('station', 'add', 'room-9', '--lockers', '8');
    expect(made.status, made.stderr).toBe(0);
    const config = JSON.parse(made.stdout);
    config.timing = {};
    for (const row of BAD) (row.words.startsWith('timing.') ? config.timing : config)[row.name] = row.inFile;
    const edited = path.join(dir, 'edited.json');
    fs.writeFileSync(edited, JSON.stringify(config));

    // Door 2: npm run flash.
    const flashed = flash(edited);
    expect(flashed.status).toBe(1);
    expect(flashed.stderr.split('\n')[0]).toBe(`flash: ${edited}: config: ${words}`);

    // Door 3: the station, booting the built bundle with that file in its flash.
    const station = new SimulatedStation({ flashFile: null });
    station.installFirmware(bundle);
    station.writeConfig(config);
    try {
      station.boot();
      const refusal = await eventually(() => station.logLines.find((line) => line.startsWith('config: ')), 5000, 'the configuration refusal in the log');
      expect(refusal).toBe(`config: ${words}`);
      expect(station.env.errors).toEqual([]);
    } finally {
      station.powerOff();
    }
  });

  // A hand-edited file can hold what --timing never writes: a `timing` that is not a group of
  // settings, or a setting misspelt (which would silently leave the default in force).
  const GARBAGE: Array<{ what: string; timing: unknown; words: string }> = [
    { what: 'a string', timing: 'fast', words: 'timing must be an object of timing settings' },
    { what: 'a list', timing: [2000, 60000], words: 'timing must be an object of timing settings' },
    { what: 'a number', timing: 5, words: 'timing must be an object of timing settings' },
    { what: 'a misspelt setting', timing: { doorOpenTimeotMs: 500 }, words: 'timing.doorOpenTimeotMs is not a timing setting' },
    { what: 'a nested group', timing: { doorOpenTimeoutMs: { ms: 500 } }, words: 'timing.doorOpenTimeoutMs must be a whole number from 200 to 30000' },
  ];

  it.skipIf(!fs.existsSync(bundle)).each(GARBAGE)('flash and the station at boot refuse a timing that is $what, in the same words', async ({ timing, words }) => {
    const made = handover('station', 'add', `room-g${GARBAGE.findIndex((row) => row.timing === timing)}`, '--lockers', '8');
    expect(made.status, made.stderr).toBe(0);
    const config = { ...JSON.parse(made.stdout), timing };
    const edited = path.join(dir, 'garbage.json');
    fs.writeFileSync(edited, JSON.stringify(config));
    const flashed = flash(edited);
    expect(flashed.status).toBe(1);
    expect(flashed.stderr.split('\n')[0]).toBe(`flash: ${edited}: config: ${words}`);
    const station = new SimulatedStation({ flashFile: null });
    station.installFirmware(bundle);
    station.writeConfig(config);
    try {
      station.boot();
      const refusal = await eventually(() => station.logLines.find((line) => line.startsWith('config: ')), 5000, 'the configuration refusal in the log');
      expect(refusal).toBe(`config: ${words}`);
    } finally {
      station.powerOff();
    }
  });

  // A misspelt top-level setting would leave its default silently in force (a typo in
  // unlockPulseMs keeps the 500 ms pulse): every door refuses a name handover.json does not hold.
  const UNKNOWN: Array<{ name: string; value: unknown }> = [
    { name: 'unlockPulsems', value: 800 },
    { name: 'watchdogSecs', value: 20 },
    { name: 'doorOpenTimeoutMs', value: 500 },
    { name: 'sck', value: 18 },
  ];

  it.skipIf(!fs.existsSync(bundle)).each(UNKNOWN)('station add, flash and the station at boot refuse the unknown top-level $name in the same words', async ({ name, value }) => {
    const words = `${name} is not a configuration setting`;
    const id = `room-u${UNKNOWN.findIndex((row) => row.name === name)}`;
    // Door 1: station add --timing, for a name that could be typed there (a setting of the pin map cannot).
    if (name !== 'sck' && name !== 'doorOpenTimeoutMs') {
      const typed = handover('station', 'add', id, '--lockers', '8', '--timing', `${name}=${value}`);
      expect(typed.status).toBe(1);
      expect(typed.stderr.split('\n')[0]).toBe(`handover: station add: ${words}`);
    }
    const made = handover('station', 'add', id, '--lockers', '8');
    expect(made.status, made.stderr).toBe(0);
    const config = { ...JSON.parse(made.stdout), [name]: value };
    const edited = path.join(dir, 'unknown.json');
    fs.writeFileSync(edited, JSON.stringify(config));
    // Door 2: npm run flash.
    const flashed = flash(edited);
    expect(flashed.status).toBe(1);
    expect(flashed.stderr.split('\n')[0]).toBe(`flash: ${edited}: config: ${words}`);
    // Door 3: the station at boot.
    const station = new SimulatedStation({ flashFile: null });
    station.installFirmware(bundle);
    station.writeConfig(config);
    try {
      station.boot();
      const refusal = await eventually(() => station.logLines.find((line) => line.startsWith('config: ')), 5000, 'the configuration refusal in the log');
      expect(refusal).toBe(`config: ${words}`);
    } finally {
      station.powerOff();
    }
  });
});
