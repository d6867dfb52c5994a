// Migration 16: the phones in lockers now (phones_in) is filled from the custody a hub stored
// before the upgrade: the upgraded hub's lists show the phones that were in, not those collected,
// and `audit verify` passes. Runs on SQLite, and on PostgreSQL when DATABASE_URL is set.
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../hub/src/db/migrations';
import { openDatabase } from '../../../hub/src/db/open';
import { createRecords } from '../../../hub/src/records';
import { EVENT } from '../../../protocol/wire';
import { testDatabaseTarget, USING_POSTGRES } from '../../support/test-database';
import { databasesPerTest } from '../../support/databases-per-test';

const STEP = MIGRATIONS.findIndex((step) => typeof step === 'object' && step.sqlite.includes('CREATE TABLE phones_in'));

const databases = databasesPerTest();

describe(`migration 16: phones in lockers now (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  it('is filled from the custody stored before the upgrade', async () => {
    expect(STEP).toBeGreaterThan(0);
    const later = MIGRATIONS.splice(STEP);
    const target = databases.track(await testDatabaseTarget());
    const people: number[] = [];
    try {
      const { db: old } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
      const records = createRecords(old);
      await records.stations.add('demo', 'form-7a', 8);
      for (let i = 0; i < 3; i++) people.push(await records.people.add({ externalId: `M${i}`, name: `Pupil ${i}`, role: 'pupil', form: '7A' }));
      // What that hub stored for three deposits and one collection, written as it wrote them (today's
      // ingest reads tables of later migrations, such as the schools, which this database has not).
      await old.transaction(async (tx) => {
        const at = (seq: number) => `2026-12-07T08:0${seq}:00.000Z`;
        const events: Array<[number, number, number, number]> = [[1, EVENT.DEPOSIT, 0, people[0]], [2, EVENT.DEPOSIT, 1, people[1]], [3, EVENT.DEPOSIT, 2, people[2]], [4, EVENT.COLLECT, 1, people[1]]];
        for (const [seq, type, locker, person] of events) {
          await tx.run('INSERT INTO station_events (station_id, board, boot, seq, type, locker, person_id, uptime_ms, received_at) VALUES (?, 0, 1, ?, ?, ?, ?, ?, ?)', ['form-7a', seq, type, locker, person, seq * 1000, at(seq)]);
          if (type === EVENT.DEPOSIT) await tx.run('INSERT INTO phone_custody (person_id, station_id, locker, deposited_at, deposit_boot, deposit_seq) VALUES (?, ?, ?, ?, 1, ?)', [person, 'form-7a', locker, at(seq), seq]);
          else await tx.run('UPDATE phone_custody SET collected_at = ? WHERE person_id = ? AND collected_at IS NULL', [at(seq), person]);
        }
      });
      await old.close();
    } finally {
      MIGRATIONS.push(...later);
    }
    const db = await databases.open(target);
    const records = createRecords(db);
    expect((await records.custody.phonesIn()).map((phone) => [phone.personId, phone.locker])).toEqual([
      [people[0], 0],
      [people[2], 2],
    ]);
    expect((await records.audit.verify()).ok).toBe(true);
  });
});
