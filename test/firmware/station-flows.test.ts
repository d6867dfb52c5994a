// Every custody flow of the station, run by the built dist/firmware.js in the simulator and
// observed as the hub would: event frames over MQTT, plus what the locks and doors did.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DETAIL, EVENT, ROLE } from '../../protocol/wire';
import { BADGE_FLAG } from '../../firmware/src/station/badge-list';
import { tapCard, visitLocker } from '../../hardware/sim/scripted-person';
import { StationRig, hashUid } from '../support/station-rig';

const PACE = { unlockTimeoutMs: 3000, openMs: 150, leaveMs: 300 };

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };
const BEN = { uid: '0411223344a580', person: 102, role: ROLE.PUPIL }; // 7-byte UID
const ELLA = { uid: '9a8b7c6d', person: 103, role: ROLE.PUPIL, flags: BADGE_FLAG.MEDICAL_EXEMPT };
const MR_SMITH = { uid: '51000001', person: 201, role: ROLE.STAFF, assetClasses: 0b01 };
const MS_JONES = { uid: '51000002', person: 202, role: ROLE.STAFF };
const HEAD = { uid: '51000003', person: 203, role: ROLE.HEADTEACHER };
const DSL = { uid: '51000004', person: 204, role: ROLE.DSL };
const ICT = { uid: '51000005', person: 205, role: ROLE.ICT, assetClasses: 0b10 };
const FIRE = { uid: '51000006', person: 206, role: ROLE.STAFF, flags: BADGE_FLAG.OPEN_ALL };
const PEOPLE = [AMIRA, BEN, ELLA, MR_SMITH, MS_JONES, HEAD, DSL, ICT, FIRE];

let rig: StationRig;

async function startRig(options: Partial<ConstructorParameters<typeof StationRig>[0]> = {}): Promise<StationRig> {
  rig = await new StationRig({ people: PEOPLE, ...options }).start();
  return rig;
}

afterEach(async () => {
  await rig?.stop();
});

describe('pupils: deposit and collect (P1)', () => {
  it('deposits into a free locker and collects from the same one, for 4- and 7-byte cards', async () => {
    await startRig();
    const first = await rig.visit(AMIRA.uid);
    const second = await rig.visit(BEN.uid);
    expect(first.locker).toBe(0);
    expect(second.locker).toBe(1);
    const deposits = await Promise.all([
      rig.waitForEvent(EVENT.DEPOSIT, (f) => f.person === AMIRA.person),
      rig.waitForEvent(EVENT.DEPOSIT, (f) => f.person === BEN.person),
    ]);
    expect(deposits.map((d) => d.locker)).toEqual([0, 1]);
    expect(Buffer.from(deposits[1].badge!)).toEqual(Buffer.from(hashUid(BEN.uid)));

    const collect = await rig.visit(BEN.uid);
    expect(collect.locker).toBe(1);
    const collected = await rig.waitForEvent(EVENT.COLLECT, (f) => f.person === BEN.person);
    expect(collected.locker).toBe(1);
    // Events carry boot and uptime; no wall clock has been sent, so no 1970 timestamps.
    expect(collected.boot).toBe(1);
    expect(collected.wallTime).toBeUndefined();
    expect(collected.uptimeMs).toBeGreaterThan(0);
  });

  it("never opens one pupil's locker for another pupil's badge", async () => {
    await startRig({ lockers: 2 });
    await rig.visit(AMIRA.uid);
    const ben = await rig.visit(BEN.uid);
    expect(ben.locker).toBe(1);
    // Both lockers taken: a third pupil is refused and nothing opens.
    rig.station.lockers.pulses.length = 0;
    const third = await visitLocker(rig.station, ELLA.uid.replace('9a', '9b'), { ...PACE, unlockTimeoutMs: 800 });
    expect(third.locker).toBeNull();
    await rig.settle();
    expect(rig.pulsedLockers()).toEqual([]);
    await rig.visit(AMIRA.uid);
    expect((await rig.waitForEvent(EVENT.COLLECT)).person).toBe(AMIRA.person);
    expect(rig.pulsedLockers()).toEqual([0]);
  });

  it('beeps once for an accepted tap and twice for a refused one', async () => {
    await startRig();
    const buzzer = 21;
    await rig.visit(AMIRA.uid);
    expect(rig.station.board.risingEdges(buzzer)).toBe(1);
    await tapCard(rig.station, 'ee0000ee');
    await rig.waitForEvent(EVENT.UNKNOWN_BADGE);
    await sleep(300);
    expect(rig.station.board.risingEdges(buzzer)).toBe(3);
  });

  it('records a medical exemption and opens nothing (P3)', async () => {
    await startRig();
    await tapCard(rig.station, ELLA.uid);
    const exempt = await rig.waitForEvent(EVENT.EXEMPT);
    expect(exempt.person).toBe(ELLA.person);
    await rig.settle();
    expect(rig.pulsedLockers()).toEqual([]);
  });

  it('cancels a deposit whose door never opens and marks a lock fault after one retry', async () => {
    await startRig();
    rig.station.lockers.jam(0, true);
    await tapCard(rig.station, AMIRA.uid);
    const fault = await rig.waitForEvent(EVENT.LOCK_FAULT);
    expect(fault.locker).toBe(0);
    expect(rig.events(EVENT.DEPOSIT_CANCELLED)[0]).toMatchObject({ locker: 0, person: AMIRA.person });
    expect(rig.pulsedLockers()).toEqual([0, 0]); // the pulse and its one retry
    // The faulty locker takes no more deposits.
    const next = await rig.visit(AMIRA.uid);
    expect(next.locker).toBe(1);
  });
});

describe('unknown badges (P12)', () => {
  it('opens nothing and rate-limits repeated unknown taps', async () => {
    await startRig();
    for (let i = 0; i < 6; i++) await tapCard(rig.station, `ee00000${i}`, 150);
    await rig.settle();
    const unknown = rig.events(EVENT.UNKNOWN_BADGE);
    expect(unknown.length).toBe(4); // three reported, then one "rate-limited", then silence
    expect(unknown[3].detail).toBe(DETAIL.RATE_LIMITED);
    expect(rig.pulsedLockers()).toEqual([]);
  });
});

describe('staff loans and returns (P6, P10, P12)', () => {
  const STICK = { tagUid: 'a1a1a1a1', assetClass: 1 };
  const LAPTOP = { tagUid: 'b2b2b2b2b2b2b2', assetClass: 2, healthCheckDue: true };

  it('lends an item of an enrolled class and takes it back with its own tag', async () => {
    await startRig({ assets: [null, STICK, LAPTOP] });
    const loan = await rig.visit(MR_SMITH.uid);
    expect(loan.locker).toBe(1);
    expect((await rig.waitForEvent(EVENT.LOAN)).person).toBe(MR_SMITH.person);
    // No second stick: a second loan is refused.
    await tapCard(rig.station, MR_SMITH.uid);
    expect((await rig.waitForEvent(EVENT.REFUSED)).detail).toBe(DETAIL.NO_ITEM_AVAILABLE);
    // A staff badge not enrolled for any class here borrows nothing.
    await tapCard(rig.station, MS_JONES.uid);
    await rig.waitForEvent(EVENT.REFUSED, (f) => f.person === MS_JONES.person && f.detail === DETAIL.NOT_ENROLLED);

    // Return: staff badge, then the item's tag; the home locker opens.
    const opened = rig.station.waitForDoor(true, 2000);
    await tapCard(rig.station, MS_JONES.uid);
    await tapCard(rig.station, STICK.tagUid);
    expect(await opened).toBe(1);
    rig.station.lockers.closeDoor(1);
    const returned = await rig.waitForEvent(EVENT.RETURN);
    expect(returned).toMatchObject({ locker: 1, person: MR_SMITH.person, actor: MS_JONES.person });
  });

  it('holds a laptop due a health check until ICT clears it', async () => {
    await startRig({ assets: [LAPTOP] });
    expect((await rig.visit(ICT.uid)).locker).toBe(0);
    await rig.waitForEvent(EVENT.LOAN);
    const opened = rig.station.waitForDoor(true, 2000);
    await tapCard(rig.station, MR_SMITH.uid);
    await tapCard(rig.station, LAPTOP.tagUid);
    expect(await opened).toBe(0);
    rig.station.lockers.closeDoor(0);
    expect((await rig.waitForEvent(EVENT.RETURN)).detail).toBe(DETAIL.HEALTH_CHECK_DUE);
    // Held: ICT cannot borrow it again yet.
    await tapCard(rig.station, ICT.uid);
    await rig.waitForEvent(EVENT.REFUSED, (f) => f.detail === DETAIL.NO_ITEM_AVAILABLE);
    // ICT with the laptop's tag clears the check; then it can be lent.
    await tapCard(rig.station, ICT.uid);
    await tapCard(rig.station, LAPTOP.tagUid);
    await rig.waitForEvent(EVENT.HOLD_RELEASED, (f) => f.detail === DETAIL.HEALTH_CHECK_CLEARED);
    expect((await rig.visit(ICT.uid)).locker).toBe(0);
  });
});

describe('confiscation and safeguarding holds (P4, P5)', () => {
  async function depositAmira(): Promise<void> {
    await rig.visit(AMIRA.uid);
    await rig.waitForEvent(EVENT.DEPOSIT);
  }

  it('refuses the pupil while held, and releases only with two staff, one senior', async () => {
    await startRig();
    await depositAmira();
    await tapCard(rig.station, MS_JONES.uid);
    await tapCard(rig.station, AMIRA.uid);
    expect(await rig.waitForEvent(EVENT.HOLD_SET)).toMatchObject({ locker: 0, person: AMIRA.person, actor: MS_JONES.person });

    rig.station.lockers.pulses.length = 0;
    await sleep(500); // the reader takes the same card within 4 polls as the same presentation
    await tapCard(rig.station, AMIRA.uid);
    await rig.waitForEvent(EVENT.REFUSED, (f) => f.person === AMIRA.person && f.detail === DETAIL.LOCKER_HELD);

    // Two staff, neither senior: refused.
    await tapCard(rig.station, MS_JONES.uid);
    await tapCard(rig.station, AMIRA.uid);
    await sleep(100);
    await tapCard(rig.station, MR_SMITH.uid);
    await rig.waitForEvent(EVENT.REFUSED, (f) => f.detail === DETAIL.RELEASE_NEEDS_SENIOR);
    // The same member of staff twice does not count as two.
    await tapCard(rig.station, MS_JONES.uid);
    await tapCard(rig.station, AMIRA.uid);
    await sleep(100);
    await tapCard(rig.station, MS_JONES.uid);
    await rig.waitForEvent(EVENT.REFUSED, (f) => f.detail === DETAIL.SAME_STAFF_TWICE);
    // That half-release stays open for the release window, then lapses.
    await rig.waitForEvent(EVENT.REFUSED, (f) => f.detail === DETAIL.RELEASE_EXPIRED, 6000);
    expect(rig.pulsedLockers()).toEqual([]);

    // Staff plus the headteacher: the locker opens; both names are in the record.
    const opened = rig.station.waitForDoor(true, 2000);
    await tapCard(rig.station, HEAD.uid);
    await tapCard(rig.station, AMIRA.uid);
    await sleep(100);
    await tapCard(rig.station, MS_JONES.uid);
    expect(await opened).toBe(0);
    rig.station.lockers.closeDoor(0);
    expect(await rig.waitForEvent(EVENT.HOLD_RELEASED)).toMatchObject({ locker: 0, person: AMIRA.person, actor: HEAD.person, witness: MS_JONES.person });
  });

  it('lets only the DSL release a safeguarding hold', async () => {
    await startRig();
    await depositAmira();
    await tapCard(rig.station, DSL.uid);
    await tapCard(rig.station, AMIRA.uid);
    expect(await rig.waitForEvent(EVENT.HOLD_SET)).toMatchObject({ locker: 0, actor: DSL.person });
    await tapCard(rig.station, HEAD.uid);
    await tapCard(rig.station, AMIRA.uid);
    await rig.waitForEvent(EVENT.REFUSED, (f) => f.actor === undefined && f.person === HEAD.person && f.detail === DETAIL.LOCKER_HELD);
    const opened = rig.station.waitForDoor(true, 2000);
    await tapCard(rig.station, DSL.uid);
    await tapCard(rig.station, AMIRA.uid);
    expect(await opened).toBe(0);
    rig.station.lockers.closeDoor(0);
    expect(await rig.waitForEvent(EVENT.HOLD_RELEASED)).toMatchObject({ locker: 0, person: AMIRA.person, actor: DSL.person });
  });

  it('puts a confiscated phone that was never deposited into a free locker, held', async () => {
    await startRig();
    const opened = rig.station.waitForDoor(true, 2000);
    await tapCard(rig.station, MR_SMITH.uid);
    await tapCard(rig.station, BEN.uid);
    expect(await opened).toBe(0);
    rig.station.lockers.closeDoor(0);
    expect(await rig.waitForEvent(EVENT.HOLD_SET)).toMatchObject({ locker: 0, person: BEN.person, actor: MR_SMITH.person, detail: DETAIL.CONFISCATED });
  });
});

describe('emergency open-all and alarms', () => {
  it('opens every locker of a 32-locker bank in turn, one coil at a time', async () => {
    await startRig({ lockers: 32, timing: { doorLeftOpenMs: 60_000 } });
    await tapCard(rig.station, FIRE.uid);
    expect((await rig.waitForEvent(EVENT.OPEN_ALL)).actor).toBe(FIRE.person);
    await eventuallyPulsed(32);
    expect(rig.pulsedLockers()).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(rig.station.lockers.maxSimultaneous).toBe(1);
    expect(rig.station.lockers.doorOpen.every((open) => open)).toBe(true);
    expect(rig.events(EVENT.DOOR_FORCED)).toEqual([]);
  }, 40_000);

  it('works the same with locks and doors wired straight to GPIO pins', async () => {
    await startRig({ lockers: 4, directWired: true });
    expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
    await sleep(500); // the reader takes the same card within 4 polls as the same presentation
    expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
    await rig.waitForEvent(EVENT.COLLECT);
    rig.station.lockers.forceDoor(2);
    expect((await rig.waitForEvent(EVENT.DOOR_FORCED)).locker).toBe(2);
  });

  it('raises forced-door and door-left-open alarms', async () => {
    await startRig();
    rig.station.lockers.forceDoor(3);
    expect((await rig.waitForEvent(EVENT.DOOR_FORCED)).locker).toBe(3);
    expect((await rig.waitForEvent(EVENT.DOOR_LEFT_OPEN, () => true, 4000)).locker).toBe(3);
  });
});

async function eventuallyPulsed(count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (rig.station.lockers.pulses.filter((p) => p.endMs !== null).length < count) {
    if (Date.now() > deadline) throw new Error(`only ${rig.station.lockers.pulses.length} pulses`);
    await sleep(50);
  }
}
