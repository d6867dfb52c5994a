// A 5,000-badge list is 80,016 bytes, and Espruino refuses a typed-array view that starts past byte
// 65,535 ("byteOffset too large (or negative)", jswrap_typedarray_constructor in 2v29's
// src/jswrap_arraybuffer.c). The simulator's environment enforces that limit; these tests check it
// against what the real interpreter printed, then tap badges sorted into the last records of such a
// list through the built dist/firmware.js.
import { afterEach, describe, expect, it } from 'vitest';
import { Board } from '../../hardware/sim/board';
import { EspruinoEnvironment } from '../../hardware/sim/espruino-env';
import { FlashStorage } from '../../hardware/sim/flash-storage';
import { EVENT, ROLE } from '../../protocol/wire';
import zlib from 'node:zlib';
import { BADGE_HEADER_BYTES, BADGE_RECORD_BYTES, badgeFileName, compareHash, encodeBadgeList, type BadgeRecord } from '../../firmware/src/station/badge-list';
import type { StationLink } from '../../hub/src/stations/station-link';
import { prng } from '../support/prng';
import { StationRig, hashUid, startLink } from '../support/station-rig';

// Run on Espruino 2v29 (host build, RELEASE=1), print() swapped for console.log here; each line is
// what the interpreter printed.
const PROBES = `
function t(n, f) { try { console.log(n + ": " + f()); } catch (e) { console.log(n + " threw: " + e.message); } }
var b = new ArrayBuffer(70000);
t("ctor 65535", function () { return new Uint8Array(b, 65535, 1).length; });
t("ctor 65536", function () { return new Uint8Array(b, 65536, 1).length; });
t("ctor u16 65536", function () { return new Uint16Array(b, 65536, 1).length; });
t("ctor arr off", function () { return new Uint8Array([1, 2], 70000).length; });
t("ctor neg", function () { return new Uint8Array(b, -1, 1).length; });
t("ctor float", function () { return new Uint8Array(b, 65535.9, 1).length; });
t("ctor str", function () { return new Uint8Array(b, "70000", 1).length; });
var w = new Uint8Array(b);
t("sub 65535", function () { return w.subarray(65535, 65536).length; });
t("sub 65536", function () { return w.subarray(65536, 65537).length; });
t("sub -10", function () { return w.subarray(-10).length; });
t("sub empty", function () { return w.subarray(69000, 69000).length; });
t("sub noend", function () { return w.subarray(66000).length; });
var dv = new DataView(b);
t("dv 65535", function () { return dv.getUint8(65535); });
t("dv 65536", function () { return dv.getUint8(65536); });
t("dv set 65536", function () { dv.setUint8(65536, 1); return 'ok'; });
var dv2 = new DataView(b, 60000);
t("dv2 5535", function () { return dv2.getUint8(5535); });
t("dv2 5536", function () { return dv2.getUint8(5536); });
var u16 = new Uint16Array(b);
t("u16 sub 32767", function () { return u16.subarray(32767, 32768).length; });
t("u16 sub 32768", function () { return u16.subarray(32768, 32769).length; });
`;

const ESPRUINO_PRINTED = [
  'ctor 65535: 1',
  'ctor 65536 threw: byteOffset too large (or negative)',
  'ctor u16 65536 threw: byteOffset too large (or negative)',
  'ctor arr off threw: byteOffset too large (or negative)',
  'ctor neg threw: byteOffset too large (or negative)',
  'ctor float: 1',
  'ctor str threw: byteOffset too large (or negative)',
  'sub 65535: 1',
  'sub 65536 threw: byteOffset too large (or negative)',
  'sub -10 threw: byteOffset too large (or negative)',
  'sub empty: 0',
  'sub noend threw: byteOffset too large (or negative)',
  'dv 65535: 0',
  'dv 65536 threw: byteOffset too large (or negative)',
  'dv set 65536 threw: byteOffset too large (or negative)',
  'dv2 5535: 0',
  'dv2 5536 threw: byteOffset too large (or negative)',
  'u16 sub 32767: 1',
  'u16 sub 32768 threw: byteOffset too large (or negative)',
];

describe("the simulator's typed arrays", () => {
  it('refuse a byteOffset past 65,535 where Espruino 2v29 does, and only there', () => {
    const lines: string[] = [];
    const env = new EspruinoEnvironment({
      board: new Board(() => 0),
      storage: new FlashStorage(null),
      spiDevices: new Map(),
      log: (line) => lines.push(line),
      onReset: () => {},
      bootTimeMs: Date.now(),
    });
    env.run(PROBES, 'probes.js');
    expect(env.errors).toEqual([]);
    expect(lines).toEqual(ESPRUINO_PRINTED);
  });
});

// 5,000 badges of other people, from a fixed seed.
function otherBadges(count: number): BadgeRecord[] {
  const random = prng(5000);
  const records: BadgeRecord[] = [];
  for (let i = 0; i < count; i++) {
    const hash = new Uint8Array(8);
    for (let j = 0; j < 8; j++) hash[j] = Math.floor(random() * 256);
    records.push({ hash, person: 10_000 + i, role: ROLE.PUPIL, assetClasses: 0, flags: 0 });
  }
  return records;
}

/** The first UID (prefix + counter) whose badge hash starts with a byte of at least `minFirstByte`. */
function uidSortingLate(prefix: string, bytes: number, minFirstByte: number): string {
  for (let n = 0; ; n++) {
    const uid = prefix + n.toString(16).padStart(bytes * 2 - prefix.length, '0');
    if (hashUid(uid)[0] >= minFirstByte) return uid;
  }
}

/** Byte offset of the person's record in the badge-list file the rig writes. */
function recordOffset(others: BadgeRecord[], uid: string): number {
  const hash = hashUid(uid);
  const before = others.filter((record) => compareHash(record.hash, hash) < 0).length;
  return BADGE_HEADER_BYTES + before * BADGE_RECORD_BYTES;
}

let rig: StationRig | undefined;

let link: StationLink | undefined;

afterEach(async () => {
  await link?.stop();
  link = undefined;
  await rig?.stop();
  rig = undefined;
});

describe('a 5,000-badge list (80,016 bytes) through the built bundle', () => {
  it('opens a locker for badges sorted into its last records, 4- and 7-byte cards', async () => {
    const others = otherBadges(5000);
    const late4 = { uid: uidSortingLate('04', 4, 0xfa), person: 1, role: ROLE.PUPIL };
    const late7 = { uid: uidSortingLate('04a0', 7, 0xfa), person: 2, role: ROLE.PUPIL };
    const early = { uid: '04000001', person: 3, role: ROLE.PUPIL };
    // The two late records start past the view limit; without a workaround their lookup throws.
    expect(recordOffset(others, late4.uid)).toBeGreaterThan(65535);
    expect(recordOffset(others, late7.uid)).toBeGreaterThan(65535);

    rig = await new StationRig({ people: [late4, late7, early], extraBadges: others }).start();
    expect(rig.station.storage.readArrayBuffer('hb.1')!.byteLength).toBe(BADGE_HEADER_BYTES + 5003 * BADGE_RECORD_BYTES);

    for (const person of [late4, late7, early]) {
      const visit = await rig.visit(person.uid);
      expect(visit.locker, `badge ${person.uid}`).not.toBeNull();
      const deposit = await rig.waitForEvent(EVENT.DEPOSIT, (frame) => frame.person === person.person);
      expect(deposit.locker).toBe(visit.locker);
    }
    expect(rig.pulsedLockers()).toEqual([0, 1, 2]);
    expect(rig.station.env.errors).toEqual([]);
    expect(rig.station.logLines.filter((line) => /byteOffset|fault/i.test(line))).toEqual([]);
  });
});

describe('a 5,000-badge list sent by the hub', () => {
  it('is checked chunk by chunk as it arrives (past byte 65,535 too), used, and the old list erased; a damaged one is refused', async () => {
    const early = { uid: '04000001', person: 3, role: ROLE.PUPIL };
    const late4 = { uid: uidSortingLate('04', 4, 0xfa), person: 1, role: ROLE.PUPIL };
    rig = await new StationRig({ people: [early], acknowledge: true }).start();
    link = await startLink(rig);
    const records = otherBadges(5000).concat([late4].map((p) => ({ hash: hashUid(p.uid), person: p.person, role: p.role, assetClasses: 0, flags: 0 })));

    // Damaged on the way past the 64 KiB mark (a flash fault would look the same): refused, old list kept.
    const damaged = encodeBadgeList(records, 2, (data) => zlib.crc32(data));
    damaged[70_001] ^= 0x10;
    expect(await link.pushBadgeList('st-1', 2, damaged)).toMatchObject({ ok: false, refusal: 'checksum' });
    expect(rig.station.storage.list().filter((name) => name.startsWith('hb.'))).toEqual(['hb.1']);

    const list = encodeBadgeList(records, 3, (data) => zlib.crc32(data));
    expect(await link.pushBadgeList('st-1', 3, list)).toMatchObject({ ok: true, version: 3 });
    expect(rig.station.storage.list().filter((name) => name.startsWith('hb.'))).toEqual([badgeFileName(3)]);
    const visit = await rig.visit(late4.uid);
    expect(visit.locker).not.toBeNull();
    expect((await rig.waitForEvent(EVENT.DEPOSIT, (frame) => frame.person === late4.person)).locker).toBe(visit.locker);
    expect((await rig.visit(early.uid)).locker).toBeNull(); // not on the new list
    expect(rig.station.env.errors).toEqual([]);
  }, 60_000);
});
