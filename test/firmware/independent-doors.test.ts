// Issue 13, independent doors: each locker's door is its own opening. A door left standing open
// (a pupil who walked away, a remote unlock nobody used) must not make the station refuse every
// other tap; the open door raises its alarm once, and its custody completes when it finally shuts.
// Run by the built dist/firmware.js in the simulator, observed as the hub would (event frames over
// MQTT, signed commands through the hub's own StationLink, the retained state message).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DETAIL, EVENT, MSG, ROLE } from '../../protocol/wire';
import { BADGE_FLAG } from '../../firmware/src/station/badge-list';
import type { StationLink } from '../../hub/src/stations/station-link';
import { cborDecode, unseal } from '../../hub/src/protocol/sealed';
import { tapCard } from '../../hardware/sim/scripted-person';
import { StationRig, STATION_KEY, hashUid, startLink } from '../support/station-rig';
import { eventually } from '../support/eventually';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };
const BEN = { uid: '0411223344a580', person: 102, role: ROLE.PUPIL };
const CHLOE = { uid: '04c1c2c3', person: 103, role: ROLE.PUPIL };
const DANIEL = { uid: '04d1d2d3', person: 104, role: ROLE.PUPIL };
const FIRE = { uid: '51000006', person: 206, role: ROLE.STAFF, flags: BADGE_FLAG.OPEN_ALL };
const PEOPLE = [AMIRA, BEN, CHLOE, DANIEL, FIRE];

let rig: StationRig;
let link: StationLink | undefined;

afterEach(async () => {
  await link?.stop();
  link = undefined;
  await rig?.stop();
});

async function startRig(options: Partial<ConstructorParameters<typeof StationRig>[0]> = {}): Promise<StationRig> {
  rig = await new StationRig({ people: PEOPLE, acknowledge: true, ...options }).start();
  return rig;
}

/** A pupil taps and the door their tap released springs open; they walk away leaving it open. */
async function tapAndLeaveOpen(uid: string): Promise<number | null> {
  const opened = rig.station.waitForDoor(true, 3000);
  await tapCard(rig.station, uid);
  return opened;
}

describe('a door left open does not stop the station', () => {
  it('serves the next pupil while a deposit door stands open, alarms once, and completes the deposit when it shuts', async () => {
    await startRig();
    // Amira's door opens; she walks away and leaves it open.
    expect(await tapAndLeaveOpen(AMIRA.uid)).toBe(0);
    // Ben taps: he is served (a free locker other than Amira's), not refused as busy.
    const ben = await rig.visit(BEN.uid);
    expect(ben.locker).toBe(1);
    expect(await rig.waitForEvent(EVENT.DEPOSIT, (f) => f.person === BEN.person)).toMatchObject({ locker: 1 });
    expect(rig.events(EVENT.REFUSED)).toEqual([]);
    // Amira's door is left open past doorLeftOpenMs (1.5 s here): one alarm.
    expect((await rig.waitForEvent(EVENT.DOOR_LEFT_OPEN, () => true, 4000)).locker).toBe(0);
    await sleep(2000);
    expect(rig.events(EVENT.DOOR_LEFT_OPEN)).toHaveLength(1);
    expect(rig.events(EVENT.DEPOSIT).filter((f) => f.person === AMIRA.person)).toEqual([]);
    // Someone finally shuts it: Amira's deposit completes, reported once, at her locker with her badge.
    rig.station.lockers.closeDoor(0);
    const deposit = await rig.waitForEvent(EVENT.DEPOSIT, (f) => f.person === AMIRA.person);
    expect(deposit.locker).toBe(0);
    expect(Buffer.from(deposit.badge!)).toEqual(Buffer.from(hashUid(AMIRA.uid)));
    await rig.settle();
    expect(rig.events(EVENT.DEPOSIT).filter((f) => f.person === AMIRA.person)).toHaveLength(1);
    expect(rig.events(EVENT.DOOR_FORCED)).toEqual([]);
    // And she collects from it as usual.
    expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
    await rig.waitForEvent(EVENT.COLLECT, (f) => f.person === AMIRA.person);
  }, 30_000);

  it('completes two doors open at once, each with its own person, whichever shuts first', async () => {
    await startRig();
    expect(await tapAndLeaveOpen(AMIRA.uid)).toBe(0);
    expect(await tapAndLeaveOpen(BEN.uid)).toBe(1);
    expect(rig.station.lockers.doorOpen.slice(0, 2)).toEqual([true, true]);
    rig.station.lockers.closeDoor(1);
    expect(await rig.waitForEvent(EVENT.DEPOSIT, (f) => f.person === BEN.person)).toMatchObject({ locker: 1 });
    rig.station.lockers.closeDoor(0);
    expect(await rig.waitForEvent(EVENT.DEPOSIT, (f) => f.person === AMIRA.person)).toMatchObject({ locker: 0 });
    // Both collect while the other's door stands open again.
    expect(await tapAndLeaveOpen(AMIRA.uid)).toBe(0);
    await sleep(300);
    expect(await tapAndLeaveOpen(BEN.uid)).toBe(1);
    rig.station.lockers.closeDoor(0);
    rig.station.lockers.closeDoor(1);
    await rig.waitForEvent(EVENT.COLLECT, (f) => f.person === AMIRA.person && f.locker === 0);
    await rig.waitForEvent(EVENT.COLLECT, (f) => f.person === BEN.person && f.locker === 1);
    await rig.settle();
    expect(rig.events(EVENT.DEPOSIT)).toHaveLength(2);
    expect(rig.events(EVENT.COLLECT)).toHaveLength(2);
    expect(rig.events(EVENT.REFUSED)).toEqual([]);
  }, 30_000);

  it("refuses a pupil whose own locker is still open, opening nothing else, and still completes their deposit", async () => {
    await startRig();
    expect(await tapAndLeaveOpen(AMIRA.uid)).toBe(0);
    rig.station.lockers.pulses.length = 0;
    await sleep(500); // the reader takes the same card within 4 polls as the same presentation
    await tapCard(rig.station, AMIRA.uid);
    const refused = await rig.waitForEvent(EVENT.REFUSED, (f) => f.person === AMIRA.person);
    expect(refused).toMatchObject({ locker: 0, detail: DETAIL.OWN_LOCKER_OPEN });
    await rig.settle();
    expect(rig.pulsedLockers()).toEqual([]); // no second locker for her, and hers is not pulsed again
    rig.station.lockers.closeDoor(0);
    await rig.waitForEvent(EVENT.DEPOSIT, (f) => f.person === AMIRA.person && f.locker === 0);
    // The same while her collection's door is open.
    expect(await tapAndLeaveOpen(AMIRA.uid)).toBe(0);
    await sleep(500);
    await tapCard(rig.station, AMIRA.uid);
    await eventually(() => rig.events(EVENT.REFUSED).filter((f) => f.detail === DETAIL.OWN_LOCKER_OPEN).length === 2, 5000, 'the second refusal');
    rig.station.lockers.closeDoor(0);
    await rig.waitForEvent(EVENT.COLLECT, (f) => f.person === AMIRA.person && f.locker === 0);
    await rig.settle();
    expect(rig.events(EVENT.DEPOSIT)).toHaveLength(1);
    expect(rig.events(EVENT.COLLECT)).toHaveLength(1);
  }, 30_000);

  it('keeps serving pupils after a remote unlock nobody uses, and refuses only an unlock of that same door', async () => {
    await startRig({ people: PEOPLE });
    link = await startLink(rig);
    const opened = rig.station.waitForDoor(true, 3000);
    expect(await link.unlock('st-1', 7, 901)).toEqual({ ok: true, refusal: null });
    expect(await opened).toBe(7);
    // Nobody touches locker 8's door. Pupils keep depositing, and another remote unlock works.
    for (const [pupil, locker] of [[AMIRA, 0], [BEN, 1], [CHLOE, 2]] as const) {
      expect((await rig.visit(pupil.uid)).locker).toBe(locker);
      await rig.waitForEvent(EVENT.DEPOSIT, (f) => f.person === pupil.person && f.locker === locker);
    }
    const second = rig.station.waitForDoor(true, 3000);
    expect(await link.unlock('st-1', 5, 901)).toEqual({ ok: true, refusal: null });
    expect(await second).toBe(5);
    await sleep(150);
    rig.station.lockers.closeDoor(5);
    await rig.waitForEvent(EVENT.REMOTE_UNLOCK, (f) => f.locker === 5);
    // The door still standing open is reported as open in the retained state (bit 7).
    const states = stateMessages();
    await eventually(() => states.some((doors) => doors === 1 << 7), 5000, 'a state report with door 8 open');
    // An unlock of the door already open is refused: there is nothing to unlock.
    expect((await link.unlock('st-1', 7, 901)).refusal).toBe('not-now');
    rig.station.lockers.closeDoor(7);
    expect(await rig.waitForEvent(EVENT.REMOTE_UNLOCK, (f) => f.locker === 7)).toMatchObject({ actor: 901, detail: DETAIL.REMOTE });
    await eventually(() => states.at(-1) === 0, 5000, 'a state report with every door shut');
    expect(rig.events(EVENT.REFUSED)).toEqual([]);
  }, 30_000);

  it('opens every locker in turn with one door already open, and completes that deposit', async () => {
    await startRig({ lockers: 8, timing: { doorLeftOpenMs: 60_000 } });
    expect(await tapAndLeaveOpen(AMIRA.uid)).toBe(0);
    rig.station.lockers.pulses.length = 0;
    await sleep(500);
    await tapCard(rig.station, FIRE.uid);
    expect((await rig.waitForEvent(EVENT.OPEN_ALL)).actor).toBe(FIRE.person);
    await eventually(() => rig.station.lockers.pulses.filter((p) => p.endMs !== null).length === 8, 15_000, 'eight pulses');
    expect(rig.pulsedLockers()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(rig.station.lockers.maxSimultaneous).toBe(1);
    expect(rig.station.lockers.doorOpen.every((open) => open)).toBe(true);
    for (let locker = 7; locker >= 0; locker--) rig.station.lockers.closeDoor(locker);
    // Amira's deposit was under way: it completes when her door shuts. The others were emergency openings.
    expect(await rig.waitForEvent(EVENT.DEPOSIT)).toMatchObject({ locker: 0, person: AMIRA.person });
    await rig.settle();
    expect(rig.events(EVENT.DOOR_FORCED)).toEqual([]);
    expect(rig.events(EVENT.DEPOSIT)).toHaveLength(1);
    // The station serves taps again.
    expect((await rig.visit(BEN.uid)).locker).toBe(1);
  }, 40_000);
});

/** The open-door bitmap of every state message the station publishes from now on. */
function stateMessages(): number[] {
  const doors: number[] = [];
  rig.listener.on('message', (topic, payload) => {
    if (!topic.endsWith('/state')) return;
    const opened = unseal(STATION_KEY, new Uint8Array(payload));
    if (!opened.ok) return;
    const message = cborDecode(opened.body) as Map<number, unknown>;
    doors.push(message.get(MSG.DOORS) as number);
  });
  return doors;
}
