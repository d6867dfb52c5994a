// A garbage flood against a running hub (`bin/handover.mjs serve`, its own process, embedded
// broker): a client holding one station's credential (a key taken from a station, the worst an
// attacker on the network can have) publishes `rate` messages a second for `seconds`: garbage on
// its own events, state, reply and status topics (the hub's ingest sees and refuses each), and on
// other and invented stations' topics (the broker refuses those). Meanwhile a real station (the
// built bundle in the simulator) takes deposits, and the office page is read every half second.
// Measured: the hub's RSS (from /proc) before, at its highest and after; its log's growth; the
// page's slowest answer and failures; the deposits committed. Used by test/faults/flood.test.ts
// (a few seconds) and bench/flood.bench.ts (60 s).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Accounts } from '../../hub/src/accounts/accounts';
import { AuditTrail } from '../../hub/src/audit/trail';
import { stationPassword } from '../../hub/src/broker/access';
import { openDatabase } from '../../hub/src/db/open';
import { People, parseUid, schoolBadgeKey } from '../../hub/src/records/people';
import { stationConfig } from '../../hub/src/records/station-config';
import { Stations } from '../../hub/src/records/stations';
import { badgeFileName } from '../../firmware/src/station/badge-list';
import { EVENT } from '../../protocol/wire';
import { SimulatedStation } from '../../hardware/sim/simulated-station';
import { visitLocker } from '../../hardware/sim/scripted-person';
import { eventually } from './eventually';
import { freePort } from './mosquitto';
import { BUNDLE, FAST_TIMING, TEST_PACE } from './station-rig';
import { testDatabaseTarget } from './test-database';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SITE = 'demo';
const REAL = 'form-7a';
const ATTACKER = 'room-66';
const PASSWORD = 'Flood-test-2026';

/** The flooding client (a worker thread's CommonJS source). */
const FLOODER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const mqtt = require('mqtt');
const client = mqtt.connect(w.url, { username: w.username, password: w.password, clientId: 'handover-' + w.username, reconnectPeriod: 500 });
client.on('error', () => {});
client.once('connect', () => {
  const own = ['events', 'state', 'reply', 'status'].map((kind) => 'handover/' + w.site + '/' + w.username + '/' + kind);
  const startedAt = Date.now();
  const stopAt = startedAt + w.seconds * 1000;
  let sent = 0;
  let garbage = 0x1234567;
  // Every 10 ms, as many as keep the rate since the start (timers run late on a busy machine).
  const timer = setInterval(() => {
    const now = Math.min(Date.now(), stopAt);
    const due = Math.floor(((now - startedAt) * w.rate) / 1000) - sent;
    for (let i = 0; i < due; i++) {
      garbage = (Math.imul(garbage, 1103515245) + 12345) >>> 0;
      const payload = Buffer.alloc(16 + (garbage % 48));
      payload.writeUInt32BE(garbage, 0);
      const pick = garbage % 10;
      // Mostly its own topics (the hub sees and refuses each), some another and invented stations'.
      const topic = pick < 7 ? own[pick % 4] : pick === 7 ? 'handover/' + w.site + '/' + w.real + '/events' : 'handover/' + w.site + '/ghost-' + (garbage % 100000) + '/events';
      client.publish(topic, payload, { qos: 0 });
      sent++;
    }
    if (now >= stopAt) {
      clearInterval(timer);
      client.end(false, {}, () => parentPort.postMessage({ sent }));
    }
  }, 10);
});
`;

export interface FloodResult {
  seconds: number;
  sent: number;
  /** Frames the hub's ingest refused (read off the Stations page at the end). */
  refusedByHub: number;
  /** Publishes the broker refused (the Stations page's counters). */
  refusedByBroker: number;
  rssStartMb: number;
  rssPeakMb: number;
  rssEndMb: number;
  logStartBytes: number;
  logGrowthBytes: number;
  pageReads: number;
  pageFailures: number;
  pageSlowestMs: number;
  /** Deposits and collections at the real station during the flood, and how many of them the hub committed. */
  depositsMade: number;
  depositsCommitted: number;
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

export async function runFlood(options: { seconds: number; rate: number; log?: (line: string) => void }): Promise<FloodResult> {
  const target = await testDatabaseTarget();
  const logFile = path.join(target.dataDir, 'hub.log');
  const mqttPort = await freePort();
  let child: ChildProcess | null = null;
  const station = new SimulatedStation({ flashFile: null, doorBounceMs: 3 });
  const pupils: string[] = [];
  try {
    // The school: pupils with badges, the real station, the attacker's station, an office account.
    const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    let config: object;
    let badgeList: Uint8Array;
    let attackerKey: string;
    try {
      const people = new People(db);
      for (let i = 0; i < 8; i++) {
        const uid = (0x04d00000 + i).toString(16).padStart(8, '0');
        await people.enrolBadge(await people.add({ externalId: `F${i + 1}`, name: `Pupil ${i + 1}`, role: 'pupil', form: '7A' }), parseUid(uid));
        pupils.push(uid);
      }
      const stations = new Stations(db);
      const row = await stations.add(SITE, REAL, 8);
      attackerKey = (await stations.add(SITE, ATTACKER, 8)).station_key;
      config = { ...stationConfig(row, await schoolBadgeKey(db), { host: '127.0.0.1', port: mqttPort }), keepAliveSec: 5, unlockPulseMs: 300, doorDebounceMs: 20, timing: FAST_TIMING };
      badgeList = await people.stationBadgeList(1);
      const accounts = new Accounts(db, new AuditTrail(db));
      await accounts.prepare();
      await accounts.add({ username: 'office-flood', role: 'office', password: PASSWORD }, 'flood rig');
    } finally {
      await db.close();
    }

    // The hub, its output into a log file as a service manager would keep it.
    const env: NodeJS.ProcessEnv = { ...process.env, HANDOVER_DATA_DIR: target.dataDir, HANDOVER_SITE: SITE, HANDOVER_MQTT_HOST: '127.0.0.1', HANDOVER_MQTT_PORT: String(mqttPort), HANDOVER_HTTP_HOST: '127.0.0.1', HANDOVER_HTTP_PORT: '0', HANDOVER_HA_PREFIX: '' };
    if (target.databaseUrl) env.DATABASE_URL = target.databaseUrl;
    else delete env.DATABASE_URL;
    const out = fs.openSync(logFile, 'a');
    child = spawn(process.execPath, [path.join(ROOT, 'bin/handover.mjs'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const hubPid = child.pid!;
    const pageUrl = await eventually(() => /Office page: (\S+)\//.exec(fs.readFileSync(logFile, 'utf8'))?.[1], 30_000, 'the hub to start');

    // Signed in to the office page.
    const cookies = new Map<string, string>();
    const remember = (response: Response) => {
      for (const cookie of response.headers.getSetCookie()) {
        const [pair] = cookie.split(';');
        const at = pair.indexOf('=');
        cookies.set(pair.slice(0, at), pair.slice(at + 1));
      }
    };
    const cookieHeader = () => [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const first = await fetch(`${pageUrl}/api/session`);
    remember(first);
    const login = await fetch(`${pageUrl}/api/login`, {
      method: 'POST',
      headers: { cookie: cookieHeader(), 'x-csrf-token': ((await first.json()) as { csrfToken: string }).csrfToken, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'office-flood', password: PASSWORD }),
    });
    if (!login.ok) throw new Error(`flood rig: could not sign in: ${login.status}`);
    remember(login);

    // The real station.
    station.installFirmware(BUNDLE);
    station.writeConfig(config);
    station.writeFile(badgeFileName(1), badgeList);
    station.boot();
    const deposits = async () => {
      const { db: check } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
      try {
        return Number((await check.get<{ n: number }>('SELECT COUNT(*) AS n FROM station_events WHERE station_id = ? AND type IN (?, ?)', [REAL, EVENT.DEPOSIT, EVENT.COLLECT]))!.n);
      } finally {
        await check.close();
      }
    };
    await eventually(async () => fs.readFileSync(logFile, 'utf8').includes(`${REAL} boot 1 #1`), 20_000, 'the real station to be heard');
    // Warmed up with ordinary work first (a deposit and its collection, the page read a few times),
    // so the starting figure is the hub at work, not the hub just started.
    const warmUp = pupils.pop()!;
    for (let i = 0; i < 2; i++) {
      // The reader takes the same card back within 400 ms as the same presentation.
      await new Promise((resolve) => setTimeout(resolve, 700));
      await visitLocker(station, warmUp, TEST_PACE);
    }
    await eventually(async () => (await deposits()) >= 2, 20_000, 'the warm-up deposit and collection');
    for (let i = 0; i < 5; i++) await (await fetch(`${pageUrl}/stations`, { headers: { cookie: cookieHeader() } })).text();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rssStartMb = rssMb(hubPid);
    const logStartBytes = fs.statSync(logFile).size;

    // The attacker, signed in with the stolen station's credential, on its own thread (its own
    // machine, in a school), so the flood does not slow the simulated station down.
    let rssPeakMb = rssStartMb;
    const pageTimes: number[] = [];
    let pageFailures = 0;
    const stopAt = Date.now() + options.seconds * 1000;
    const attacker = new Worker(FLOODER, {
      eval: true,
      workerData: { url: `mqtt://127.0.0.1:${mqttPort}`, username: ATTACKER, password: stationPassword(attackerKey), site: SITE, real: REAL, rate: options.rate, seconds: options.seconds },
    });
    const flooded = new Promise<number>((resolve, reject) => {
      attacker.once('message', (message: { sent: number }) => resolve(message.sent));
      attacker.once('error', reject);
    });
    const watch = setInterval(() => {
      rssPeakMb = Math.max(rssPeakMb, rssMb(hubPid));
      const started = performance.now();
      fetch(`${pageUrl}/stations`, { headers: { cookie: cookieHeader() }, signal: AbortSignal.timeout(5000) }).then(
        async (response) => {
          await response.text();
          if (response.ok) pageTimes.push(performance.now() - started);
          else pageFailures++;
        },
        () => pageFailures++,
      );
    }, 500);

    // Deposits and collections while it lasts (one pupil after another, each waits for the locker to close).
    let depositsMade = 0;
    const pause = Math.min(1000, (options.seconds * 1000) / 14);
    for (let round = 0; Date.now() < stopAt - 1500; round++) {
      const uid = pupils[round % pupils.length];
      const visit = await visitLocker(station, uid, TEST_PACE);
      if (visit.locker !== null) depositsMade++;
      else options.log?.(`no locker opened for ${uid}: ${station.logLines.slice(-4).join(' | ')}`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    const sent = await flooded;
    await attacker.terminate();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    clearInterval(watch);
    rssPeakMb = Math.max(rssPeakMb, rssMb(hubPid));
    const depositsCommitted = (await eventually(async () => {
      const n = (await deposits()) - 2;
      return n >= depositsMade ? n : null;
    }, 30_000, 'the deposits to be committed').catch(async () => (await deposits()) - 2))!;

    const page = await fetch(`${pageUrl}/stations`, { headers: { cookie: cookieHeader() } });
    const text = await page.text();
    const refusedByHub = Number(/data-rejected-frames>(\d+)</.exec(text)?.[1] ?? NaN);
    let refusedByBroker = 0;
    for (const match of text.matchAll(/<tr data-refusal="publish">.*?<td data-count>(\d+)<\/td>/g)) refusedByBroker += Number(match[1]);
    const result: FloodResult = {
      seconds: options.seconds,
      sent,
      refusedByHub,
      refusedByBroker,
      rssStartMb: Math.round(rssStartMb * 10) / 10,
      rssPeakMb: Math.round(rssPeakMb * 10) / 10,
      rssEndMb: Math.round(rssMb(hubPid) * 10) / 10,
      logStartBytes,
      logGrowthBytes: fs.statSync(logFile).size - logStartBytes,
      pageReads: pageTimes.length,
      pageFailures,
      pageSlowestMs: Math.round(Math.max(0, ...pageTimes)),
      depositsMade,
      depositsCommitted,
    };
    options.log?.(`hub log during the flood (${result.logGrowthBytes} bytes):\n${fs.readFileSync(logFile, 'utf8').slice(0, 20000)}`);
    return result;
  } finally {
    station.powerOff();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      const force = setTimeout(() => child!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }
    await target.drop();
  }
}
