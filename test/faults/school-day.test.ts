// Issue 13's acceptance test, "the station keeps serving", as a school lives it: one form of 30
// pupils at one 32-locker station, through a whole day. Registration with doors left standing open
// and a remote unlock from the Stations page that nobody uses (other pupils keep tapping); a leaver
// completed mid-morning at the command line, whose card opens nothing once the new badge list has
// reached the station, and whose phone (deposited before she left) the office releases from the
// Stations page; a medical exemption granted and used; the Wi-Fi down while pupils keep tapping
// (the "20 minutes" compressed to the taps made in them), then the replay; the board swapped at
// lunch (flash erased, the same station id and key); home time on the new board.
// Afterwards: every journal record of both boards is in the database exactly once, every tap by a
// current card was served, none waited for another locker's door (no DETAIL.BUSY), the leaver's tap
// opened nothing, the exemption tap is recorded as exempt.
// The afternoon on the new board is its own test: a board swapped with its flash erased knows
// nothing of the phones the old board locked away until the hub restores its lockers
// (RESTORE_LOCKERS), so it must not offer a locker holding a phone as free, and a collecting pupil's
// tap must open her own locker.
// Through the real parts: the built bundle in the simulator, Mosquitto, the hub as its own process
// (`handover serve`), the office's commands as child processes, the office page over HTTP, SQLite
// or PostgreSQL (DATABASE_URL).
import { afterAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../hub/src/audit/trail';
import { Accounts } from '../../hub/src/accounts/accounts';
import { generatePassword } from '../../hub/src/accounts/password';
import { People } from '../../hub/src/records/people';
import { DETAIL, EVENT } from '../../protocol/wire';
import { tapCard } from '../../hardware/sim/scripted-person';
import { badgeFileName } from '../../firmware/src/station/badge-list';
import { FaultRig, STATION_ID, describeReconciliation, type JournalWatch } from '../support/fault-rig';
import { eventually } from '../support/eventually';
import { HAS_MOSQUITTO } from '../support/mosquitto';
import { commandLine } from '../hub/support/cli';
import { WebClient } from '../web/client';

const FORM = 30;
const LOCKERS = 32;
/** The locker the office unlocks from the Stations page and nobody uses (shown as "Locker 32"). */
const UNUSED_UNLOCK = 31;
const LEAVER = 5; // her phone goes in at registration; she is completed mid-morning
const EXEMPT = 6; // arrives late; granted a medical exemption before she taps
/** Pupils who walk away from their open doors at registration, and at the early collection offline. */
const DOORS_LEFT_OPEN = [0, 1, 2];
const OFFLINE_DOOR_LEFT_OPEN = 10;
/** Off on a trip: they collect while the Wi-Fi is down. */
const TRIP = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];

interface Tap {
  pupil: number;
  /** The locker whose door the tap released (null: none opened). */
  locker: number | null;
  board: number;
}

describe.skipIf(!process.env.CI && !HAS_MOSQUITTO)('a school day at one station (issue 13)', () => {
  let rig: FaultRig;
  let office: WebClient;
  let officePerson = 0;
  const cli = commandLine(() => ({ dataDir: rig.target.dataDir, databaseUrl: rig.target.databaseUrl, drop: async () => {} }));
  /** Every tap by a pupil whose card was current at the time, in order. */
  const servedTaps: Tap[] = [];
  /** Each board's journal, in the order the boards served. */
  const boards: Array<{ board: number; watch: JournalWatch }> = [];
  let leaverLocker = -1;

  afterAll(async () => {
    await rig?.stop();
  });

  const pupil = (index: number) => rig.pupils[index];
  const board = () => FaultRig.boardOf(rig.station);

  /** A pupil taps, uses the locker that opens and shuts it (journaled before this returns). */
  async function visit(index: number): Promise<number> {
    const { locker } = await rig.visit(pupil(index).uid);
    servedTaps.push({ pupil: index, locker, board: board() });
    return locker!;
  }

  /** A pupil taps and the door springs open; they walk away and leave it standing open. */
  async function tapAndWalkAway(index: number): Promise<number> {
    const opened = rig.station.waitForDoor(true, 3000);
    await tapCard(rig.station, pupil(index).uid);
    const locker = await opened;
    expect(locker, `pupil ${index + 1}'s tap opens a door`).not.toBeNull();
    servedTaps.push({ pupil: index, locker, board: board() });
    return locker!;
  }

  /** A tap that should open nothing: the station journals its decision (`type`), and no lock was pulsed for it. */
  async function tapOpensNothing(index: number, type: number): Promise<void> {
    const before = rig.watch.count(type);
    const pulses = rig.station.lockers.pulses.length;
    await tapCard(rig.station, pupil(index).uid);
    await eventually(() => rig.watch.count(type) > before, 5000, `an event of type ${type} journaled`);
    expect(rig.station.lockers.pulses.slice(pulses), `pupil ${index + 1}'s tap opens nothing`).toEqual([]);
  }

  /** The office unlocks a locker from the Stations page (form, then the confirmation). */
  async function unlockFromPage(locker: number): Promise<string> {
    await office.page('/stations');
    const ask = await office.send('POST', `/stations/${STATION_ID}/unlock`, { form: { locker: String(locker + 1) }, accept: 'html' });
    expect(ask.status).toBe(200);
    const opened = rig.station.waitForDoor(true, 5000);
    const confirmed = await office.send('POST', `/stations/${STATION_ID}/unlock`, { form: { locker: String(locker + 1), confirm: 'yes' }, accept: 'html' });
    expect(confirmed.status).toBeLessThan(400);
    expect(await opened, `locker ${locker + 1}'s door springs open after the unlock`).toBe(locker);
    const page = await office.page('/stations');
    return page.html;
  }

  /** The lockers whose doors the office sees standing open on *Lockers now* (from the station's state report). */
  async function doorsOpenForTheOffice(): Promise<number[]> {
    const response = await office.get('/api/lockers', 'json');
    const body = (await response.json()) as { lockers: Array<{ stationId: string; locker: number; doorOpen: boolean | null }> };
    return body.lockers.filter((locker) => locker.stationId === STATION_ID && locker.doorOpen).map((locker) => locker.locker);
  }

  async function badgeListStatus(): Promise<{ state: string; hubVersion: number; stationVersion: number }> {
    const response = await office.get('/api/stations', 'json');
    const body = (await response.json()) as { stations: Array<{ id: string; badgeList: { state: string; hubVersion: number; stationVersion: number } | null }> };
    return body.stations.find((station) => station.id === STATION_ID)!.badgeList!;
  }

  /** Waits until the station holds a badge list newer than `than` (the office's promise: within 10 s). */
  async function stationHoldsListNewerThan(than: number): Promise<void> {
    await eventually(
      async () => {
        const status = await badgeListStatus();
        return status?.state === 'current' && status.stationVersion > than;
      },
      10_000,
      'the station to hold the new badge list',
    );
  }

  async function eventsOf(type: number, personIndex?: number) {
    return rig.withDb((db) =>
      db.all<{ board: number; locker: number | null; person_id: number | null; actor_id: number | null; detail: number | null }>(
        `SELECT board, locker, person_id, actor_id, detail FROM station_events WHERE station_id = ? AND type = ?${personIndex === undefined ? '' : ' AND person_id = ?'} ORDER BY received_at, board, boot, seq`,
        personIndex === undefined ? [STATION_ID, type] : [STATION_ID, type, pupil(personIndex).person],
      ),
    );
  }

  it('registration: doors left open and an unused remote unlock hold up no one', async () => {
    rig = await new FaultRig({ pupils: FORM, lockers: LOCKERS }).start();
    boards.push({ board: board(), watch: rig.watch });
    const password = generatePassword();
    await rig.withDb(async (db) => {
      officePerson = await new People(db).add({ externalId: 'S-OFF', name: 'Olu Office', role: 'office' });
      await new Accounts(db, new AuditTrail(db)).add({ username: 'office1', role: 'office', password, personId: officePerson }, 'test');
    });
    office = new WebClient(rig.hub.url);
    expect((await office.signIn('office1', password)).status).toBe(200);
    // The hub sends its own badge list when the station first reports (it already names everyone).
    await eventually(async () => (await badgeListStatus())?.state === 'current', 15_000, 'the station to hold the hub\'s list');

    for (const index of DOORS_LEFT_OPEN) await tapAndWalkAway(index);
    // The office unlocks a free locker from the Stations page; its door springs open and nobody uses it.
    const stationsPage = await unlockFromPage(UNUSED_UNLOCK);
    expect(stationsPage).toContain(`Station ${STATION_ID} unlocked locker ${UNUSED_UNLOCK + 1}.`);
    // Everyone else taps in meanwhile (the exempt pupil is late), each served at once.
    for (let index = 3; index < FORM; index++) {
      if (index === EXEMPT) continue;
      const locker = await visit(index);
      if (index === LEAVER) leaverLocker = locker;
    }
    // Four doors still stand open: the three pupils' and the unused unlock's, and the office sees them.
    const open = rig.station.lockers.doorOpen.flatMap((isOpen, locker) => (isOpen ? [locker] : []));
    expect(open).toEqual([...DOORS_LEFT_OPEN, UNUSED_UNLOCK]);
    await eventually(async () => (await doorsOpenForTheOffice()).join() === open.join(), 5000, 'Lockers now to show the four open doors');
    // The teacher shuts the three pupils' doors: their deposits complete.
    for (const locker of DOORS_LEFT_OPEN) rig.station.lockers.closeDoor(locker);
    await eventually(() => rig.watch.count(EVENT.DEPOSIT) === FORM - 1, 5000, 'every deposit of registration journaled');
    const lockersInUse = new Set(servedTaps.map((tap) => tap.locker));
    expect(lockersInUse.size).toBe(FORM - 1); // 29 pupils, 29 different lockers
    expect(lockersInUse.has(UNUSED_UNLOCK)).toBe(false);
  }, 60_000);

  it('mid-morning: a leaver completed by the office; her tap opens nothing; the office releases her phone', async () => {
    const before = (await badgeListStatus()).stationVersion;
    const run = await cli.handover('leaver', `P${LEAVER + 1}`, '--complete', '--by', 'S-OFF');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    await stationHoldsListNewerThan(before);
    await tapOpensNothing(LEAVER, EVENT.UNKNOWN_BADGE);
    // Her phone is still in her locker; the office unlocks it from the Stations page for her.
    const stationsPage = await unlockFromPage(leaverLocker);
    expect(stationsPage).toContain(`Station ${STATION_ID} unlocked locker ${leaverLocker + 1}.`);
    // The office sees the door open, takes the phone out for her and shuts the door.
    await eventually(async () => (await doorsOpenForTheOffice()).includes(leaverLocker), 5000, `Lockers now to show locker ${leaverLocker + 1}'s door open`);
    rig.station.lockers.closeDoor(leaverLocker);
    await eventually(() => [...rig.watch.events.values()].some((event) => event.type === EVENT.REMOTE_UNLOCK && event.locker === leaverLocker), 5000, 'the remote unlock of her locker journaled');
  }, 40_000);

  it('mid-morning: an exemption granted and used', async () => {
    const before = (await badgeListStatus()).stationVersion;
    const run = await cli.handover('exemption', 'grant', `P${EXEMPT + 1}`, '--reference', 'RA-2026-31', '--review', '2027-07-20', '--by', 'S-OFF');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    await stationHoldsListNewerThan(before);
    await tapOpensNothing(EXEMPT, EVENT.EXEMPT);
  }, 30_000);

  it('the Wi-Fi drops: the station keeps serving, and replays everything when it is back', async () => {
    rig.station.env.setWifi(false);
    const cutAt = rig.framesSeen.length;
    const depositsBefore = rig.watch.count(EVENT.DEPOSIT);
    // The trip leaves: one pupil walks away from her open door, the others collect meanwhile.
    await tapAndWalkAway(OFFLINE_DOOR_LEFT_OPEN);
    for (const index of TRIP) if (index !== OFFLINE_DOOR_LEFT_OPEN) await visit(index);
    rig.station.lockers.closeDoor(servedTaps.find((tap) => tap.pupil === OFFLINE_DOOR_LEFT_OPEN && tap.board === board())!.locker!);
    // The caretaker shuts the door of the unused unlock at last.
    rig.station.lockers.closeDoor(UNUSED_UNLOCK);
    await eventually(() => rig.watch.count(EVENT.COLLECT) === TRIP.length, 5000, 'every collection of the trip journaled');
    await eventually(() => [...rig.watch.events.values()].some((event) => event.type === EVENT.REMOTE_UNLOCK && event.locker === UNUSED_UNLOCK), 5000, 'the unused unlock journaled when its door shuts');
    expect(rig.watch.count(EVENT.DEPOSIT)).toBe(depositsBefore);
    expect(rig.framesSeen.length).toBe(cutAt); // nothing got out while the network was down

    rig.station.env.setWifi(true);
    const result = await rig.settle(45_000, rig.watch, board());
    console.log(describeReconciliation('the morning board after the Wi-Fi came back', result));
    expect(result).toMatchObject({ lost: [], doubled: [], unknown: [] });
  }, 60_000);

  it('lunch: the board is swapped (flash erased, the same station id); the new board gets the current badge list', async () => {
    const old = await rig.swapBoard();
    expect(FaultRig.boardOf(old.station)).toBe(boards[0].board);
    expect(board()).not.toBe(boards[0].board);
    boards.push({ board: board(), watch: rig.watch });
    // ICT flashed it with the badge list of the morning's start; the hub brings it up to date.
    const { hubVersion } = await badgeListStatus();
    await eventually(() => rig.station.storage.list().includes(badgeFileName(hubVersion)), 10_000, 'the new board to hold the hub\'s list');
    await eventually(async () => (await badgeListStatus()).stationVersion === hubVersion, 10_000, 'the hub to know the new board holds its list');
    // The leaver passes by at lunch: the new board opens nothing for her either.
    await tapOpensNothing(LEAVER, EVENT.UNKNOWN_BADGE);
    const result = await rig.settle(45_000, rig.watch, board());
    expect(result).toMatchObject({ lost: [], doubled: [], unknown: [] });
  }, 40_000);

  it('afternoon on the new board: deposits go into free lockers, and at home time everyone collects her own phone', async () => {
    // Where the phones are, as the office's records have them (the old board's events are all in).
    const phoneIn = await rig.withDb((db) => db.all<{ locker: number; person_id: number }>("SELECT locker, person_id FROM lockers WHERE station_id = ? AND state = 'phone-in' ORDER BY locker", [STATION_ID]));
    const lockerOf = new Map(phoneIn.map((row) => [Number(row.person_id), Number(row.locker)]));
    const occupied = new Set(lockerOf.values());
    const wrong: string[] = [];
    // The trip is back: each deposits, into a locker that holds no one's phone.
    for (const index of TRIP) {
      const locker = await visit(index);
      if (occupied.has(locker)) wrong.push(`pupil ${index + 1} (back from the trip) deposited into locker ${locker + 1}, which holds the phone of person #${[...lockerOf].find(([, l]) => l === locker)![0]}`);
      occupied.add(locker);
      lockerOf.set(pupil(index).person, locker);
    }
    // Home time: every pupil with a phone in taps and collects it from her own locker.
    const homeTime = servedTaps.length;
    for (let index = 0; index < FORM; index++) {
      if (index === LEAVER || index === EXEMPT) continue;
      const own = lockerOf.get(pupil(index).person)!;
      const locker = await visit(index);
      if (locker !== own) wrong.push(`pupil ${index + 1}'s tap opened locker ${locker + 1}, not her own locker ${own + 1}`);
    }
    expect(await rig.settle(30_000, rig.watch, board())).toMatchObject({ lost: [] });
    const collected = (await eventsOf(EVENT.COLLECT)).filter((row) => Number(row.board) === board());
    const collectors = new Set(collected.map((row) => Number(row.person_id)));
    for (const tap of servedTaps.slice(homeTime)) {
      if (!collectors.has(pupil(tap.pupil).person)) wrong.push(`pupil ${tap.pupil + 1}'s home-time tap was not a collection`);
    }
    // And the office's records show every phone out at the end of the day (the leaver's is
    // released by hand and stays on her record; see the report).
    const stillIn = await rig.withDb((db) => db.all<{ person_id: number }>('SELECT person_id FROM phone_custody WHERE collected_at IS NULL AND person_id <> ? ORDER BY person_id', [pupil(LEAVER).person]));
    if (stillIn.length > 0) wrong.push(`${stillIn.length} phones still in by the office's records after home time`);
    expect(wrong).toEqual([]);
  }, 90_000);

  it('every journal record of both boards is in the database exactly once; every tap served, none waited for another door', async () => {
    for (const { board: id, watch } of boards) {
      const result = await rig.settle(30_000, watch, id);
      console.log(describeReconciliation(`board ${id}`, result));
      expect(result).toMatchObject({ lost: [], doubled: [], unknown: [] });
      expect(result.inHub).toBe(result.journaled);
    }
    // Every tap by a current card was served: each opened a door and left a deposit or collection
    // for that pupil on that board.
    const completions = [...(await eventsOf(EVENT.DEPOSIT)), ...(await eventsOf(EVENT.COLLECT))];
    for (const tap of servedTaps) expect(tap.locker, `pupil ${tap.pupil + 1}'s tap`).not.toBeNull();
    const served = new Map<string, number>();
    for (const event of completions) {
      const key = `${Number(event.board)}/${Number(event.person_id)}/${Number(event.locker)}`;
      served.set(key, (served.get(key) ?? 0) + 1);
    }
    const expected = new Map<string, number>();
    for (const tap of servedTaps) {
      const key = `${tap.board}/${pupil(tap.pupil).person}/${tap.locker}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(served).toEqual(expected);
    // No tap waited for another locker's door, and no current card was refused.
    const refused = await eventsOf(EVENT.REFUSED);
    expect(refused.filter((event) => Number(event.detail) === DETAIL.BUSY)).toEqual([]);
    expect(refused).toEqual([]);
    // The leaver's second tap opened nothing and was recorded as an unknown badge; her phone's
    // locker was opened by the office (the office's person as the actor).
    expect(servedTaps.filter((tap) => tap.pupil === LEAVER)).toHaveLength(1);
    expect((await eventsOf(EVENT.UNKNOWN_BADGE)).map((event) => Number(event.board)).sort()).toEqual([boards[0].board, boards[1].board].sort());
    const unlocks = await eventsOf(EVENT.REMOTE_UNLOCK);
    expect(unlocks.map((event) => [Number(event.locker), Number(event.actor_id), Number(event.detail)])).toEqual([
      [leaverLocker, officePerson, DETAIL.REMOTE],
      [UNUSED_UNLOCK, officePerson, DETAIL.REMOTE],
    ]);
    // The exemption tap is recorded as exempt, for her, and opened nothing.
    expect((await eventsOf(EVENT.EXEMPT, EXEMPT)).length).toBe(1);
    expect(servedTaps.filter((tap) => tap.pupil === EXEMPT)).toEqual([]);
    // The unlocks were done under the office's account and said so.
    const audit = await rig.withDb((db) => db.all<{ details: string }>("SELECT details FROM audit_log WHERE action = 'web.remote-unlock-result' ORDER BY seq"));
    expect(audit.map((row) => JSON.parse(row.details) as { locker: number; ok: boolean })).toEqual([
      expect.objectContaining({ locker: UNUSED_UNLOCK, ok: true }),
      expect.objectContaining({ locker: leaverLocker, ok: true }),
    ]);
  }, 90_000);
});
