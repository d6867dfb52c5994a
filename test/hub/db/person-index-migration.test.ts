// Migration 23 (issue 16, ingest flat in history): the indexes keyed by person alone on station
// events and the audit trail go, and a person's audit records are found through slices of the
// sequence (audit/person-records.ts). On a database an older hub left, with records of several
// people spread over several slices, a person's records read after the upgrade are those read
// before, in order. Runs on SQLite, and on PostgreSQL when DATABASE_URL is set.
import { describe, expect, it } from 'vitest';
import { AUDIT_RECORDS_OF_PERSON, SLICE } from '../../../hub/src/audit/person-records';
import { MIGRATIONS } from '../../../hub/src/db/migrations';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import { createRecords } from '../../../hub/src/records';
import { testDatabaseTarget, USING_POSTGRES } from '../../support/test-database';
import { databasesPerTest } from '../../support/databases-per-test';

const STEP = MIGRATIONS.findIndex((step) => typeof step === 'object' && step.sqlite.includes('audit_log_person_slice'));

const databases = databasesPerTest();

async function indexNames(database: SqlDatabase): Promise<string[]> {
  const rows = database.kind === 'postgres'
    ? await database.all<{ name: string }>("SELECT indexname AS name FROM pg_indexes WHERE tablename IN ('station_events', 'audit_log')")
    : await database.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('station_events', 'audit_log')");
  return rows.map((row) => row.name);
}

describe(`migration 23: no index by person alone on events and the audit trail (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  it('finds the same audit records of a person after the upgrade, across slices', async () => {
    expect(STEP).toBeGreaterThan(0);
    const later = MIGRATIONS.splice(STEP);
    const target = databases.track(await testDatabaseTarget());
    const people = [7, 8, 9];
    let before: number[][] = [];
    try {
      const { db: old } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
      expect(await indexNames(old)).toEqual(expect.arrayContaining(['station_events_person', 'audit_log_person']));
      // Records far apart in the sequence (the trail of a long-running hub), written as stored
      // history: the chain is not what this test reads.
      const head = Number((await old.get<{ seq: number }>('SELECT seq FROM audit_head WHERE id = 1'))!.seq);
      const points = [head + 1, SLICE - 2, 2 * SLICE - 1, 3 * SLICE + 5, 7 * SLICE];
      expect(head + 1).toBeLessThan(SLICE - 2);
      await old.transaction(async (tx) => {
        for (const [i, point] of points.entries()) {
          for (const [j, person] of people.entries()) {
            if ((i + j) % 4 === 3) continue;
            await tx.run("INSERT INTO audit_log (seq, at, actor, action, subject, person_id, details, prev_hash, hash) VALUES (?, '2026-01-01T00:00:00.000Z', 'system', 'test.record', NULL, ?, '{}', 'x', 'x')", [point + j, person]);
          }
        }
        await tx.run('UPDATE audit_head SET seq = ? WHERE id = 1', [points.at(-1)! + people.length]);
      });
      before = [];
      for (const person of people) before.push((await old.all<{ seq: number }>('SELECT seq FROM audit_log WHERE person_id = ? ORDER BY seq', [person])).map((row) => Number(row.seq)));
      await old.close();
    } finally {
      MIGRATIONS.push(...later);
    }
    expect(before.every((seqs) => seqs.length >= 3)).toBe(true);

    const db = await databases.open(target);
    const names = await indexNames(db);
    expect(names).toContain('audit_log_person_slice');
    expect(names).not.toContain('station_events_person');
    expect(names).not.toContain('audit_log_person');
    const records = createRecords(db);
    for (const [i, person] of people.entries()) expect((await records.audit.forPerson(person)).map((record) => Number(record.seq))).toEqual(before[i]);
    // A person with no records, and the audit trail's person reads keep working after new records.
    expect(await records.audit.forPerson(12345)).toEqual([]);
    await records.audit.append({ actor: 'system', action: 'test.after', personId: people[0], details: {} });
    expect((await records.audit.forPerson(people[0])).at(-1)).toMatchObject({ action: 'test.after' });
  });

  it.skipIf(USING_POSTGRES)('reads a person’s audit records by the slice index, one probe per slice (SQLite’s plan)', async () => {
    const db = await databases.open(databases.track(await testDatabaseTarget()));
    const plan = await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${AUDIT_RECORDS_OF_PERSON}`, [1]);
    expect(plan.map((row) => row.detail).join('\n')).toMatch(/SEARCH a USING INDEX audit_log_person_slice \(<expr>=\? AND person_id=\?\)/);
  });
});
