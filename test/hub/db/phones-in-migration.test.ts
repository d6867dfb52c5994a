// Migration 16: the phones in lockers now (phones_in) is filled from the custody a hub stored
// before the upgrade: the upgraded hub's lists show the phones that were in, not those collected,
// and `audit verify` passes. Runs on SQLite, and on PostgreSQL when DATABASE_URL is set.
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../hub/src/db/migrations';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import { createRecords } from '../../../hub/src/records';
import { EVENT } from '../../../protocol/wire';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

const STEP = MIGRATIONS.findIndex((step) => typeof step === 'object' && step.sqlite.includes('CREATE TABLE phones_in'));

let target: TestDatabaseTarget | undefined;
let db: SqlDatabase | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
  await target?.drop();
  target = undefined;
});

describe(`migration 16: phones in lockers now (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  it('is filled from the custody stored before the upgrade', async () => {
    expect(STEP).toBeGreaterThan(0);
    const later = MIGRATIONS.splice(STEP);
    target = await testDatabaseTarget();
    const people: number[] = [];
    try {
      const { db: old } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
      const records = createRecords(old);
      await records.stations.add('demo', 'form-7a', 8);
      for (let i = 0; i < 3; i++) people.push(await records.people.add({ externalId: `M${i}`, name: `Pupil ${i}`, role: 'pupil', form: '7A' }));
      const frame = (seq: number, type: number, locker: number, person: number) => ({ frame: { station: 'form-7a', boot: 1, seq, uptimeMs: seq * 1000, type, locker, person }, receivedAt: `2026-12-07T08:0${seq}:00.000Z` });
      await records.custody.applyBatch([frame(1, EVENT.DEPOSIT, 0, people[0]), frame(2, EVENT.DEPOSIT, 1, people[1]), frame(3, EVENT.DEPOSIT, 2, people[2]), frame(4, EVENT.COLLECT, 1, people[1])]);
      await old.close();
    } finally {
      MIGRATIONS.push(...later);
    }
    ({ db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl }));
    const records = createRecords(db);
    expect((await records.custody.phonesIn()).map((phone) => [phone.personId, phone.locker])).toEqual([
      [people[0], 0],
      [people[2], 2],
    ]);
    expect((await records.audit.verify()).ok).toBe(true);
  });
});
