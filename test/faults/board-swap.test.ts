// Fault runs for issue 13, "the station keeps serving":
//  1. The station's board is replaced (a new board with empty flash, given the same station id,
//     key and badge list): it counts its boots from 1 again, so its first events carry the very
//     (station, boot, seq) numbers the hub already holds for the old board. Every event of both
//     boards must be in the database exactly once, and the Stations page must show the swap.
//     The new board is given the lockers the hub's records hold (RESTORE_LOCKERS), once: a phone
//     locked away on the old board stays its owner's.
//  2. Anyone on the (still open) broker publishes "online" on the station's status topic 100 times:
//     nothing the hub does about it may make the station write its flash.
// The built bundle in the simulator, a real Mosquitto, the hub as its own process, SQLite or
// PostgreSQL (DATABASE_URL).
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../hub/src/audit/trail';
import { Accounts } from '../../hub/src/accounts/accounts';
import { generatePassword } from '../../hub/src/accounts/password';
import { boardName } from '../../hub/src/records/station-boards';
import { EVENT } from '../../protocol/wire';
import { FaultRig, SITE, STATION_ID, describeReconciliation } from '../support/fault-rig';
import { eventually } from '../support/eventually';
import { HAS_MOSQUITTO } from '../support/mosquitto';
import { WebClient } from '../web/client';

describe.skipIf(!process.env.CI && !HAS_MOSQUITTO)('a station whose board is replaced, and a spoofed "online"', () => {
  let rig: FaultRig;

  afterAll(async () => {
    await rig?.stop();
  });

  it('keeps every event of both boards exactly once, and the Stations page shows the swap', async () => {
    rig = await new FaultRig({ pupils: 4 }).start();
    const [amira, ben, chloe, dev] = rig.pupils;
    await rig.visit(amira.uid); // deposit
    await rig.visit(ben.uid); // deposit
    await rig.visit(amira.uid); // collect
    const oldBoard = FaultRig.boardOf(rig.station);
    expect(oldBoard).toBeGreaterThan(0);
    const first = await rig.settle();
    expect(first).toMatchObject({ journaled: 4, inHub: 4, lost: [], doubled: [], unknown: [] });

    const old = await rig.swapBoard();
    const newBoard = FaultRig.boardOf(rig.station);
    expect(newBoard).toBeGreaterThan(0);
    expect(newBoard).not.toBe(oldBoard);
    // The new board starts at boot 1, sequence 1: numbers the hub already holds for the old board.
    expect([...rig.watch.events.keys()]).toEqual(['1/1']);
    await rig.visit(chloe.uid); // deposit, 1/2
    await rig.visit(chloe.uid); // collect, 1/3
    await rig.visit(dev.uid); // deposit, 1/4
    expect([...rig.watch.events.keys()].every((id) => old.watch.events.has(id))).toBe(true);

    const replaced = await rig.settle(45_000, rig.watch, newBoard);
    console.log(describeReconciliation('new board', replaced));
    expect(replaced).toMatchObject({ journaled: 4, inHub: 4, lost: [], doubled: [], unknown: [] });
    const original = await rig.settle(5_000, old.watch, oldBoard);
    expect(original).toMatchObject({ journaled: 4, inHub: 4, lost: [], doubled: [], unknown: [] });
    await rig.withDb(async (db) => {
      const events = await db.all<{ board: number; type: number; person_id: number | null }>('SELECT board, type, person_id FROM station_events WHERE station_id = ? ORDER BY board, boot, seq', [STATION_ID]);
      expect(events.length).toBe(8);
      const deposits = events.filter((event) => Number(event.type) === EVENT.DEPOSIT).map((event) => [Number(event.board), Number(event.person_id)]);
      expect(deposits.sort()).toEqual([[oldBoard, amira.person], [oldBoard, ben.person], [newBoard, chloe.person], [newBoard, dev.person]].sort());
      // Every deposit and collection of both boards reached the custody records.
      const custody = await db.all<{ person_id: number; collected_at: string | null }>('SELECT person_id, collected_at FROM phone_custody ORDER BY id');
      expect(custody.map((row) => [Number(row.person_id), row.collected_at !== null])).toEqual([
        [amira.person, true],
        [ben.person, false],
        [chloe.person, true],
        [dev.person, false],
      ]);
      // The swap is in the audit trail, once.
      const swaps = await db.all<{ details: string }>("SELECT details FROM audit_log WHERE action = 'station.board-replaced'");
      expect(swaps.map((row) => JSON.parse(row.details))).toEqual([{ station: STATION_ID, board: newBoard, previousBoard: oldBoard }]);
    });

    // The Stations page, as the office sees it.
    const password = generatePassword();
    await rig.withDb((db) => new Accounts(db, new AuditTrail(db)).add({ username: 'ict1', role: 'ict', password }, 'test'));
    const office = new WebClient(rig.hub.url);
    expect((await office.signIn('ict1', password)).status).toBe(200);
    const page = await office.page('/stations');
    expect(page.status).toBe(200);
    const row = /<tr data-station-row="form-7a">[\s\S]*?<\/tr>/.exec(page.html)?.[0] ?? '';
    expect(row).toMatch(new RegExp(`Board replaced at <time datetime="[^"]+">[^<]+</time> — new board ${boardName(newBoard)}`));
    expect(row).toContain(`Previous board ${boardName(oldBoard)}; the events of both are kept.`);
  }, 180_000);

  it('gives the new board the lockers the records hold (once): the old board\'s phone stays its owner\'s', async () => {
    const [, ben] = rig.pupils;
    const newBoard = FaultRig.boardOf(rig.station);
    // Ben's phone went into locker 2 (index 1) on the old board. The new board, its flash empty,
    // was told at its first state report, once.
    await rig.withDb(async (db) => {
      const restores = await db.all<{ details: string }>("SELECT details FROM audit_log WHERE action = 'station.lockers-restore'");
      expect(restores.map((row) => JSON.parse(row.details))).toEqual([expect.objectContaining({ station: STATION_ID, board: newBoard, lockers: [{ locker: 1, state: 'phone-in', person: ben.person }], ok: true })]);
      expect(Number((await db.get<{ restored_board: number }>('SELECT restored_board FROM stations WHERE id = ?', [STATION_ID]))!.restored_board)).toBe(newBoard);
    });
    // At home time Ben's tap on the new board opens his own locker and collects his phone.
    const before = rig.watch.count(EVENT.COLLECT);
    expect((await rig.visit(ben.uid)).locker).toBe(1);
    await eventually(() => rig.watch.count(EVENT.COLLECT) > before, 5000, 'the collection journaled');
    expect([...rig.watch.events.values()].filter((event) => event.type === EVENT.COLLECT && event.person === ben.person).map((event) => event.locker)).toEqual([1]);
  }, 30_000);

  it('writes nothing to the station\'s flash when "online" is published on its status topic 100 times', async () => {
    // The hub sends the time once, because the new board's state report shows no clock: that
    // sets the clock and is worth its one counter write.
    await eventually(() => rig.station.storage.read('handover.cmd') !== undefined, 20_000, 'the hub to set the station\'s clock');
    const writes: string[] = [];
    const write = rig.station.storage.write.bind(rig.station.storage);
    rig.station.storage.write = (name: string, data: unknown, offset?: number, size?: number) => {
      writes.push(name);
      return write(name, data, offset, size);
    };
    const before = rig.station.storage.writes;
    const spoofedAt = new Date().toISOString();
    const spoofer = await mqtt.connectAsync(rig.mosquitto.url, { clientId: `spoofer-${process.pid}` });
    try {
      for (let i = 0; i < 100; i++) await spoofer.publishAsync(`handover/${SITE}/${STATION_ID}/status`, 'online', { qos: 1, retain: true });
    } finally {
      await spoofer.endAsync();
    }
    // The hub heard them (each moves the station's last_seen on), and whatever it would send
    // because of them reaches the station within seconds (a command's reply times out after 5 s).
    await eventually(
      () => rig.withDb(async (db) => ((await db.get<{ last_seen: string }>('SELECT last_seen FROM stations WHERE id = ?', [STATION_ID]))?.last_seen ?? '') >= spoofedAt),
      10_000,
      'the hub to take the status messages',
    );
    await new Promise((resolve) => setTimeout(resolve, 6000));
    expect(writes).toEqual([]);
    expect(rig.station.storage.writes).toBe(before);
    // And the station still serves: a tap is journaled (the one write it is worth) and stored.
    await rig.visit(rig.pupils[1].uid);
    expect(writes.filter((name) => name.startsWith('hj.')).length).toBeGreaterThan(0);
    const result = await rig.settle(45_000, rig.watch, FaultRig.boardOf(rig.station));
    expect(result.lost).toEqual([]);
  }, 60_000);
});
