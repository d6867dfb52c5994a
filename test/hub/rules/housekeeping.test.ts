// The scheduled sweep: after the cut-off, phones still in are uncollected (dated by the first
// cut-off after their deposit); a failing sweep is logged, not thrown; the hub runs it from the
// moment it starts, with the cut-off its settings name.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDatabase } from '../../../hub/src/db/open';
import { Hub } from '../../../hub/src/hub';
import { createLogger } from '../../../hub/src/log';
import { createRecords } from '../../../hub/src/records';
import { LostProperty } from '../../../hub/src/records/lost-property';
import { addDays } from '../../../hub/src/records/time';
import { Housekeeping } from '../../../hub/src/rules/housekeeping';
import { loadSettings } from '../../../hub/src/settings';
import { testDatabaseTarget } from '../../support/test-database';
import { EVENT, openSchool, type School } from '../support/school';

let school: School;
beforeEach(async () => {
  school = await openSchool();
});
afterEach(async () => {
  await school.close();
});

it('marks phones uncollected on its tick after the cut-off, and logs a failure instead of throwing', async () => {
  const logs: string[] = [];
  const lost = new LostProperty(school.test.db, school.records.audit, { dayCutoff: '16:00', lostPropertyDays: 91 });
  let now = new Date('2026-03-02T12:00:00');
  await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 0, person: school.pupils[0] }), new Date('2026-03-02T08:45:00').toISOString());
  const housekeeping = new Housekeeping({ lostProperty: lost, log: createLogger('rules', (line) => logs.push(line)), intervalMs: 60_000, now: () => now });
  await housekeeping.start();
  expect(await lost.uncollected()).toEqual([]);
  now = new Date('2026-03-02T16:01:00');
  await housekeeping.tick();
  expect(await lost.uncollected()).toHaveLength(1);
  expect(logs.some((line) => line.includes('1 phone left after the cut-off marked uncollected'))).toBe(true);
  await housekeeping.stop();

  const broken = new Housekeeping({ lostProperty: { markUncollected: async () => Promise.reject(new Error('disk full')) } as unknown as LostProperty, log: createLogger('rules', (line) => logs.push(line)) });
  await broken.tick();
  expect(logs.at(-1)).toMatch(/uncollected-phone sweep failed: disk full/);
});

it('dates a phone left over a weekend by the first cut-off after its deposit, and its disposal a term after that', async () => {
  const lost = new LostProperty(school.test.db, school.records.audit, { dayCutoff: '16:00', lostPropertyDays: 91 });
  // Deposited on a Friday morning; the sweep first runs on Monday (the hub was off all weekend).
  await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 3, person: school.pupils[1] }), new Date('2026-03-06T08:45:00').toISOString());
  expect(await lost.markUncollected(new Date('2026-03-09T09:00:00'))).toBe(1);
  const friday = new Date('2026-03-06T16:00:00').toISOString();
  expect(await lost.uncollected()).toMatchObject([{ locker: 3, uncollected_at: friday, disposal_due_at: addDays(friday, 91) }]);
  expect((await school.records.audit.forPerson(school.pupils[1])).filter((r) => r.action === 'phone.uncollected').map((r) => r.at)).toEqual([friday]);
});

it('runs in the hub: started on a database with a phone left in yesterday, it marks it uncollected at the cut-off its settings name', async () => {
  const target = await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  const records = createRecords(db);
  await records.stations.add('demo', 'form-9b', 8);
  const pupil = await records.people.add({ externalId: 'H1', name: 'Hana Left', role: 'pupil', form: '9B' });
  const yesterday = new Date();
  yesterday.setDate(yesterday.getDate() - 1);
  yesterday.setHours(8, 45, 0, 0);
  // As the ingest applies a station's deposit.
  await records.custody.applyEvent({ station: 'form-9b', boot: 1, seq: 1, uptimeMs: 1000, type: EVENT.DEPOSIT, locker: 5, person: pupil }, yesterday.toISOString());
  await db.close();

  const logs: string[] = [];
  const settings = loadSettings({ HANDOVER_DAY_CUTOFF: '15:45' }, { dataDir: target.dataDir, databaseUrl: target.databaseUrl, mqttPort: 0, httpPort: 0, site: 'demo' });
  const hub = new Hub({ settings, demo: false, logSink: (line) => logs.push(line) });
  try {
    await hub.start();
    const cutoff = new Date(yesterday);
    cutoff.setHours(15, 45, 0, 0);
    expect(await hub.records.lostProperty.uncollected()).toMatchObject([{ person_id: pupil, locker: 5, uncollected_at: cutoff.toISOString(), disposal_due_at: addDays(cutoff.toISOString(), 91) }]);
    expect(logs.some((line) => line.includes('1 phone left after the cut-off marked uncollected'))).toBe(true);
    // The locker still holds the phone until a member of staff records what happened to it.
    expect((await hub.records.custody.lockers()).find((l) => l.stationId === 'form-9b' && l.locker === 5)!.state).toBe('phone-in');
  } finally {
    await hub.stop();
    await target.drop();
  }
});
