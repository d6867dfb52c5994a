// "Who holds what" (the holdings report) with a school's history behind it: 5,000 people and
// 100,000 phone custody records (a term of deposits; the day's 1,500 phones still in), 2,000
// loans (60 open). p50/p99 over 200 runs, on SQLite or on PostgreSQL when DATABASE_URL is set.
// A quick run: 10,000 custody records, 200 loans, 20 runs.
import { openDatabase } from '../hub/src/db/open';
import { createRecords } from '../hub/src/records';
import { Reports } from '../hub/src/reports/reports';
import { testDatabaseTarget } from '../test/support/test-database';
import type { BenchOptions } from './options';
import { printTable } from './table';

const PEOPLE = 5000;
const OPEN_PHONES = 1500;
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
  const CUSTODY = quick ? 10_000 : 100_000;
  const LOANS = quick ? 200 : 2000;
  const RUNS = quick ? 20 : 200;
  const target = await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  try {
    const records = createRecords(db);
    for (let s = 0; s < 50; s++) await records.stations.add('bench', `room-${s}`, 32);
    await records.stations.add('bench', 'loans-1', 24);
    const setupStart = performance.now();
    await db.transaction(async (tx) => {
      const people = Array.from({ length: PEOPLE }, (_, i) => [`Q${i}`, `Person ${i}`, i < 4800 ? 'pupil' : 'staff', i < 4800 ? 'pupil' : 'staff', i < 4800 ? `F${i % 160}` : null]);
      await insertRows(tx, 'INSERT INTO people (external_id, name, kind, role, form)', 5, people);
      const base = Date.parse('2026-01-05T08:40:00.000Z');
      const custody: (string | number | null)[][] = [];
      for (let i = 0; i < CUSTODY; i++) {
        const person = (i % 4800) + 1;
        const day = Math.floor(i / 4800);
        const deposited = new Date(base + day * 86_400_000 + (i % 600) * 1000).toISOString();
        const open = i >= CUSTODY - OPEN_PHONES;
        const collected = open ? null : new Date(Date.parse(deposited) + 6.7 * 3600_000).toISOString();
        custody.push([person, `room-${person % 50}`, person % 32, deposited, collected, 1, i + 1]);
      }
      await insertRows(tx, 'INSERT INTO phone_custody (person_id, station_id, locker, deposited_at, collected_at, deposit_boot, deposit_seq)', 7, custody);
      for (let i = 0; i < 24; i++) {
        await tx.insert("INSERT INTO assets (tag, class_id, encryption, home_station, home_locker, status, registered_at) VALUES (?, ?, 'AES-256', 'loans-1', ?, 'available', '2026-01-01')", [`A${i}`, i < 16 ? 'usb-stick' : 'laptop', i]);
      }
      const loans: (string | number | null)[][] = [];
      for (let i = 0; i < LOANS; i++) {
        const open = i >= LOANS - OPEN_LOANS;
        const lent = new Date(Date.parse('2026-01-05T09:00:00.000Z') + i * 3600_000).toISOString();
        loans.push([(i % 24) + 1, 4801 + (i % 199), lent, new Date(Date.parse(lent) + 86_400_000).toISOString(), open ? null : lent, open ? null : 'returned']);
      }
      await insertRows(tx, 'INSERT INTO loans (asset_id, person_id, lent_at, due_at, closed_at, outcome)', 6, loans);
    });
    const setupSeconds = (performance.now() - setupStart) / 1000;
    const reports = new Reports(records);
    const actor = { personId: null, role: 'system' as const };
    let rowsReturned = 0;
    for (let i = 0; i < 10; i++) rowsReturned = (await reports.holdings({ actor })).rows.length;
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      await reports.holdings({ actor });
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    printTable(`"Who holds what" with ${PEOPLE.toLocaleString('en-GB')} people and ${CUSTODY.toLocaleString('en-GB')} custody records (${db.kind})`, [
      { query: 'holdings report (phones in + open loans)', 'rows returned': rowsReturned, runs: RUNS, 'p50 ms': percentile(times, 50).toFixed(2), 'p99 ms': percentile(times, 99).toFixed(2), 'setup s': setupSeconds.toFixed(1) },
    ]);
  } finally {
    await db.close();
    await target.drop();
  }
}
