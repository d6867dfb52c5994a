// The database layer, on whichever database DATABASE_URL selects (SQLite by default): portable
// statements, transactions that commit whole or not at all, savepoints, and the migrations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows } from '../../../hub/src/db/bulk';
import { MIGRATIONS, forDialect, migrate } from '../../../hub/src/db/migrations';
import { toDollarParams } from '../../../hub/src/db/postgres';
import { openTestDatabase, USING_POSTGRES, type TestDatabase } from '../../support/test-database';

describe(`the database layer (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  let test: TestDatabase;

  beforeAll(async () => {
    test = await openTestDatabase();
  });
  afterAll(async () => {
    await test?.close();
  });

  it('applies every migration step once, and again is a no-op', async () => {
    expect(await migrate(test.db)).toBe(MIGRATIONS.length);
    const rows = await test.db.all<{ step: number }>('SELECT step FROM schema_migrations ORDER BY step');
    expect(rows.map((row) => row.step)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it('returns new ids, 64-bit integers as numbers, and bytes as bytes', async () => {
    const id = await test.db.insert("INSERT INTO people (external_id, name, kind, role) VALUES (?, ?, 'pupil', 'pupil')", ['db-1', 'Test Pupil']);
    expect(id).toBeGreaterThan(0);
    await test.db.run('INSERT INTO stations (id, site, lockers, station_key) VALUES (?, ?, ?, ?)', ['st-db', 'demo', 8, 'ab']);
    const wallTime = 1_790_000_000_123;
    await test.db.run(
      'INSERT INTO station_events (station_id, boot, seq, type, uptime_ms, wall_time, badge_hash, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ['st-db', 1, 1, 2, 5_000_000_000, wallTime, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), '2026-01-01T00:00:00.000Z'],
    );
    const row = await test.db.get<{ wall_time: number; uptime_ms: number; badge_hash: Uint8Array; n: number }>(
      'SELECT wall_time, uptime_ms, badge_hash, (SELECT COUNT(*) FROM station_events) AS n FROM station_events WHERE station_id = ?',
      ['st-db'],
    );
    expect(row).toBeDefined();
    expect(row!.wall_time).toBe(wallTime);
    expect(row!.uptime_ms).toBe(5_000_000_000);
    expect(row!.n).toBe(1);
    expect([...new Uint8Array(row!.badge_hash)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const sum = await test.db.get<{ total: number }>('SELECT SUM(lockers) AS total FROM stations');
    expect(sum!.total).toBe(8);
  });

  it('inserts many rows in one go, awkward text, nulls, bytes and repeats included', async () => {
    await test.db.run('INSERT INTO stations (id, site, lockers, station_key) VALUES (?, ?, ?, ?)', ['st-bulk', 'demo', 8, 'ab']);
    const awkward = ['a "quoted", {braced} \\ text', "it's", '', 'NULL', 'ünïcødé 🔒'];
    const rows = awkward.map((text, i) => ['st-bulk', 1, i + 1, 2, i === 0 ? null : i, 5_000_000_000 + i, i % 2 ? new Uint8Array([i, 255, 0, 1, 2, 3, 4, 5]) : null, text]);
    const columns = [['station_id', 'text'], ['boot', 'bigint'], ['seq', 'bigint'], ['type', 'bigint'], ['locker', 'bigint'], ['uptime_ms', 'bigint'], ['badge_hash', 'bytea'], ['received_at', 'text']] as const;
    const inserted = await insertRows<{ seq: number }>(test.db, 'station_events', columns, [...rows, rows[1]], 'ON CONFLICT DO NOTHING RETURNING seq');
    expect(inserted.map((row) => Number(row.seq))).toEqual([1, 2, 3, 4, 5]);
    const stored = await test.db.all<{ locker: number | null; uptime_ms: number; badge_hash: Uint8Array | null; received_at: string }>('SELECT locker, uptime_ms, badge_hash, received_at FROM station_events WHERE station_id = ? ORDER BY seq', ['st-bulk']);
    expect(stored.map((row) => row.received_at)).toEqual(awkward);
    expect(stored.map((row) => (row.locker === null ? null : Number(row.locker)))).toEqual([null, 1, 2, 3, 4]);
    expect(stored.map((row) => Number(row.uptime_ms))).toEqual([0, 1, 2, 3, 4].map((i) => 5_000_000_000 + i));
    expect(stored.map((row) => (row.badge_hash === null ? null : [...row.badge_hash]))).toEqual(rows.map((row) => (row[6] === null ? null : [...(row[6] as Uint8Array)])));
  });

  it('reads INSERT ... RETURNING and ON CONFLICT DO NOTHING the same way', async () => {
    const values = [['st-db', 1, 2], ['st-db', 1, 1], ['st-db', 1, 3]];
    const inserted = await test.db.all<{ seq: number }>(
      `INSERT INTO station_events (station_id, boot, seq, type, uptime_ms, received_at) VALUES ${values.map(() => "(?, ?, ?, 2, 0, 'x')").join(', ')}
       ON CONFLICT DO NOTHING RETURNING seq`,
      values.flat() as (string | number)[],
    );
    expect(inserted.map((row) => row.seq).sort()).toEqual([2, 3]);
  });

  it('rolls a failed transaction back whole, and a failed savepoint only its own part', async () => {
    await expect(
      test.db.transaction(async (tx) => {
        await tx.run("INSERT INTO hub_secrets (name, value) VALUES ('a', '1')");
        throw new Error('stop');
      }),
    ).rejects.toThrow('stop');
    expect(await test.db.get("SELECT value FROM hub_secrets WHERE name = 'a'")).toBeUndefined();

    await test.db.transaction(async (tx) => {
      await tx.run("INSERT INTO hub_secrets (name, value) VALUES ('b', '1')");
      await expect(
        tx.transaction(async (inner) => {
          await inner.run("INSERT INTO hub_secrets (name, value) VALUES ('c', '1')");
          await inner.run("INSERT INTO hub_secrets (name, value) VALUES ('b', 'duplicate')");
        }),
      ).rejects.toThrow();
      await tx.run("INSERT INTO hub_secrets (name, value) VALUES ('d', '1')");
    });
    const names = (await test.db.all<{ name: string }>("SELECT name FROM hub_secrets WHERE name IN ('a', 'b', 'c', 'd') ORDER BY name")).map((row) => row.name);
    expect(names).toEqual(['b', 'd']);
  });

  it('keeps statements outside a transaction out of it while it is open', async () => {
    let outsideDone = false;
    const transaction = test.db.transaction(async (tx) => {
      await tx.run("INSERT INTO hub_secrets (name, value) VALUES ('t1', '1')");
      await new Promise((resolve) => setTimeout(resolve, 30));
      await tx.run("INSERT INTO hub_secrets (name, value) VALUES ('t2', '1')");
      throw new Error('roll back');
    });
    const outside = test.db.run("INSERT INTO hub_secrets (name, value) VALUES ('o1', '1')").then(() => (outsideDone = true));
    await expect(transaction).rejects.toThrow('roll back');
    await outside;
    expect(outsideDone).toBe(true);
    const names = (await test.db.all<{ name: string }>("SELECT name FROM hub_secrets WHERE name IN ('t1', 't2', 'o1')")).map((row) => row.name);
    expect(names).toEqual(['o1']);
  });
});

describe('portable SQL', () => {
  it('numbers placeholders for PostgreSQL, leaving quoted text alone', () => {
    expect(toDollarParams("SELECT '?' AS q, \"a?\" FROM t WHERE a = ? AND b = ? -- why?\n AND c = ?")).toBe(
      "SELECT '?' AS q, \"a?\" FROM t WHERE a = $1 AND b = $2 -- why?\n AND c = $3",
    );
  });

  it('translates the schema for PostgreSQL', () => {
    const sql = forDialect('CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, b BLOB)', 'postgres');
    expect(sql).toBe('CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT, b BYTEA)');
  });
});
