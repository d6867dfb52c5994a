// Migration 10: station_events.detail was TEXT (a frame's DETAIL number, kept as "16.0" on SQLite)
// and is an integer now, as on the wire. A database written by the hub before the upgrade is
// opened by the upgraded hub: the numbers come back as integers, and `audit verify` still passes
// (each converted row is anchored again), while a row edited outside the hub before the upgrade is
// still named. Runs on SQLite, and on PostgreSQL when DATABASE_URL is set.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AuditTrail } from '../../../hub/src/audit/trail';
import { MIGRATIONS } from '../../../hub/src/db/migrations';
import { openDatabase, sqliteFile } from '../../../hub/src/db/open';
import { DETAIL, EVENT } from '../../../protocol/wire';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';
import { databasesPerTest } from '../../support/databases-per-test';

const BEFORE = MIGRATIONS.findIndex((step) => typeof step === 'object' && step.sqlite.includes('station_events_detail_text'));

const databases = databasesPerTest();

/** A database as the hub before migration 10 left it, with three events written by the hub. */
async function databaseBeforeTheUpgrade(): Promise<TestDatabaseTarget> {
  const later = MIGRATIONS.splice(BEFORE);
  const created = await testDatabaseTarget();
  try {
    const { db: old } = await openDatabase({ dataDir: created.dataDir, databaseUrl: created.databaseUrl });
    // Today's anchoring code reads the previous-contents column migration 11 adds to PostgreSQL's
    // pending list; it is there only while these rows are written, so the file is as before 11.
    if (old.kind === 'postgres') await old.exec('ALTER TABLE anchor_pending ADD COLUMN old TEXT');
    await old.transaction(async (tx) => {
      const insert = 'INSERT INTO station_events (station_id, board, boot, seq, type, locker, person_id, detail, uptime_ms, received_at) VALUES (?, 0, 1, ?, ?, ?, ?, ?, ?, ?)';
      await tx.run(insert, ['st-1', 1, EVENT.BOOT, null, null, DETAIL.FIRST_BOOT, 10, '2026-12-07T08:00:00.000Z']);
      await tx.run(insert, ['st-1', 2, EVENT.DEPOSIT, 3, 101, null, 2000, '2026-12-07T08:01:00.000Z']);
      await tx.run(insert, ['st-1', 3, EVENT.REFUSED, 4, 102, DETAIL.LOCKER_HELD, 3000, '2026-12-07T08:02:00.000Z']);
    });
    if (old.kind === 'postgres') await old.exec('ALTER TABLE anchor_pending DROP COLUMN old');
    await old.close();
  } finally {
    MIGRATIONS.push(...later);
  }
  return created;
}

describe(`migration 10: station event details as integers (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  it('the text the hub stored before becomes the integer, and the audit trail still verifies', async () => {
    expect(BEFORE).toBeGreaterThan(0);
    const target = databases.track(await databaseBeforeTheUpgrade());
    if (!USING_POSTGRES) {
      const file = new Database(sqliteFile({ dataDir: target.dataDir }), { readonly: true });
      // What the issue found: the number kept as text, "16.0".
      expect(file.prepare('SELECT detail, typeof(detail) AS kind FROM station_events WHERE seq = 1').get()).toEqual({ detail: '16.0', kind: 'text' });
      file.close();
    }
    const db = await databases.open(target);
    const rows = await db.all<{ seq: number; detail: number | null }>('SELECT seq, detail FROM station_events ORDER BY seq');
    expect(rows.map((row) => [Number(row.seq), row.detail])).toEqual([
      [1, DETAIL.FIRST_BOOT],
      [2, null],
      [3, DETAIL.LOCKER_HELD],
    ]);
    if (!USING_POSTGRES) expect(await db.get('SELECT typeof(detail) AS kind FROM station_events WHERE seq = 1')).toEqual({ kind: 'integer' });
    const verified = await new AuditTrail(db).verify();
    expect(verified.problem ?? null).toBeNull();
    expect(verified.ok).toBe(true);
    // A new event's detail is stored as an integer too.
    await db.transaction((tx) => tx.run('INSERT INTO station_events (station_id, board, boot, seq, type, detail, uptime_ms, received_at) VALUES (?, 0, 1, 4, ?, ?, 4000, ?)', ['st-1', EVENT.REFUSED, DETAIL.BUSY, '2026-12-07T08:03:00.000Z']));
    expect(Number((await db.get<{ detail: number }>('SELECT detail FROM station_events WHERE seq = 4'))!.detail)).toBe(DETAIL.BUSY);
    expect((await new AuditTrail(db).verify()).ok).toBe(true);
  }, 60_000);

  it.skipIf(USING_POSTGRES)('a detail edited outside the hub before the upgrade is still named by audit verify', async () => {
    const target = databases.track(await databaseBeforeTheUpgrade());
    const file = new Database(sqliteFile({ dataDir: target.dataDir }));
    file.prepare("UPDATE station_events SET detail = '12' WHERE seq = 3").run();
    file.close();
    const db = await databases.open(target);
    const verified = await new AuditTrail(db).verify();
    expect(verified.ok).toBe(false);
    expect(verified.problem?.message).toMatch(/station_events st-1\/0\/1\/3 was altered/);
  }, 60_000);
});
