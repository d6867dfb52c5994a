// MQTT ingest: every frame a station publishes is decoded, validated and stored, or rejected
// with a logged reason (never silently dropped). A bad frame never stops the hub. Events are
// committed in batches and acknowledged after the commit (see Ingest).
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { boardOf, encodeAck, eventName, openEventFrame, type EventFrame } from './protocol/frames';
import { TOPIC } from '../../protocol/wire';
import { parseStationTopic, stationsFilter } from '../../protocol/topics';
import type { CustodyRecords, IncomingEvent } from './records/custody';
import { boardName } from './records/station-boards';
import type { SqlDatabase } from './db/sql';
import type { Logger } from './log';
import { ThrottledLog } from './log-throttle';
import { sharedFilter } from './broker/access';

export interface IngestOptions {
  brokerUrl: string;
  clientId: string;
  /** Credentials and TLS (the hub's user name and password; the CA to trust). */
  mqttOptions?: IClientOptions;
  db: SqlDatabase;
  custody: CustodyRecords;
  log: Logger;
  /** Most events committed in one transaction (settings.ingestBatch). */
  maxBatch?: number;
  /**
   * Tests only (settings.testCommitDelayMs): hold each batch this long after the broker has its
   * PUBACK and before the commit, logging it, so a test can kill the hub inside that window.
   */
  commitDelayMs?: number;
  /**
   * One of several hubs (cluster/): events and status are read through this shared-subscription
   * group (broker/access.ts hubShareGroup), so each frame reaches one hub, and with a clean session,
   * so the broker queues nothing for a hub that is gone (the stations resend what no hub
   * acknowledged, to the others).
   */
  shareGroup?: string;
  /** Called after each batch is committed with what it changed (cluster/change-relay.ts tells the other hubs). */
  onChanges?: (changes: IngestChange[]) => void;
}

/** What a stored event or status changed, as the live page hears it. */
export interface IngestChange {
  kind: 'event' | 'status';
  stationId: string;
  status?: string;
  frame?: { type: number; seq: number; locker?: number };
}

export interface Rejection {
  /** The station the topic names ('' when the topic names none). */
  station: string;
  topic: string;
  reason: string;
  /** When the frame arrived (ISO 8601). */
  at: string;
  /** The payload's size in bytes. */
  bytes: number;
}

type BatchEvent = IncomingEvent & { topic: string; key: string; bytes: number };

interface Arrival {
  topic: string;
  payload: Uint8Array;
  receivedAt: string;
}

/** "boot 3 #17", with the board first when the frame names one: "board 5a3c91f0 boot 3 #17". */
function describeEvent(frame: EventFrame): string {
  const board = boardOf(frame);
  return `${board ? `board ${boardName(board)} ` : ''}boot ${frame.boot} #${frame.seq}`;
}

/** How long a station's key (or that there is no such station) is trusted from memory before it is read again. */
const STATION_CACHE_MS = 5000;
/** Most station ids remembered at once: past it the oldest is forgotten, so invented ids cost no memory that stays. */
const STATION_CACHE_MAX = 1000;
/** Longest topic kept with a rejection. */
const TOPIC_KEPT = 200;
/** Longest a batch waits for more events to join it while they keep arriving. */
const LINGER_MS = 20;
/**
 * A batch stops lingering when this many turns of the event loop in a row bring nothing new. One
 * quiet turn is common in the middle of a burst (the MQTT client parses what a socket read brought
 * a few packets at a time); at a trickle two quiet turns cost microseconds.
 */
const QUIET_TURNS = 2;
/** Above this many events in a batch, one summary line is logged instead of one per event. */
const LOG_EACH_UP_TO = 20;
/** Most station names the per-station count of refused frames keeps (a trust has 2,500 stations). */
const MAX_COUNTED_STATIONS = 10_000;

/**
 * Messages are queued as they arrive and drained in batches: every event that arrived while the
 * previous batch was being committed goes into the next transaction (at most maxBatch), and each
 * station boot is acknowledged once per batch, with the highest sequence committed — only after
 * the commit. At a trickle a batch is one event, so nothing waits.
 */
export class Ingest extends EventEmitter {
  private options: IngestOptions;
  private client: MqttClient | null = null;
  readonly rejections: Rejection[] = [];
  /** Frames already stored that came again (the last 1000): acknowledged, never stored twice. */
  readonly replays: Rejection[] = [];
  stored = 0;
  duplicates = 0;
  batches = 0;
  private waiting: Arrival[] = [];
  private draining: Promise<void> | null = null;
  private stationKeys = new Map<string, { key: string | null; site: string | null; readAt: number }>();
  private lastArrival = { ms: 0, iso: '' };
  /** Rejections are logged once per station and reason per minute, with a count. */
  private rejectionLog: ThrottledLog;
  /** Every refusal since the hub started (the list above keeps only the last 1000). */
  rejectedTotal = 0;
  /** The same, per station its topic named (a school's account counts its own stations'); at most MAX_COUNTED_STATIONS names, the rest under ''. */
  private rejectedByStation = new Map<string, number>();
  /**
   * Page updates held back while frames wait to be stored (overload), the latest per station:
   * emitted once the queue is empty. Storing and acknowledging come first; a page needs only to
   * know that something changed.
   */
  private heldChanges = new Map<string, IngestChange>();
  /** Changes held back and merged into a later one since the hub started. */
  shedChanges = 0;

  constructor(options: IngestOptions) {
    super();
    this.options = options;
    this.rejectionLog = new ThrottledLog((line) => options.log.warn(line));
  }

  async start(): Promise<void> {
    const client = mqtt.connect(this.options.brokerUrl, {
      ...this.options.mqttOptions,
      // A persistent session: the broker keeps QoS 1 events for the hub while it restarts (one hub alone).
      clientId: this.options.clientId,
      clean: Boolean(this.options.shareGroup),
      reconnectPeriod: 1000,
    });
    this.client = client;
    client.on('message', (topic, payload) => {
      this.waiting.push({ topic, payload, receivedAt: this.arrivalTime() });
      if (!this.draining) this.draining = this.drain().finally(() => (this.draining = null));
    });
    client.on('error', (error) => this.options.log.warn(`broker: ${error.message}`));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const group = this.options.shareGroup;
    const filters = [stationsFilter('+', 'EVENTS'), stationsFilter('+', 'STATUS')].map((filter) => (group ? sharedFilter(filter, group) : filter));
    const granted = await client.subscribeAsync(filters, { qos: 1 });
    const refused = granted.filter((grant) => grant.qos === 128).map((grant) => grant.topic);
    if (refused.length) throw new Error(`the broker refused the subscription to ${refused.join(', ')}`);
    this.options.log.info(`listening on ${this.options.brokerUrl}`);
  }

  /** Frames received and not yet stored: while there are any, page updates and badge pushes wait. */
  get busy(): boolean {
    return this.waiting.length > 0;
  }

  /**
   * A change for the live page: sent now when nothing waits to be stored, else held (the latest
   * per station) until the queue is empty. Emits `change`, and `idle` when held work may run.
   */
  private noteChange(change: IngestChange): void {
    if (!this.busy && this.heldChanges.size === 0) {
      this.emit('change', change);
      return;
    }
    if (this.heldChanges.has(change.stationId)) this.shedChanges++;
    this.heldChanges.delete(change.stationId);
    this.heldChanges.set(change.stationId, change);
  }

  private releaseHeld(): void {
    const held = [...this.heldChanges.values()];
    this.heldChanges.clear();
    for (const change of held) this.emit('change', change);
    this.emit('idle');
  }

  async stop(): Promise<void> {
    while (this.draining) await this.draining;
    this.rejectionLog.stop();
    await this.client?.endAsync();
    this.client = null;
  }

  /** Frames refused since the hub started from the stations `ours` accepts (a school's). */
  rejectedAt(ours: (station: string) => boolean): number {
    let total = 0;
    for (const [station, count] of this.rejectedByStation) if (station !== '' && ours(station)) total += count;
    return total;
  }

  /**
   * Every refused frame is kept (the last 1000, GET /api/rejections) and logged with station,
   * reason and time: the first of each station and kind of reason in a minute as it comes, the
   * rest of that minute as one line with their count (a flood must not fill the disk).
   */
  private reject(topic: string, reason: string, at = new Date().toISOString(), bytes = 0): void {
    const station = (parseStationTopic(topic)?.station ?? '').slice(0, 64);
    if (topic.length > TOPIC_KEPT) topic = `${topic.slice(0, TOPIC_KEPT)}…`;
    if (reason.length > TOPIC_KEPT) reason = `${reason.slice(0, TOPIC_KEPT)}…`;
    const rejection: Rejection = { station, topic, reason, at, bytes };
    this.rejections.push(rejection);
    if (this.rejections.length > 1000) this.rejections.shift();
    this.rejectedTotal++;
    // Topics are the sender's to choose: a flood of made-up station names must not grow the map.
    const counted = this.rejectedByStation.has(station) || this.rejectedByStation.size < MAX_COUNTED_STATIONS ? station : '';
    this.rejectedByStation.set(counted, (this.rejectedByStation.get(counted) ?? 0) + 1);
    // The kind of reason: its words before any detail, numbers left out.
    const kind = reason.split(/[:"(]/)[0].replace(/\d+/g, '#').trim();
    this.rejectionLog.note(`${station}|${kind}`, `rejected frames from station ${station || '?'} (${kind})`, () => `rejected frame on ${topic} from station ${station || '?'} at ${at} (${bytes} bytes): ${reason}`);
    this.emit('rejected', rejection);
  }

  /** Tells the live page here (`change`, held while frames wait to be stored), and the other hubs through onChanges. */
  private announce(changes: IngestChange[]): void {
    for (const change of changes) this.noteChange(change);
    if (changes.length) this.options.onChanges?.(changes);
  }

  /** Now as ISO 8601 text; frames arriving within the same millisecond share one string. */
  private arrivalTime(): string {
    const now = Date.now();
    if (now !== this.lastArrival.ms) this.lastArrival = { ms: now, iso: new Date(now).toISOString() };
    return this.lastArrival.iso;
  }

  /** The station's key and registered site while the cached copy is fresh, else undefined (read them with stationKey). */
  private cachedStationKey(stationId: string): { key: string | null; site: string | null } | undefined {
    const cached = this.stationKeys.get(stationId);
    return cached && Date.now() - cached.readAt < STATION_CACHE_MS ? cached : undefined;
  }

  private async stationKey(stationId: string): Promise<{ key: string | null; site: string | null }> {
    const row = await this.options.db.get<{ station_key: string; site: string }>('SELECT station_key, site FROM stations WHERE id = ?', [stationId]);
    const entry = { key: row?.station_key ?? null, site: row?.site ?? null, readAt: Date.now() };
    this.stationKeys.delete(stationId);
    if (this.stationKeys.size >= STATION_CACHE_MAX) this.stationKeys.delete(this.stationKeys.keys().next().value!);
    this.stationKeys.set(stationId, entry);
    return entry;
  }

  private async drain(): Promise<void> {
    const maxBatch = this.options.maxBatch ?? 500;
    while (this.waiting.length > 0) {
      // Each commit waits for the disk, so a burst should go into few commits. While more keeps
      // arriving (the queue grew during the last turn of the event loop), let it arrive, up to
      // maxBatch or LINGER_MS; at a trickle nothing grows and the event is committed at once
      // (after QUIET_TURNS turns of the event loop).
      const lingerUntil = Date.now() + LINGER_MS;
      let still = 0;
      for (;;) {
        const before = this.waiting.length;
        if (before >= maxBatch || Date.now() >= lingerUntil) break;
        await new Promise((resolve) => setImmediate(resolve));
        if (this.waiting.length !== before) still = 0;
        else if (++still >= QUIET_TURNS) break;
      }
      const arrivals = this.waiting.splice(0, maxBatch);
      try {
        await this.handleBatch(arrivals);
      } catch (error) {
        // Nothing was acknowledged: the stations keep these events in their journals and resend.
        for (const arrival of arrivals) this.reject(arrival.topic, `internal error: ${(error as Error).message}`, arrival.receivedAt, arrival.payload.length);
      }
    }
    this.releaseHeld();
  }

  /** A status message stored; the reason to refuse it, or null. */
  private async storeStatus(stationId: string, { payload, receivedAt }: Arrival): Promise<string | null> {
    const status = Buffer.from(payload).toString('utf8');
    if (status !== 'online' && status !== 'offline') return `bad status ${JSON.stringify(status.slice(0, 20))}`;
    await this.options.db.run('UPDATE stations SET status = ?, last_seen = ? WHERE id = ?', [status, receivedAt, stationId]);
    this.announce([{ kind: 'status', stationId, status }]);
    return null;
  }

  /** An event frame verified with the station's own key and decoded into `events`; else the reason to refuse it. */
  private acceptEvent(stationId: string, key: string, { topic, payload, receivedAt }: Arrival, events: BatchEvent[]): string | null {
    const decoded = openEventFrame(key, payload);
    if (!decoded.ok) return decoded.reason;
    const frame: EventFrame = decoded.frame;
    if (frame.station !== stationId) return `frame names station ${frame.station}, topic names ${stationId}`;
    events.push({ frame, receivedAt, topic, key, bytes: payload.length });
    return null;
  }

  private async handleBatch(arrivals: Arrival[]): Promise<void> {
    const events: BatchEvent[] = [];
    for (const arrival of arrivals) {
      const named = parseStationTopic(arrival.topic);
      if (!named || (named.kind !== 'EVENTS' && named.kind !== 'STATUS')) {
        this.reject(arrival.topic, 'unexpected topic', arrival.receivedAt, arrival.payload.length);
        continue;
      }
      const { station: stationId, kind } = named;
      // The key from memory needs no await: nearly every frame takes this path.
      const { key, site } = this.cachedStationKey(stationId) ?? (await this.stationKey(stationId));
      // A station speaks for its own school only (issue 16): the broker's ACL keeps it to its
      // site's topics, and should an external broker's ACL be wrong the hub still refuses.
      const refusal =
        key === null
          ? `unknown station ${stationId}`
          : site !== named.site
            ? `station ${stationId} is registered for site ${site}, topic names site ${named.site}`
            : kind === 'STATUS'
              ? await this.storeStatus(stationId, arrival)
              : this.acceptEvent(stationId, key, arrival, events);
      if (refusal !== null) this.reject(arrival.topic, refusal, arrival.receivedAt, arrival.payload.length);
    }
    if (events.length === 0) return;

    if (this.options.commitDelayMs) {
      const seqs = events.map(({ frame }) => `${frame.station} boot ${frame.boot} #${frame.seq}`).join(', ');
      this.options.log.warn(`test setting: holding ${events.length} received event(s) ${this.options.commitDelayMs} ms before the commit: ${seqs}`);
      await new Promise((resolve) => setTimeout(resolve, this.options.commitDelayMs));
    }
    const results = await this.options.custody.applyBatch(events);
    this.batches++;
    // Committed (SQLite synchronous=FULL, PostgreSQL COMMIT): only now may the stations forget
    // the events. One acknowledgement per station boot (station, board, boot): the highest
    // sequence committed. None for a boot with an event that clashes with a stored one: the mark
    // counts the stored event, not this one, and the station must keep it.
    const acks = new Map<string, { topic: string; key: string; board: number; boot: number; seq: number } | null>();
    events.forEach((event, i) => {
      const board = boardOf(event.frame);
      const id = `${event.frame.station}/${board}/${event.frame.boot}`;
      const seq = results[i].committedSeq;
      const ack = acks.get(id);
      if (results[i].clash) acks.set(id, null);
      else if (ack === undefined || (ack !== null && seq > ack.seq)) acks.set(id, { topic: event.topic.slice(0, -TOPIC.EVENTS.length) + TOPIC.ACK, key: event.key, board, boot: event.frame.boot, seq });
    });
    for (const ack of acks.values()) if (ack) this.client?.publish(ack.topic, Buffer.from(encodeAck(ack.key, ack.boot, ack.seq, ack.board)), { qos: 1 });

    let stored = 0;
    const changes: IngestChange[] = [];
    events.forEach(({ frame, topic, receivedAt, bytes }, i) => {
      if (results[i].clash) {
        // Two lives of the station with the same board identity (or a copied board): never confirmed.
        this.reject(topic, `clash: ${describeEvent(frame)} is stored with other content; not stored, not acknowledged`, receivedAt, bytes);
        return;
      }
      if (!results[i].stored) {
        // A replay (a station resending after a lost acknowledgement, or someone repeating a
        // captured frame): acknowledged as above so the station can let go, never stored twice.
        // Kept apart from `rejections` (the station's own resends are normal after an outage).
        this.duplicates++;
        const replay: Rejection = { station: frame.station, topic, reason: `replayed: ${describeEvent(frame)} is already stored`, at: receivedAt, bytes };
        this.replays.push(replay);
        if (this.replays.length > 1000) this.replays.shift();
        if (events.length <= LOG_EACH_UP_TO) this.options.log.info(`replayed frame on ${topic} from station ${frame.station} at ${receivedAt}: ${describeEvent(frame)} is already stored (acknowledged again, not stored)`);
        return;
      }
      stored++;
      this.stored++;
      if (events.length <= LOG_EACH_UP_TO) {
        this.options.log.info(`${frame.station} boot ${frame.boot} #${frame.seq} ${eventName(frame.type)}${frame.locker !== undefined ? ` locker ${frame.locker}` : ''}${boardOf(frame) ? ` (board ${boardName(boardOf(frame))})` : ''}`);
      }
      changes.push({ kind: 'event', stationId: frame.station, frame: { type: frame.type, seq: frame.seq, ...(frame.locker !== undefined ? { locker: frame.locker } : {}) } });
    });
    this.announce(changes);
    if (events.length > LOG_EACH_UP_TO) this.options.log.info(`stored ${stored} events (${events.length - stored} repeats) from ${acks.size} station boots in one commit`);
  }
}
