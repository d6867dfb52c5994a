#!/usr/bin/env node
// npm run flash -- --port /dev/ttyUSB0 --config station.json [--badges badges.bin]
// Writes dist/firmware.js into the board's Storage as .bootcde, the boot step as .boot0 (so it runs from flash and its
// function bodies stay there, see ../shared/ESPRUINO.md), the station configuration as
// handover.json and optionally a badge list as hb.1, then load()s it, using the espruino CLI.
// --dry-run out.js writes exactly what would be sent instead of talking to a board.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

register();
const { validateConfig } = await import('../firmware/src/station/config.ts');
const { readStationConfigFile } = await import('../protocol/station-config.ts');
const { pinMapProblems } = await import('../protocol/esp32-pins.ts');
const { boot0Source } = await import('../firmware/src/update/boot0.ts');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: npm run flash -- --port <serial port> --config <station.json> [--badges <badges.bin>] [--board ESP32|<board.json>] [--dry-run <out.js>]';

function fail(message) {
  console.error(`flash: ${message}`);
  console.error(USAGE);
  process.exit(1);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: 'string' },
      config: { type: 'string' },
      badges: { type: 'string' },
      board: { type: 'string', default: 'ESP32' },
      'dry-run': { type: 'string' },
    },
  }));
} catch (error) {
  fail(error.message);
}
if (!values.port && !values['dry-run']) fail('name the serial port with --port (or use --dry-run <out.js>)');
if (!values.config) fail('name the station configuration with --config (print one with `handover station add <id>`)');

let config;
try {
  config = JSON.parse(fs.readFileSync(values.config, 'utf8'));
} catch (error) {
  fail(`cannot read ${values.config}: ${error.message}`);
}
// An older layout (or one without a version: version 1) is brought up to date first; a newer one is refused.
const read = readStationConfigFile(config);
if (!read.ok) fail(`${values.config}: ${read.error}`);
config = read.config;
const checked = validateConfig(config);
if (!checked.ok) fail(`${values.config}: ${checked.error}`);
// The wiring against what an ESP32 under Espruino can do (a hand-edited pin map: a door on a pin
// setWatch cannot watch, or one pin wired to two things, would fail only on the board).
const pinProblems = pinMapProblems(config.pins);
if (pinProblems.length > 0) fail(`${values.config}: ${pinProblems.join('; ')}`);

const bundle = path.join(root, 'dist/firmware.js');
if (!fs.existsSync(bundle)) fail('no dist/firmware.js: run npm run build');

const args = [];
if (values['dry-run']) args.push('-n', '-o', values['dry-run']);
else args.push('-p', values.port, '-b', '115200');
args.push('--board', values.board);
// Code in Storage runs from flash: far fewer variables than code typed into RAM.
args.push('--storage', `.bootcde:${bundle}`);
// The boot step Espruino runs before .bootcde: it switches to a bundle received over the network
// and goes back by itself if that one does not confirm (README "Firmware updates").
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-flash-'));
const boot0 = path.join(scratch, 'boot0.js');
fs.writeFileSync(boot0, boot0Source());
args.push('--storage', `.boot0:${boot0}`);
// What goes into Storage is the configuration as read (at the current version).
const configCopy = path.join(scratch, 'handover.json');
fs.writeFileSync(configCopy, JSON.stringify(config));
args.push('--storage', `handover.json:${configCopy}`);
if (values.badges) {
  if (!fs.existsSync(values.badges)) fail(`no badge list at ${values.badges}`);
  args.push('--storage', `hb.1:${path.resolve(values.badges)}`);
}
args.push('-e', 'load()');

console.log(`flash: espruino ${args.join(' ')}`);
const result = spawnSync(path.join(root, 'node_modules/.bin/espruino'), args, { stdio: 'inherit' });
if (result.error) fail(result.error.message);
process.exit(result.status ?? 1);
