// Durable ingest against the broker's own rate, in one run, for the same signed messages:
//   raw      publisher -> embedded broker (aedes) -> subscriber, QoS 1, no database
//   durable  publisher -> broker -> the hub's Ingest -> committed to the database (SQLite WAL with
//            synchronous=FULL by default; PostgreSQL when DATABASE_URL is set), acknowledged
// Events are deposits and collections across 50 stations of 32 lockers. Goal (README
// "Performance"): durable >= 10,000 events/s and >= 50 % of raw on the 2-core reference machine.
// BENCH_EVENTS sets the number of events (default 20,000; 2,000 in a quick run).
import os from 'node:os';
import mqtt from 'mqtt';
import { EVENT, FRAME } from '../protocol/wire';
import { startBroker } from '../hub/src/broker';
import { openDatabase, sqliteFile } from '../hub/src/db/open';
import { Ingest } from '../hub/src/ingest';
import { createLogger } from '../hub/src/log';
import { seal } from '../hub/src/protocol/sealed';
import { createRecords } from '../hub/src/records';
import { testDatabaseTarget } from '../test/support/test-database';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';
import { buildHistory, bytesWritten, commitRate, printWalPages, settleHistory, HISTORY_LOCKERS, HISTORY_STATIONS, historyFrames, clearTrace, printTrace, traceTransactions } from './ingest-history';

const STATIONS = 50;
const LOCKERS = 32;

interface Message {
  topic: string;
  payload: Buffer;
}

/** `count` signed frames of `boot`: each station's pupils deposit, then collect, in turn. */
function messages(keys: string[], boot: number, count: number, pupilIds: number[]): Message[] {
  const out: Message[] = [];
  const seqs = new Array(STATIONS).fill(0);
  for (let i = 0; i < count; i++) {
    const station = i % STATIONS;
    const seq = ++seqs[station];
    const locker = Math.floor((seq - 1) / 2) % LOCKERS;
    const type = seq % 2 === 1 ? EVENT.DEPOSIT : EVENT.COLLECT;
    const frame = new Map<number, unknown>([
      [FRAME.STATION, `bench-${station}`],
      [FRAME.BOOT, boot],
      [FRAME.SEQ, seq],
      [FRAME.UPTIME_MS, seq * 2500],
      [FRAME.WALL_TIME, Date.now()],
      [FRAME.TYPE, type],
      [FRAME.LOCKER, locker],
      [FRAME.PERSON, pupilIds[station * LOCKERS + locker]],
      [FRAME.BADGE, new Uint8Array(8).fill(station)],
    ]);
    out.push({ topic: `handover/bench/bench-${station}/events`, payload: Buffer.from(seal(keys[station], frame)) });
  }
  return out;
}

/** Stations publish with a bounded number of events awaiting the broker's PUBACK, as a station's journal does. */
const IN_FLIGHT = 1000;

async function publishAll(port: number, batch: Message[]): Promise<mqtt.MqttClient> {
  const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `bench-pub-${Math.random()}` });
  let next = 0;
  const send = () => {
    if (next >= batch.length) return;
    const message = batch[next++];
    publisher.publish(message.topic, message.payload, { qos: 1 }, send);
  };
  for (let i = 0; i < IN_FLIGHT; i++) send();
  return publisher;
}

async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`benchmark timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export async function benchIngest({ quick }: BenchOptions): Promise<void> {
  const count = Number(process.env.BENCH_EVENTS ?? (quick ? 2000 : 20_000));
  const target = await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  const records = createRecords(db);
  const keys: string[] = [];
  for (let s = 0; s < STATIONS; s++) keys.push((await records.stations.add('bench', `bench-${s}`, LOCKERS)).station_key);
  const pupilIds: number[] = [];
  await db.transaction(async (tx) => {
    for (let i = 0; i < STATIONS * LOCKERS; i++) {
      pupilIds.push(await tx.insert("INSERT INTO people (external_id, name, kind, role, form) VALUES (?, ?, 'pupil', 'pupil', ?)", [`B${i}`, `Bench Pupil ${i}`, `F${Math.floor(i / 30)}`]));
    }
  });
  const broker = await startBroker('127.0.0.1', 0);
  const rows: Row[] = [];
  try {
    // Raw: the broker alone.
    const raw = messages(keys, 1, count, pupilIds);
    // The same session kind as the hub's ingest (persistent, QoS 1): only the database differs.
    const subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'bench-sub', clean: false });
    let received = 0;
    subscriber.on('message', () => received++);
    await subscriber.subscribeAsync('handover/bench/+/events', { qos: 1 });
    let started = performance.now();
    let publisher = await publishAll(broker.port, raw);
    await until(() => received >= count, 120_000, 'the raw subscriber');
    const rawSeconds = (performance.now() - started) / 1000;
    await publisher.endAsync();
    await subscriber.endAsync();

    // Durable: the hub's ingest, committing to the database.
    const durable = messages(keys, 2, count, pupilIds);
    const ingest = new Ingest({ brokerUrl: `mqtt://127.0.0.1:${broker.port}`, clientId: 'bench-hub', db, custody: records.custody, log: createLogger('ingest', () => {}), maxBatch: 500 });
    await ingest.start();
    started = performance.now();
    publisher = await publishAll(broker.port, durable);
    await until(() => ingest.stored + ingest.duplicates >= count || ingest.rejections.length > 0, 300_000, 'the ingest');
    const durableSeconds = (performance.now() - started) / 1000;
    if (ingest.rejections.length > 0) throw new Error(`ingest rejected: ${ingest.rejections[0].reason}`);
    const batches = ingest.batches;
    await publisher.endAsync();
    await ingest.stop();
    const verified = await records.audit.verify();

    const rawRate = count / rawSeconds;
    const durableRate = count / durableSeconds;
    rows.push({ path: 'raw: publisher -> broker -> subscriber', events: count, seconds: rawSeconds.toFixed(2), 'events/s': Math.round(rawRate), 'of raw': '100 %', commits: '-' });
    rows.push({
      path: `durable: -> ingest -> ${db.kind === 'postgres' ? 'PostgreSQL' : 'SQLite (WAL, fsync per commit)'}`,
      events: count,
      seconds: durableSeconds.toFixed(2),
      'events/s': Math.round(durableRate),
      'of raw': `${Math.round((100 * durableRate) / rawRate)} %`,
      commits: `${batches} (${Math.round(count / batches)} events each)`,
    });
    if (!verified.ok) throw new Error(`audit chain broken after the run: ${verified.problem?.message}`);
  } finally {
    await broker.close();
    await db.close();
    await target.drop();
  }
  printTable(`Durable ingest vs the broker's raw rate (${count} signed events, 50 stations; goal >= 10,000/s and >= 50 % of raw)`, rows);
}

/**
 * The ingest's commit rate on an empty database and after history is built behind it (see
 * ingest-history.ts): goal within ±20 % of the empty rate at every size. Sizes: 0, 1 M, 10 M
 * stored events (quick: 0, 20,000, 100,000), or BENCH_HISTORY_SIZES=0,1000000.
 */
export async function benchIngestHistory({ quick }: BenchOptions): Promise<void> {
  const sizes = (process.env.BENCH_HISTORY_SIZES ?? (quick ? '0,20000,100000' : '0,1000000,10000000')).split(',').map(Number);
  const measured = Number(process.env.BENCH_EVENTS ?? (quick ? 2000 : 20_000));
  const target = await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  const rows: Row[] = [];
  try {
    const records = createRecords(db);
    for (let s = 0; s < HISTORY_STATIONS; s++) await records.stations.add('bench', `bench-${s}`, HISTORY_LOCKERS);
    const pupilIds: number[] = [];
    await db.transaction(async (tx) => {
      for (let i = 0; i < HISTORY_STATIONS * HISTORY_LOCKERS; i++) {
        pupilIds.push(await tx.insert("INSERT INTO people (external_id, name, kind, role, form) VALUES (?, ?, 'pupil', 'pupil', ?)", [`H${i}`, `History Pupil ${i}`, `F${Math.floor(i / 30)}`]));
      }
    });
    traceTransactions(db);
    let built = 0;
    let boot = 1;
    let firstRate = 0;
    for (const size of sizes) {
      const buildStarted = performance.now();
      if (size > built) {
        // In steps of a million: one transaction of ten million rows would hold them all in memory.
        for (let from = built; from < size; from = Math.min(size, from + 1_000_000)) await buildHistory(db, pupilIds.length, from, Math.min(size, from + 1_000_000));
        built = size;
        await settleHistory(db, sqliteFile(target));
      }
      const buildSeconds = (performance.now() - buildStarted) / 1000;
      // Two rounds: the first warms the caches (and the boot's marks); the second is timed.
      await commitRate(records, historyFrames(boot++, Math.min(measured, 2000), pupilIds), 500);
      clearTrace();
      const writtenBefore = bytesWritten();
      const rate = await commitRate(records, historyFrames(boot++, measured, pupilIds), 500);
      const written = writtenBefore === null ? null : bytesWritten()! - writtenBefore;
      printTrace(`${size} stored events`);
      await printWalPages(db, sqliteFile(target), () => commitRate(records, historyFrames(boot++, 2000, pupilIds), 500), 4, `${size} stored events`);
      if (!firstRate) firstRate = rate;
      const stored = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM station_events');
      rows.push({
        'events stored before': size.toLocaleString('en-GB'),
        'events committed': measured,
        'events/s': Math.round(rate),
        'of empty': `${Math.round((100 * rate) / firstRate)} %`,
        // SQLite's own writes (in this process; PostgreSQL's are the server's).
        ...(db.kind === 'sqlite' && written !== null ? { 'KiB written per event': (written / 1024 / measured).toFixed(1) } : {}),
        'stored after': Number(stored!.n).toLocaleString('en-GB'),
        'history built s': buildSeconds.toFixed(1),
        load: os.loadavg()[0].toFixed(1),
      });
    }
  } finally {
    await db.close();
    await target.drop();
  }
  printTable(`Ingest commit rate against the history stored (${db.kind}, batches of 500, ${HISTORY_STATIONS} stations; goal within ±20 % of the empty rate)`, rows);
}
