// A station dates its events by its own clock, which may run ahead of the hub's: phone custody takes
// the station's time, a hold the hub's. When the DSL puts a phone from their hand straight into a
// safeguarding hold (one event: the deposit and the hold together), or holds a phone seconds after
// it went in, the deposit can then read later than the hold. The phone is still the hold's (P5):
// the office's reports and the pupil's export must not show it. Through the command line.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETAIL, EVENT } from '../../../protocol/wire';
import { createRecords, type Records } from '../../../hub/src/records';
import { openTestDatabase, USING_POSTGRES, type TestDatabase } from '../../support/test-database';
import { commandLine } from '../support/cli';

let test: TestDatabase;
let records: Records;
let cli: ReturnType<typeof commandLine>;

beforeAll(async () => {
  test = await openTestDatabase();
  records = createRecords(test.db);
  cli = commandLine(() => test.target);
  await test.db.insert("INSERT INTO people (external_id, name, kind, role, staff_code) VALUES ('S-OFF', 'Olu Office', 'staff', 'office', 'OOF')");
  const dsl = await test.db.insert("INSERT INTO people (external_id, name, kind, role, staff_code) VALUES ('S-DSL', 'Dan Shaw', 'staff', 'dsl', 'DSH')");
  const zoe = await records.people.add({ externalId: 'P-1', name: 'Zoe Handed', role: 'pupil', form: '9Q' });
  const yan = await records.people.add({ externalId: 'P-2', name: 'Yan Seconds', role: 'pupil', form: '9Q' });
  await records.stations.add('demo', 'form-9', 8);
  // The station's clock runs five seconds ahead of the hub's.
  const now = Date.now() - 60_000;
  const received = (ms: number) => new Date(now + ms).toISOString();
  const stationClock = (ms: number) => Math.floor((now + ms + 5000) / 1000) * 1000;
  // Zoë's phone from the DSL's hand into locker 3, held from the start.
  await records.custody.applyEvent({ station: 'form-9', boot: 1, seq: 1, uptimeMs: 1000, type: EVENT.HOLD_SET, locker: 2, person: zoe, actor: dsl, detail: DETAIL.CONFISCATED, wallTime: stationClock(0) }, received(100));
  // Yan's phone into locker 4, held by the DSL two seconds later.
  await records.custody.applyEvent({ station: 'form-9', boot: 1, seq: 2, uptimeMs: 2000, type: EVENT.DEPOSIT, locker: 3, person: yan, wallTime: stationClock(1000) }, received(1100));
  await records.custody.applyEvent({ station: 'form-9', boot: 1, seq: 3, uptimeMs: 3000, type: EVENT.HOLD_SET, locker: 3, person: yan, actor: dsl, wallTime: stationClock(3000) }, received(3100));
}, 60_000);
afterAll(async () => {
  await test?.close();
});

describe(`safeguarding when the station's clock is ahead (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  it('shows neither pupil to the office, in a report or in their exports', async () => {
    expect(Number((await test.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM holds WHERE kind = 'safeguarding'"))!.n)).toBe(2);
    const holdings = await cli.handover('report', 'holdings', '--csv', '-', '--by', 'OOF');
    expect(holdings.code, holdings.stderr).toBe(0);
    expect(holdings.stdout).not.toMatch(/Zoe|Yan/);
    for (const pupil of ['P-1', 'P-2']) {
      const out = path.join(test.target.dataDir, `${pupil}.json`);
      const run = await cli.handover('export', 'subject', pupil, '--out', out, '--by', 'OOF');
      expect(run.code, run.stderr).toBe(0);
      const document = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect(document.phoneCustody, pupil).toEqual([]);
      expect(document.stationEvents, pupil).toEqual([]);
      expect(document.auditRecords.filter((record: { subject: string }) => record.subject.startsWith('locker:')), pupil).toEqual([]);
    }
    const dsl = await cli.handover('report', 'holdings', '--csv', '-', '--by', 'DSH');
    expect(dsl.stdout).toMatch(/Zoe/);
    expect(dsl.stdout).toMatch(/Yan/);
  }, 60_000);
});
