#!/usr/bin/env node
// Measures issue 3's two budgets on a host (Linux) build of the real Espruino interpreter:
//   (1) variables in use at rest, booted from Storage (.bootcde) with 32 lockers, 5,000 badges and
//       1,000 journaled events (process.memory().usage once boot has settled), beside the figures
//       for 0 vs 5,000 badges, 0 vs 1,000 events, 8 lockers, online, and the loaded code alone;
//   (2) the JavaScript path of one tap, from the reader's IRQ edge to the lock pulse, for a 7-byte
//       and a 4-byte card with 5,000 badges.
//
//   (3) issue 13's station kept busy: online, replaying the 1,000 events (acknowledged in 50 ms
//       batches, as the hub does), receiving a new 5,000-badge list through the hub's commands, and
//       a 7-byte tap every 3 s: each tap timed from the moment its first IRQ edge is due to the coil,
//       taps lost, and the variables at the peak (scenarios busy, busy-ram, busy-idle-ram; they need
//       an interpreter with 1 MB of Storage: 'flash': 1024 in boards/LINUX.py).
//
//   node tools/espruino-host-measure.mjs --espruino /path/to/espruino [--bundle dist/firmware.js]
//        [--taps 20] [--settle 8] [--online-settle 40] [--busy-taps 30] [--chunk-bytes 1024]
//        [--json out.json] [--keep] [--only ids]
//
// --chunk-bytes sets the badge-list chunk the busy scenarios send (the hub's chunkBytes, same default).
//
// --only takes a comma-separated list of scenario ids (as printed, e.g. 32L-5000b-1000e) and/or
// 'taps' / 'taps-ram' / 'busy' / 'busy-ram' / 'busy-fw' / 'busy-fw-ram' / 'busy-idle-ram', to run just those
// (busy-fw*: the busy station receiving a firmware bundle instead of the badge list, issue 19). Without --only the
// busy scenarios run too.
//
// Not part of `npm test`, and it builds nothing: it measures the bundle it is given (default
// dist/firmware.js; run `npm run build` first) on the interpreter it is given, and refuses to run
// without one. Nothing of Espruino's is in here; the interpreter is only run.
//
// How (README "Performance" has the figures):
//  - Files are made in Node with the repository's own code (through tsx): the station configuration
//    from hub/src/records/station-config.ts (32 lockers on MCP23S17 expanders; the expanders' INT
//    pin moved from GPIO 33 to 32 because the stock Linux build has D0..D32 only), the badge list
//    with encodeBadgeList, 1,000 events of an earlier boot with the firmware's Journal class, the
//    locker-state file of that boot with LockerStore (lockers 4..23 hold phones) and the boot
//    counter. The interpreter itself copies them into its Storage (espruino.flash in a fresh
//    directory per scenario) and checks each by CRC; the bundle goes in last as .bootcde, byte for
//    byte what `npm run flash` writes.
//  - `espruino -e CODE` boots like a board: Storage's .boot0 runs, then .bootcde, then CODE.
//    .boot0 holds the harness prelude, the stand-ins for what the Linux build lacks: a Wifi module;
//    SPI2 (whose send() returns 0xFF on Linux) answering as an idle MFRC522 v2.0 on the reader's
//    chip select and as four small MCP23S17 register files on the expanders' chip select; the two
//    interrupt lines (setWatch is wrapped to capture their callbacks, digitalRead answers their
//    level). setWatch, digitalWrite and Storage are otherwise the interpreter's own.
//  - Taps: the SPI frames of one presentation per card, from the first IRQ edge to the lock coil's
//    OLAT write, are recorded in the Node simulator (hardware/sim) running the same bundle, through
//    wrapped SPI devices. On the interpreter SPI2.send replays them by index into flash-backed byte
//    arrays (O(1), nothing searched) and notes getTime() when the OLAT frame that energises the
//    coil is sent. A tap = call the captured IRQ callback once per recorded edge (3 edges for a
//    4-byte UID, 5 for 7 bytes), back to back, time taken just before the first; the pulse figure
//    ends at that OLAT frame. The first two taps of each round check every request byte against
//    the recording. Then the door opens (150 ms after the tap) and closes (600 ms later) through the
//    expander's interrupt, and the next tap comes 1.2 s after the tap: each pupil deposits, then
//    collects (A, A, B, B, ...), always locker 0. The tap run's log and the events its station
//    journaled are kept in the JSON (taps.log, taps.events), to tell why a tap opened nothing.
//  - The stand-ins' own cost (the same number of replayed send() calls, timed alone, against the
//    native SPI2.send and an empty loop) is printed; nothing is subtracted from the headline figures.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE =
  'usage: node tools/espruino-host-measure.mjs --espruino <path to a host build of Espruino> ' +
  '[--bundle dist/firmware.js] [--taps 20] [--settle 8] [--online-settle 40] [--json out.json] [--keep] [--only ids]';

function fail(message) {
  console.error(`espruino-host-measure: ${message}`);
  console.error(USAGE);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      espruino: { type: 'string' },
      bundle: { type: 'string', default: path.join(ROOT, 'dist/firmware.js') },
      taps: { type: 'string', default: '20' },
      settle: { type: 'string', default: '8' },
      'online-settle': { type: 'string', default: '40' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      only: { type: 'string' },
      'busy-taps': { type: 'string', default: '30' },
      'chunk-bytes': { type: 'string', default: '1024' },
    },
  }));
} catch (error) {
  fail(error.message);
}
if (!values.espruino) {
  fail('--espruino is required: the figures come from a real Espruino interpreter built for this host (e.g. BOARD=LINUX VARIABLES=16383 RELEASE=1 make: without RELEASE the debug asserts abort on an arrow function skipped unexecuted); there is no fallback');
}
const ESPRUINO = path.resolve(values.espruino);
try {
  if (!fs.statSync(ESPRUINO).isFile()) throw new Error('not a file');
  fs.accessSync(ESPRUINO, fs.constants.X_OK);
} catch {
  fail(`${ESPRUINO} is not an executable file`);
}
const BUNDLE = path.resolve(values.bundle);
if (!fs.existsSync(BUNDLE)) fail(`no bundle at ${BUNDLE}: run npm run build first (this tool builds nothing)`);
const TAPS = Number(values.taps);
const SETTLE_S = Number(values.settle);
const ONLINE_SETTLE_S = Number(values['online-settle']);
if (!(TAPS >= 1 && SETTLE_S >= 1 && ONLINE_SETTLE_S >= 1)) fail('--taps, --settle and --online-settle must be positive numbers');
const BUSY_TAPS = Number(values['busy-taps']);
const BUSY_GAP_S = 3;
const CHUNK_BYTES = Number(values['chunk-bytes']);
if (!(CHUNK_BYTES >= 16)) fail('--chunk-bytes must be at least 16');
const ONLY = values.only ? new Set(values.only.split(',').map((id) => id.trim()).filter(Boolean)) : null;
const selected = (id) => !ONLY || ONLY.has(id);

const { register } = await import('tsx/esm/api');
register();
const load = (relative) => import(pathToFileURL(path.join(ROOT, relative)).href);
const { encodeBadgeList, badgeFileName } = await load('firmware/src/station/badge-list.ts');
const { Journal, JOURNAL_DEFAULTS } = await load('firmware/src/storage/journal.ts');
const { LockerStore } = await load('firmware/src/storage/locker-store.ts');
const { LOCKER } = await load('protocol/lockers.ts');
const { validateConfig } = await load('firmware/src/station/config.ts');
const { EVENT, ROLE, MSG, COMMAND, TOPIC, topicBase } = await load('protocol/wire.ts');
const { readBundle, signBundle } = await load('hub/src/firmware/bundle.ts');
const { encodeAck, openEventFrame } = await load('hub/src/protocol/frames.ts');
const { seal, unseal, cborDecode } = await load('hub/src/protocol/sealed.ts');
const EVENT_NAMES = Object.fromEntries(Object.entries(EVENT).map(([name, code]) => [code, name]));
const { FlashStorage } = await load('hardware/sim/flash-storage.ts');
const { SimulatedStation } = await load('hardware/sim/simulated-station.ts');
const { stationConfig } = await load('hub/src/records/station-config.ts');
const { startBroker } = await load('hub/src/broker.ts');
const mqtt = (await import('mqtt')).default;

// ---------------------------------------------------------------------------------------------
// Fixed inputs
// ---------------------------------------------------------------------------------------------
const LOCKERS = 32;
const BADGES = 5000;
const EVENTS = 1000;
const BADGE_KEY = crypto.createHash('sha256').update('handover host-measure badge key').digest();
const STATION_KEY = crypto.createHash('sha256').update('handover host-measure station key').digest('hex');
const HOST_MAX_PIN = 32; // the stock Linux build has D0..D32
/** The tapping pupils: two 7-byte and two 4-byte cards. */
const CARDS = [
  { label: 'A', bytes: 7, uid: '0411223344a580', person: 1 },
  { label: 'B', bytes: 7, uid: '04c5d6e7f80912', person: 2 },
  { label: 'C', bytes: 4, uid: 'a1b2c3d4', person: 3 },
  { label: 'D', bytes: 4, uid: '5e6f7a8b', person: 4 },
];
const PHONES_AT_BOOT = { first: 4, count: 20, person: 1001 }; // lockers 4..23 hold phones
const MFRC522_READ_ATQA = [0x88, 0x8c, 0x94, 0x98, 0x92, 0x92, 0x00];
const MFRC522_READ_HEALTH = [0xee, 0x84, 0x88, 0x00];
/** MFRC522 v2.0 digital self-test result (NXP MFRC522 data sheet Rev. 3.9, 16.1.1): the FIFO after the test. */
const MFRC522_V2_SELF_TEST =
  '00eb66ba57bf2395d0e30d3d27895cde9d3ba700215b8982513aeb020ca500497c844db3ccd21b815d4876d5716121a986968338cf9d5b6ddc15ba3e7d953b2f';
const MCP_OLATA = 0x14;
const DOOR_CHIP_FIRST = 2; // main.ts: lock chips at addresses 0-1, door chips at 2-3

const hashUid = (uidHex) => new Uint8Array(crypto.createHmac('sha256', BADGE_KEY).update(Buffer.from(uidHex, 'hex')).digest().subarray(0, 8));
const crc32 = (bytes) => zlib.crc32(bytes) >>> 0;
const nodeCrypto = {
  sha256: (data) => new Uint8Array(crypto.createHash('sha256').update(data).digest()),
  crc32,
};
/** hal.ts FlashStore over the simulator's flash model. */
function nodeFlash(storage) {
  return {
    readText: (name) => storage.read(name),
    readBytes(name, offset, length) {
      const file = storage.readBytes(name);
      if (!file || offset + length > file.length) return undefined;
      return file.subarray(offset, offset + length);
    },
    size: (name) => storage.readBytes(name)?.length ?? -1,
    create: (name, data, totalSize) => storage.write(name, data, 0, totalSize),
    writeAt: (name, data, offset) => storage.write(name, data, offset),
    writeText: (name, text) => storage.write(name, text),
    erase: (name) => storage.erase(name),
    list: (prefix) => storage.list().filter((name) => name.startsWith(prefix)),
    freeBytes: () => storage.getFree(),
  };
}
const median = (list) => {
  if (list.length === 0) return undefined;
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const fixed = (value, digits = 3) => (typeof value === 'number' ? value.toFixed(digits) : '-');

// ---------------------------------------------------------------------------------------------
// Station configuration, badge list, journal, locker states
// ---------------------------------------------------------------------------------------------
const stationRow = (lockers) => ({ id: 'measure-1', site: 'measure', lockers, station_key: STATION_KEY, status: 'active', last_seen: null });

/** The hub's own configuration for `lockers`; on the interpreter every pin must exist on the host build. */
function configuration(lockers, brokerPort, wifi, forHost) {
  const config = stationConfig(stationRow(lockers), BADGE_KEY, { host: '127.0.0.1', port: brokerPort }, wifi);
  if (forHost) {
    const pins = { ...config.pins };
    const used = new Set(Object.entries(pins).filter(([name]) => name !== 'expanderInt' && typeof pins[name] === 'number').map(([, pin]) => pin));
    if (pins.expanderInt > HOST_MAX_PIN) {
      let free = HOST_MAX_PIN;
      while (used.has(free)) free--;
      pins.expanderInt = free;
    }
    for (const [name, pin] of Object.entries(pins)) {
      if (typeof pin === 'number' && pin > HOST_MAX_PIN) throw new Error(`pin ${name} = ${pin} does not exist on the host build`);
    }
    config.pins = pins;
  }
  const checked = validateConfig(config);
  if (!checked.ok) throw new Error(`configuration does not validate: ${checked.error}`);
  if (checked.config.io !== 'expander') throw new Error(`expected the hub's expander configuration, got io = ${checked.config.io}`);
  return config;
}

function badgeList(count, version = 1) {
  if (count === 0) return encodeBadgeList([], version, crc32);
  const records = CARDS.map((card) => ({ hash: hashUid(card.uid), person: card.person, role: ROLE.PUPIL, assetClasses: 0, flags: 0 }));
  for (let i = 0; i < PHONES_AT_BOOT.count; i++) {
    records.push({ hash: hashUid(`f0${(i + 1).toString(16).padStart(6, '0')}`), person: PHONES_AT_BOOT.person + i, role: ROLE.PUPIL, assetClasses: 0, flags: 0 });
  }
  const staffRoles = [ROLE.STAFF, ROLE.HEADTEACHER, ROLE.DEPUTY, ROLE.DSL, ROLE.ICT, ROLE.OFFICE];
  for (let i = 0; records.length < count; i++) {
    const staff = i % 25 === 0;
    records.push({
      hash: new Uint8Array(crypto.createHash('sha256').update(`filler-${i}`).digest().subarray(0, 8)),
      person: 10_000 + i,
      role: staff ? staffRoles[(i / 25) % staffRoles.length] : ROLE.PUPIL,
      assetClasses: staff ? 1 : 0,
      flags: i % 97 === 0 ? 1 : 0,
    });
  }
  return encodeBadgeList(records, version, crc32);
}

/** `events` unconfirmed events of boot 1, written by the firmware's Journal; returns [name, bytes]. */
function journalFiles(events) {
  const storage = new FlashStorage(null);
  const journal = new Journal(nodeFlash(storage), nodeCrypto, JOURNAL_DEFAULTS);
  journal.open(1);
  for (let i = 0; i < events; i++) {
    const pupil = (i >> 1) % 200;
    const type = i === 0 ? EVENT.BOOT : i % 2 ? EVENT.COLLECT : EVENT.DEPOSIT;
    const seq = journal.append({
      type,
      locker: type === EVENT.BOOT ? -1 : (i >> 1) % LOCKERS,
      detail: 0,
      uptimeMs: 1000 + i * 9000,
      wallSec: 0,
      person: type === EVENT.BOOT ? 0 : 20_000 + pupil,
      actor: 0,
      witness: 0,
      badge: type === EVENT.BOOT ? null : hashUid(`f1${(pupil + 1).toString(16).padStart(6, '0')}`),
    });
    if (seq !== i + 1) throw new Error(`journal refused event ${i + 1}`);
  }
  return storage.list().map((name) => [name, storage.readBytes(name)]);
}

/** The locker-state file of that boot, written by LockerStore. */
function lockerStateFiles(lockers) {
  const storage = new FlashStorage(null);
  const states = new Uint8Array(lockers);
  const owners = new Uint32Array(lockers);
  for (let i = 0; i < PHONES_AT_BOOT.count && PHONES_AT_BOOT.first + i < lockers; i++) {
    states[PHONES_AT_BOOT.first + i] = LOCKER.PHONE_IN;
    owners[PHONES_AT_BOOT.first + i] = PHONES_AT_BOOT.person + i;
  }
  new LockerStore(nodeFlash(storage), nodeCrypto, 256).restore(states, owners);
  return storage.list().map((name) => [name, storage.readBytes(name)]);
}

// ---------------------------------------------------------------------------------------------
// SPI frames of one presentation per card, recorded from the Node simulator running the bundle
// ---------------------------------------------------------------------------------------------
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Frames that do not belong to a presentation: the reader's health check, the door chips' re-sync. */
function isBackground(frame) {
  if (frame.device === 0) return sameBytes(frame.request, MFRC522_READ_HEALTH);
  return ((frame.request[0] >> 1) & 7) >= DOOR_CHIP_FIRST;
}

async function recordPresentations(brokerPort, badges) {
  const station = new SimulatedStation({ flashFile: null, doorBounceMs: 3 });
  station.installFirmware(BUNDLE);
  station.writeConfig(configuration(LOCKERS, brokerPort, null, false));
  station.writeFile(badgeFileName(1), badges);
  station.boot();
  await sleep(1000);
  if (!station.expanders) throw new Error('simulator: the station is not wired through expanders');
  let recording = null;
  let pulseFrame = -1;
  const wrap = (device, index) => {
    const original = device.transfer.bind(device);
    device.transfer = (bytes) => {
      const request = Uint8Array.from(bytes);
      const reply = original(bytes);
      if (recording) recording.push({ device: index, request, reply: Uint8Array.from(reply) });
      return reply;
    };
  };
  wrap(station.reader, 0);
  wrap(station.expanders.bus, 1);
  let armed = false;
  station.on('irq', () => {
    if (armed && !recording) recording = [];
  });
  station.on('unlock', () => {
    // The coil switches on inside the OLAT frame's transfer, before the wrapper records it.
    if (recording && pulseFrame < 0) pulseFrame = recording.length;
  });
  const scripts = [];
  const tap = async (card, record) => {
    armed = record;
    recording = null;
    pulseFrame = -1;
    const unlocked = station.waitForUnlock(3000);
    const opened = station.waitForDoor(true, 3000);
    station.placeCard(card.uid);
    const locker = await unlocked;
    const frames = recording ?? [];
    const pulse = pulseFrame;
    recording = null;
    armed = false;
    if (locker === null) throw new Error(`simulator: card ${card.label} opened nothing; log:\n${station.logLines.slice(-20).join('\n')}`);
    station.removeCard(card.uid);
    await opened;
    await sleep(150);
    station.lockers.closeDoor(locker);
    await sleep(700);
    return { locker, frames, pulse };
  };
  try {
    for (const card of CARDS) {
      // A presentation the simulator's reader had to retry (a step timed out on a loaded machine)
      // is not the path being measured: the clean one has one IRQ edge per exchange (ATQA, then
      // anticollision and SELECT per cascade level). Record again, a few times at most.
      const cleanEdges = card.bytes === 7 ? 5 : 3;
      for (let attempt = 1; ; attempt++) {
        // Deposit (recorded), then collect, so every card's presentation opens locker 0.
        const { locker, frames, pulse } = await tap(card, true);
        await tap(card, false);
        if (pulse < 0 || pulse >= frames.length) throw new Error(`simulator: no lock frame found for card ${card.label}`);
        const script = frames.slice(0, pulse + 1);
        const kept = script.filter((frame, i) => i === pulse || !isBackground(frame));
        const last = kept[kept.length - 1];
        if (last.device !== 1 || last.request[1] !== MCP_OLATA) throw new Error(`simulator: card ${card.label}: the coil did not switch on with an OLAT write`);
        // On a loaded machine a reader poll can come between the IRQ and the ATQA read: record again.
        if ((kept[0].device !== 0 || !sameBytes(kept[0].request, MFRC522_READ_ATQA)) && attempt < 5) continue;
        if (kept[0].device !== 0 || !sameBytes(kept[0].request, MFRC522_READ_ATQA)) throw new Error(`simulator: card ${card.label}: the recording does not start with the ATQA read`);
        for (const frame of kept) if (frame.request.length !== frame.reply.length) throw new Error('simulator: a reply differs in length from its request');
        const edges = kept.filter((frame) => frame.device === 0 && frame.request[0] === MFRC522_READ_ATQA[0]).length;
        if (edges !== cleanEdges && attempt < 5) continue;
        if (edges !== cleanEdges) throw new Error(`simulator: card ${card.label}: ${edges} IRQ edges in every recording, not ${cleanEdges}`);
        scripts.push({ card: card.label, locker, frames: kept, edges, dropped: script.length - kept.length, attempts: attempt });
        break;
      }
    }
  } finally {
    station.powerOff();
  }
  return scripts;
}

// ---------------------------------------------------------------------------------------------
// The harness prelude (.boot0): Espruino JavaScript, run by the interpreter before .bootcde
// ---------------------------------------------------------------------------------------------
function prelude(mode, wiring) {
  const busy = mode === 'busy' || mode === 'busy-ram';
  const tap = busy || mode === 'tap' || mode === 'tap-ram';
  return `// host-measure harness prelude (${mode}); runs before .bootcde
var HX = (function () {
  function mem(at, extra) {
    var m = process.memory(), o = { at: at, usage: m.usage, total: m.total, t: getTime() };
    if (extra) for (var k in extra) o[k] = extra[k];
    print("HX " + JSON.stringify(o));
  }
  mem("prelude-start");
  var RCS = ${wiring.rfidCs}, IRQ = ${wiring.rfidIrq}, ECS = ${wiring.expanderCs}, EINT = ${wiring.expanderInt};
  var low = 0, irqCb = null, xlow = 0, intCb = null;
  var rSetWatch = setWatch, rDigitalRead = digitalRead, NSPI = SPI2;
  // The Linux build has no Wifi module (the ESP32's is native).
  Modules.addCached("Wifi", function () {
    exports.getStatus = function () { return { station: "${wiring.wifi}" }; };
    exports.connect = function (ssid, options, callback) {
      setTimeout(function () { callback("${wiring.wifi}" === "connected" ? null : "no access point"); }, 10);
    };
    exports.on = function () {};
  });
  function edge(cb) { if (cb) cb({ state: false, time: getTime(), lastTime: 0 }); }
  // MFRC522 v2.0 with no card: VersionReg 0x92, ComIEnReg 0xA0, nothing pending; a ComIrqReg
  // write with Set1 pulls the (active-low) IRQ line down and makes a falling edge, a clear lets it up.
  var I2 = new Uint8Array([0, 0x92]), I3 = new Uint8Array([0, 0x01, 0x92]), I4 = new Uint8Array([0, 0x92, 0xa0, 0]);
  // The driver's digital self test (data sheet 16.1.1) at every start: CommandReg (0x82) reads
  // 00h (not powered down), FIFOLevelReg (0x94) 64, and 64 FIFODataReg reads (0x92) in one frame
  // give the v2.0 reference bytes of the data sheet.
  var C2 = new Uint8Array([0, 0]), L2 = new Uint8Array([0, 64]), ST = new Uint8Array(65);
  var REF = "${MFRC522_V2_SELF_TEST}";
  for (var b = 0; b < 64; b++) ST[b + 1] = parseInt(REF.substr(2 * b, 2), 16);
  function reader(d) {
    if (d[0] === 0x08 && d.length === 2) {
      if (d[1] & 0x80) { if (!low) { low = 1; setTimeout(function () { edge(irqCb); }, 0); } } else low = 0;
    }
    var n = d.length;
    if (n === 2 && d[0] === 0x82) return C2;
    if (n === 2 && d[0] === 0x94) return L2;
    if (n === 65 && d[0] === 0x92) return ST;
    return n === 2 ? I2 : n === 3 ? I3 : n === 4 ? I4 : new Uint8Array(n);
  }
  // MCP23S17s (IOCON.BANK = 0, sequential): one 22-register file per hardware address; inputs read
  // LEV (door chips: 1 = open switch or unused pin), outputs read OLAT; INTF/INTCAP on a door move;
  // reading INTCAP or GPIO clears the chip's interrupt. The INT line is low while any is pending.
  var XR = new Uint8Array(176), LEV = new Uint16Array(8), PEND = new Uint8Array(8);
  for (var c = 0; c < 8; c++) { XR[c * 22] = 0xff; XR[c * 22 + 1] = 0xff; LEV[c] = 0xffff; }
  ${JSON.stringify(wiring.doorChipsUsed)}.forEach(function (u) { LEV[u[0]] = 0xffff & ~u[1]; });
  function xread(a, r) {
    var b = a * 22;
    if (r >= 0x10 && r <= 0x13 && PEND[a]) {
      PEND[a] = 0; XR[b + 0x0e] = 0; XR[b + 0x0f] = 0;
      xlow = 0; for (var i = 0; i < 8; i++) if (PEND[i]) xlow = 1;
    }
    if (r === 0x12 || r === 0x13) {
      var p = r & 1, dir = XR[b + p], lev = (LEV[a] >> (8 * p)) & 0xff;
      return (lev & dir) | (XR[b + 0x14 + p] & ~dir & 0xff);
    }
    return XR[b + r];
  }
  function xwrite(a, r, v) {
    var b = a * 22;
    if (r === 0x0a || r === 0x0b) { XR[b + 0x0a] = v; XR[b + 0x0b] = v; }
    else if (r === 0x12 || r === 0x13) XR[b + r + 2] = v;
    else if (r < 0x0e || r > 0x11) XR[b + r] = v;
  }
  function expander(d) {
    var n = d.length, out = new Uint8Array(n), a = (d[0] >> 1) & 7, r = d[1], rd = d[0] & 1;
    for (var k = 2; k < n; k++) { if (rd) out[k] = xread(a, r); else xwrite(a, r, d[k]); r = r === 21 ? 0 : r + 1; }
    return out;
  }
  function door(locker, open) {
    var a = ${DOOR_CHIP_FIRST} + (locker >> 4), bit = 1 << (locker & 15), b = a * 22;
    LEV[a] = open ? LEV[a] | bit : LEV[a] & ~bit;
    if ((XR[b + 4] | (XR[b + 5] << 8)) & bit) {
      if (!PEND[a]) { XR[b + 0x10] = LEV[a] & 0xff; XR[b + 0x11] = LEV[a] >> 8; }
      XR[b + 0x0e] |= bit & 0xff; XR[b + 0x0f] |= bit >> 8;
      PEND[a] = 1;
      if (!xlow) { xlow = 1; setTimeout(function () { edge(intCb); }, 0); }
    }
  }
  // SPI2.send: replay (R replies, X frame offsets in flash; frames N..E-1; K = the coil's OLAT
  // frame, whose send time is T), else the chips above by chip select.
  var spi = (function () {
    var N = 0, E = 0, R = null, X = null, K = -1, T = 0, Q = null, D = null, bad = 0, firstBad = -1;
    // With D (the frames' devices, busy mode), a frame is replayed only when it goes to the device
    // the next recorded frame went to, with the same first byte, so frames of other work that runs
    // between two IRQ edges (the reader's health check, the door chips) reach the stand-ins instead.
    function mine(d, cs) { return N < E && (!D || (cs === (D[N] ? ECS : RCS) && d[0] === Q[X[N]] && d.length === X[N + 1] - X[N])); }
    function replay(d, cs) {
      if (mine(d, cs)) { var i = N++; if (i === K) T = getTime(); return R.subarray(X[i], X[i + 1]); }
      return cs === ECS ? expander(d) : reader(d);
    }
    function check(d, cs) {
      if (mine(d, cs)) {
        var i = N, a = X[i], b = X[i + 1], ok = d.length === b - a;
        for (var j = 0; ok && j < d.length; j++) if (d[j] !== Q[a + j]) ok = false;
        if (!ok) { bad++; if (firstBad < 0) firstBad = i; }
      }
      return replay(d, cs);
    }
    var o = {
      send: replay,
      setup: function () {},
      start: function (rep, req, idx, first, end, pulse, verify, dev) { R = rep; Q = req; X = idx; N = first; E = end; K = pulse; T = 0; D = dev || null; o.send = verify ? check : replay; },
      stop: function () { var n = N; E = 0; o.send = replay; return n; },
      pulseTime: function () { return T; },
      mismatches: function () { return { bad: bad, firstBad: firstBad }; }
    };
    return o;
  })();
  SPI2 = spi;
  global.setWatch = function (callback, pin, options) {
    var id = rSetWatch(callback, pin, options);
    if (pin === IRQ) irqCb = callback;
    else if (pin === EINT) intCb = callback;
    return id;
  };
  global.digitalRead = function (pin) {
    if (pin === IRQ) return low ? 0 : 1;
    if (pin === EINT) return xlow ? 0 : 1;
    return rDigitalRead(pin);
  };
${tap ? tapPart(wiring, mode === 'tap-ram' || mode === 'busy-ram') : ''}${busy ? busyPart() : ''}
  function rest(seconds, step) {
    mem("after-boot");
    var n = 0, max = 0;
    var timer = setInterval(function () {
      n++;
      var u = process.memory().usage;
      if (u > max) max = u;
      print("HX " + JSON.stringify({ at: "sample", s: n * step, usage: u }));
      if (n * step >= seconds) {
        clearInterval(timer);
        mem("settled", { max: max, samples: n });
        quit();
      }
    }, step * 1000);
  }
  var api = { rest: rest, mem: mem${tap ? ', taps: taps' : ''}${busy ? ', busy: busy' : ''} };
  mem("prelude-end");
  return api;
})();
`;
}

function tapPart(wiring, inRam) {
  // In RAM the recorded frames are copies too: views of Storage would be read through the file.
  const bytes = (name) => (inRam ? `E.toUint8Array(S.read("${name}"))` : `new Uint8Array(S.readArrayBuffer("${name}"))`);
  return `  var S = require("Storage");
  var REP = ${bytes('hx.rep')}, REQ = ${bytes('hx.req')};
  var IDX = new Uint16Array(${bytes('hx.idx')}.buffer), DEV = ${bytes('hx.dev')};
  var F = ${JSON.stringify(wiring.first)}, EDGES = ${JSON.stringify(wiring.edges)}, ROUNDS = ${JSON.stringify(wiring.rounds)};
  function tapOnce(card, verify) {
    var first = F[card], end = F[card + 1], edges = EDGES[card], cb = irqCb, n;
    var ev = { state: false, time: getTime(), lastTime: 0 };
    spi.start(REP, REQ, IDX, first, end, end - 1, verify);
    var t0 = getTime();
    for (n = 0; n < edges; n++) cb(ev);
    var t1 = getTime();
    var used = spi.stop() - first, T = spi.pulseTime();
    // The expanders saw the replayed writes only as replies: give their register files the writes.
    for (var i = first; i < first + used; i++) if (DEV[i] && !(REQ[IDX[i]] & 1)) expander(REQ.subarray(IDX[i], IDX[i + 1]));
    return { card: card, verify: verify ? 1 : 0, pulseMs: T ? (T - t0) * 1000 : -1, chainMs: (t1 - t0) * 1000, frames: used, expected: end - first };
  }
  function round(r, done) {
    var plan = ROUNDS[r], k = 0, total = plan.verify + plan.taps;
    mem("before-" + plan.label);
    function next() {
      if (k >= total) { mem("after-" + plan.label, { taps: total }); return done(); }
      // A, A, B, B, ...: each pupil deposits, then collects; every tap opens locker 0.
      var result = tapOnce(plan.cards[(k >> 1) % plan.cards.length], k < plan.verify);
      result.round = plan.label;
      result.kind = k % 2 ? "collect" : "deposit";
      result.i = k++;
      print("HX " + JSON.stringify({ at: "tap", tap: result }));
      // The door opens 150 ms after the tap and shuts 600 ms later. (It shut after 250 ms before:
      // the driver reports a door only when two reads debounceMs apart agree, so when the
      // interpreter was held up past the shutting, the opening was never seen, the station waited
      // for it, refused the next taps as busy and cancelled the collection with a lock fault.)
      if (result.pulseMs >= 0) {
        setTimeout(function () { door(0, 1); }, 150);
        setTimeout(function () { door(0, 0); }, 750);
      }
      setTimeout(next, 1200);
    }
    next();
  }
  // The stand-ins timed alone: the same send() calls as one tap, replayed, against an empty loop
  // and against the native SPI2.send (which returns 0xFF at once on Linux); and the edge loop.
  function cost(card, reps) {
    var first = F[card], end = F[card + 1], k = end - first, frames = [], j, r, t, a, b, c, d, x, out = [];
    for (j = first; j < end; j++) frames.push(REQ.subarray(IDX[j], IDX[j + 1]));
    var noop = function (e) {}, ev = { state: false, time: 0, lastTime: 0 }, edges = EDGES[card];
    for (r = 0; r < reps; r++) {
      t = getTime(); for (j = 0; j < k; j++) x = frames[j]; a = getTime() - t;
      spi.start(REP, REQ, IDX, first, end, end - 1, false);
      t = getTime(); for (j = 0; j < k; j++) SPI2.send(frames[j], RCS); b = getTime() - t;
      spi.stop();
      t = getTime(); for (j = 0; j < k; j++) NSPI.send(frames[j], RCS); c = getTime() - t;
      t = getTime(); for (j = 0; j < edges; j++) noop(ev); d = getTime() - t;
      out.push([a * 1e6, b * 1e6, c * 1e6, d * 1e6]);
    }
    print("HX " + JSON.stringify({ at: "cost", card: card, frames: k, edges: edges, us: out }));
  }
  function taps() {
    mem("after-boot");
    var r = 0;
    function go() {
      if (r >= ROUNDS.length) {
        print("HX " + JSON.stringify({ at: "verify", result: spi.mismatches() }));
        for (var c = 0; c < F.length - 1; c++) cost(c, 40);
        setTimeout(function () { mem("after-taps-settled"); quit(); }, 2000);
        return;
      }
      round(r++, function () { setTimeout(go, 1000); });
    }
    setTimeout(go, 3000);
  }
`;
}

function busyPart() {
  // Busy mode: the station online, replaying its journal and taking a badge list from the tool
  // (the hub's part, in Node), while a pupil taps every gap seconds. Each tap's first IRQ edge is
  // due at a set time (a timer set gap seconds before): the figure is from that moment to the coil,
  // so it includes the wait behind whatever the interpreter was doing, as a real IRQ's would. The
  // edges come as separate events (timers of 0 ms: the radio's own time is not counted), so other work can run
  // between them (the driver's step timeout, armed after each edge, always runs after the next
  // edge, as a watch event runs before timers on the board). A tap is lost when it does not reach
  // the coil with every recorded frame. Variables are sampled every 250 ms.
  return `  function busy(count, gap, verify) {
    mem("after-boot");
    var k = 0, peak = 0, low = 1e9, cards = [0, 1];
    var sampler = setInterval(function () {
      var u = process.memory().usage;
      if (u > peak) peak = u;
      if (u < low) low = u;
      print("HX " + JSON.stringify({ at: "sample", t: getTime(), usage: u }));
    }, 250);
    function schedule() {
      var due = getTime() + gap;
      setTimeout(function () { fire(due); }, gap * 1000);
    }
    function fire(due) {
      var i = k++, card = cards[(i >> 1) % cards.length], first = F[card], end = F[card + 1], edges = EDGES[card], n = 0;
      var started = getTime();
      var ev = { state: false, time: due, lastTime: 0 };
      spi.start(REP, REQ, IDX, first, end, end - 1, i < verify, DEV);
      function edge() {
        // The next edge's timer is set before this edge is handled, so it is both due and set
        // before the step timeout the driver arms while handling it: on the board a watch event
        // is handled ahead of overdue timers.
        if (n + 1 < edges) setTimeout(edge, 0);
        irqCb(ev);
        if (++n < edges) return;
        var used = spi.stop() - first, T = spi.pulseTime();
        for (var j = first; j < first + used; j++) if (DEV[j] && !(REQ[IDX[j]] & 1)) expander(REQ.subarray(IDX[j], IDX[j + 1]));
        var result = { i: i, card: card, kind: i % 2 ? "collect" : "deposit", verify: i < verify ? 1 : 0, pulseMs: T ? (T - due) * 1000 : -1, lateMs: (started - due) * 1000, frames: used, expected: end - first, usage: process.memory().usage };
        print("HX " + JSON.stringify({ at: "busy-tap", tap: result }));
        if (T) {
          setTimeout(function () { door(0, 1); }, 150);
          setTimeout(function () { door(0, 0); }, 750);
        }
        if (k < count) schedule();
        else setTimeout(function () {
          clearInterval(sampler);
          print("HX " + JSON.stringify({ at: "verify", result: spi.mismatches() }));
          mem("busy-done", { peak: peak, low: low });
          quit();
        }, 2000);
      }
      edge();
    }
    schedule();
  }
`;
}

// ---------------------------------------------------------------------------------------------
// Running the interpreter
// ---------------------------------------------------------------------------------------------
function runEspruino(dir, code, timeoutMs) {
  return new Promise((resolve) => {
    // stdin stays open and silent: at EOF the interpreter's input thread reads garbage.
    const child = spawn(ESPRUINO, ['-e', code], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk.toString('latin1')));
    child.stderr.on('data', (chunk) => (stderr += chunk.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const lines = stdout
        .replace(/\r/g, '')
        .split('\n')
        .map((line) => line.replace(/^>?\x1b\[J/, ''));
      const hx = [];
      const log = [];
      for (const line of lines) {
        const at = line.indexOf('HX {');
        if (at >= 0) {
          try {
            hx.push(JSON.parse(line.slice(at + 3)));
            continue;
          } catch {
            // not one of ours after all
          }
        }
        if (line.trim() && line.trim() !== '>') log.push(line);
      }
      resolve({ status, signal, hx, log: afterBanner(log), stdout, stderr });
    });
  });
}

/** The interpreter's banner ends with its Donate line; what follows is the program's. */
function afterBanner(lines) {
  const end = lines.findIndex((line) => line.includes('espruino.com/Donate'));
  return end >= 0 ? lines.slice(end + 1) : lines;
}

/** Copies host files into the interpreter's Storage (espruino.flash in `dir`), in order, and checks them. */
async function writeStorage(dir, files) {
  const code =
    'var S=require("Storage"),f=require("fs"),o=[];' +
    'function w(n,p){S.write(n,f.readFileSync(p));var r=S.read(n);o.push([n,r?r.length:-1,r?E.CRC32(r)>>>0:0]);}' +
    files.map(([name, file]) => `w(${JSON.stringify(name)},${JSON.stringify(file)});`).join('') +
    'print("HX "+JSON.stringify({at:"written",files:o,free:S.getFree()}));quit();';
  const run = await runEspruino(dir, code, 60_000);
  const written = run.hx.find((entry) => entry.at === 'written');
  if (!written) throw new Error(`writing Storage in ${dir} failed:\n${run.stdout}\n${run.stderr}`);
  for (const [name, file] of files) {
    const bytes = fs.readFileSync(file);
    const entry = written.files.find(([stored]) => stored === name);
    if (!entry || entry[1] !== bytes.length || entry[2] !== crc32(bytes)) {
      throw new Error(`Storage file ${name} does not match ${file} (${JSON.stringify(entry)} vs ${bytes.length} bytes, crc ${crc32(bytes)})`);
    }
  }
  return written.free;
}

const isFirmwareError = (line) => /Uncaught|Error|Too much recursion|Out of Memory|MEMORY/i.test(line);

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-measure-'));
const prep = path.join(work, 'files');
fs.mkdirSync(prep);
const put = (name, data) => {
  const file = path.join(prep, name);
  fs.writeFileSync(file, data);
  return file;
};
const results = { date: new Date().toISOString(), bundle: {}, interpreter: {}, scenarios: {}, taps: {}, notes: [] };
let broker;
let watcher;
let failed = false;
try {
  // The interpreter.
  const probeDir = path.join(work, 'probe');
  fs.mkdirSync(probeDir);
  const probe = await runEspruino(probeDir, 'var m=process.memory();print("HX "+JSON.stringify({at:"probe",version:process.version,commit:process.env.GIT_COMMIT,board:process.env.BOARD,total:m.total}));quit();', 20_000);
  const identity = probe.hx.find((entry) => entry.at === 'probe');
  if (!identity) fail(`${ESPRUINO} did not run as an Espruino interpreter:\n${probe.stdout}${probe.stderr}`);
  results.interpreter = { path: ESPRUINO, version: identity.version, commit: identity.commit, board: identity.board, variables: identity.total };
  if (identity.total !== 16383) results.notes.push(`the interpreter has ${identity.total} variables, not the ESP32's 16,383`);
  const bundleBytes = fs.readFileSync(BUNDLE);
  results.bundle = { path: BUNDLE, bytes: bundleBytes.length, sha256: crypto.createHash('sha256').update(bundleBytes).digest('hex') };
  console.log(`interpreter: Espruino ${identity.version} (${identity.commit}), board ${identity.board}, ${identity.total} variables`);
  console.log(`bundle: ${BUNDLE}, ${bundleBytes.length} bytes, sha256 ${results.bundle.sha256}`);

  broker = await startBroker('127.0.0.1', 0);

  // Files.
  const badges5000 = badgeList(BADGES);
  const files = {
    bundle: put('firmware.js', bundleBytes),
    hb5000: put('hb5000.bin', badges5000),
    hb0: put('hb0.bin', badgeList(0)),
    boot: put('handover.boot', '1'),
  };
  const journal = journalFiles(EVENTS).map(([name, bytes]) => [name, put(`${name}.bin`, bytes)]);
  const states32 = lockerStateFiles(LOCKERS).map(([name, bytes]) => [name, put(`32-${name}.bin`, bytes)]);
  const states8 = lockerStateFiles(8).map(([name, bytes]) => [name, put(`8-${name}.bin`, bytes)]);
  const wifi = { ssid: 'school', password: 'secret' };
  const config32 = configuration(LOCKERS, broker.port, wifi, true);
  const config8 = configuration(8, broker.port, wifi, true);
  const cfg32 = put('cfg-32.json', JSON.stringify(config32));
  const cfg8 = put('cfg-8.json', JSON.stringify(config8));
  results.configuration = { lockers: LOCKERS, io: config32.io, pins: config32.pins };
  console.log(`prepared: ${BADGES} badges (${badges5000.length} bytes), ${EVENTS} events in ${journal.length} journal segments, ${LOCKERS} lockers on expanders (INT on D${config32.pins.expanderInt})`);

  // Presentations, from the simulator.
  const scripts = await recordPresentations(broker.port, badges5000);
  const first = [];
  const req = [];
  const rep = [];
  const dev = [];
  const offsets = [0];
  for (const script of scripts) {
    first.push(dev.length);
    for (const frame of script.frames) {
      req.push(Buffer.from(frame.request));
      rep.push(Buffer.from(frame.reply));
      dev.push(frame.device);
      offsets.push(offsets[offsets.length - 1] + frame.request.length);
    }
  }
  first.push(dev.length);
  const idx = Buffer.alloc(offsets.length * 2);
  offsets.forEach((offset, i) => idx.writeUInt16LE(offset, i * 2));
  const hxFiles = [
    ['hx.req', put('hx.req', Buffer.concat(req))],
    ['hx.rep', put('hx.rep', Buffer.concat(rep))],
    ['hx.idx', put('hx.idx', idx)],
    ['hx.dev', put('hx.dev', Buffer.from(dev))],
  ];
  results.presentations = scripts.map((script, i) => ({
    card: script.card,
    uidBytes: CARDS[i].bytes,
    spiFrames: script.frames.length,
    readerFrames: script.frames.filter((frame) => frame.device === 0).length,
    expanderFrames: script.frames.filter((frame) => frame.device === 1).length,
    edges: script.edges,
    locker: script.locker,
    backgroundFramesDropped: script.dropped,
  }));
  for (const p of results.presentations) {
    console.log(`recorded in the simulator: card ${p.card} (${p.uidBytes}-byte UID): ${p.spiFrames} SPI frames to the coil (${p.readerFrames} reader, ${p.expanderFrames} expander), ${p.edges} IRQ edges, locker ${p.locker}`);
  }

  const doorChipsUsed = (lockers) => {
    const used = [];
    for (let chip = 0; chip < Math.ceil(lockers / 16); chip++) {
      const count = lockers - chip * 16;
      used.push([DOOR_CHIP_FIRST + chip, count >= 16 ? 0xffff : (1 << count) - 1]);
    }
    return used;
  };
  const wiringOf = (config, wifiState) => ({
    rfidCs: config.pins.rfidCs,
    rfidIrq: config.pins.rfidIrq,
    expanderCs: config.pins.expanderCs,
    expanderInt: config.pins.expanderInt,
    doorChipsUsed: doorChipsUsed(config.lockers),
    wifi: wifiState,
    first,
    edges: scripts.map((script) => script.edges),
    rounds: [
      { label: '7-byte', cards: [0, 1], verify: 2, taps: TAPS },
      { label: '4-byte', cards: [2, 3], verify: 2, taps: TAPS },
    ],
  });
  const rest32 = put('boot0-rest-32.js', prelude('rest', wiringOf(config32, 'off')));
  const rest32online = put('boot0-rest-32-online.js', prelude('rest', wiringOf(config32, 'connected')));
  const rest8 = put('boot0-rest-8.js', prelude('rest', wiringOf(config8, 'off')));
  const tap32 = put('boot0-tap-32.js', prelude('tap', wiringOf(config32, 'off')));
  const tapRam32 = put('prelude-tap-ram-32.js', prelude('tap-ram', wiringOf(config32, 'off')));

  const base = (cfg, states) => [['handover.json', cfg], ...states, ['handover.boot', files.boot]];
  const boot = (preludeFile) => [['.boot0', preludeFile], ['.bootcde', files.bundle]];
  const scenarioList = [
    { id: 'interpreter', what: 'empty interpreter, nothing in Storage', files: [], code: 'var m=process.memory();print("HX "+JSON.stringify({at:"settled",usage:m.usage,total:m.total}));quit();' },
    { id: 'prelude', what: 'harness prelude (.boot0) alone, no .bootcde', files: [['.boot0', rest32]] },
    { id: 'loaded-code', what: 'prelude + bundle without handover.json: boot() stops at the configuration; what stays is the code itself (the bundle\'s top-level functions, classes and constants) and the prelude', files: boot(rest32) },
    { id: '32L-0b-0e', what: '32 lockers, 0 badges, 0 events', files: [...base(cfg32, states32), ['hb.1', files.hb0], ...boot(rest32)] },
    { id: '32L-5000b-0e', what: '32 lockers, 5,000 badges, 0 events', files: [...base(cfg32, states32), ['hb.1', files.hb5000], ...boot(rest32)] },
    { id: '32L-0b-1000e', what: '32 lockers, 0 badges, 1,000 events', files: [...base(cfg32, states32), ['hb.1', files.hb0], ...journal, ...boot(rest32)] },
    { id: '32L-5000b-1000e', what: 'BUDGET 1: 32 lockers, 5,000 badges, 1,000 events, offline (no Wi-Fi)', budget: true, files: [...base(cfg32, states32), ['hb.1', files.hb5000], ...journal, ...boot(rest32)] },
    { id: '8L-5000b-1000e', what: '8 lockers, 5,000 badges, 1,000 events, offline', files: [...base(cfg8, states8), ['hb.1', files.hb5000], ...journal, ...boot(rest8)] },
    { id: '32L-5000b-1000e-online', what: "as BUDGET 1, but online: connected to an MQTT broker with no hub behind it (the 1,000 events are replayed, none confirmed)", online: true, files: [...base(cfg32, states32), ['hb.1', files.hb5000], ...journal, ...boot(rest32online)] },
  ];

  console.log('');
  console.log('variables in use (process.memory().usage; 16,383 in all):');
  const unknownIds = ONLY ? [...ONLY].filter((id) => !['taps', 'taps-ram', 'busy', 'busy-ram', 'busy-fw', 'busy-fw-ram', 'busy-idle-ram'].includes(id) && !scenarioList.some((scenario) => scenario.id === id)) : [];
  if (unknownIds.length) fail(`--only: no scenario ${unknownIds.join(', ')} (the ids: ${scenarioList.map((scenario) => scenario.id).join(', ')}, taps, taps-ram, busy, busy-ram, busy-fw, busy-fw-ram, busy-idle-ram)`);
  for (const scenario of scenarioList.filter((entry) => selected(entry.id))) {
    const dir = path.join(work, scenario.id);
    fs.mkdirSync(dir);
    const free = scenario.files.length ? await writeStorage(dir, scenario.files) : undefined;
    let delivered = 0;
    if (scenario.online) {
      watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: `measure-${process.pid}` });
      watcher.on('message', (topic) => {
        if (topic.endsWith('/events')) delivered++;
      });
      await watcher.subscribeAsync('handover/#', { qos: 0 });
    }
    const settle = scenario.online ? ONLINE_SETTLE_S : SETTLE_S;
    const run = await runEspruino(dir, scenario.code ?? `HX.rest(${settle}, 0.5)`, (settle + 30) * 1000);
    if (watcher) {
      await watcher.endAsync();
      watcher = undefined;
    }
    const at = (name) => run.hx.find((entry) => entry.at === name);
    const settled = at('settled');
    const samples = run.hx.filter((entry) => entry.at === 'sample').map((entry) => entry.usage);
    const entry = {
      what: scenario.what,
      storageFreeBytes: free,
      preludeStart: at('prelude-start')?.usage,
      preludeEnd: at('prelude-end')?.usage,
      afterBoot: at('after-boot')?.usage,
      settled: settled?.usage,
      max: settled?.max,
      min: samples.length ? Math.min(...samples) : undefined,
      total: settled?.total,
      log: run.log.slice(0, 8),
      errors: run.log.filter(isFirmwareError).slice(0, 6),
    };
    if (scenario.online) entry.eventsDelivered = delivered;
    if (!settled) entry.errors.push(`no settled figure (exit ${run.status ?? run.signal}): ${run.stdout.slice(-600)}`);
    results.scenarios[scenario.id] = entry;
    const range = entry.min !== undefined ? `, ${entry.min}..${entry.max} over ${settle} s` : '';
    console.log(`  ${scenario.id.padEnd(23)} ${String(entry.settled ?? '-').padStart(5)}  (before .bootcde ${entry.preludeEnd ?? '-'}, right after it ${entry.afterBoot ?? '-'}${range})${scenario.online ? `, ${delivered} event frames reached the broker` : ''}  ${scenario.what}`);
    for (const error of entry.errors) console.log(`      ! ${error}`);
    if (entry.errors.length) failed = true;
  }

  // Taps, twice: the bundle run from Storage as booted, and the same bundle run from RAM. The host
  // build keeps Storage in a file and, unlike the ESP32 (whose Storage is memory-mapped, so the
  // interpreter reads code there like RAM), reads code kept there through a 16-byte buffer that
  // opens, seeks, reads and closes that file each time: code run from Storage on this build is
  // several times slower than anywhere else (a trivial loop about 13.5 us an iteration against
  // 1.6 us from RAM). The RAM run is the JavaScript's own cost; both are printed.
  const tapModes = [
    { id: 'taps', what: 'code run from Storage (.boot0, .bootcde) as booted', files: boot(tap32), code: 'HX.taps()' },
    {
      id: 'taps-ram',
      what: 'the same prelude and bundle copied into RAM and run there with eval, the way the ESP32 reads its memory-mapped Storage',
      files: [['hx.prelude', tapRam32], ['hx.bundle', files.bundle]],
      // E.toUint8Array copies the file into RAM (E.toString of Storage's string alone would not).
      code: 'var HXS=require("Storage");eval(E.toString(E.toUint8Array(HXS.read("hx.prelude"))));eval(E.toString(E.toUint8Array(HXS.read("hx.bundle"))));HXS=undefined;HX.taps()',
    },
  ];
  for (const mode of tapModes.filter((entry) => selected(entry.id))) {
    const tapDir = path.join(work, mode.id);
    fs.mkdirSync(tapDir);
    await writeStorage(tapDir, [...base(cfg32, states32), ['hb.1', files.hb5000], ...journal, ...hxFiles, ...mode.files]);
    const run = await runEspruino(tapDir, mode.code, (2 * (TAPS + 2) * 1.3 + 40) * 1000);
    // What the station journaled in the tap run (its boot is the newest): why a tap opened nothing.
    const dump = await runEspruino(
      tapDir,
      'var S=require("Storage");S.list(/^hj\\./).forEach(function(n){var b=new Uint8Array(S.readArrayBuffer(n)),s="";' +
        'for(var i=0;i<b.length;i++)s+=(b[i]<16?"0":"")+b[i].toString(16);print("HJ "+n+" "+s);});quit();',
      15000,
    );
    const journaled = [];
    for (const line of dump.stdout.split('\n')) {
      const match = /HJ (\S+) ([0-9a-f]+)/.exec(line);
      if (!match) continue;
      const bytes = Buffer.from(match[2], 'hex');
      const segmentBoot = bytes.readUInt32BE(4);
      for (let at = 16; at + 40 <= bytes.length; at += 40) {
        if (bytes[at + 3] !== 1) continue; // erased or not a record
        journaled.push({ boot: segmentBoot, seq: bytes.readUInt32BE(at + 4), uptimeMs: bytes.readUInt32BE(at + 8), type: EVENT_NAMES[bytes[at]] ?? bytes[at], locker: bytes[at + 1] === 255 ? -1 : bytes[at + 1], detail: bytes[at + 2], person: bytes.readUInt32BE(at + 16) });
      }
    }
    // The dump booted the station once more (a boot with a BOOT event only): the tap run's boot is the newest with more.
    const tapBoot = Math.max(0, ...journaled.filter((e) => e.type !== 'BOOT').map((e) => e.boot));
    const tapEvents = journaled.filter((e) => e.boot === tapBoot).sort((a, b) => a.seq - b.seq);
    const memAt = (name) => run.hx.find((entry) => entry.at === name)?.usage;
    const taps = run.hx.filter((entry) => entry.at === 'tap').map((entry) => entry.tap);
    const verify = run.hx.find((entry) => entry.at === 'verify')?.result;
    const tapResult = (results.taps[mode.id] = {
      what: mode.what,
      cost: {},
      memory: {
        beforeBootcde: memAt('prelude-end'),
        afterBoot: memAt('after-boot'),
        before7: memAt('before-7-byte'),
        after7: memAt('after-7-byte'),
        after4: memAt('after-4-byte'),
        settled: memAt('after-taps-settled'),
      },
      verify,
      rounds: {},
      errors: run.log.filter(isFirmwareError).slice(0, 10),
      log: run.log,
      events: tapEvents,
    });
    for (const label of ['7-byte', '4-byte']) {
      const all = taps.filter((tap) => tap.round === label);
      // Only taps that reached the coil with every recorded frame are timed; the others are failures.
      const ok = (tap) => tap.pulseMs >= 0 && tap.frames === tap.expected;
      const timed = all.filter((tap) => !tap.verify && ok(tap));
      const pulses = timed.map((tap) => tap.pulseMs);
      const kind = (name) => median(timed.filter((tap) => tap.kind === name).map((tap) => tap.pulseMs));
      tapResult.rounds[label] = {
        timed: timed.length,
        verified: all.filter((tap) => tap.verify).length,
        pulseMedianMs: median(pulses),
        pulseMaxMs: pulses.length ? Math.max(...pulses) : undefined,
        pulseMinMs: pulses.length ? Math.min(...pulses) : undefined,
        depositMedianMs: kind('deposit'),
        collectMedianMs: kind('collect'),
        callbacksMedianMs: median(timed.map((tap) => tap.chainMs)),
        verifyPulsesMs: all.filter((tap) => tap.verify).map((tap) => tap.pulseMs),
        failures: all.filter((tap) => !ok(tap)).length,
        failedTaps: all.filter((tap) => !ok(tap)).map((tap) => ({ i: tap.i, kind: tap.kind, card: tap.card, frames: tap.frames, expected: tap.expected })),
      };
    }
    for (const entry of run.hx.filter((e) => e.at === 'cost')) {
      const label = CARDS[entry.card].bytes + '-byte';
      if (tapResult.cost[label]) continue;
      const standinUs = median(entry.us.map(([empty, standin]) => standin - empty));
      const nativeUs = median(entry.us.map(([empty, , native]) => native - empty));
      const edgeLoopUs = median(entry.us.map((u) => u[3]));
      tapResult.cost[label] = { sendCalls: entry.frames, edges: entry.edges, standinSendUs: standinUs, nativeSendUs: nativeUs, edgeLoopUs, extraOverNativeUs: standinUs - nativeUs + edgeLoopUs };
    }
    if (!verify || verify.bad !== 0) results.notes.push(`the replayed SPI requests differed from the recording: ${JSON.stringify(verify)}`);

    console.log('');
    console.log(`one tap, IRQ edge -> coil on (32 lockers, 5,000 badges, 1,000 events; ${TAPS} timed taps per card size after 2 checked ones), ${mode.what}:`);
    for (const [label, round] of Object.entries(tapResult.rounds)) {
      const cost = tapResult.cost[label] ?? {};
      console.log(
        `  ${label} UID: median ${fixed(round.pulseMedianMs)} ms, max ${fixed(round.pulseMaxMs)} ms, min ${fixed(round.pulseMinMs)} ms` +
          ` (deposits ${fixed(round.depositMedianMs)}, collections ${fixed(round.collectMedianMs)});` +
          ` whole callbacks incl. journal ${fixed(round.callbacksMedianMs)} ms; failed taps ${round.failures}` +
          (round.failures ? ` (${round.failedTaps.map((tap) => `#${tap.i} ${tap.kind}: ${tap.frames}/${tap.expected} frames`).join(", ")})` : ""),
      );
      console.log(
        `      stand-ins alone: ${cost.sendCalls} replayed SPI2.send ${fixed(cost.standinSendUs, 1)} us (native SPI2.send on this build ${fixed(cost.nativeSendUs, 1)} us),` +
          ` ${cost.edges} edge calls ${fixed(cost.edgeLoopUs, 1)} us: ${fixed(cost.extraOverNativeUs, 1)} us more than native calls would cost`,
      );
    }
    console.log(`  request bytes checked against the recording: ${JSON.stringify(verify)}`);
    console.log(`  variables in the tap run: ${JSON.stringify(tapResult.memory)}`);
    const unusual = tapEvents.filter((e) => e.type !== 'DEPOSIT' && e.type !== 'COLLECT' && e.type !== 'BOOT');
    console.log(`  journaled in the tap run: ${tapEvents.length} events${unusual.length ? `, besides deposits and collections: ${unusual.map((e) => `#${e.seq} ${e.type} locker ${e.locker} detail ${e.detail} at ${e.uptimeMs} ms`).join('; ')}` : ', deposits and collections only'}`);
    for (const error of tapResult.errors) console.log(`      ! ${error}`);
    if (tapResult.errors.length) failed = true;
  }

  // Busy: online, replaying the 1,000 journaled events (acknowledged as the hub would, in small
  // batches), receiving a new 5,000-badge list (the hub's stop-and-wait transfer: begin, 1 KB
  // chunks, commit, each a signed command answered before the next), and a tap every 3 s. Twice:
  // code run from Storage as booted (its variables are the firmware's at work), and from RAM (its
  // tap times are the JavaScript's; see the taps above for why).
  const busyModes = [
    { id: 'busy', what: 'code run from Storage (.boot0, .bootcde) as booted', files: boot(put('boot0-busy-32.js', prelude('busy', wiringOf(config32, 'connected')))), code: `HX.busy(${BUSY_TAPS}, ${BUSY_GAP_S}, 2)` },
    {
      id: 'busy-ram',
      what: 'the same prelude and bundle copied into RAM and run there with eval, the way the ESP32 reads its memory-mapped Storage',
      files: [['hx.prelude', put('prelude-busy-ram-32.js', prelude('busy-ram', wiringOf(config32, 'connected')))], ['hx.bundle', files.bundle]],
      code: `var HXS=require("Storage");eval(E.toString(E.toUint8Array(HXS.read("hx.prelude"))));eval(E.toString(E.toUint8Array(HXS.read("hx.bundle"))));HXS=undefined;HX.busy(${BUSY_TAPS}, ${BUSY_GAP_S}, 2)`,
    },
  ];
  // Issue 19: the same, but the station receives a firmware bundle (this bundle as version 999.0.0,
  // signed for it) instead of the badge list: begin and 1 KB chunks, each hashed as it arrives. No
  // commit: that restarts the board, and the harness's prelude lives in .boot0, which the boot step replaces.
  busyModes.push({ ...busyModes[0], id: 'busy-fw', firmware: true, what: 'code run from Storage as booted, receiving a firmware bundle' });
  busyModes.push({ ...busyModes[1], id: 'busy-fw-ram', firmware: true, what: 'the same prelude and bundle in RAM, receiving a firmware bundle' });
  busyModes.push({
    id: 'busy-idle-ram',
    idle: true,
    what: 'the same taps from RAM with the station idle (offline: no replay, no badge list), for comparison under the same machine load',
    files: [['hx.prelude', put('prelude-busy-idle-ram-32.js', prelude('busy-ram', wiringOf(config32, 'off')))], ['hx.bundle', files.bundle]],
    code: busyModes[1].code,
  });
  const newList = badgeList(BADGES, 2);
  // The code's own cost in each place, so the RAM runs' variables can be told apart from the
  // firmware's: the bundle with no configuration (boot() stops at once), loaded from Storage as
  // booted and with eval into RAM; the difference is what running the code from RAM adds.
  let codeExtraInRam;
  if (busyModes.some((mode) => selected(mode.id))) {
    const codeOnly = {};
    for (const [place, placeFiles, code] of [
      ['storage', boot(rest32), 'HX.mem("x");quit()'],
      ['ram', [['hx.prelude', rest32], ['hx.bundle', files.bundle]], 'var HXS=require("Storage");eval(E.toString(E.toUint8Array(HXS.read("hx.prelude"))));HX.mem("prelude-end");eval(E.toString(E.toUint8Array(HXS.read("hx.bundle"))));HXS=undefined;HX.mem("after-boot");quit()'],
    ]) {
      const dir = path.join(work, `code-${place}`);
      fs.mkdirSync(dir);
      await writeStorage(dir, placeFiles);
      const run = await runEspruino(dir, code, 30_000);
      const at = (name) => run.hx.find((entry) => entry.at === name)?.usage;
      // From Storage the prelude's own mem("prelude-end") comes before .bootcde runs.
      codeOnly[place] = place === 'storage' ? at('x') - at('prelude-end') : at('after-boot') - at('prelude-end');
    }
    codeExtraInRam = codeOnly.ram - codeOnly.storage;
    results.codeVariables = { ...codeOnly, extraInRam: codeExtraInRam };
    console.log('');
    console.log(`the bundle's code alone: ${codeOnly.storage} variables run from Storage, ${codeOnly.ram} copied into RAM (${codeExtraInRam} more)`);
  }
  for (const mode of busyModes.filter((entry) => selected(entry.id))) {
    const busyDir = path.join(work, mode.id);
    fs.mkdirSync(busyDir);
    const free = await writeStorage(busyDir, [...base(cfg32, states32), ['hb.1', files.hb5000], ...journal, ...hxFiles, ...mode.files]);
    const stationBase = topicBase(config32.site, config32.station);
    const hub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: `measure-hub-${process.pid}-${mode.id}` });
    const t0 = Date.now();
    const seen = new Map(); // boot -> Set of seq
    const acked = new Map(); // boot -> highest seq acknowledged
    let frames = 0;
    let duplicates = 0;
    let replayDoneMs;
    let ackTimer;
    const replies = new Map();
    let online;
    const onlineSeen = new Promise((resolve) => (online = resolve));
    const flushAcks = () => {
      ackTimer = undefined;
      for (const [boot, seqs] of seen) {
        let top = acked.get(boot) ?? 0;
        while (seqs.has(top + 1)) top++;
        if (top > (acked.get(boot) ?? 0)) {
          acked.set(boot, top);
          hub.publish(stationBase + TOPIC.ACK, Buffer.from(encodeAck(STATION_KEY, boot, top)), { qos: 1 });
        }
      }
      if (replayDoneMs === undefined && (acked.get(1) ?? 0) >= EVENTS) replayDoneMs = Date.now() - t0;
    };
    hub.on('message', (topic, payload) => {
      if (topic.endsWith(TOPIC.EVENTS)) {
        const opened = openEventFrame(STATION_KEY, new Uint8Array(payload));
        if (!opened.ok) return;
        frames++;
        const seqs = seen.get(opened.frame.boot) ?? new Set();
        if (seqs.has(opened.frame.seq)) duplicates++;
        seqs.add(opened.frame.seq);
        seen.set(opened.frame.boot, seqs);
        // The hub commits in batches and acknowledges each batch once: here every 50 ms.
        ackTimer ??= setTimeout(flushAcks, 50);
      } else if (topic.endsWith(TOPIC.STATUS)) {
        if (payload.toString() === 'online') online();
      } else if (topic.endsWith(TOPIC.REPLY)) {
        const opened = unseal(STATION_KEY, new Uint8Array(payload));
        const message = opened.ok ? cborDecode(opened.body) : undefined;
        if (message instanceof Map) replies.get(message.get(MSG.COUNTER))?.(message.get(MSG.OK) === true);
      }
    });
    await hub.subscribeAsync(`${stationBase}/#`, { qos: 1 });
    let counter = 0;
    const command = (kind, fields) =>
      new Promise((resolve) => {
        const mine = ++counter;
        const timer = setTimeout(() => {
          replies.delete(mine);
          resolve(false);
        }, 15_000);
        replies.set(mine, (ok) => {
          clearTimeout(timer);
          replies.delete(mine);
          resolve(ok);
        });
        const message = new Map([[MSG.STATION, config32.station], [MSG.COUNTER, mine], [MSG.COMMAND, kind], ...fields]);
        hub.publish(stationBase + TOPIC.COMMAND, Buffer.from(seal(STATION_KEY, message)), { qos: 1 });
      });
    const push = (async () => {
      await onlineSeen;
      if (mode.idle) return { ok: false, step: 'none sent (idle)' };
      await sleep(1000);
      const started = Date.now();
      if (mode.firmware) {
        const text = fs.readFileSync(BUNDLE, 'utf8');
        const own = /^\/\/ handover-firmware (\S+)\n/.exec(text)?.[1];
        if (!own) return { ok: false, step: 'the bundle has no version line (npm run build)' };
        const read = readBundle(new Uint8Array(Buffer.from(text.replace(`// handover-firmware ${own}\n`, '// handover-firmware 999.0.0\n'), 'utf8')));
        if (!read.ok) return { ok: false, step: read.error };
        const { bytes, hash, version } = read.bundle;
        const begin = [[MSG.VERSION, version], [MSG.SIZE, bytes.length], [MSG.HASH, hash], [MSG.SIGNATURE, signBundle(STATION_KEY, hash, version, false)], [MSG.ROLLBACK, false]];
        if (!(await command(COMMAND.FIRMWARE_BEGIN, begin))) return { ok: false, step: 'firmware begin' };
        for (let offset = 0; offset < bytes.length; offset += 1024) {
          if (!(await command(COMMAND.FIRMWARE_CHUNK, [[MSG.VERSION, version], [MSG.OFFSET, offset], [MSG.DATA, bytes.subarray(offset, offset + 1024)]]))) return { ok: false, step: `firmware chunk at ${offset}` };
        }
        return { ok: true, step: `firmware ${bytes.length} bytes received (not committed)`, startedMs: started - t0, tookMs: Date.now() - started };
      }
      if (!(await command(COMMAND.BADGES_BEGIN, [[MSG.VERSION, 2], [MSG.SIZE, newList.length]]))) return { ok: false, step: 'begin' };
      for (let offset = 0; offset < newList.length; offset += CHUNK_BYTES) {
        const chunk = newList.subarray(offset, offset + CHUNK_BYTES);
        if (!(await command(COMMAND.BADGES_CHUNK, [[MSG.VERSION, 2], [MSG.OFFSET, offset], [MSG.DATA, chunk]]))) return { ok: false, step: `chunk at ${offset}` };
      }
      const committed = await command(COMMAND.BADGES_COMMIT, [[MSG.VERSION, 2]]);
      return { ok: committed, step: committed ? 'committed' : 'commit', startedMs: started - t0, tookMs: Date.now() - started };
    })();
    const run = await runEspruino(busyDir, mode.code, (BUSY_TAPS * BUSY_GAP_S + 90) * 1000);
    online();
    const pushed = await Promise.race([push, sleep(1000).then(() => ({ ok: false, step: 'unfinished when the run ended' }))]);
    if (ackTimer) clearTimeout(ackTimer);
    await hub.endAsync();
    const taps = run.hx.filter((entry) => entry.at === 'busy-tap').map((entry) => entry.tap);
    const ok = (tap) => tap.pulseMs >= 0 && tap.frames === tap.expected;
    const timed = taps.filter(ok);
    const pulses = timed.map((tap) => tap.pulseMs);
    const samples = run.hx.filter((entry) => entry.at === 'sample').map((entry) => entry.usage);
    const preludeEnd = run.hx.find((entry) => entry.at === 'prelude-end')?.usage;
    const done = run.hx.find((entry) => entry.at === 'busy-done');
    const busyResult = (results.busy ??= {})[mode.id] = {
      what: mode.what,
      loadAverage: os.loadavg(),
      storageFreeBytes: free,
      taps: taps.length,
      lost: taps.filter((tap) => !ok(tap)).map((tap) => ({ i: tap.i, kind: tap.kind, frames: tap.frames, expected: tap.expected, lateMs: tap.lateMs })),
      pulseMedianMs: median(pulses),
      pulseMaxMs: pulses.length ? Math.max(...pulses) : undefined,
      pulseMinMs: pulses.length ? Math.min(...pulses) : undefined,
      lateMedianMs: median(taps.map((tap) => tap.lateMs)),
      lateMaxMs: taps.length ? Math.max(...taps.map((tap) => tap.lateMs)) : undefined,
      pulses,
      variables: { harnessPrelude: preludeEnd, afterBoot: run.hx.find((entry) => entry.at === 'after-boot')?.usage, peak: samples.length ? Math.max(...samples) : undefined, end: done?.usage, samples: samples.length },
      // From RAM, less what the code itself costs there beyond Storage: the firmware's own as on the board.
      firmwareOwnPeak: samples.length && preludeEnd !== undefined ? Math.max(...samples) - preludeEnd - (mode.files.some(([name]) => name === 'hx.bundle') ? codeExtraInRam ?? 0 : 0) : undefined,
      replay: { frames, duplicates, allAcknowledgedAfterMs: replayDoneMs, acknowledged: Object.fromEntries(acked) },
      badgeList: { ...pushed, chunkBytes: CHUNK_BYTES },
      verify: run.hx.find((entry) => entry.at === 'verify')?.result,
      errors: run.log.filter(isFirmwareError).slice(0, 10),
      log: run.log.slice(-40),
    };
    console.log('');
    console.log(`${mode.id}: ${mode.idle ? 'offline and idle' : `online, replaying ${EVENTS} events, receiving ${mode.firmware ? 'a firmware bundle' : `a ${BADGES}-badge list`}`}, a tap every ${BUSY_GAP_S} s (${BUSY_TAPS} taps, 7-byte cards), ${mode.what}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}:`);
    console.log(`  tap, IRQ due -> coil on: median ${fixed(busyResult.pulseMedianMs)} ms, max ${fixed(busyResult.pulseMaxMs)} ms, min ${fixed(busyResult.pulseMinMs)} ms; lost ${busyResult.lost.length} of ${taps.length}; the first edge's timer late by median ${fixed(busyResult.lateMedianMs)} ms, max ${fixed(busyResult.lateMaxMs)} ms`);
    console.log(`  variables: harness prelude ${preludeEnd}, peak ${busyResult.variables.peak}, at the end ${busyResult.variables.end}; the firmware's own at the peak ${busyResult.firmwareOwnPeak} (less the prelude${mode.files.some(([name]) => name === 'hx.bundle') ? ' and what running the code from RAM adds' : ''})`);
    console.log(`  replay: ${frames} event frames (${duplicates} duplicates), all ${EVENTS} acknowledged after ${replayDoneMs ?? '-'} ms; badge list: ${JSON.stringify(pushed)}; request bytes checked: ${JSON.stringify(busyResult.verify)}`);
    for (const error of busyResult.errors) console.log(`      ! ${error}`);
    if (busyResult.errors.length) failed = true;
  }
  for (const note of results.notes) console.log(`note: ${note}`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(results, null, 2));
} finally {
  if (watcher) await watcher.endAsync().catch(() => {});
  if (broker) await broker.close();
  if (values.keep) console.log(`kept ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
}
if (failed) {
  console.error('espruino-host-measure: the firmware reported errors on the interpreter (see "!" lines); its figures are not the station at work');
  process.exit(1);
}
