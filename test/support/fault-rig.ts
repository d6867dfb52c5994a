// Fault runs: the built bundle in the simulator, a real Mosquitto, and the hub as its own process
// (`bin/handover.mjs serve` with HANDOVER_EMBEDDED_BROKER=false), so each of them can be killed and
// started again. Every record the station writes to its flash journal is watched as it is written;
// at the end `reconcile` compares that list with the hub's database, keyed by (station, boot, seq)
// (and by board, for a rig whose board was swapped: `swapBoard`).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { openDatabase } from '../../hub/src/db/open';
import type { SqlDatabase } from '../../hub/src/db/sql';
import { openEventFrame } from '../../hub/src/protocol/frames';
import { People, parseUid, schoolBadgeKey } from '../../hub/src/records/people';
import { stationConfig } from '../../hub/src/records/station-config';
import { Stations } from '../../hub/src/records/stations';
import { crc32 } from '../../hardware/sim/espruino-env';
import { SimulatedStation } from '../../hardware/sim/simulated-station';
import { visitLocker, type VisitResult } from '../../hardware/sim/scripted-person';
import { badgeFileName } from '../../firmware/src/station/badge-list';
import { JOURNAL_HEADER_BYTES, JOURNAL_PREFIX, JOURNAL_RECORD_BYTES } from '../../firmware/src/storage/journal';
import { EVENT } from '../../protocol/wire';
import { eventually } from './eventually';
import { Mosquitto } from './mosquitto';
import { BUNDLE, FAST_TIMING, TEST_PACE } from './station-rig';
import { testDatabaseTarget, type TestDatabaseTarget } from './test-database';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SITE = 'demo';
export const STATION_ID = 'form-7a';
const COMPLETIONS = new Set<number>([EVENT.DEPOSIT, EVENT.COLLECT]);

export interface JournaledEvent {
  boot: number;
  seq: number;
  type: number;
  locker: number;
  person: number;
}

/**
 * Every whole record the station writes into its journal segments (hj.<n>), read back from the
 * simulated flash right after each write: the station's journal, including what it has since
 * erased as confirmed.
 */
export class JournalWatch {
  readonly events = new Map<string, JournaledEvent>();
  /** Listeners for each new record (tests wait on them). */
  private listeners: Array<(event: JournaledEvent) => void> = [];

  constructor(station: SimulatedStation) {
    const storage = station.storage;
    // What is in flash already (a watch attached after boot), then every record as it is written.
    for (const name of storage.list().filter((n) => n.startsWith(JOURNAL_PREFIX))) {
      const size = storage.readBytes(name)!.length;
      for (let offset = JOURNAL_HEADER_BYTES; offset + JOURNAL_RECORD_BYTES <= size; offset += JOURNAL_RECORD_BYTES) this.readRecord(station, name, offset);
    }
    const write = storage.write.bind(storage);
    storage.write = (name: string, data: unknown, offset?: number, size?: number) => {
      const done = write(name, data, offset, size);
      if (name.startsWith(JOURNAL_PREFIX) && (offset ?? 0) >= JOURNAL_HEADER_BYTES) this.readRecord(station, name, offset!);
      return done;
    };
  }

  private readRecord(station: SimulatedStation, name: string, offset: number): void {
    const file = station.storage.readBytes(name)!;
    const record = file.subarray(offset, offset + JOURNAL_RECORD_BYTES);
    const body = record.subarray(0, JOURNAL_RECORD_BYTES - 4);
    const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
    if (record[0] === 0xff || crc32(body) !== view.getUint32(JOURNAL_RECORD_BYTES - 4)) return; // erased, or torn: never journaled
    const event: JournaledEvent = {
      boot: new DataView(file.buffer, file.byteOffset).getUint32(4),
      seq: view.getUint32(4),
      type: record[0],
      locker: record[1] === 255 ? -1 : record[1],
      person: view.getUint32(16),
    };
    this.events.set(`${event.boot}/${event.seq}`, event);
    for (const listener of this.listeners) listener(event);
  }

  onEvent(listener: (event: JournaledEvent) => void): void {
    this.listeners.push(listener);
  }

  count(type?: number): number {
    let n = 0;
    for (const event of this.events.values()) if (type === undefined || event.type === type) n++;
    return n;
  }
}

export interface Reconciliation {
  journaled: number;
  inHub: number;
  lost: string[];
  doubled: string[];
  /** In the hub but never journaled by the station (should not exist). */
  unknown: string[];
}

/**
 * The hub's records of the station against its journal: each journaled event exactly once. With
 * `board`, only that board's events (a station whose board was swapped has two journals).
 */
export async function reconcile(db: SqlDatabase, watch: JournalWatch, stationId = STATION_ID, board?: number): Promise<Reconciliation> {
  const rows = await db.all<{ boot: number; seq: number; n: number }>(
    `SELECT boot, seq, COUNT(*) AS n FROM station_events WHERE station_id = ?${board === undefined ? '' : ' AND board = ?'} GROUP BY boot, seq`,
    board === undefined ? [stationId] : [stationId, board],
  );
  const inHub = new Map(rows.map((row) => [`${Number(row.boot)}/${Number(row.seq)}`, Number(row.n)]));
  // Effects are doubled if one event left two audit records (each stored event leaves one).
  const audit = await db.all<{ details: string }>("SELECT details FROM audit_log WHERE actor = ? AND action LIKE 'event.%'", [`station:${stationId}`]);
  const audited = new Map<string, number>();
  for (const { details } of audit) {
    const parsed = JSON.parse(details) as { board?: number; boot: number; seq: number };
    if (board !== undefined && (parsed.board ?? 0) !== board) continue;
    const id = `${parsed.boot}/${parsed.seq}`;
    audited.set(id, (audited.get(id) ?? 0) + 1);
  }
  const lost = [...watch.events.keys()].filter((id) => !inHub.has(id));
  const doubled = [...new Set([...inHub].filter(([, n]) => n > 1).map(([id]) => id).concat([...audited].filter(([, n]) => n > 1).map(([id]) => id)))];
  const unknown = [...inHub.keys()].filter((id) => !watch.events.has(id));
  return { journaled: watch.events.size, inHub: inHub.size, lost, doubled, unknown };
}

export function describeReconciliation(name: string, r: Reconciliation): string {
  return `${name}: journaled ${r.journaled}, in the hub ${r.inHub}, lost ${r.lost.length}, doubled ${r.doubled.length}, unknown ${r.unknown.length}`;
}

/** The hub as a child process: `node bin/handover.mjs serve` against an external broker. */
export class HubProcess {
  lines: string[] = [];
  url = '';
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private env: NodeJS.ProcessEnv;

  constructor(options: { dataDir: string; databaseUrl: string | null; mqttPort: number; commitDelayMs?: number }) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HANDOVER_DATA_DIR: options.dataDir,
      HANDOVER_SITE: SITE,
      HANDOVER_EMBEDDED_BROKER: 'false',
      HANDOVER_MQTT_HOST: '127.0.0.1',
      HANDOVER_MQTT_PORT: String(options.mqttPort),
      HANDOVER_HTTP_HOST: '127.0.0.1',
      HANDOVER_HTTP_PORT: '0',
      HANDOVER_HA_PREFIX: '',
      HANDOVER_TEST_COMMIT_DELAY_MS: String(options.commitDelayMs ?? 0),
    };
    if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
    else delete env.DATABASE_URL;
    this.env = env;
  }

  /** Starts the hub and waits until it serves its page (its ingest is subscribed by then). */
  async start(overrides: NodeJS.ProcessEnv = {}): Promise<this> {
    if (this.child) throw new Error('hub already running');
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/handover.mjs'), 'serve'], { cwd: ROOT, env: { ...this.env, ...overrides }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let buffered = '';
    const take = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) this.lines.push(line);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    let gone = false;
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      gone = true;
      if (this.child === child) this.child = null;
    });
    const started = this.lines.length;
    const line = await eventually(
      () => {
        if (gone) throw new Error(`the hub exited: ${this.lines.slice(-5).join(' | ')}`);
        return this.lines.slice(started).find((l) => l.includes('Handover hub running'));
      },
      30_000,
      'the hub to start',
    );
    this.url = /Office page: (\S+)\//.exec(line!)![1];
    return this;
  }

  async waitForLine(pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<string> {
    return (await eventually(() => this.lines.slice(from).find((line) => pattern.test(line)), timeoutMs, `a hub log line matching ${pattern}`))!;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Sends `signal` and waits for the exit (a hub that does not stop on SIGTERM within 15 s gets SIGKILL). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(force);
    this.child = null;
  }
}

export interface FaultRigOptions {
  pupils: number;
  lockers?: number;
  commitDelayMs?: number;
}

/**
 * A form's locker bank: `pupils` pupils with badges in the hub's database, one registered station
 * running the built bundle, Mosquitto, and the hub process. Start with `start()`, end with `stop()`.
 */
export class FaultRig {
  mosquitto = new Mosquitto();
  target!: TestDatabaseTarget;
  hub!: HubProcess;
  station!: SimulatedStation;
  watch!: JournalWatch;
  /** A listener on the broker: every event frame that passed through it, by boot/seq. */
  listener: MqttClient | null = null;
  framesSeen: string[] = [];
  onFrame: (id: string) => void = () => {};
  pupils: Array<{ uid: string; person: number }> = [];
  private options: FaultRigOptions;
  stationKey = '';
  /** What was flashed onto the first board, for a replacement board (swapBoard). */
  private flashed: { config: object; badgeList: Uint8Array } | null = null;
  private lastVisit = new Map<string, number>();

  constructor(options: FaultRigOptions) {
    this.options = options;
  }

  async start(): Promise<this> {
    await this.mosquitto.start();
    this.target = await testDatabaseTarget();
    const { db } = await openDatabase({ dataDir: this.target.dataDir, databaseUrl: this.target.databaseUrl });
    let config: object;
    let badgeList: Uint8Array;
    try {
      const people = new People(db);
      for (let i = 0; i < this.options.pupils; i++) {
        const uid = (0x04c00000 + i).toString(16).padStart(8, '0');
        const person = await people.add({ externalId: `P${i + 1}`, name: `Pupil ${i + 1}`, role: 'pupil', form: '7A' });
        await people.enrolBadge(person, parseUid(uid));
        this.pupils.push({ uid, person });
      }
      const row = await new Stations(db).add(SITE, STATION_ID, this.options.lockers ?? 32);
      this.stationKey = row.station_key;
      config = {
        ...stationConfig(row, await schoolBadgeKey(db), { host: '127.0.0.1', port: this.mosquitto.port }),
        keepAliveSec: 5,
        unlockPulseMs: 300,
        doorDebounceMs: 20,
        timing: FAST_TIMING,
      };
      badgeList = await people.stationBadgeList(1);
    } finally {
      await db.close();
    }
    this.hub = new HubProcess({ dataDir: this.target.dataDir, databaseUrl: this.target.databaseUrl, mqttPort: this.mosquitto.port, commitDelayMs: this.options.commitDelayMs });
    await this.hub.start();
    await this.listen();

    this.flashed = { config, badgeList };
    await this.bootNewBoard(`${STATION_ID}.flash`);
    return this;
  }

  /** A board with empty flash, given the firmware, the station's configuration and badge list, booted. */
  private async bootNewBoard(flashName: string): Promise<void> {
    this.station = new SimulatedStation({ flashFile: path.join(this.target.dataDir, flashName), doorBounceMs: 3 });
    this.watch = new JournalWatch(this.station);
    this.station.installFirmware(BUNDLE);
    this.station.writeConfig(this.flashed!.config);
    this.station.writeFile(badgeFileName(1), this.flashed!.badgeList);
    this.station.boot();
    await eventually(() => this.watch.count(EVENT.BOOT) >= 1, 10_000, 'the station to boot');
  }

  /**
   * The board is replaced: the old one is switched off, and another board with empty flash gets
   * the same firmware, configuration (station id and key) and badge list, and boots. Returns the
   * old board and its journal; `station` and `watch` are the new board's.
   */
  async swapBoard(): Promise<{ station: SimulatedStation; watch: JournalWatch }> {
    const old = { station: this.station, watch: this.watch };
    old.station.powerOff();
    await this.bootNewBoard(`${STATION_ID}.board${Date.now()}.flash`);
    return old;
  }

  /** The board identity a station's flash holds ("<boot>/<board>" in handover.boot; 0 without one). */
  static boardOf(station: SimulatedStation): number {
    const text = station.storage.read('handover.boot') ?? '';
    return Number(text.split('/')[1] ?? 0) || 0;
  }

  /** Subscribes a plain client to the station's events on the broker (it reconnects by itself). */
  private async listen(): Promise<void> {
    this.listener = await mqtt.connectAsync(this.mosquitto.url, { clientId: `fault-listener-${process.pid}`, reconnectPeriod: 200 });
    this.listener.on('message', (topic, payload) => {
      if (!topic.endsWith('/events')) return;
      const opened = openEventFrame(this.stationKey, new Uint8Array(payload));
      if (!opened.ok) return;
      const id = `${opened.frame.boot}/${opened.frame.seq}`;
      this.framesSeen.push(id);
      this.onFrame(id);
    });
    await this.listener.subscribeAsync(`handover/${SITE}/${STATION_ID}/events`, { qos: 1 });
  }

  /** A pupil taps, uses the locker that opens and shuts it; waits until the station journals the opening's end. */
  async visit(uid: string): Promise<VisitResult> {
    const sinceLast = Date.now() - (this.lastVisit.get(uid) ?? 0);
    if (sinceLast < 600) await new Promise((resolve) => setTimeout(resolve, 600 - sinceLast));
    const before = new Set(this.watch.events.keys());
    const result = await visitLocker(this.station, uid, TEST_PACE);
    this.lastVisit.set(uid, Date.now());
    if (result.locker === null) throw new Error(`no locker opened for ${uid}; station log: ${this.station.logLines.slice(-5).join(' | ')}`);
    await eventually(
      () => [...this.watch.events].some(([id, e]) => !before.has(id) && COMPLETIONS.has(e.type) && e.locker === result.locker),
      10_000,
      `the opening of locker ${result.locker} to be journaled`,
    );
    return result;
  }

  /** Opens the hub's database from the test (SQLite file or PostgreSQL), for reading records. */
  async withDb<T>(use: (db: SqlDatabase) => Promise<T>): Promise<T> {
    const { db } = await openDatabase({ dataDir: this.target.dataDir, databaseUrl: this.target.databaseUrl });
    try {
      return await use(db);
    } finally {
      await db.close();
    }
  }

  /**
   * Waits until every journaled event is in the hub's database, then returns the comparison. With
   * `board`, of that board's events only (and `watch`, that board's journal).
   */
  async settle(timeoutMs = 45_000, watch = this.watch, board?: number): Promise<Reconciliation> {
    return this.withDb(async (db) => {
      let last = await reconcile(db, watch, STATION_ID, board);
      const deadline = Date.now() + timeoutMs;
      while (last.lost.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        last = await reconcile(db, watch, STATION_ID, board);
      }
      return last;
    });
  }

  async stop(): Promise<void> {
    this.station?.powerOff();
    await this.listener?.endAsync(true).catch(() => {});
    await this.hub?.kill('SIGTERM');
    await this.mosquitto.dispose();
    await this.target?.drop();
  }
}
