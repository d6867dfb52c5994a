// Firmware updates over the network (issue 19), through the built bundle in the simulator and a
// real broker, sent by the hub's own station link: a new version is received, checked and switched
// to by the boot step (.boot0, run before .bootcde as Espruino runs it), and the station serves taps
// before and after; a transfer cut by a power loss resumes where flash shows it stopped; a bundle
// signed for another station, or altered on the way, is refused; an older version is refused
// unless a rollback is asked for; a bundle that throws at boot is gone back from by itself.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMAND, DETAIL, EVENT, ROLE } from '../../protocol/wire';
import { BOOT0, FW_BOOT, FW_NEW, FW_PREV } from '../../protocol/firmware';
import { boot0Source } from '../../firmware/src/update/boot0';
import { readBundle, signBundle, type FirmwareBundle } from '../../hub/src/firmware/bundle';
import { bundleAs, bundleText } from '../support/firmware-bundles';
import type { StationLink } from '../../hub/src/stations/station-link';
import { BUNDLE, StationRig, startLink } from '../support/station-rig';
import { eventually } from '../support/eventually';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };
const OTHER_KEY = Buffer.alloc(32, 5).toString('hex');

let rig: StationRig;
let link: StationLink;

afterEach(async () => {
  await link?.stop();
  await rig?.stop();
});

async function start(): Promise<void> {
  rig = await new StationRig({ people: [AMIRA], acknowledge: true }).start();
  link = await startLink(rig, () => {}, { replyTimeoutMs: 3000 });
  await runsVersion('0.3.0');
}

async function runsVersion(versionText: string, timeoutMs = 10_000): Promise<void> {
  await eventually(() => link.states.get('st-1')?.firmware === versionText, timeoutMs, `the station to report firmware ${versionText}`);
}

async function serves(): Promise<void> {
  const deposited = rig.events(EVENT.DEPOSIT).length;
  expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
  expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
  expect(rig.events(EVENT.DEPOSIT).length).toBe(deposited + 1);
}

describe('a station updated over the network', () => {
  it('takes a newer signed bundle, switches to it, serves taps before and after, and keeps it once confirmed', async () => {
    await start();
    await serves();
    expect(rig.station.storage.read(BOOT0)).toBe(boot0Source());
    const next = bundleAs('0.4.0');
    const boots = rig.station.boots;
    const result = await link.pushFirmware('st-1', next);
    expect(result).toMatchObject({ ok: true });
    await eventually(() => rig.station.boots > boots, 10_000, 'the restart');
    await runsVersion('0.4.0');
    await rig.waitForEvent(EVENT.FIRMWARE, (frame) => frame.detail === DETAIL.FIRMWARE_INSTALLED);
    expect(rig.station.storage.read('.bootcde')).toBe(Buffer.from(next.bytes).toString('latin1'));
    expect(rig.station.storage.read(FW_PREV)).toBe(fs.readFileSync(BUNDLE, 'latin1'));
    expect(rig.station.storage.read(FW_NEW)).toBeUndefined();
    await serves();

    expect(await link.confirmFirmware('st-1', next.version)).toMatchObject({ ok: true });
    await rig.waitForEvent(EVENT.FIRMWARE, (frame) => frame.detail === DETAIL.FIRMWARE_CONFIRMED);
    expect(rig.station.storage.read(FW_BOOT)).toBeUndefined();
    // Confirmed: a reset keeps the new version.
    rig.station.reset('watchdog');
    await eventually(() => rig.frames.some((f) => f.type === EVENT.BOOT && f.boot === 3), 10_000, 'boot 3');
    await runsVersion('0.4.0');
    expect(rig.events(EVENT.FIRMWARE_ROLLED_BACK)).toEqual([]);
    expect(rig.station.env.errors).toEqual([]);
  }, 60_000);

  it('takes a bundle when the room for it is trash left by earlier updates: Storage is compacted, not the update refused', async () => {
    await start();
    const next = bundleAs('0.4.0');
    // As after several updates (each leaves a bundle or two erased but not yet compacted away): less
    // free after the last file than the bundle and the copy of the running one need, much more as trash.
    const storage = rig.station.storage;
    storage.write('old.bundle', 'x'.repeat(storage.getFree() - 40_000));
    storage.erase('old.bundle');
    expect(storage.getFree()).toBeLessThan(2 * next.bytes.length);
    const compactions = storage.compactions;
    expect(await link.pushFirmware('st-1', next)).toMatchObject({ ok: true });
    expect(storage.compactions).toBeGreaterThan(compactions);
    await runsVersion('0.4.0');
    await serves();
    expect(rig.station.env.errors).toEqual([]);
  }, 60_000);

  it('serves taps while a bundle is on its way', async () => {
    await start();
    const next = bundleAs('0.4.0');
    let chunks = 0;
    link.on('firmware-progress', () => chunks++);
    const pushing = link.pushFirmware('st-1', next);
    await eventually(() => chunks >= 3, 10_000, 'the transfer under way');
    // Two visits with the transfer under way (how much of it overlaps depends on the machine: no
    // timing is asserted, only that every tap is served and the transfer still completes).
    await serves();
    expect(await pushing).toMatchObject({ ok: true });
    await runsVersion('0.4.0');
  }, 60_000);

  it('resumes a transfer cut by a power loss at a random byte from where flash shows it stopped', async () => {
    await start();
    const next = bundleAs('0.4.0');
    const cutAt = 2000 + Math.floor(Math.random() * (next.bytes.length - 4000));
    rig.station.storage.cutPowerAfter(cutAt);
    const cut = await link.pushFirmware('st-1', next);
    expect(cut.ok).toBe(false);
    await eventually(() => rig.frames.some((f) => f.type === EVENT.BOOT && f.boot === 2), 10_000, 'the reboot after the power loss');
    await runsVersion('0.3.0');
    let resumedFrom = -1;
    link.once('firmware-progress', ({ sent }: { sent: number }) => (resumedFrom = sent));
    expect(await link.pushFirmware('st-1', next)).toMatchObject({ ok: true });
    // What reached flash before the cut was kept (to the start of the block it stopped in).
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(cutAt);
    await runsVersion('0.4.0');
    expect(rig.station.storage.read('.bootcde')).toBe(Buffer.from(next.bytes).toString('latin1'));
    await serves();
  }, 60_000);

  it('refuses a bundle signed for another station, and one altered on the way', async () => {
    await start();
    const next = bundleAs('0.4.0');
    const forOther = await link.command('st-1', COMMAND.FIRMWARE_BEGIN, {
      version: next.version,
      size: next.bytes.length,
      hash: next.hash,
      signature: signBundle(OTHER_KEY, next.hash, next.version, false),
    });
    expect(forOther).toMatchObject({ ok: false, refusal: 'firmware-signature' });

    // Signed for this station, but the bytes sent are another bundle's: the whole-file check fails.
    const altered = bundleAs('0.4.0', { throwAtBoot: true });
    const swapped: FirmwareBundle = { ...next, bytes: altered.bytes.subarray(0, next.bytes.length) };
    expect(await link.pushFirmware('st-1', swapped)).toMatchObject({ ok: false, refusal: 'firmware-signature' });
    await rig.waitForEvent(EVENT.FIRMWARE_REFUSED);
    expect(rig.station.storage.read(FW_NEW)).toBeUndefined();
    expect(rig.station.storage.read(FW_BOOT)).toBeUndefined();
    await serves();
    expect(link.states.get('st-1')?.firmware).toBe('0.3.0');
  }, 60_000);

  it('refuses an older version (or the same) unless the office asks for a rollback', async () => {
    await start();
    expect(await link.pushFirmware('st-1', bundleAs('0.2.9'))).toMatchObject({ ok: false, refusal: 'older-version' });
    expect(await link.pushFirmware('st-1', bundleAs('0.3.0'))).toMatchObject({ ok: false, refusal: 'older-version' });
    // A rollback signed as one (the flag is inside the signature): taken.
    expect(await link.pushFirmware('st-1', bundleAs('0.2.9'), { rollback: true })).toMatchObject({ ok: true });
    await runsVersion('0.2.9');
    await serves();
  }, 60_000);

  it('goes back to the previous bundle by itself when the new one throws at boot', async () => {
    await start();
    const broken = bundleAs('0.5.0', { throwAtBoot: true });
    expect(await link.pushFirmware('st-1', broken, { confirmSec: 3 })).toMatchObject({ ok: true });
    const back = await rig.waitForEvent(EVENT.FIRMWARE_ROLLED_BACK, () => true, 20_000);
    expect(back.detail).toBe(DETAIL.FIRMWARE_NOT_CONFIRMED);
    await runsVersion('0.3.0');
    expect(rig.station.storage.read('.bootcde')).toBe(fs.readFileSync(BUNDLE, 'latin1'));
    expect(rig.station.storage.read(FW_BOOT)).toBeUndefined();
    expect(rig.station.logLines.some((line) => line.includes('this bundle is broken'))).toBe(true);
    await serves();
  }, 60_000);

  it('goes back by itself when power fails while the boot step writes its state (fw.boot torn), not stuck on a broken bundle', async () => {
    await start();
    const boots = rig.station.boots;
    // A broken bundle, given long to confirm: the station sits in the new bundle's first boot.
    expect(await link.pushFirmware('st-1', bundleAs('0.5.0', { throwAtBoot: true }), { confirmSec: 600 })).toMatchObject({ ok: true });
    await eventually(() => rig.station.logLines.some((line) => line.includes('this bundle is broken')), 10_000, 'the broken bundle running');
    expect(rig.station.boots - boots).toBe(1);
    // A reset, and the power fails a few bytes into the boot step's next write of fw.boot (its boot count).
    rig.station.storage.cutPowerAfter(8);
    rig.station.reset('brownout');
    const back = await rig.waitForEvent(EVENT.FIRMWARE_ROLLED_BACK, () => true, 20_000);
    expect(back.detail).toBe(DETAIL.FIRMWARE_RESETS);
    await runsVersion('0.3.0');
    expect(rig.station.storage.read('.bootcde')).toBe(fs.readFileSync(BUNDLE, 'latin1'));
    expect(rig.station.storage.read(FW_BOOT)).toBeUndefined();
    await serves();
  }, 60_000);

  it('finishes the switch when power fails while fw.boot is written before the copy of the new bundle', async () => {
    await start();
    const next = bundleAs('0.4.0');
    const running = Buffer.byteLength(rig.station.storage.read('.bootcde')!, 'latin1');
    // The commit restarts the station: .boot0 copies .bootcde to fw.prev, then writes fw.boot ("c"): cut there.
    const storage = rig.station.storage;
    const write = storage.write.bind(storage);
    storage.write = (name: string, data: unknown, offset?: number, size?: number) => {
      const written = write(name, data, offset, size);
      // The commit's fw.boot ("i"): the next bytes to flash are .boot0's copy, then its "c".
      if (name === FW_BOOT && String(data).includes('"i"')) storage.cutPowerAfter(running + 8);
      return written;
    };
    expect(await link.pushFirmware('st-1', next)).toMatchObject({ ok: true });
    await runsVersion('0.4.0');
    expect(rig.station.logLines.some((line) => line.includes('reset: power cut'))).toBe(true);
    expect(rig.station.storage.read('.bootcde')).toBe(Buffer.from(next.bytes).toString('latin1'));
    expect(rig.station.storage.read(FW_PREV)).toBe(fs.readFileSync(BUNDLE, 'latin1'));
    await serves();
  }, 60_000);

  it('goes back by itself when the new bundle keeps resetting the board', async () => {
    await start();
    const boots = rig.station.boots;
    expect(await link.pushFirmware('st-1', bundleAs('0.5.1', { resetAtBoot: true }))).toMatchObject({ ok: true });
    const back = await rig.waitForEvent(EVENT.FIRMWARE_ROLLED_BACK, () => true, 20_000);
    expect(back.detail).toBe(DETAIL.FIRMWARE_RESETS);
    // Three boots run the new bundle (each resets at once); the fourth goes back before .bootcde runs.
    expect(rig.station.boots - boots).toBe(4);
    await runsVersion('0.3.0');
    await serves();
  }, 60_000);

  it('refuses a bundle Storage has no room for, with the reason, and keeps running', async () => {
    await start();
    const storage = rig.station.storage;
    storage.write('filler', new Uint8Array(storage.getFree() - 100_000));
    const next = bundleAs('0.4.0');
    expect(await link.pushFirmware('st-1', next)).toMatchObject({ ok: false, refusal: 'no-room' });
    expect(storage.read(FW_NEW)).toBeUndefined();
    storage.erase('filler');
    storage.compact();
    expect(await link.pushFirmware('st-1', next)).toMatchObject({ ok: true });
    await runsVersion('0.4.0');
  }, 60_000);

  it('refuses a bigger bundle than it runs when Storage could not hold the switch, and keeps running', async () => {
    await start();
    // At the switch, Storage holds fw.new, the copy of the running bundle (fw.prev) and the new
    // .bootcde at once: the new bundle twice over. Room for the running one's size twice is not enough.
    const read = readBundle(new Uint8Array(Buffer.from(`${bundleText('0.4.0')}\n// ${'padding '.repeat(2500)}\n`, 'utf8')));
    if (!read.ok) throw new Error(read.error);
    const bigger = read.bundle;
    const running = Buffer.byteLength(rig.station.storage.read('.bootcde')!, 'latin1');
    expect(bigger.bytes.length - running).toBeGreaterThan(15_000);
    const storage = rig.station.storage;
    const between = bigger.bytes.length + running + 4096 + (bigger.bytes.length - running) / 2;
    storage.write('filler', new Uint8Array(Math.floor(storage.getFree() - between)));
    const boots = rig.station.boots;
    expect(await link.pushFirmware('st-1', bigger)).toMatchObject({ ok: false, refusal: 'no-room' });
    expect(storage.read(FW_NEW)).toBeUndefined();
    expect(rig.station.boots).toBe(boots);
    await serves();
    expect(rig.station.env.errors).toEqual([]);
  }, 60_000);
});
