// `npm run flash` without a board: --dry-run writes exactly what the espruino CLI would send, and
// that must put the built bundle into Storage as .bootcde and the configuration as handover.json.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function run(args: string[], cwd: string) {
  return spawnSync(process.execPath, [path.join(root, 'tools/flash.mjs'), ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
}

/** Reassembles what the upload writes to one Storage file from its atob() chunks. */
function storageFile(upload: string, name: string): Buffer {
  const pattern = new RegExp(`require\\("Storage"\\)\\.write\\(${JSON.stringify(name).replace(/\./g, '\\.')},atob\\("([^"]*)"\\)(?:,(\\d+))?`, 'g');
  const parts: Array<{ offset: number; bytes: Buffer }> = [];
  for (const match of upload.matchAll(pattern)) parts.push({ offset: Number(match[2] ?? 0), bytes: Buffer.from(match[1], 'base64') });
  const size = Math.max(0, ...parts.map((p) => p.offset + p.bytes.length));
  const file = Buffer.alloc(size);
  for (const part of parts) part.bytes.copy(file, part.offset);
  return file;
}

describe('npm run flash', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-flash-'));
  const configFile = path.join(dir, 'room-12.json');

  it('writes the bundle as .bootcde and the configuration as handover.json, then loads it', () => {
    const made = spawnSync(process.execPath, [path.join(root, 'bin/handover.mjs'), 'station', 'add', 'room-12', '--lockers', '16'], {
      cwd: dir,
      encoding: 'utf8',
      // Its own SQLite file, even in CI's PostgreSQL pass: this test is about flashing, and the
      // shared database there would already hold room-12 from an earlier run.
      env: { ...process.env, DATABASE_URL: '', HANDOVER_DATA_DIR: path.join(dir, 'data') },
    });
    expect(made.status, made.stderr).toBe(0);
    fs.writeFileSync(configFile, made.stdout);
    const out = path.join(dir, 'upload.js');
    const result = run(['--dry-run', out, '--config', configFile], dir);
    expect(result.status, result.stderr).toBe(0);
    const upload = fs.readFileSync(out, 'latin1');
    expect(storageFile(upload, '.bootcde').toString('latin1')).toBe(fs.readFileSync(path.join(root, 'dist/firmware.js'), 'latin1'));
    expect(JSON.parse(storageFile(upload, 'handover.json').toString('utf8'))).toMatchObject({ station: 'room-12', lockers: 16, io: 'expander' });
    expect(upload.trimEnd().endsWith('load()')).toBe(true);
  }, 60_000);

  it('refuses a missing port, a missing configuration and a bad one, each with a clear line', () => {
    expect(run([], dir)).toMatchObject({ status: 1, stderr: expect.stringContaining('flash: name the serial port with --port') });
    expect(run(['--port', '/dev/null'], dir)).toMatchObject({ status: 1, stderr: expect.stringContaining('name the station configuration with --config') });
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ site: 'demo', station: 'x', lockers: 40 }));
    const refused = run(['--port', '/dev/null', '--config', bad], dir);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/lockers must be 1\.\.32/);
  });

  it('reads a configuration without a version as version 1, and refuses a newer version by name', () => {
    const made = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    expect(made.version).toBe(1);
    delete made.version;
    const unversioned = path.join(dir, 'unversioned.json');
    fs.writeFileSync(unversioned, JSON.stringify(made));
    const out = path.join(dir, 'upload-unversioned.js');
    const result = run(['--dry-run', out, '--config', unversioned], dir);
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(storageFile(fs.readFileSync(out, 'latin1'), 'handover.json').toString('utf8'))).toMatchObject({ version: 1, station: 'room-12' });
    const newer = path.join(dir, 'newer.json');
    fs.writeFileSync(newer, JSON.stringify({ ...made, version: 2 }));
    const refused = run(['--port', '/dev/null', '--config', newer], dir);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/handover\.json version 2 is newer than this software reads \(1\)/);
  }, 60_000);

  it('refuses a hand-edited pin map the board cannot run: a watched pin it cannot watch, one pin for two things', () => {
    const made = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    const edited = path.join(dir, 'pins.json');
    fs.writeFileSync(edited, JSON.stringify({ ...made, pins: { ...made.pins, expanderInt: 12, rfidIrq: made.pins.expanderCs } }));
    const refused = run(['--dry-run', path.join(dir, 'upload-pins.js'), '--config', edited], dir);
    expect(refused.status).toBe(1);
    expect(refused.stderr.split('\n')[0]).toBe(`flash: ${edited}: pins.expanderInt on GPIO 12: setWatch cannot watch it; pins.rfidIrq on GPIO ${made.pins.expanderCs}: already pins.expanderCs`);
  }, 60_000);
});
