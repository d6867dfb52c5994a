// The Station class in process, with the fake clock: taps crossed with door events, each locker's
// door its own opening (issue 13). Beside the bundle tests (independent-doors.test.ts), these pin
// the timing down exactly: when a door's timeout runs out, when the open-all's forced-door grace
// ends. The locks are the real LockBank on recorded outputs; a door springs open 40 ms after its
// coil is energised, as the kick springs do, unless it is jammed.
import { beforeEach, describe, expect, it } from 'vitest';
import { COIL_REST_MS, LockBank } from '../../firmware/src/drivers/lock-bank';
import { BADGE_FLAG, type BadgeEntry } from '../../firmware/src/station/badge-list';
import { LOCKER } from '../../protocol/lockers';
import { Station, type EventFields, type StationTiming } from '../../firmware/src/station/station';
import { DETAIL, EVENT, ROLE } from '../../protocol/wire';
import { openDoors } from '../../hub/src/stations/station-link';
import { FakeClock } from '../support/fake-clock';

const PULSE_MS = 500;
const SPRING_MS = 40;
const TIMING: StationTiming = { doorOpenTimeoutMs: 2000, doorLeftOpenMs: 60_000, staffSessionMs: 3000, releaseWindowMs: 30_000, unknownLimit: 5, unknownWindowMs: 60_000 };

const PUPILS = [101, 102, 103, 104, 105];
const FIRE = 206;

interface Reported {
  type: number;
  locker?: number;
  person?: number;
  actor?: number;
  detail?: number;
  badge?: number[] | null;
}

class Bench {
  clock = new FakeClock();
  lockers: number;
  doorOpen: boolean[];
  jammed: boolean[];
  /** [locker, time energised] of every pulse. */
  pulses: Array<[number, number]> = [];
  events: Reported[] = [];
  sounds: string[] = [];
  station: Station;
  locks: LockBank;

  constructor(lockers = 8) {
    this.lockers = lockers;
    this.doorOpen = new Array(lockers).fill(false);
    this.jammed = new Array(lockers).fill(false);
    const outputs = {
      count: lockers,
      set: (index: number, energised: boolean) => {
        if (!energised) return;
        this.pulses.push([index, this.clock.now]);
        if (!this.jammed[index]) this.clock.setTimeout(() => this.door(index, true), SPRING_MS);
      },
    };
    this.locks = new LockBank(outputs, this.clock, PULSE_MS);
    const badges = new Map<number, BadgeEntry>();
    for (const person of PUPILS) badges.set(person, { person, role: ROLE.PUPIL, assetClasses: 0, flags: 0 });
    badges.set(FIRE, { person: FIRE, role: ROLE.STAFF, assetClasses: 0, flags: BADGE_FLAG.OPEN_ALL });
    this.station = new Station(
      {
        clock: this.clock,
        timing: TIMING,
        assets: [],
        // A card's "UID" here is its person number; its hash the same number in 8 bytes.
        hashBadge: (uid) => uid,
        saveLocker: () => {},
        badges: { find: (hash) => badges.get(new DataView(hash.buffer, hash.byteOffset).getUint32(4)) ?? null },
        locks: this.locks,
        doors: { isOpen: (index) => this.doorOpen[index] },
        events: {
          report: (type: number, fields: EventFields) => {
            this.events.push({ type, locker: fields.locker, person: fields.person, actor: fields.actor, detail: fields.detail, badge: fields.badge ? [...fields.badge] : null });
          },
        },
        feedback: { play: (kind) => this.sounds.push(kind) },
      },
      new Uint8Array(lockers),
      new Uint32Array(lockers),
    );
  }

  tap(person: number): void {
    const uid = new Uint8Array(8);
    new DataView(uid.buffer).setUint32(4, person);
    this.station.onCard(uid);
  }

  door(index: number, open: boolean): void {
    if (this.doorOpen[index] === open) return;
    this.doorOpen[index] = open;
    this.station.onDoor(index, open);
  }

  of(type: number): Reported[] {
    return this.events.filter((event) => event.type === type);
  }
}

let bench: Bench;
beforeEach(() => {
  bench = new Bench();
});

describe('taps while another door stands open', () => {
  it('serves the next pupil, raises one left-open alarm, and completes the deposit when the door shuts', () => {
    const [amira, ben] = PUPILS;
    bench.tap(amira);
    bench.clock.advance(1000);
    expect(bench.doorOpen[0]).toBe(true);
    bench.tap(ben);
    bench.clock.advance(1000);
    expect(bench.doorOpen[1]).toBe(true);
    bench.door(1, false);
    expect(bench.of(EVENT.DEPOSIT)).toMatchObject([{ locker: 1, person: ben }]);
    expect(bench.of(EVENT.REFUSED)).toEqual([]);
    // Amira's door stands open for ten minutes: one alarm, at doorLeftOpenMs.
    bench.clock.advance(TIMING.doorLeftOpenMs);
    expect(bench.of(EVENT.DOOR_LEFT_OPEN)).toEqual([{ type: EVENT.DOOR_LEFT_OPEN, locker: 0, person: undefined, actor: undefined, detail: undefined, badge: null }]);
    bench.clock.advance(10 * 60_000);
    expect(bench.of(EVENT.DOOR_LEFT_OPEN)).toHaveLength(1);
    expect(bench.of(EVENT.LOCK_FAULT)).toEqual([]);
    bench.door(0, false);
    const deposits = bench.of(EVENT.DEPOSIT);
    expect(deposits).toHaveLength(2);
    expect(deposits[1]).toMatchObject({ locker: 0, person: amira, badge: [0, 0, 0, 0, 0, 0, 0, amira] });
    expect(bench.station.states[0]).toBe(LOCKER.PHONE_IN);
    expect(bench.station.owners[0]).toBe(amira);
    expect(bench.clock.pending()).toBe(0); // no timer left behind by either door
  });

  it('never picks a free locker whose deposit is still under way', () => {
    bench.tap(PUPILS[0]); // locker 0 unlocked, not yet open
    bench.tap(PUPILS[1]);
    bench.clock.advance(3000);
    expect(bench.pulses.map(([locker]) => locker)).toEqual([0, 1]);
    expect(bench.doorOpen.slice(0, 2)).toEqual([true, true]);
  });

  it('completes two open doors in either order, each for its own pupil', () => {
    const [amira, ben, chloe] = PUPILS;
    bench.tap(amira);
    bench.tap(ben);
    bench.tap(chloe);
    bench.clock.advance(3000);
    bench.door(2, false);
    bench.door(0, false);
    bench.door(1, false);
    expect(bench.of(EVENT.DEPOSIT).map((event) => [event.locker, event.person])).toEqual([
      [2, chloe],
      [0, amira],
      [1, ben],
    ]);
    // Collections while the others stand open.
    bench.tap(ben);
    bench.tap(amira);
    bench.clock.advance(3000);
    bench.door(0, false);
    bench.door(1, false);
    expect(bench.of(EVENT.COLLECT).map((event) => [event.locker, event.person])).toEqual([
      [0, amira],
      [1, ben],
    ]);
    expect([...bench.station.states.slice(0, 3)]).toEqual([LOCKER.FREE, LOCKER.FREE, LOCKER.PHONE_IN]);
  });

  it('a door that never opens faults only its own locker; the next pupil is served meanwhile', () => {
    bench.jammed[0] = true;
    bench.tap(PUPILS[0]);
    bench.clock.advance(100);
    bench.tap(PUPILS[1]);
    bench.clock.advance(1000);
    bench.door(1, false);
    expect(bench.of(EVENT.DEPOSIT)).toMatchObject([{ locker: 1, person: PUPILS[1] }]);
    bench.clock.advance(10_000);
    expect(bench.of(EVENT.LOCK_FAULT)).toMatchObject([{ locker: 0, detail: DETAIL.LOCK_RETRY }]);
    expect(bench.of(EVENT.DEPOSIT_CANCELLED)).toMatchObject([{ locker: 0, person: PUPILS[0] }]);
    expect(bench.pulses.filter(([locker]) => locker === 0)).toHaveLength(2);
    expect(bench.station.states[0]).toBe(LOCKER.FAULT);
  });
});

describe('a pupil whose own locker is open', () => {
  it('is refused with OWN_LOCKER_OPEN while unlocking, open, or for a collection; nothing else opens, and the opening completes', () => {
    const amira = PUPILS[0];
    bench.tap(amira);
    bench.tap(amira); // still unlocking: the door has not sprung yet
    bench.clock.advance(1000);
    bench.tap(amira); // standing open
    expect(bench.of(EVENT.REFUSED)).toMatchObject([
      { locker: 0, person: amira, detail: DETAIL.OWN_LOCKER_OPEN },
      { locker: 0, person: amira, detail: DETAIL.OWN_LOCKER_OPEN },
    ]);
    expect(bench.sounds).toEqual(['accepted', 'refused', 'refused']);
    expect(bench.pulses.map(([locker]) => locker)).toEqual([0]);
    bench.door(0, false);
    expect(bench.of(EVENT.DEPOSIT)).toMatchObject([{ locker: 0, person: amira }]);
    bench.tap(amira); // collect
    bench.clock.advance(1000);
    bench.tap(amira);
    expect(bench.of(EVENT.REFUSED)).toHaveLength(3);
    bench.door(0, false);
    expect(bench.of(EVENT.COLLECT)).toMatchObject([{ locker: 0, person: amira }]);
    expect(bench.station.states[0]).toBe(LOCKER.FREE);
    // Once shut, her next tap deposits again.
    bench.tap(amira);
    expect(bench.pulses.map(([locker]) => locker)).toEqual([0, 0, 0]);
  });
});

describe('holds from the office', () => {
  it('are refused for a locker whose door is being opened, and taken once it has shut', () => {
    const amira = PUPILS[0];
    bench.tap(amira);
    bench.clock.advance(1000);
    bench.door(0, false);
    bench.tap(amira); // her collection: the door stands open
    bench.clock.advance(1000);
    expect(bench.station.setHold(0, LOCKER.HELD, amira, 901)).toBe(false);
    bench.door(0, false);
    expect(bench.station.states[0]).toBe(LOCKER.FREE);
    bench.tap(amira);
    bench.clock.advance(1000);
    bench.door(0, false);
    expect(bench.station.setHold(0, LOCKER.HELD, amira, 901)).toBe(true);
    expect(bench.station.states[0]).toBe(LOCKER.HELD);
  });
});

describe('remote unlock', () => {
  it('is not refused because another door is open; a remote unlock never used leaves pupils depositing', () => {
    expect(bench.station.remoteUnlock(7, 901)).toBe(true);
    bench.clock.advance(1000);
    expect(bench.doorOpen[7]).toBe(true);
    for (const [index, pupil] of PUPILS.entries()) {
      bench.tap(pupil);
      bench.clock.advance(1000);
      bench.door(index, false);
    }
    expect(bench.of(EVENT.DEPOSIT).map((event) => event.locker)).toEqual([0, 1, 2, 3, 4]);
    expect(bench.station.remoteUnlock(6, 901)).toBe(true); // another locker, while 8 stands open
    expect(bench.station.remoteUnlock(7, 901)).toBe(false); // that very door is already open
    expect(bench.station.remoteUnlock(8, 901)).toBe(false); // no such locker
    bench.clock.advance(1000);
    bench.door(6, false);
    bench.door(7, false);
    expect(bench.of(EVENT.REMOTE_UNLOCK)).toMatchObject([
      { locker: 6, actor: 901, detail: DETAIL.REMOTE },
      { locker: 7, actor: 901, detail: DETAIL.REMOTE },
    ]);
    expect(bench.of(EVENT.REFUSED)).toEqual([]);
  });
});

describe('the open-door bitmap', () => {
  it('has bit n set while door n stands open, unsigned up to locker 32', () => {
    bench = new Bench(32);
    bench.door(31, true);
    bench.door(3, true);
    expect(bench.station.openDoors).toBe(2 ** 31 + 8);
    expect(openDoors(bench.station.openDoors)).toEqual([3, 31]); // as the hub reads it
    bench.door(31, false);
    expect(bench.station.openDoors).toBe(8);
    bench.door(3, false);
    expect(bench.station.openDoors).toBe(0);
  });
});

describe('coil timing', () => {
  it('times a door from when its queued pulse is released, so a pulse waiting its turn is not a fault', () => {
    bench.tap(PUPILS[0]); // locker 0
    for (let locker = 1; locker <= 6; locker++) bench.station.remoteUnlock(locker, 901);
    bench.tap(PUPILS[1]); // locker 7, seventh in the queue: energised 7 x 550 ms after the tap
    bench.clock.advance(20_000);
    expect(bench.pulses).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((locker) => [locker, locker * (PULSE_MS + COIL_REST_MS)]));
    expect(bench.of(EVENT.LOCK_FAULT)).toEqual([]);
    bench.door(7, false);
    expect(bench.of(EVENT.DEPOSIT)).toMatchObject([{ locker: 7, person: PUPILS[1] }]);
  });

  it('queues at most one pulse per locker', () => {
    bench.locks.pulse(3);
    expect(bench.locks.pulse(5)).toBe(PULSE_MS + COIL_REST_MS + PULSE_MS);
    expect(bench.locks.pulse(5)).toBe(PULSE_MS + COIL_REST_MS + PULSE_MS);
    expect(bench.locks.pulse(4)).toBe(2 * (PULSE_MS + COIL_REST_MS) + PULSE_MS);
    bench.clock.advance(5000);
    expect(bench.pulses.map(([locker]) => locker)).toEqual([3, 5, 4]);
  });

  it('open-all: no forced-door alarm until doorLeftOpenMs after the last coil is released, then alarms again', () => {
    bench.tap(FIRE);
    expect(bench.of(EVENT.OPEN_ALL)).toMatchObject([{ actor: FIRE }]);
    bench.clock.advance(10_000);
    expect(bench.pulses.map(([locker]) => locker)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (let locker = 0; locker < 8; locker++) bench.door(locker, false);
    const lastReleased = 7 * (PULSE_MS + COIL_REST_MS) + PULSE_MS;
    bench.clock.advance(lastReleased + TIMING.doorLeftOpenMs - bench.clock.now);
    bench.door(2, true);
    expect(bench.of(EVENT.DOOR_FORCED)).toEqual([]);
    bench.door(2, false);
    bench.clock.advance(1);
    bench.door(2, true);
    expect(bench.of(EVENT.DOOR_FORCED)).toMatchObject([{ locker: 2 }]);
  });
});
