// The MFRC522 through the built bundle in the simulator: the digital self test at boot (data sheet
// 16.1.1) for v1.0 and v2.0 chips and its SPI cost, a chip that fails it, and bad radio input (a UID
// frame of the wrong length, a CRC error, a card taken away mid-anticollision): each is logged, nothing
// crashes, no lock moves for it, and the next presentation is served.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT, ROLE } from '../../protocol/wire';
import { StationRig } from '../support/station-rig';
import { eventually } from '../support/eventually';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };
const BEN = { uid: '0411223344a580', person: 102, role: ROLE.PUPIL };

let rig: StationRig;

afterEach(async () => {
  await rig?.stop();
});

/** SPI frames the firmware sends the reader, recorded from its first boot. */
function recordFrames(frames: Uint8Array[]) {
  return (data: Uint8Array) => frames.push(Uint8Array.from(data));
}

/** Index of the first REQA poll (CommandReg = Transceive): everything before it is bring-up. */
function firstPoll(frames: Uint8Array[]): number {
  return frames.findIndex((f) => f.length === 2 && f[0] === 0x01 << 1 && f[1] === 0x0c);
}

describe('reader self test at boot', () => {
  for (const version of [0x91, 0x92]) {
    it(`passes on a v${version === 0x91 ? '1.0' : '2.0'} chip (VersionReg ${version.toString(16)}) and serves taps; boot costs 27 SPI transfers`, async () => {
      const frames: Uint8Array[] = [];
      rig = await new StationRig({
        people: [AMIRA],
        beforeBoot: (station) => {
          station.readerOptions = { version, onTransfer: recordFrames(frames) };
        },
      }).start();
      expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
      const boot = frames.slice(0, firstPoll(frames));
      // VersionReg read, self test (12: two SoftResets and their checks, 25 zeros + Mem, AutoTestReg
      // 09h, 00h, CalcCRC, FIFOLevelReg, one 65-byte read of the result, AutoTestReg 00h), configuration (14).
      expect(boot.length).toBe(27);
      expect(boot.filter((f) => f[0] === 0x36 << 1).map((f) => f[1])).toEqual([0x09, 0x00]); // AutoTestReg on, off
      expect(boot.reduce((sum, f) => sum + f.length, 0)).toBe(2 * 25 + 26 + 65); // bytes on the bus
      expect(rig.events(EVENT.READER_FAULT)).toEqual([]);
      expect(rig.station.env.errors).toEqual([]);
    }, 20_000);
  }

  it('reports a chip failing the self test as a reader fault, serves no tap until it passes', async () => {
    rig = await new StationRig({
      people: [AMIRA],
      beforeBoot: (station) => {
        station.readerOptions = { selfTest: 'wrong' };
      },
    }).start();
    await rig.waitForEvent(EVENT.READER_FAULT, () => true, 5000);
    expect(rig.station.logLines.some((line) => /reader fault: self test failed: byte 17/.test(line))).toBe(true);
    rig.station.placeCard(AMIRA.uid);
    await sleep(1200); // several re-initialisations fail meanwhile
    expect(rig.pulsedLockers()).toEqual([]);
    expect(rig.events(EVENT.DEPOSIT)).toEqual([]);
    expect(rig.events(EVENT.READER_FAULT)).toHaveLength(1); // once per episode
    rig.station.removeCard(AMIRA.uid);
    rig.station.reader.setSelfTest('pass');
    await rig.waitForEvent(EVENT.READER_RECOVERED, () => true, 8000);
    expect(rig.station.boots).toBe(1); // re-initialised without a reboot
    expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
    expect(rig.station.env.errors).toEqual([]);
  }, 25_000);

  it('reports a chip without a self-test reference (VersionReg 0x12) as a reader fault', async () => {
    rig = await new StationRig({
      people: [AMIRA],
      beforeBoot: (station) => {
        station.readerOptions = { version: 0x12 };
      },
    }).start();
    await rig.waitForEvent(EVENT.READER_FAULT, () => true, 5000);
    expect(rig.station.logLines.some((line) => /reader fault: self test: unknown VersionReg 0x12/.test(line))).toBe(true);
    rig.station.placeCard(AMIRA.uid);
    await sleep(600);
    expect(rig.pulsedLockers()).toEqual([]);
    expect(rig.station.env.errors).toEqual([]);
  }, 15_000);
});

describe('bad radio input', () => {
  const logged = (pattern: RegExp) => eventually(() => rig.station.logLines.some((line) => pattern.test(line)), 3000, `a log line ${pattern}`);

  it('a UID CLn of the wrong length (a byte lost): dropped, logged, the card read on the next poll', async () => {
    rig = await new StationRig({ people: [AMIRA] }).start();
    rig.station.reader.corruptNextResponse('truncate', 1); // ATQA intact, UID CL1 arrives as 4 bytes
    expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
    await logged(/reader: UID CL1 of 4 bytes/);
    expect(rig.pulsedLockers()).toEqual([0]);
    expect(rig.station.env.errors).toEqual([]);
  }, 15_000);

  it('a CRC error in the SAK: dropped, logged, the card read on the next poll', async () => {
    rig = await new StationRig({ people: [BEN] }).start();
    rig.station.reader.corruptNextResponse('flip', 2); // ATQA, UID CL1 intact; SAK CL1 damaged
    expect((await rig.visit(BEN.uid)).locker).toBe(0);
    await logged(/reader: CRC error in SAK CL1/);
    expect(rig.pulsedLockers()).toEqual([0]);
    expect(rig.station.env.errors).toEqual([]);
  }, 15_000);

  it('a card taken away mid-anticollision: dropped, logged, nothing opens; served when it comes back', async () => {
    rig = await new StationRig({ people: [BEN] }).start();
    rig.station.reader.corruptNextResponse('remove', 3); // ATQA, UID CL1, SAK CL1 answered; gone before UID CL2
    rig.station.placeCard(BEN.uid);
    await logged(/reader: no answer to anticoll CL2/);
    rig.station.removeCard(BEN.uid);
    await sleep(500);
    expect(rig.pulsedLockers()).toEqual([]);
    expect(rig.events(EVENT.DEPOSIT)).toEqual([]);
    expect((await rig.visit(BEN.uid)).locker).toBe(0);
    expect(rig.station.env.errors).toEqual([]);
  }, 15_000);
});

describe('hex of odd length in the configuration', () => {
  it('refuses a key of odd hex length at boot with a logged reason, instead of throwing', async () => {
    rig = new StationRig({ people: [AMIRA], waitForBoot: false });
    rig.options.beforeBoot = (station) => {
      const config = rig.config() as { badgeKey: string };
      station.writeConfig({ ...config, badgeKey: config.badgeKey + '7' }); // 65 hex digits
    };
    await rig.start();
    await eventually(() => rig.station.logLines.some((line) => /badgeKey/.test(line)), 3000, 'the configuration error in the log');
    expect(rig.station.env.errors).toEqual([]);
    expect(rig.frames).toEqual([]); // the station did not start: nothing opens on a bad configuration
  }, 15_000);
});
