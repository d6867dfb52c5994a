// The trust scenario (issue 16): a frame generator standing in for a trust's stations at
// registration (bench/trust-stations.ts, a process of its own) publishes real signed frames over
// real MQTT to the hub's embedded broker and ingest, on PostgreSQL when DATABASE_URL is set.
// Full: 2,500 stations x 30 pupils = 75,000 deposits in 10 minutes; quick: 50 x 30 in 15 s. Taps
// follow the registration burst: a triangular shape peaking a quarter of the way in. Printed:
// tap->committed p50/p99 (publish to the acknowledgement that covers it), resent/new frames, the
// hub process's CPU per event (ingest and broker; PostgreSQL's own work is not in it), and beside
// it the broker's raw rate for the same frames in the same run. Goals (one hub, 2-core machine):
// p99 <= 2 s, resent/new <= 5 %.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { startBroker } from '../hub/src/broker';
import { insertRows } from '../hub/src/db/bulk';
import { openDatabase } from '../hub/src/db/open';
import { Ingest } from '../hub/src/ingest';
import { createLogger } from '../hub/src/log';
import { createRecords } from '../hub/src/records';
import { prng } from '../test/support/prng';
import { testDatabaseTarget } from '../test/support/test-database';
import type { BenchOptions } from './options';
import { printTable } from './table';

const PUPILS_PER_STATION = 30;
const SITE = 'trust';
/** A station resends its unconfirmed frames when the oldest has waited this long. */
const RESEND_MS = 10_000;

/** Runs the generator with `plan`; its one JSON line of results. */
function generate(plan: unknown): Promise<Record<string, number>> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'trust-stations.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stdin.end(JSON.stringify(plan));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`the station generator exited with ${code}`))));
  });
}

/** Triangular on [0, window], peaking at a quarter: the registration rush. */
function burstTime(random: () => number, window: number): number {
  const peak = 0.25;
  const u = random();
  return window * (u < peak ? Math.sqrt(u * peak) : 1 - Math.sqrt((1 - u) * (1 - peak)));
}

export async function benchTrust({ quick }: BenchOptions): Promise<void> {
  const stationCount = Number(process.env.BENCH_TRUST_STATIONS ?? (quick ? 50 : 2500));
  const windowMs = Number(process.env.BENCH_TRUST_WINDOW_S ?? (quick ? 15 : 600)) * 1000;
  const target = await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  const broker = await startBroker('127.0.0.1', 0);
  let ingest: Ingest | null = null;
  try {
    const records = createRecords(db);
    const stations: Array<{ id: string; key: string; pupils: number[] }> = [];
    for (let s = 0; s < stationCount; s++) {
      const id = `t-${String(s).padStart(4, '0')}`;
      stations.push({ id, key: (await records.stations.add(SITE, id, 32)).station_key, pupils: [] });
    }
    await db.transaction(async (tx) => {
      const rows = stations.flatMap((station, s) => Array.from({ length: PUPILS_PER_STATION }, (_, p) => [`T${s}-${p}`, `Trust Pupil ${s}-${p}`, 'pupil', 'pupil', `F${s}`]));
      await insertRows(tx, 'people', [['external_id', 'text'], ['name', 'text'], ['kind', 'text'], ['role', 'text'], ['form', 'text']], rows);
      const ids = await tx.all<{ id: number; external_id: string }>("SELECT id, external_id FROM people WHERE external_id LIKE 'T%'");
      const byRef = new Map(ids.map((row) => [row.external_id, Number(row.id)]));
      stations.forEach((station, s) => {
        for (let p = 0; p < PUPILS_PER_STATION; p++) station.pupils.push(byRef.get(`T${s}-${p}`)!);
      });
    });
    const events = stationCount * PUPILS_PER_STATION;

    // The broker alone, the same frames, in this run.
    const subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'trust-raw-sub', clean: false });
    let received = 0;
    subscriber.on('message', () => received++);
    await subscriber.subscribeAsync(`handover/${SITE}/+/events`, { qos: 1 });
    const raw = await generate({ port: broker.port, site: SITE, stations, tapsAt: stations.map(() => []), mode: 'raw', resendMs: RESEND_MS });
    while (received < events) await new Promise((resolve) => setTimeout(resolve, 10));
    await subscriber.endAsync();

    ingest = new Ingest({ brokerUrl: `mqtt://127.0.0.1:${broker.port}`, clientId: 'trust-hub', db, custody: records.custody, log: createLogger('ingest', () => {}), maxBatch: 500 });
    await ingest.start();
    const random = prng(16);
    const tapsAt = stations.map(() => Array.from({ length: PUPILS_PER_STATION }, () => burstTime(random, windowMs)));
    const cpuBefore = process.cpuUsage();
    const eluBefore = performance.eventLoopUtilization();
    const result = await generate({ port: broker.port, site: SITE, stations, tapsAt, mode: 'timed', resendMs: RESEND_MS });
    const cpu = process.cpuUsage(cpuBefore);
    const elu = performance.eventLoopUtilization(eluBefore);
    const stored = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM phone_custody');
    if (Number(stored!.n) !== events) throw new Error(`${events} deposits tapped, ${Number(stored!.n)} stored`);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    printTable(`Trust registration rush: ${stationCount.toLocaleString('en-GB')} stations x ${PUPILS_PER_STATION} pupils = ${events.toLocaleString('en-GB')} deposits in ${windowMs / 1000} s over MQTT, one hub (${db.kind}; goals p99 <= 2 s, resent/new <= 5 %)`, [
      {
        deposits: events,
        'tap->committed p50 ms': result.p50.toFixed(0),
        'p99 ms': result.p99.toFixed(0),
        'max ms': result.max.toFixed(0),
        'resent/new': `${result.resent}/${result.fresh} (${((100 * result.resent) / result.fresh).toFixed(1)} %)`,
        'hub CPU per event ms': (cpuMs / events).toFixed(3),
        'hub busy %': (100 * elu.utilization).toFixed(0),
        'commits': ingest.batches,
        'broker raw frames/s': Math.round(raw.frames / raw.seconds),
        'needed frames/s (mean)': Math.round(events / (windowMs / 1000)),
      },
    ]);
  } finally {
    await ingest?.stop();
    await broker.close();
    await db.close();
    await target.drop();
  }
}
