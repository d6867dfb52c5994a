// The trust scenario (issue 16): a frame generator standing in for a trust's stations at
// registration (bench/trust-stations.ts, a process of its own) publishes real signed frames over
// real MQTT to the hub's embedded broker and ingest, on PostgreSQL when DATABASE_URL is set. On
// PostgreSQL with Mosquitto installed it runs twice more on Mosquitto, as a trust deploys: one hub
// process, then two (bench/trust-hub.ts each, sharing the events through the shared subscription).
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
import { mosquittoBinary, startMosquitto, type Mosquitto } from '../test/support/mosquitto';
import { testDatabaseTarget, type TestDatabaseTarget } from '../test/support/test-database';
import type { SqlDatabase } from '../hub/src/db/sql';
import type { BenchOptions } from './options';
import { printTable } from './table';

const PUPILS_PER_STATION = 30;
const SITE = 'trust';
/** A station resends its unconfirmed frames when the oldest has waited this long. */
const RESEND_MS = 10_000;

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Runs the generator with `plan`; its one JSON line of results. */
function generate(plan: unknown): Promise<Record<string, number>> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'trust-stations.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
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

interface TrustStation {
  id: string;
  key: string;
  pupils: number[];
}

/** A database with the trust's stations and pupils. */
async function prepare(stationCount: number): Promise<{ db: SqlDatabase; target: TestDatabaseTarget; stations: TrustStation[] }> {
  const target = await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  const records = createRecords(db);
  const stations: TrustStation[] = [];
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
  return { db, target, stations };
}

/** The broker alone: the same number of frames, published as fast as it takes them, to one subscriber. */
async function rawRate(port: number, stations: TrustStation[]): Promise<number> {
  const events = stations.length * PUPILS_PER_STATION;
  const subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'trust-raw-sub', clean: false });
  let received = 0;
  subscriber.on('message', () => received++);
  await subscriber.subscribeAsync(`handover/${SITE}/+/events`, { qos: 1 });
  const raw = await generate({ port, site: SITE, stations, tapsAt: stations.map(() => []), mode: 'raw', resendMs: RESEND_MS });
  while (received < events) await new Promise((resolve) => setTimeout(resolve, 10));
  await subscriber.endAsync();
  // A clean session afterwards, so the broker keeps nothing queued for this subscriber.
  const clear = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'trust-raw-sub', clean: true });
  await clear.endAsync();
  return Math.round(raw.frames / raw.seconds);
}

/** One hub's ingest in a process of its own (bench/trust-hub.ts), subscribed when this resolves. */
async function startHubProcess(plan: { brokerUrl: string; dataDir: string; databaseUrl: string | null; clientId: string; maxBatch: number }): Promise<{ stop(): Promise<{ cpuMs: number; commits: number }> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'trust-hub.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts.filter(Boolean));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdin.end(JSON.stringify(plan));
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (lines.length > 0) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(check);
      reject(new Error(`hub process ${plan.clientId} exited with ${code} before it was ready`));
    });
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`hub process ${plan.clientId} exited with ${code}`);
      return JSON.parse(lines.at(-1)!) as { cpuMs: number; commits: number };
    },
  };
}

interface RushFigures {
  events: number;
  result: Record<string, number>;
  hubCpuMs: number;
  commits: number;
  busy: string;
  raw: number;
}

function figuresRow(setup: string, hubs: number, { events, result, hubCpuMs, commits, busy, raw }: RushFigures, windowMs: number): Record<string, string | number> {
  return {
    setup,
    hubs,
    deposits: events,
    'tap->committed p50 ms': result.p50.toFixed(0),
    'p99 ms': result.p99.toFixed(0),
    'max ms': result.max.toFixed(0),
    'resent/new': `${result.resent}/${result.fresh} (${((100 * result.resent) / result.fresh).toFixed(1)} %)`,
    'hub CPU per event ms': (hubCpuMs / events).toFixed(3),
    'hub busy %': busy,
    commits,
    'broker raw frames/s': raw,
    'needed frames/s (mean)': Math.round(events / (windowMs / 1000)),
  };
}

async function checkStored(db: SqlDatabase, events: number): Promise<void> {
  const stored = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM phone_custody');
  if (Number(stored!.n) !== events) throw new Error(`${events} deposits tapped, ${Number(stored!.n)} stored`);
}

/** The embedded broker and one hub's ingest in this process (the default deployment). */
async function rushEmbedded(stationCount: number, windowMs: number): Promise<RushFigures> {
  const { db, target, stations } = await prepare(stationCount);
  const broker = await startBroker('127.0.0.1', 0);
  let ingest: Ingest | null = null;
  try {
    const records = createRecords(db);
    const events = stationCount * PUPILS_PER_STATION;
    const raw = await rawRate(broker.port, stations);
    ingest = new Ingest({ brokerUrl: `mqtt://127.0.0.1:${broker.port}`, clientId: 'trust-hub', db, custody: records.custody, log: createLogger('ingest', () => {}), maxBatch: 500 });
    await ingest.start();
    const cpuBefore = process.cpuUsage();
    const eluBefore = performance.eventLoopUtilization();
    const result = await generate({ port: broker.port, site: SITE, stations, tapsAt: tapTimes(stations, windowMs), mode: 'timed', resendMs: RESEND_MS });
    const cpu = process.cpuUsage(cpuBefore);
    const elu = performance.eventLoopUtilization(eluBefore);
    await checkStored(db, events);
    return { events, result, hubCpuMs: (cpu.user + cpu.system) / 1000, commits: ingest.batches, busy: (100 * elu.utilization).toFixed(0), raw };
  } finally {
    await ingest?.stop();
    await broker.close();
    await db.close();
    await target.drop();
  }
}

/** Mosquitto and `hubs` hub processes on one PostgreSQL, the events spread by the shared subscription. */
async function rushMosquitto(stationCount: number, windowMs: number, hubs: number): Promise<RushFigures> {
  const { db, target, stations } = await prepare(stationCount);
  let mosquitto: Mosquitto | null = null;
  const running: Array<Awaited<ReturnType<typeof startHubProcess>>> = [];
  try {
    mosquitto = await startMosquitto();
    const events = stationCount * PUPILS_PER_STATION;
    const raw = await rawRate(mosquitto.port, stations);
    for (let h = 0; h < hubs; h++) {
      running.push(await startHubProcess({ brokerUrl: mosquitto.url, dataDir: target.dataDir, databaseUrl: target.databaseUrl, clientId: `trust-hub-${h}`, maxBatch: 500 }));
    }
    const result = await generate({ port: mosquitto.port, site: SITE, stations, tapsAt: tapTimes(stations, windowMs), mode: 'timed', resendMs: RESEND_MS });
    const stopped = [];
    for (const hub of running.splice(0)) stopped.push(await hub.stop());
    await checkStored(db, events);
    return { events, result, hubCpuMs: stopped.reduce((sum, hub) => sum + hub.cpuMs, 0), commits: stopped.reduce((sum, hub) => sum + hub.commits, 0), busy: '—', raw };
  } finally {
    for (const hub of running) await hub.stop().catch(() => {});
    await mosquitto?.stop();
    await db.close();
    await target.drop();
  }
}

function tapTimes(stations: TrustStation[], windowMs: number): number[][] {
  const random = prng(16);
  return stations.map(() => Array.from({ length: PUPILS_PER_STATION }, () => burstTime(random, windowMs)));
}

export async function benchTrust({ quick }: BenchOptions): Promise<void> {
  const stationCount = Number(process.env.BENCH_TRUST_STATIONS ?? (quick ? 50 : 2500));
  const windowMs = Number(process.env.BENCH_TRUST_WINDOW_S ?? (quick ? 15 : 600)) * 1000;
  const onPostgres = Boolean(process.env.DATABASE_URL);
  const rows = [];
  // The embedded broker is for one school (README "Several hubs"): a trust's full rush is run on Mosquitto only.
  if (!onPostgres || quick || process.env.BENCH_TRUST_EMBEDDED === '1') rows.push(figuresRow('embedded broker, in the hub', 1, await rushEmbedded(stationCount, windowMs), windowMs));
  if (onPostgres && mosquittoBinary()) {
    for (const hubs of [1, 2]) rows.push(figuresRow('Mosquitto, hub processes', hubs, await rushMosquitto(stationCount, windowMs, hubs), windowMs));
  }
  const events = stationCount * PUPILS_PER_STATION;
  printTable(`Trust registration rush: ${stationCount.toLocaleString('en-GB')} stations x ${PUPILS_PER_STATION} pupils = ${events.toLocaleString('en-GB')} deposits in ${windowMs / 1000} s over MQTT (${onPostgres ? 'postgres' : 'sqlite'}; goals with one hub: p99 <= 2 s, resent/new <= 5 %; hub CPU: the broker's included only when embedded)`, rows);
}
