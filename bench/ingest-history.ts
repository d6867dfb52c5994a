// Ingest rate against the size of the history already stored (issue 16: "ingest flat in history").
// The same batches of deposits and collections are committed straight through the records
// (CustodyRecords.applyBatch: every statement the ingest runs, without MQTT, so only the database
// differs) on an empty database, then after history is built directly in the database (station
// events, their audit records and phone custody, as a term of taps leaves them; PostgreSQL
// generate_series, SQLite a recursive query). BENCH_HISTORY_TRACE=1 prints the time per statement.
import fs from 'node:fs';
import { EVENT } from '../protocol/wire';
import type { SqlDatabase } from '../hub/src/db/sql';
import type { EventFrame } from '../hub/src/protocol/frames';
import type { IncomingEvent } from '../hub/src/records/custody';
import type { Records } from '../hub/src/records';
import { ANCHORED_TABLES, sqliteAnchorObjects } from '../hub/src/audit/anchors';

export const HISTORY_STATIONS = 50;
export const HISTORY_LOCKERS = 32;

/** Statement timings by the statement's first words, while tracing. */
const traced = new Map<string, { count: number; ms: number }>();

function traceHandle(tx: SqlDatabase): SqlDatabase {
  const timed = (name: 'run' | 'all' | 'get' | 'insert') => async (sql: string, params?: never[]) => {
    const started = performance.now();
    try {
      return await (tx[name] as (sql: string, params?: never[]) => Promise<unknown>)(sql, params);
    } finally {
      const label = sql.replace(/\s+/g, ' ').replace(/WITH \w+ \([^)]*\) AS \(.*?\)\)? /, '').slice(0, 90);
      const entry = traced.get(label) ?? { count: 0, ms: 0 };
      entry.count++;
      entry.ms += performance.now() - started;
      traced.set(label, entry);
    }
  };
  return new Proxy(tx, {
    get(target, property) {
      if (property === 'run' || property === 'all' || property === 'get' || property === 'insert') return timed(property);
      if (property === 'transaction') return <T>(work: (db: SqlDatabase) => Promise<T>) => target.transaction((inner) => work(traceHandle(inner)));
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const WHOLE = '(whole transactions, commit and sync included)';

/** While BENCH_HISTORY_TRACE is set: every transaction's statements timed (printed by printTrace). */
export function traceTransactions(db: SqlDatabase): void {
  if (!process.env.BENCH_HISTORY_TRACE) return;
  const original = db.transaction.bind(db);
  db.transaction = async <T>(work: (tx: SqlDatabase) => Promise<T>) => {
    const started = performance.now();
    try {
      return await original((tx) => work(traceHandle(tx)));
    } finally {
      // The statements' time and the rest: the commit (SQLite: the pages written to the WAL, a checkpoint) and its sync.
      const entry = traced.get(WHOLE) ?? { count: 0, ms: 0 };
      entry.count++;
      entry.ms += performance.now() - started;
      traced.set(WHOLE, entry);
    }
  };
}

/** Forgets the statements timed so far. */
export function clearTrace(): void {
  traced.clear();
}

export function printTrace(label: string): void {
  if (!process.env.BENCH_HISTORY_TRACE) return;
  console.log(`\nstatements at ${label}:`);
  for (const [sql, { count, ms }] of [...traced].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) console.log(`  ${ms.toFixed(0).padStart(7)} ms ${String(count).padStart(6)}x  ${sql}`);
  traced.clear();
}

/** `count` deposits then collections across the stations' lockers, for one boot. */
export function historyFrames(boot: number, count: number, pupilIds: number[]): IncomingEvent[] {
  const out: IncomingEvent[] = [];
  const seqs = new Array(HISTORY_STATIONS).fill(0);
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const station = i % HISTORY_STATIONS;
    const seq = ++seqs[station];
    const locker = Math.floor((seq - 1) / 2) % HISTORY_LOCKERS;
    const frame: EventFrame = {
      station: `bench-${station}`,
      boot,
      seq,
      uptimeMs: seq * 2500,
      wallTime: now + i,
      type: seq % 2 === 1 ? EVENT.DEPOSIT : EVENT.COLLECT,
      locker,
      person: pupilIds[station * HISTORY_LOCKERS + locker],
      badge: new Uint8Array(8).fill(station),
    };
    out.push({ frame, receivedAt: new Date(now + i).toISOString() });
  }
  return out;
}

/**
 * Bytes this process has written so far (Linux /proc/self/io `wchar`), or null elsewhere. On SQLite
 * these are the database's writes (the WAL and its checkpoints into the file): unlike a rate, the
 * machine's load does not move them.
 */
export function bytesWritten(): number | null {
  try {
    const match = /^wchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * SQLite: the built history moved from the WAL into the file and the file synced (PostgreSQL: a checkpoint), so the measured
 * commits do not wait behind the disk writing out gigabytes of the build (history stored long ago
 * is on disk already).
 */
export async function settleHistory(db: SqlDatabase, file: string): Promise<void> {
  if (db.kind === 'postgres') {
    // PostgreSQL: a CHECKPOINT writes the build's dirty pages out now (PostgreSQL 15 lets a role of
    // pg_checkpoint ask: `GRANT pg_checkpoint TO handover`); without it they are written during the measurement.
    await db.exec('CHECKPOINT').catch((error) => console.log(`(no CHECKPOINT before measuring: ${(error as Error).message})`));
    return;
  }
  await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * SQLite, while BENCH_HISTORY_PAGES is set: the pages each of `batches` commits wrote to the WAL,
 * per table or index (checkpoints held off meanwhile; every frame's page named by `dbstat`), printed.
 */
export async function printWalPages(db: SqlDatabase, file: string, commit: () => Promise<unknown>, batches: number, label: string): Promise<void> {
  if (!process.env.BENCH_HISTORY_PAGES || db.kind !== 'sqlite') return;
  await db.exec('PRAGMA wal_autocheckpoint = 0');
  await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  try {
    await commit();
    const wal = fs.readFileSync(`${file}-wal`);
    const pageSize = wal.readUInt32BE(8);
    const names = new Map<number, string>();
    for (const row of await db.all<{ name: string; pageno: number }>('SELECT name, pageno FROM dbstat')) names.set(Number(row.pageno), row.name);
    const per = new Map<string, number>();
    let frames = 0;
    // The WAL's header is 32 bytes; each frame a 24-byte header (the page number first) and the page.
    for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
      const name = names.get(wal.readUInt32BE(at)) ?? '(new or free page)';
      per.set(name, (per.get(name) ?? 0) + 1);
      frames++;
    }
    console.log(`\nWAL pages per commit at ${label}: ${(frames / batches).toFixed(0)}`);
    for (const [name, count] of [...per].sort((a, b) => b[1] - a[1])) console.log(`  ${(count / batches).toFixed(1).padStart(7)}  ${name}`);
  } finally {
    await db.exec('PRAGMA wal_autocheckpoint = 1000');
  }
}

/** Events per second committing `events` in batches of `batch` (the ingest's batching). */
export async function commitRate(records: Records, events: IncomingEvent[], batch: number): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < events.length; start += batch) await records.custody.applyBatch(events.slice(start, start + batch));
  return events.length / ((performance.now() - started) / 1000);
}

/**
 * History rows numbered [from, to) put straight into the database, not through the hub: one
 * station event and one audit record per event, a collected phone custody record per two (boots
 * from 1000 up, apart from the measured ones). Anchoring is off while they go in (the rows stand
 * for history anchored long ago) and the audit head moves past them.
 */
export async function buildHistory(db: SqlDatabase, pupils: number, from: number, to: number): Promise<void> {
  const series = db.kind === 'postgres' ? `generate_series(${from}, ${to - 1}) AS s(g)` : 'g';
  const prefix = db.kind === 'postgres' ? '' : `WITH RECURSIVE g(g) AS (SELECT ${from} UNION ALL SELECT g + 1 FROM g WHERE g < ${to - 1}) `;
  const text = (sql: string) => (db.kind === 'postgres' ? sql : sql.replace(/::\w+/g, ''));
  const station = `'bench-' || (g % ${HISTORY_STATIONS})`;
  const time = (offset: string) =>
    db.kind === 'postgres' ? `to_char(timestamp '2025-09-01' + (g / 10) * interval '1 second'${offset}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')` : `strftime('%Y-%m-%dT%H:%M:%fZ', '2025-09-01', '+' || (g / 10) || ' seconds'${offset ? ", '+6 hours'" : ''})`;
  const person = `(g % ${pupils}) + 1`;
  const anchored = ['station_events', 'phone_custody', 'audit_log'];
  if (db.kind === 'postgres') for (const table of anchored) await db.exec(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
  else await db.exec(sqliteAnchorObjects(ANCHORED_TABLES).split('\n').filter((line) => line.includes('TRIGGER')).map((line) => line.replace(/CREATE TEMP TRIGGER IF NOT EXISTS (\w+).*/, 'DROP TRIGGER temp.$1;')).join('\n'));
  try {
    await db.transaction(async (tx) => {
      await tx.run(
        text(`${prefix}INSERT INTO station_events (station_id, board, boot, seq, type, locker, person_id, badge_hash, uptime_ms, wall_time, received_at)
         SELECT ${station}, 0, 1000 + (g / 1000000), g, CASE WHEN g % 2 = 0 THEN ${EVENT.DEPOSIT} ELSE ${EVENT.COLLECT} END, g % ${HISTORY_LOCKERS}, ${person}, NULL, g * 10, NULL, ${time('')} FROM ${series}`),
      );
      await tx.run(
        text(`${prefix}INSERT INTO phone_custody (person_id, station_id, locker, deposited_at, collected_at, deposit_boot, deposit_seq, collected_by)
         SELECT ${person}, ${station}, g % ${HISTORY_LOCKERS}, ${time('')}, ${time(" + interval '6 hours'")}, 1000 + (g / 1000000), g, ${person} FROM ${series} WHERE g % 2 = 0`),
      );
      const head = await tx.get<{ seq: number }>('SELECT seq FROM audit_head WHERE id = 1');
      const base = Number(head!.seq) + 1 - from;
      const details = db.kind === 'postgres' ? `'{"boot":1000,"seq":' || g || ',"station":"bench-' || (g % ${HISTORY_STATIONS}) || '","type":1}'` : `'{"boot":1000,"seq":' || g || ',"station":"bench-' || (g % ${HISTORY_STATIONS}) || '","type":1}'`;
      const hash = db.kind === 'postgres' ? 'md5(g::text) || md5(g::text)' : "printf('%064d', g)";
      await tx.run(
        text(`${prefix}INSERT INTO audit_log (seq, at, actor, action, subject, person_id, details, prev_hash, hash)
         SELECT g + ${base}, ${time('')}, 'station:' || ${station}, 'event.deposit', 'locker:' || ${station} || '/' || (g % ${HISTORY_LOCKERS}), ${person}, ${details}, ${hash}, ${hash} FROM ${series}`),
      );
      await tx.run('UPDATE audit_head SET seq = ? WHERE id = 1', [Number(head!.seq) + (to - from)]);
    });
  } finally {
    if (db.kind === 'postgres') for (const table of anchored) await db.exec(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    else await db.exec(sqliteAnchorObjects(ANCHORED_TABLES));
  }
  // What autovacuum does to a table that grew by this much, done now rather than during the
  // measurement (it would compete with it for the two cores).
  // BENCH_HISTORY_VACUUM=0 measures straight after the build instead, before any vacuum.
  if (process.env.BENCH_HISTORY_VACUUM === '0') return;
  await db.exec(db.kind === 'postgres' ? 'VACUUM (ANALYZE) station_events, phone_custody, audit_log' : 'ANALYZE');
}
