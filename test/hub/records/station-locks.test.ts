// Two hubs on one PostgreSQL apply events of one station at the same moment (the broker's shared
// subscription gives seq N to one and N+1 to the other, and a station's resends go to either):
// each batch takes the station's advisory lock (records/station-locks.ts), so the committed mark
// only moves forward and every event's effect is applied once, in the station's order.
import { afterAll, expect, it, describe } from 'vitest';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import type { EventFrame } from '../../../hub/src/protocol/frames';
import { CustodyRecords } from '../../../hub/src/records/custody';
import { Stations } from '../../../hub/src/records/stations';
import { EVENT } from '../../../protocol/wire';
import { openTestDatabase, USING_POSTGRES, type TestDatabase } from '../../support/test-database';

const EVENTS = 80;

describe.skipIf(!USING_POSTGRES)('two hubs storing one station’s events at once', () => {
  let test: TestDatabase | null = null;
  let second: SqlDatabase | null = null;

  afterAll(async () => {
    await second?.close();
    await test?.close();
  });

  it('moves the committed mark only forward and applies each event once, in order', async () => {
    test = await openTestDatabase();
    await new Stations(test.db).add('demo', 'hall-9', 8);
    ({ db: second } = await openDatabase({ dataDir: test.target.dataDir, databaseUrl: test.target.databaseUrl }));
    const hubs = [new CustodyRecords(test.db), new CustodyRecords(second)];
    const frame = (seq: number): EventFrame => ({ station: 'hall-9', boot: 1, seq, type: EVENT.UNKNOWN_BADGE, uptimeMs: seq * 1000 });
    const acknowledged: number[] = [];
    // Each round: hub a gets the odd event, hub b the next one (and, as a resend, the one before), at once.
    for (let seq = 1; seq <= EVENTS; seq += 2) {
      const answers = await Promise.all([
        hubs[0].applyBatch([{ frame: frame(seq), receivedAt: new Date().toISOString() }]),
        hubs[1].applyBatch([seq > 1 ? { frame: frame(seq - 1), receivedAt: new Date().toISOString() } : null, { frame: frame(seq + 1), receivedAt: new Date().toISOString() }].filter((e) => e !== null)),
      ]);
      for (const results of answers) for (const result of results) acknowledged.push(result.committedSeq);
    }
    const mark = await test.db.get<{ committed_seq: number }>("SELECT committed_seq FROM station_boots WHERE station_id = 'hall-9' AND boot = 1");
    expect(Number(mark!.committed_seq)).toBe(EVENTS);
    const audited = await test.db.all<{ details: string }>("SELECT details FROM audit_log WHERE actor = 'station:hall-9' AND action LIKE 'event.%' ORDER BY seq");
    expect(audited.map(({ details }) => (JSON.parse(details) as { seq: number }).seq)).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
    expect(Math.max(...acknowledged)).toBe(EVENTS);
  }, 120_000);
});
