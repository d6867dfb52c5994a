// Commands from the hub to the built firmware in the simulator, over a real broker: signed,
// counted, answered; retained state; the wall clock; badge-list replacement; forgeries and replays.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import mqtt from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMAND, DETAIL, EVENT, MSG, ROLE } from '../../protocol/wire';
import { badgeFileName, encodeBadgeList } from '../../firmware/src/station/badge-list';
import { LOCKER } from '../../protocol/lockers';
import type { StationLink } from '../../hub/src/stations/station-link';
import { seal } from '../../hub/src/protocol/sealed';
import { tapCard } from '../../hardware/sim/scripted-person';
import { StationRig, STATION_KEY, hashUid, startLink } from '../support/station-rig';
import { eventually } from '../support/eventually';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };
const NEWCOMER = { uid: '04777777', person: 150, role: ROLE.PUPIL };

let rig: StationRig;
let link: StationLink;
const logs: string[] = [];

async function start(): Promise<void> {
  rig = await new StationRig({ people: [AMIRA], acknowledge: true }).start();
  link = await startLink(rig, (line) => logs.push(line), { chunkBytes: 512 });
}

afterEach(async () => {
  await link?.stop();
  await rig?.stop();
});

describe('commands', () => {
  it('unlocks a locker remotely and records who asked', async () => {
    await start();
    const opened = rig.station.waitForDoor(true, 3000);
    expect(await link.unlock('st-1', 3, 901)).toEqual({ ok: true, refusal: null });
    expect(await opened).toBe(3);
    await sleep(100);
    rig.station.lockers.closeDoor(3);
    expect(await rig.waitForEvent(EVENT.REMOTE_UNLOCK)).toMatchObject({ locker: 3, actor: 901, detail: DETAIL.REMOTE });
    expect((await link.unlock('st-1', 99, 901)).refusal).toBe('not-now');
  });

  it('places and lifts a hold from the office', async () => {
    await start();
    await rig.visit(AMIRA.uid);
    await rig.waitForEvent(EVENT.DEPOSIT);
    expect((await link.setHold('st-1', 0, false, 902)).ok).toBe(true);
    expect(await rig.waitForEvent(EVENT.HOLD_SET)).toMatchObject({ locker: 0, person: AMIRA.person, actor: 902, detail: DETAIL.REMOTE });
    await sleep(500);
    // Through the rig, so the visit below keeps the reader's same-presentation window (400 ms) clear
    // of this tap even when the hub answers the release at once.
    expect((await rig.visit(AMIRA.uid)).locker).toBeNull();
    await rig.waitForEvent(EVENT.REFUSED, (f) => f.detail === DETAIL.LOCKER_HELD);
    expect((await link.releaseHold('st-1', 0, 903)).ok).toBe(true);
    await rig.waitForEvent(EVENT.HOLD_RELEASED, (f) => f.actor === 903);
    expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
    await rig.waitForEvent(EVENT.COLLECT);
  });

  it('opens everything on command', async () => {
    await start();
    expect((await link.openAll('st-1', 904)).ok).toBe(true);
    expect(await rig.waitForEvent(EVENT.OPEN_ALL)).toMatchObject({ actor: 904, detail: DETAIL.REMOTE });
  });

  it('stamps events with wall-clock time once the hub has sent it', async () => {
    await start();
    // The link sends the time when the station's state report shows it has none.
    await eventually(async () => {
      await tapCard(rig.station, 'ee000001', 300);
      return rig.events(EVENT.UNKNOWN_BADGE).find((f) => f.wallTime !== undefined);
    }, 10_000, 'an event with wall time');
    const stamped = rig.events(EVENT.UNKNOWN_BADGE).find((f) => f.wallTime !== undefined)!;
    expect(Math.abs(stamped.wallTime! - Date.now())).toBeLessThan(5000);
    expect(rig.events(EVENT.BOOT)[0].wallTime).toBeUndefined(); // before the time arrived: boot and uptime only
  });

  it('sends the time again when the station\'s state report shows its clock drifted, and not otherwise', async () => {
    await start();
    await eventually(() => link.states.get('st-1')?.wallTime !== undefined, 10_000, 'a state report with the wall clock');
    const { board, boot } = link.states.get('st-1')!;
    // Someone with the key set the clock an hour back (as a clock that drifted would be).
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.broker.port}`);
    const wrong = new Map<number, unknown>([
      [MSG.STATION, 'st-1'],
      // Above the link's counters so far, below its next ones (they follow the hub's clock).
      [MSG.COUNTER, Date.now() + 5],
      [MSG.COMMAND, COMMAND.SET_TIME],
      [MSG.WALL_TIME, Date.now() - 3_600_000],
      [MSG.BOOT, boot],
      [MSG.BOARD, board],
    ]);
    await client.publishAsync('handover/bench/st-1/cmd', Buffer.from(seal(STATION_KEY, wrong)), { qos: 1 });
    await client.endAsync();
    // The link reads the drift in the next state report and corrects it.
    await eventually(() => (link.states.get('st-1')?.wallTime ?? 0) < Date.now() - 3_000_000, 5000, 'a state report an hour behind');
    await eventually(() => Math.abs((link.states.get('st-1')?.wallTime ?? 0) - Date.now()) < 5000, 10_000, 'the clock corrected');
    // Then the reports agree with the hub's clock, and a tap's report brings no set-time.
    const writes: string[] = [];
    const write = rig.station.storage.write.bind(rig.station.storage);
    rig.station.storage.write = (name: string, data: unknown, offset?: number, size?: number) => {
      writes.push(name);
      return write(name, data, offset, size);
    };
    await rig.visit(AMIRA.uid);
    await rig.waitForEvent(EVENT.DEPOSIT);
    await sleep(1500);
    expect(writes).not.toContain('handover.cmd');
  });

  it('takes a new configuration, restarts, and runs with it; refuses a bad one', async () => {
    await start();
    const bad = await link.setConfig('st-1', JSON.stringify({ ...rig.config(), lockers: 99 }));
    expect(bad).toEqual({ ok: false, refusal: 'bad-argument' });
    // The hub checks the pin map and the timing first, and sends nothing the station would have to
    // refuse (or, for a pin setWatch cannot watch, would only fail on the board).
    const doors = [...(rig.config() as { pins: { doors: number[] } }).pins.doors];
    doors[0] = 12;
    const unwired = { ...rig.config(), pins: { ...(rig.config() as { pins: object }).pins, doors }, unlockPulseMs: 20000 };
    const before = rig.station.storage.read('handover.json');
    expect(await link.setConfig('st-1', JSON.stringify(unwired))).toEqual({
      ok: false,
      refusal: 'config: unlockPulseMs must be a whole number from 50 to 2000; pins.doors[0] on GPIO 12: setWatch cannot watch it',
    });
    expect(await link.setConfig('st-1', '{"site":')).toEqual({ ok: false, refusal: 'config: not JSON' });
    expect(rig.station.storage.read('handover.json')).toBe(before);
    const config = rig.config() as { timing: Record<string, number> };
    const changed = { ...config, timing: { ...config.timing, unknownLimit: 1 } };
    expect(await link.setConfig('st-1', JSON.stringify(changed))).toEqual({ ok: true, refusal: null });
    await rig.waitForEvent(EVENT.BOOT, (f) => f.boot === 2, 8000);
    expect(JSON.parse(rig.station.storage.read('handover.json')!).timing.unknownLimit).toBe(1);
    await tapCard(rig.station, 'ee000001');
    await tapCard(rig.station, 'ee000002');
    await rig.waitForEvent(EVENT.UNKNOWN_BADGE, (f) => f.boot === 2 && f.detail === DETAIL.RATE_LIMITED);
  });

  it('publishes retained state the hub reads', async () => {
    await start();
    const state = await eventually(() => (link.states.get('st-1')?.firmware ? link.states.get('st-1') : undefined), 5000, 'state');
    expect(state).toMatchObject({ stationId: 'st-1', boot: 1, badgeListVersion: 1, reader: expect.any(String) });
    expect(state!.lockers).toHaveLength(8);
    expect(state!.lockers!.every((locker) => locker === 'free')).toBe(true);
  });
});

describe('badge-list replacement', () => {
  it('pushes a newer list in chunks; the station checks it, switches, and erases the old one', async () => {
    const records = [AMIRA, NEWCOMER].map((p) => ({ hash: hashUid(p.uid), person: p.person, role: p.role, assetClasses: 0, flags: 0 }));
    await start();
    expect(await link.pushBadgeList('st-1', 2, encodeBadgeList(records, 2, (d) => zlib.crc32(d)))).toMatchObject({ ok: true, version: 2 });
    await eventually(() => link.states.get('st-1')?.badgeListVersion === 2, 15_000, 'the station to report list version 2');
    expect(rig.station.storage.readBytes(badgeFileName(1))).toBeUndefined();
    expect((await rig.visit(NEWCOMER.uid)).locker).toBe(0);
    expect((await rig.waitForEvent(EVENT.DEPOSIT)).person).toBe(NEWCOMER.person);
  }, 30_000);

  it('refuses a list that does not check out, and keeps the one it has', async () => {
    await start();
    const file = encodeBadgeList([{ hash: hashUid(NEWCOMER.uid), person: 150, role: ROLE.PUPIL, assetClasses: 0, flags: 0 }], 3, (d) => zlib.crc32(d));
    file[20] ^= 0xff; // damaged on the way
    expect(await link.pushBadgeList('st-1', 3, file)).toMatchObject({ ok: false, refusal: 'checksum' });
    expect(rig.station.storage.readBytes(badgeFileName(3))).toBeUndefined();
    await rig.visit(AMIRA.uid);
    expect((await rig.waitForEvent(EVENT.DEPOSIT)).person).toBe(AMIRA.person);
    // Chunks out of order are refused too.
    expect((await link.command('st-1', COMMAND.BADGES_CHUNK, { version: 4, offset: 0, data: new Uint8Array(16) })).refusal).toBe('transfer');
  }, 30_000);
});

describe('forgeries and replays', () => {
  it('refuses a command signed with another key, and a replayed one, even after a reboot', async () => {
    await start();
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.broker.port}`);
    const replies: Array<Map<number, unknown>> = [];
    const { cborDecode, unseal } = await import('../../hub/src/protocol/sealed');
    client.on('message', (_topic, payload) => {
      const opened = unseal(STATION_KEY, new Uint8Array(payload));
      if (opened.ok) replies.push(cborDecode(opened.body) as Map<number, unknown>);
    });
    await client.subscribeAsync('handover/bench/st-1/reply', { qos: 1 });
    const unlock = (counter: number) =>
      new Map<number, unknown>([
        [MSG.STATION, 'st-1'],
        [MSG.COUNTER, counter],
        [MSG.COMMAND, COMMAND.UNLOCK],
        [MSG.LOCKER, 5],
      ]);
    const replyTo = (counter: number, from = 0) => replies.slice(from).find((reply) => reply.get(MSG.COUNTER) === counter);
    const forged = seal(crypto.randomBytes(32).toString('hex'), unlock(Date.now() + 10_000));
    await client.publishAsync('handover/bench/st-1/cmd', Buffer.from(forged), { qos: 1 });
    // A forgery's counter cannot be trusted: the refusal carries counter 0.
    const refusal = await eventually(() => replyTo(0), 5000, 'the refusal');
    expect(refusal!.get(MSG.OK)).toBe(false);
    expect(refusal!.get(MSG.DETAIL)).toBe(1); // bad signature

    const counter = Date.now() + 20_000;
    const genuine = Buffer.from(seal(STATION_KEY, unlock(counter)));
    await client.publishAsync('handover/bench/st-1/cmd', genuine, { qos: 1 });
    expect((await eventually(() => replyTo(counter), 5000, 'the genuine reply'))!.get(MSG.OK)).toBe(true);
    await sleep(100);
    rig.station.lockers.closeDoor(5);

    let seen = replies.length;
    await client.publishAsync('handover/bench/st-1/cmd', genuine, { qos: 1 });
    expect((await eventually(() => replyTo(counter, seen), 5000, 'the replay refusal'))!.get(MSG.DETAIL)).toBe(2); // replayed

    rig.station.reset('power cycle');
    await rig.waitForEvent(EVENT.BOOT, (f) => f.boot === 2, 8000);
    await sleep(500);
    rig.station.lockers.pulses.length = 0;
    seen = replies.length;
    await client.publishAsync('handover/bench/st-1/cmd', genuine, { qos: 1 });
    expect((await eventually(() => replyTo(counter, seen), 5000, 'the replay refusal after reboot'))!.get(MSG.DETAIL)).toBe(2);
    expect(rig.pulsedLockers()).toEqual([]);
    await client.endAsync();
  }, 30_000);

  it('writes flash for a set-time only when it moves the clock, and refuses one recorded in an earlier boot', async () => {
    await start();
    // The link set the clock once (the first state report had none): the one counter write.
    await eventually(() => link.states.get('st-1')?.wallTime !== undefined, 10_000, 'a state report with the wall clock');
    const board = link.states.get('st-1')!.board!;
    expect(board).toBeGreaterThan(0);
    // From here on only this test sends commands (the link would correct the clock moved below).
    await link.stop();
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.broker.port}`);
    const replies: Array<Map<number, unknown>> = [];
    const { cborDecode, unseal } = await import('../../hub/src/protocol/sealed');
    client.on('message', (_topic, payload) => {
      const opened = unseal(STATION_KEY, new Uint8Array(payload));
      if (opened.ok) replies.push(cborDecode(opened.body) as Map<number, unknown>);
    });
    await client.subscribeAsync('handover/bench/st-1/reply', { qos: 1 });
    const replyTo = (counter: number, from = 0) => replies.slice(from).find((reply) => reply.get(MSG.COUNTER) === counter);
    let counter = Date.now() + 60_000;
    const setTime = (wallMs: number, boot: number) =>
      Buffer.from(
        seal(
          STATION_KEY,
          new Map<number, unknown>([
            [MSG.STATION, 'st-1'],
            [MSG.COUNTER, ++counter],
            [MSG.COMMAND, COMMAND.SET_TIME],
            [MSG.WALL_TIME, wallMs],
            [MSG.BOOT, boot],
            [MSG.BOARD, board],
          ]),
        ),
      );
    const writes: string[] = [];
    const write = rig.station.storage.write.bind(rig.station.storage);
    rig.station.storage.write = (name: string, data: unknown, offset?: number, size?: number) => {
      writes.push(name);
      return write(name, data, offset, size);
    };

    // Twenty set-times that agree with the clock: accepted, no flash write.
    for (let i = 0; i < 20; i++) {
      await client.publishAsync('handover/bench/st-1/cmd', setTime(Date.now(), 1), { qos: 1 });
      expect((await eventually(() => replyTo(counter), 5000, 'the set-time reply'))!.get(MSG.OK)).toBe(true);
    }
    expect(writes).toEqual([]);
    // One that moves the clock by a minute: one counter write.
    await client.publishAsync('handover/bench/st-1/cmd', setTime(Date.now() - 60_000, 1), { qos: 1 });
    expect((await eventually(() => replyTo(counter), 5000, 'the set-time reply'))!.get(MSG.OK)).toBe(true);
    expect(writes).toEqual(['handover.cmd']);
    // Recorded now (its counter was never written to flash), replayed after a reboot: refused.
    const recorded = setTime(Date.now() - 3_600_000, 1);
    const recordedCounter = counter;
    rig.station.reset('power cycle');
    await rig.waitForEvent(EVENT.BOOT, (f) => f.boot === 2, 8000);
    await sleep(500);
    const seen = replies.length;
    await client.publishAsync('handover/bench/st-1/cmd', recorded, { qos: 1 });
    const refused = await eventually(() => replyTo(recordedCounter, seen), 5000, 'the refusal after reboot');
    expect(refused!.get(MSG.OK)).toBe(false);
    expect(refused!.get(MSG.DETAIL)).toBe(2); // replayed: meant for boot 1
    await client.endAsync();
  }, 40_000);
});

describe('restoring lockers to a board that lost its flash (RESTORE_LOCKERS)', () => {
  const BEN = { uid: '04b1b2c4', person: 102, role: ROLE.PUPIL };

  it('takes the records for free lockers only, never over what it knows or a door being opened; refuses a forged, misdirected or replayed one', async () => {
    rig = await new StationRig({ people: [AMIRA, BEN], acknowledge: true }).start();
    link = await startLink(rig, (line) => logs.push(line));
    // What the station knows: Amira's phone in locker 0 (deposited on this board), locker 2's door being opened.
    expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
    await rig.waitForEvent(EVENT.DEPOSIT);
    const opened = rig.station.waitForDoor(true, 3000);
    expect((await link.unlock('st-1', 2, 901)).ok).toBe(true);
    expect(await opened).toBe(2);
    const { boot, board } = (await eventually(() => (link.states.get('st-1')?.board ? link.states.get('st-1') : undefined), 5000, 'a state report'))!;
    // The records: locker 0 someone else's phone, locker 1 Ben's, locker 2 held, locker 3 a fault, locker 4 safeguarding-held.
    const states = new Uint8Array(8);
    const owners = [777, BEN.person, 555, 0, 888, 0, 0, 0];
    states.set([LOCKER.PHONE_IN, LOCKER.PHONE_IN, LOCKER.HELD, LOCKER.FAULT, LOCKER.SAFEGUARDING_HELD]);
    const records = new Map<number, unknown>([[MSG.STATION, 'st-1'], [MSG.COMMAND, COMMAND.RESTORE_LOCKERS], [MSG.BOOT, boot], [MSG.BOARD, board], [MSG.LOCKERS, states], [MSG.OWNERS, new Uint8Array(new Uint32Array(owners).buffer)]]);

    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.broker.port}`);
    const replies: Array<Map<number, unknown>> = [];
    const { cborDecode, unseal } = await import('../../hub/src/protocol/sealed');
    client.on('message', (_topic, payload) => {
      const opened = unseal(STATION_KEY, new Uint8Array(payload));
      if (opened.ok) replies.push(cborDecode(opened.body) as Map<number, unknown>);
    });
    await client.subscribeAsync('handover/bench/st-1/reply', { qos: 1 });
    const send = async (message: Map<number, unknown>, counter: number, key = STATION_KEY) => {
      const seen = replies.length;
      const sealed = Buffer.from(seal(key, new Map([...message, [MSG.COUNTER, counter]])));
      await client.publishAsync('handover/bench/st-1/cmd', sealed, { qos: 1 });
      return (await eventually(() => replies.slice(seen).find((reply) => reply.get(MSG.COUNTER) === (key === STATION_KEY ? counter : 0)), 5000, 'the reply'))!;
    };
    const writes: string[] = [];
    const write = rig.station.storage.write.bind(rig.station.storage);
    rig.station.storage.write = (name: string, data: unknown, offset?: number, size?: number) => {
      writes.push(name);
      return write(name, data, offset, size);
    };

    // Forged (another key), and meant for another board or another boot: refused, nothing changes.
    const counter = Date.now() + 60_000;
    expect((await send(records, counter + 1, crypto.randomBytes(32).toString('hex'))).get(MSG.DETAIL)).toBe(1); // bad signature
    expect((await send(new Map([...records, [MSG.BOARD, board! + 1]]), counter + 2)).get(MSG.DETAIL)).toBe(2); // replayed: another board
    expect((await send(new Map([...records, [MSG.BOOT, boot! + 1]]), counter + 3)).get(MSG.DETAIL)).toBe(2); // replayed: another boot
    expect(writes.filter((name) => name.startsWith('hs.'))).toEqual([]);

    // The genuine one: lockers 1 and 4 (free here) take it, one flash record each; 0, 2 and 3 keep what the station knows.
    const taken = await send(records, counter + 4);
    expect(taken.get(MSG.OK)).toBe(true);
    expect([...(taken.get(MSG.LOCKERS) as Uint8Array)]).toEqual([LOCKER.PHONE_IN, LOCKER.PHONE_IN, LOCKER.FREE, LOCKER.FREE, LOCKER.SAFEGUARDING_HELD, 0, 0, 0]);
    expect(writes.filter((name) => name.startsWith('hs.'))).toHaveLength(2);
    // Replayed: refused by its counter.
    expect((await send(records, counter + 4)).get(MSG.DETAIL)).toBe(2);
    expect(writes.filter((name) => name.startsWith('hs.'))).toHaveLength(2);
    await client.endAsync();

    // Ben collects his phone from locker 1; Amira hers from locker 0 (not overwritten).
    rig.station.lockers.closeDoor(2);
    expect((await rig.visit(BEN.uid)).locker).toBe(1);
    expect(await rig.waitForEvent(EVENT.COLLECT, (f) => f.person === BEN.person)).toMatchObject({ locker: 1 });
    expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
    expect(await rig.waitForEvent(EVENT.COLLECT, (f) => f.person === AMIRA.person)).toMatchObject({ locker: 0 });
    // Kept in flash: after a power cycle locker 4 is still safeguarding-held.
    rig.station.reset('power cycle');
    await rig.waitForEvent(EVENT.BOOT, (f) => f.boot === 2, 8000);
    await eventually(() => link.states.get('st-1')?.boot === 2 && link.states.get('st-1')?.lockers, 5000, 'a state report of boot 2');
    expect(link.states.get('st-1')!.lockers!.slice(0, 5)).toEqual(['free', 'free', 'free', 'free', 'safeguarding-held']);
  }, 40_000);
});
