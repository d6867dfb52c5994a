// The board-identity migration (issue 13) on a database an older hub left behind, on whichever
// database DATABASE_URL selects: the events, committed marks and stations it holds become board 0
// (firmware and Storage from before identities), nothing is lost, and afterwards another board's
// events with the same (station, boot, seq) are stored beside them.
import { afterAll, expect, it } from 'vitest';
import { MIGRATIONS, forDialect, migrate } from '../../../hub/src/db/migrations';
import { PostgresDatabase } from '../../../hub/src/db/postgres';
import { SqliteDatabase, type SqlDatabase } from '../../../hub/src/db/sql';
import { sqliteFile } from '../../../hub/src/db/open';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget | undefined;
let db: SqlDatabase | undefined;
afterAll(async () => {
  await db?.close();
  await target?.drop();
});

const BOARD_STEP = MIGRATIONS.findIndex((step) => typeof step !== 'string' && step.sqlite.includes('station_events_before_boards'));

it(`keeps an older hub's events as board 0 and lets a new board's events with the same numbers in (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, async () => {
  expect(BOARD_STEP).toBeGreaterThan(0);
  target = await testDatabaseTarget();
  db = target.databaseUrl ? new PostgresDatabase(target.databaseUrl) : new SqliteDatabase(sqliteFile(target));
  // The schema as the hub before board identities made it.
  await db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (step INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  for (let step = 0; step < BOARD_STEP; step++) {
    await db.transaction(async (tx) => {
      await tx.exec(forDialect(MIGRATIONS[step], tx.kind));
      await tx.run('INSERT INTO schema_migrations (step, applied_at) VALUES (?, ?)', [step + 1, new Date().toISOString()]);
    });
  }
  await db.run("INSERT INTO stations (id, site, lockers, station_key) VALUES ('room-1', 'demo', 8, 'aa'), ('room-2', 'demo', 8, 'bb')");
  for (let seq = 1; seq <= 3; seq++) {
    await db.run("INSERT INTO station_events (station_id, boot, seq, type, uptime_ms, received_at, actor_id, wall_time) VALUES ('room-1', 1, ?, 2, ?, '2026-12-01T08:00:00.000Z', 7, 1796112000000)", [seq, seq * 1000]);
  }
  await db.run("INSERT INTO station_boots (station_id, boot, committed_seq) VALUES ('room-1', 1, 3)");

  await migrate(db);

  const events = await db.all<{ board: number; boot: number; seq: number; uptime_ms: number; actor_id: number; wall_time: number }>(
    'SELECT board, boot, seq, uptime_ms, actor_id, wall_time FROM station_events ORDER BY seq',
  );
  expect(events.map((row) => [Number(row.board), Number(row.boot), Number(row.seq), Number(row.uptime_ms), Number(row.actor_id), Number(row.wall_time)])).toEqual([
    [0, 1, 1, 1000, 7, 1796112000000],
    [0, 1, 2, 2000, 7, 1796112000000],
    [0, 1, 3, 3000, 7, 1796112000000],
  ]);
  const boots = await db.all<{ board: number; committed_seq: number }>('SELECT board, committed_seq FROM station_boots');
  expect(boots.map((row) => [Number(row.board), Number(row.committed_seq)])).toEqual([[0, 3]]);
  // room-1 was heard (board 0: before identities), room-2 never.
  const stations = await db.all<{ id: string; board: number | null; previous_board: number | null }>('SELECT id, board, previous_board FROM stations ORDER BY id');
  expect(stations.map((row) => [row.id, row.board === null ? null : Number(row.board), row.previous_board])).toEqual([
    ['room-1', 0, null],
    ['room-2', null, null],
  ]);

  // A replaced board's boot 1, seq 1 is another event; the old one's again is not.
  await db.run("INSERT INTO station_events (station_id, board, boot, seq, type, uptime_ms, received_at) VALUES ('room-1', 123456, 1, 1, 1, 5, 'x')");
  await expect(db.run("INSERT INTO station_events (station_id, board, boot, seq, type, uptime_ms, received_at) VALUES ('room-1', 0, 1, 1, 1, 5, 'x')")).rejects.toThrow();
  expect(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM station_events'))!.n)).toBe(4);
  // The rebuilt table's person index was dropped later, by migration 23 (test/hub/db/person-index-migration.test.ts).
  if (!USING_POSTGRES) expect(await db.get("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'station_events_person'")).toBeUndefined();
});
