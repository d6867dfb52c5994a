// "Who holds what" with a trust's history behind it: 50,000 pupils of 30 schools, 50,000 phones in
// and 10,000,000 phone custody records (built directly in the database: PostgreSQL
// generate_series, SQLite a recursive query), 2,000 loans (60 open). p50/p99 over 200 runs of a
// page of the paged list (records/phones-in-list.ts) as Who holds what, End of day and /api/custody
// read it: the first page, pages all through the list, one school's, one form's, a name search; and
// over fewer runs the lists still read whole (the holdings report and CSV, the lockers page's
// phones in) and the uncollected report. On SQLite, or PostgreSQL when DATABASE_URL is set. Goal
// (issue 16): p99 <= 50 ms for a page. A quick run: 5,000 pupils and phones in, 50,000 custody
// records, 20 runs. BENCH_CUSTODY_ROWS / BENCH_PHONES_IN override.
import { openDatabase } from '../hub/src/db/open';
import { createRecords } from '../hub/src/records';
import { Reports } from '../hub/src/reports/reports';
import { testDatabaseTarget } from '../test/support/test-database';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';
import { phonesInPage, type PageKey } from '../hub/src/records/phones-in-list';
import { Scope } from '../hub/src/records/schools';
import os from 'node:os';
import { ANCHORED_TABLES, sqliteAnchorObjects } from '../hub/src/audit/anchors';
import type { SqlDatabase } from '../hub/src/db/sql';

/**
 * `total` phone custody records straight into the database, the last `open` of them not
 * collected (one per pupil), with anchoring off while they go in.
 */
async function buildCustody(db: SqlDatabase, total: number, open: number, pupils: number): Promise<void> {
  const anchoring = ['phone_custody_anchor_ins'];
  if (db.kind === 'postgres') for (const trigger of anchoring) await db.exec(`ALTER TABLE phone_custody DISABLE TRIGGER ${trigger}`);
  else for (const trigger of anchoring) await db.exec(`DROP TRIGGER temp.${trigger}`);
  const step = 1_000_000;
  try {
    for (let from = 0; from < total; from += step) {
      const to = Math.min(total, from + step);
      const series = db.kind === 'postgres' ? `generate_series(${from}, ${to - 1}) AS s(g)` : 'g';
      const prefix = db.kind === 'postgres' ? '' : `WITH RECURSIVE g(g) AS (SELECT ${from} UNION ALL SELECT g + 1 FROM g WHERE g < ${to - 1}) `;
      const time = (hours: number) =>
        db.kind === 'postgres'
          ? `to_char(timestamp '2025-09-01 08:00' + (g / ${pupils}) * interval '1 day' + (g % 600) * interval '1 second' + interval '${hours} hours', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
          : `strftime('%Y-%m-%dT%H:%M:%fZ', '2025-09-01 08:00', '+' || (g / ${pupils}) || ' days', '+' || (g % 600) || ' seconds', '+${hours} hours')`;
      await db.transaction((tx) =>
        tx.run(
          `${prefix}INSERT INTO phone_custody (person_id, station_id, locker, deposited_at, collected_at, deposit_boot, deposit_seq, collected_by)
           SELECT (g % ${pupils}) + 1, 'room-' || ((g % ${pupils}) / 32), (g % ${pupils}) % 32, ${time(0)}, CASE WHEN g >= ${total - open} THEN NULL ELSE ${time(6.7)} END, 1, g + 1,
             CASE WHEN g >= ${total - open} THEN NULL ELSE (g % ${pupils}) + 1 END FROM ${series}`,
        ),
      );
    }
  } finally {
    if (db.kind === 'postgres') for (const trigger of anchoring) await db.exec(`ALTER TABLE phone_custody ENABLE TRIGGER ${trigger}`);
    else await db.exec(sqliteAnchorObjects(ANCHORED_TABLES));
  }
  await db.run("INSERT INTO lockers (station_id, locker, state, person_id, since) SELECT station_id, locker, 'phone-in', person_id, deposited_at FROM phones_in");
  await db.exec(db.kind === 'postgres' ? 'VACUUM (ANALYZE) phone_custody, phones_in, lockers, people, stations' : 'ANALYZE');
}

const OPEN_LOANS = 60;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function insertRows(db: import('../hub/src/db/sql').SqlDatabase, sql: string, width: number, rows: (string | number | null)[][]): Promise<void> {
  const chunk = Math.floor(999 / width);
  for (let start = 0; start < rows.length; start += chunk) {
    const part = rows.slice(start, start + chunk);
    await db.run(`${sql} VALUES ${part.map(() => `(${new Array(width).fill('?').join(', ')})`).join(', ')}`, part.flat());
  }
}

export async function benchCustody({ quick }: BenchOptions): Promise<void> {
  const CUSTODY = Number(process.env.BENCH_CUSTODY_ROWS ?? (quick ? 50_000 : 10_000_000));
  const OPEN_PHONES = Number(process.env.BENCH_PHONES_IN ?? (quick ? 5000 : 50_000));
  const PUPILS = OPEN_PHONES;
  const PEOPLE = PUPILS + 200;
  const LOANS = quick ? 200 : 2000;
  const RUNS = quick ? 20 : 200;
  /** The lists still read whole: fewer runs (each is seconds at full size). */
  const WHOLE_RUNS = quick ? 5 : 10;
  const SCHOOLS = 30;
  const target = await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  try {
    const records = createRecords(db);
    // Station room-s holds pupils 32s..32s+31; the stations (and their pupils) fall into SCHOOLS blocks.
    const stationCount = Math.ceil(PUPILS / 32);
    const schoolOf = (station: number) => `school-${Math.floor((station * SCHOOLS) / stationCount)}`;
    for (let s = 0; s < stationCount; s++) await records.stations.add(schoolOf(s), `room-${s}`, 32);
    await records.stations.add('bench', 'loans-1', 24);
    const setupStart = performance.now();
    await db.transaction(async (tx) => {
      const people = Array.from({ length: PEOPLE }, (_, i) => [`Q${i}`, `Person ${i}`, i < PUPILS ? 'pupil' : 'staff', i < PUPILS ? 'pupil' : 'staff', i < PUPILS ? `F${i % 1600}` : null, i < PUPILS ? schoolOf(Math.floor(i / 32)) : '']);
      await insertRows(tx, 'INSERT INTO people (external_id, name, kind, role, form, school)', 6, people);
    });
    // A term (or years) of deposits, each collected 6.7 hours later, then today's phones in: each
    // pupil's in a locker of a station of 32. Anchoring is off while they go in (history anchored
    // long ago); the phones-in table's own triggers run as for any write.
    await buildCustody(db, CUSTODY, OPEN_PHONES, PUPILS);
    await db.transaction(async (tx) => {
      for (let i = 0; i < 24; i++) {
        await tx.insert("INSERT INTO assets (tag, class_id, encryption, home_station, home_locker, status, registered_at) VALUES (?, ?, 'AES-256', 'loans-1', ?, 'available', '2026-01-01')", [`A${i}`, i < 16 ? 'usb-stick' : 'laptop', i]);
      }
      const loans: (string | number | null)[][] = [];
      for (let i = 0; i < LOANS; i++) {
        const open = i >= LOANS - OPEN_LOANS;
        const lent = new Date(Date.parse('2026-01-05T09:00:00.000Z') + i * 3600_000).toISOString();
        loans.push([(i % 24) + 1, PUPILS + 1 + (i % 199), lent, new Date(Date.parse(lent) + 86_400_000).toISOString(), open ? null : lent, open ? null : 'returned']);
      }
      await insertRows(tx, 'INSERT INTO loans (asset_id, person_id, lent_at, due_at, closed_at, outcome)', 6, loans);
    });
    const reports = new Reports(records);
    const actor = { personId: null, role: 'system' as const };
    const everyone = { scope: Scope.all(), heldLockers: 'leave-out' as const };
    // Keys spread evenly through the list, from a walk of it: each run reads the page after the next one.
    const keys: PageKey[] = [];
    for (let page = await phonesInPage(db, everyone, { size: 500 }); page.next; page = await phonesInPage(db, everyone, { after: page.next, size: 500 })) keys.push(page.next);
    let turn = 0;
    const deep = () => keys[turn++ % keys.length];
    const oneSchool = { scope: Scope.sql('bench', [`school-${Math.floor(SCHOOLS / 2)}`]), heldLockers: 'leave-out' as const };
    const schoolKeys: PageKey[] = [];
    for (let page = await phonesInPage(db, oneSchool, {}); page.next; page = await phonesInPage(db, oneSchool, { after: page.next })) schoolKeys.push(page.next);
    const queries: Array<[string, number, () => Promise<number>]> = [
      ['a page of 100, the first (who holds what, /api/custody)', RUNS, async () => (await phonesInPage(db, everyone, {})).rows.length],
      [`a page of 100, all through the list (${keys.length} places)`, RUNS, async () => (await phonesInPage(db, everyone, { after: deep() })).rows.length],
      ['a page of 100 back from a place (Earlier)', RUNS, async () => (await phonesInPage(db, everyone, { before: deep() })).rows.length],
      [`one school's page (1 of ${SCHOOLS}, all through it)`, RUNS, async () => (await phonesInPage(db, oneSchool, { after: schoolKeys.length ? schoolKeys[turn++ % schoolKeys.length] : null })).rows.length],
      ['end of day: still in today, first page', RUNS, async () => (await phonesInPage(db, { ...everyone, only: 'today' }, {})).rows.length],
      ['one form (F800)', RUNS, async () => (await phonesInPage(db, { ...everyone, form: 'F800' }, {})).rows.length],
      ['a name search ("person 4321")', RUNS, async () => (await phonesInPage(db, { ...everyone, search: 'person 4321' }, {})).rows.length],
      ['uncollected report', RUNS, async () => (await reports.uncollected({ actor })).rows.length],
      ['whole: holdings report (phones in + open loans)', WHOLE_RUNS, async () => (await reports.holdings({ actor })).rows.length],
      ['whole: phones in (lockers page)', WHOLE_RUNS, async () => (await records.custody.phonesIn()).length],
    ];
    const rows: Row[] = [];
    for (const [query, runs, run] of queries) {
      let rowsReturned = 0;
      for (let i = 0; i < Math.min(5, runs); i++) rowsReturned = await run();
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        await run();
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      rows.push({ query, 'rows returned': rowsReturned, runs, 'p50 ms': percentile(times, 50).toFixed(2), 'p99 ms': percentile(times, 99).toFixed(2), load: os.loadavg()[0].toFixed(1) });
    }
    console.log(`(setup and runs ${((performance.now() - setupStart) / 1000).toFixed(1)} s)`);
    printTable(`Who holds what with ${OPEN_PHONES.toLocaleString('en-GB')} phones in and ${CUSTODY.toLocaleString('en-GB')} custody records (${db.kind}; goal p99 <= 50 ms a page)`, rows);
  } finally {
    await db.close();
    // BENCH_CUSTODY_KEEP=1 leaves the database for a look with psql or sqlite3 (EXPLAIN a query).
    if (process.env.BENCH_CUSTODY_KEEP === '1') console.log(`(kept: ${target.databaseUrl ?? target.dataDir})`);
    else await target.drop();
  }
}
