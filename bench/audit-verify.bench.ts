// `audit verify` on a large trail: BENCH_AUDIT_EVENTS station events (default 1,000,000:
// deposits and collections across 50 stations of 32 lockers) applied through the hub's records
// in batches of 1,000, as the ingest does, which writes one audit record per event, an anchor
// record per batch, and the custody rows the anchors cover. Then the whole verification the
// CLI runs: the chain walked and every anchored row re-read and compared. Then BENCH_AUDIT_LATER
// more events (default 1 % of them) and the incremental verify from the head the full one passed
// at. SQLite by default, PostgreSQL when DATABASE_URL is set. CPU is the bench process's own (on
// PostgreSQL the server's work is beside it). BENCH_AUDIT_KEEP=DIR builds the trail in DIR
// (PostgreSQL: in a database named after DIR) and leaves it there; a later run with the same DIR
// verifies it without writing it again, then adds the later events to it (for profiling:
// `HANDOVER_DATA_DIR=DIR node --cpu-prof bin/handover.mjs audit verify`).
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { EVENT } from '../protocol/wire';
import { openDatabase } from '../hub/src/db/open';
import type { IncomingEvent } from '../hub/src/records/custody';
import { createRecords } from '../hub/src/records';
import { testDatabaseTarget, type TestDatabaseTarget } from '../test/support/test-database';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';

const STATIONS = 50;
const LOCKERS = 32;
const BATCH = 1000;

/**
 * BENCH_AUDIT_KEEP's target: the directory itself (SQLite), or on PostgreSQL a database named
 * after it (made on the first run), neither removed afterwards.
 */
async function keptTarget(dir: string): Promise<TestDatabaseTarget> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) return { dataDir: dir, databaseUrl: null, drop: async () => {} };
  const name = `handover_bench_${path.basename(dir).replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
  if (!fs.existsSync(`${dir}/built`)) {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { dataDir: dir, databaseUrl: url.toString(), drop: async () => {} };
}

export async function benchAuditVerify(options: BenchOptions): Promise<void> {
  const count = Number(process.env.BENCH_AUDIT_EVENTS ?? (options.quick ? 20_000 : 1_000_000));
  const keep = process.env.BENCH_AUDIT_KEEP;
  if (keep) fs.mkdirSync(keep, { recursive: true });
  const built = keep !== undefined && fs.existsSync(`${keep}/built`);
  const target = keep ? await keptTarget(keep) : await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  const rows: Row[] = [];
  try {
    const records = createRecords(db);
    const seqs = new Array(STATIONS).fill(0);
    const pupils: number[] = [];
    let written = 0;
    if (!built) {
      for (let s = 0; s < STATIONS; s++) await records.stations.add('bench', `bench-${s}`, LOCKERS);
      await db.transaction(async (tx) => {
        for (let i = 0; i < STATIONS * LOCKERS; i++) pupils.push(await tx.insert("INSERT INTO people (external_id, name, kind, role) VALUES (?, ?, 'pupil', 'pupil')", [`V${i}`, `Verify Pupil ${i}`]));
      });
    } else {
      // A kept trail: its pupils, and where each station's numbering and the clock got to.
      for (const row of await db.all<{ id: number }>("SELECT id FROM people WHERE external_id LIKE 'V%' ORDER BY id")) pupils.push(Number(row.id));
      for (const row of await db.all<{ station_id: string; seq: number }>('SELECT station_id, MAX(seq) AS seq FROM station_events GROUP BY station_id')) seqs[Number(row.station_id.slice('bench-'.length))] = Number(row.seq);
      written = seqs.reduce((sum, seq) => sum + seq, 0);
    }
    const start = Date.parse('2026-01-05T08:00:00.000Z');
    /** Events `from`..`to`-1, applied in batches as the ingest does. */
    const write = async (from: number, to: number) => {
      for (let done = from; done < to; done += BATCH) {
        const batch: IncomingEvent[] = [];
        for (let i = done; i < Math.min(to, done + BATCH); i++) {
          const station = i % STATIONS;
          const seq = ++seqs[station];
          const locker = Math.floor((seq - 1) / 2) % LOCKERS;
          const at = new Date(start + (written + i) * 1000).toISOString();
          batch.push({ frame: { station: `bench-${station}`, boot: 1, seq, uptimeMs: seq * 2500, type: seq % 2 === 1 ? EVENT.DEPOSIT : EVENT.COLLECT, locker, person: pupils[station * LOCKERS + locker], badge: new Uint8Array(8).fill(station) }, receivedAt: at });
        }
        await records.custody.applyBatch(batch);
        if (process.stderr.isTTY) process.stderr.write(`writing the trail: ${Math.min(to, done + BATCH)} of ${to} events\r`);
      }
    };
    const started = performance.now();
    if (!built) await write(0, count);
    if (keep) fs.writeFileSync(`${keep}/built`, `${count}\n`);
    const writeSeconds = (performance.now() - started) / 1000;

    const heapBefore = process.memoryUsage().heapUsed;
    let peakHeap = heapBefore;
    const verifyStarted = performance.now();
    const cpuBefore = process.cpuUsage();
    let chainSeconds = 0;
    const result = await records.audit.verify({
      // The chain is walked beside the table comparison (another thread or connection): when it ended.
      onProgress: (stage, done, total) => {
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        if (stage === 'records' && done >= total) chainSeconds = (performance.now() - verifyStarted) / 1000;
      },
    });
    const verifySeconds = (performance.now() - verifyStarted) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    if (!result.ok) throw new Error(`the trail did not verify: ${result.problem?.message}`);

    const later = Number(process.env.BENCH_AUDIT_LATER ?? Math.max(BATCH, Math.round(count / 100)));
    await write(count, count + later);
    const incrementalStarted = performance.now();
    const cpuBeforeIncremental = process.cpuUsage();
    const incremental = await records.audit.verify({ from: { seq: result.headSeq, hash: result.headHash, label: 'full verify' } });
    const incrementalSeconds = (performance.now() - incrementalStarted) / 1000;
    const incrementalCpu = process.cpuUsage(cpuBeforeIncremental);
    if (!incremental.ok) throw new Error(`the trail did not verify incrementally: ${incremental.problem?.message}`);
    const cpuSeconds = (usage: NodeJS.CpuUsage) => ((usage.user + usage.system) / 1e6).toFixed(1);
    rows.push({
      database: db.kind === 'postgres' ? 'PostgreSQL' : 'SQLite',
      events: written || count,
      'audit records': result.records,
      'anchored rows': result.rows,
      'writing (s)': writeSeconds.toFixed(1),
      'full verify (s)': verifySeconds.toFixed(1),
      'chain walked by (s)': chainSeconds.toFixed(1),
      'full verify CPU (s)': cpuSeconds(cpu),
      'heap growth (MB)': Math.round((peakHeap - heapBefore) / 1e6),
      'events after': later,
      'incremental (s)': incrementalSeconds.toFixed(2),
      'incremental CPU (s)': cpuSeconds(incrementalCpu),
    });
  } finally {
    await db.close();
    await target.drop();
  }
  printTable('audit verify on a large trail (full: the chain walked, every anchored row compared; incremental: what came after)', rows);
}
