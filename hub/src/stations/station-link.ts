// The hub's command channel to its stations: signed commands with a strictly increasing counter,
// each answered by a signed reply; the stations' retained state and online/offline status; the
// wall-clock time and the current badge list pushed to a station when it comes online.
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { COMMAND, MSG, REFUSAL, TOPIC, topicBase } from '../../../firmware/src/protocol/wire';
import { LOCKER_STATE_NAMES } from '../../../firmware/src/station/lockers';
import { cborDecode, seal, unseal } from '../protocol/sealed';
import type { Logger } from '../log';
import { ThrottledLog } from '../log-throttle';

export interface StationLinkOptions {
  brokerUrl: string;
  clientId: string;
  /** Credentials and TLS (the hub's user name and password; the CA to trust). */
  mqttOptions?: IClientOptions;
  site: string;
  log: Logger;
  /** The station's signing key (hex), or undefined for a station the hub does not know. */
  keyOf(stationId: string): Promise<string | undefined>;
  /** The badge-list file every station should hold, with its version; null if none yet. */
  badgeList(): Promise<{ version: number; file: Uint8Array } | null>;
  /**
   * 'session': the embedded broker reports each station's own authenticated connection (onSession),
   * and online/offline follows it; 'status' (an external broker, whose ACL lets only the station
   * write its status topic): its retained birth message and will. Either way the hub answers a
   * birth message at most once per connection.
   */
  liveness?: 'session' | 'status';
  /** Bytes per badge-list chunk (each chunk is one signed command). */
  chunkBytes?: number;
  replyTimeoutMs?: number;
}

export interface CommandResult {
  ok: boolean;
  refusal: string | null;
  version?: number;
}

export interface StationState {
  stationId: string;
  online: boolean;
  boot?: number;
  firmware?: string;
  lockers?: string[];
  badgeListVersion?: number;
  journalBacklog?: number;
  memory?: { used: number; total: number };
  reader?: string;
  uptimeSec?: number;
  updatedAt: string;
}

const REFUSAL_NAMES = new Map<number, string>(Object.entries(REFUSAL).map(([name, code]) => [code, name.toLowerCase().replace(/_/g, '-')]));
const TOPIC_PATTERN = /^handover\/([^/]+)\/([^/]+)\/(reply|state|status)$/;

interface Pending {
  resolve(result: CommandResult): void;
  timer: NodeJS.Timeout;
}

export class StationLink extends EventEmitter {
  private options: StationLinkOptions;
  private client: MqttClient | null = null;
  private counters = new Map<string, number>();
  private pending = new Map<string, Pending>();
  private pushing = new Set<string>();
  /** Stations connected (liveness 'session') whose birth message has not been answered yet. */
  private awaitingBirth = new Set<string>();
  readonly states = new Map<string, StationState>();
  /** Refused state reports and replies: logged once per station and reason a minute, with a count. */
  private refusals: ThrottledLog;

  constructor(options: StationLinkOptions) {
    super();
    this.options = options;
    this.refusals = new ThrottledLog((line) => options.log.warn(line));
  }

  private refuse(kind: string, stationId: string, reason: string): void {
    const short = reason.split(/[:"(]/)[0].replace(/\d+/g, '#').trim();
    this.refusals.note(`${stationId}|${kind}|${short}`, `${kind} from ${stationId} rejected (${short})`, () => `${kind} from ${stationId} rejected: ${reason.slice(0, 200)}`);
  }

  async start(): Promise<void> {
    const client = mqtt.connect(this.options.brokerUrl, { ...this.options.mqttOptions, clientId: this.options.clientId, clean: true, reconnectPeriod: 1000 });
    this.client = client;
    client.on('message', (topic, payload) => {
      this.handle(topic, new Uint8Array(payload)).catch((error) => this.options.log.warn(`station link: ${(error as Error).message}`));
    });
    client.on('error', (error) => this.options.log.warn(`station link: ${error.message}`));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const base = `handover/${this.options.site}/+`;
    await client.subscribeAsync([`${base}${TOPIC.REPLY}`, `${base}${TOPIC.STATE}`, `${base}${TOPIC.STATUS}`], { qos: 1 });
  }

  async stop(): Promise<void> {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.resolve({ ok: false, refusal: 'hub stopping' });
    }
    this.pending.clear();
    this.refusals.stop();
    await this.client?.endAsync();
    this.client = null;
  }

  private nextCounter(stationId: string): number {
    // Time-based, so it keeps rising across hub restarts without being stored.
    const counter = Math.max((this.counters.get(stationId) ?? 0) + 1, Date.now());
    this.counters.set(stationId, counter);
    return counter;
  }

  /** Publishes a plain message (Home Assistant discovery and its JSON state). */
  publishPlain(topic: string, payload: string, retain: boolean): void {
    this.client?.publish(topic, payload, { qos: 1, retain });
  }

  /** Sends one signed command and waits for the station's reply. */
  async command(stationId: string, kind: number, fields: Array<[number, unknown]> = []): Promise<CommandResult> {
    const client = this.client;
    if (!client) throw new Error('station link is not started');
    const key = await this.options.keyOf(stationId);
    if (!key) throw new Error(`unknown station ${stationId}`);
    const counter = this.nextCounter(stationId);
    const message = new Map<number, unknown>([
      [MSG.STATION, stationId],
      [MSG.COUNTER, counter],
      [MSG.COMMAND, kind],
      ...fields,
    ]);
    const result = new Promise<CommandResult>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(`${stationId}/${counter}`);
        resolve({ ok: false, refusal: 'no reply (station offline?)' });
      }, this.options.replyTimeoutMs ?? 5000);
      this.pending.set(`${stationId}/${counter}`, { resolve, timer });
    });
    await client.publishAsync(`${topicBase(this.options.site, stationId)}${TOPIC.COMMAND}`, Buffer.from(seal(key, message)), { qos: 1 });
    return result;
  }

  unlock(stationId: string, locker: number, actor: number): Promise<CommandResult> {
    return this.command(stationId, COMMAND.UNLOCK, [[MSG.LOCKER, locker], [MSG.ACTOR, actor]]);
  }

  setHold(stationId: string, locker: number, safeguarding: boolean, actor: number): Promise<CommandResult> {
    const hold = LOCKER_STATE_NAMES.indexOf(safeguarding ? 'safeguarding-held' : 'held');
    return this.command(stationId, COMMAND.SET_HOLD, [[MSG.LOCKER, locker], [MSG.HOLD, hold], [MSG.ACTOR, actor]]);
  }

  releaseHold(stationId: string, locker: number, actor: number): Promise<CommandResult> {
    return this.command(stationId, COMMAND.RELEASE_HOLD, [[MSG.LOCKER, locker], [MSG.ACTOR, actor]]);
  }

  openAll(stationId: string, actor: number): Promise<CommandResult> {
    return this.command(stationId, COMMAND.OPEN_ALL, [[MSG.ACTOR, actor]]);
  }

  setTime(stationId: string): Promise<CommandResult> {
    return this.command(stationId, COMMAND.SET_TIME, [[MSG.WALL_TIME, Date.now()]]);
  }

  setConfig(stationId: string, configJson: string): Promise<CommandResult> {
    return this.command(stationId, COMMAND.SET_CONFIG, [[MSG.CONFIG, configJson]]);
  }

  /** Sends a badge-list file in order, chunk by chunk, then asks the station to check and switch. */
  async pushBadgeList(stationId: string, version: number, file: Uint8Array): Promise<CommandResult> {
    const begin = await this.command(stationId, COMMAND.BADGES_BEGIN, [[MSG.VERSION, version], [MSG.SIZE, file.length]]);
    if (!begin.ok) return begin;
    const chunkBytes = this.options.chunkBytes ?? 1024;
    for (let offset = 0; offset < file.length; offset += chunkBytes) {
      const chunk = file.subarray(offset, offset + chunkBytes);
      const sent = await this.command(stationId, COMMAND.BADGES_CHUNK, [[MSG.VERSION, version], [MSG.OFFSET, offset], [MSG.DATA, chunk]]);
      if (!sent.ok) return sent;
      this.emit('badge-progress', { stationId, sent: offset + chunk.length, total: file.length });
    }
    return this.command(stationId, COMMAND.BADGES_COMMIT, [[MSG.VERSION, version]]);
  }

  private async handle(topic: string, payload: Uint8Array): Promise<void> {
    const match = TOPIC_PATTERN.exec(topic);
    if (!match) return;
    const [, , stationId, kind] = match;
    if (kind === 'status') return this.onStatus(stationId, Buffer.from(payload).toString('utf8'));
    const key = await this.options.keyOf(stationId);
    if (!key) return this.refuse(kind, stationId.slice(0, 64), 'unknown station');
    const opened = unseal(key, payload);
    if (!opened.ok) return this.refuse(kind, stationId, opened.reason);
    const message = cborDecode(opened.body);
    if (!(message instanceof Map)) return this.refuse(kind, stationId, 'not a map');
    if (kind === 'reply') this.onReply(stationId, message);
    else this.onState(stationId, message);
  }

  private onReply(stationId: string, message: Map<unknown, unknown>): void {
    const counter = message.get(MSG.COUNTER);
    const pending = this.pending.get(`${stationId}/${counter}`);
    const ok = message.get(MSG.OK) === true;
    const refusal = ok ? null : (REFUSAL_NAMES.get(message.get(MSG.DETAIL) as number) ?? `refusal ${String(message.get(MSG.DETAIL))}`);
    if (!ok) this.options.log.warn(`station ${stationId} refused command ${String(counter)}: ${refusal}`);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending.delete(`${stationId}/${counter}`);
    const version = message.get(MSG.VERSION);
    pending.resolve({ ok, refusal, ...(typeof version === 'number' ? { version } : {}) });
  }

  private onState(stationId: string, message: Map<unknown, unknown>): void {
    const lockers = message.get(MSG.LOCKERS);
    const memory = message.get(MSG.MEMORY);
    const state: StationState = {
      stationId,
      // Online comes from the session or the status topic only (a state report arriving first,
      // as retained ones may after a hub restart, must not hide the birth message that follows).
      online: this.states.get(stationId)?.online ?? false,
      boot: message.get(MSG.BOOT) as number,
      firmware: message.get(MSG.FIRMWARE) as string,
      lockers: lockers instanceof Uint8Array ? [...lockers].map((code) => LOCKER_STATE_NAMES[code] ?? `state-${code}`) : undefined,
      badgeListVersion: message.get(MSG.VERSION) as number,
      journalBacklog: message.get(MSG.BACKLOG) as number,
      memory: Array.isArray(memory) ? { used: memory[0], total: memory[1] } : undefined,
      reader: message.get(MSG.READER) as string,
      uptimeSec: message.get(MSG.UPTIME) as number,
      updatedAt: new Date().toISOString(),
    };
    this.states.set(stationId, state);
    this.emit('state', state);
    void this.keepCurrent(stationId, state);
  }

  /** The embedded broker saw the station's own authenticated connection open or close. */
  onSession(stationId: string, online: boolean): void {
    if (online) this.awaitingBirth.add(stationId);
    else this.awaitingBirth.delete(stationId);
    this.setOnline(stationId, online);
  }

  private setOnline(stationId: string, online: boolean): void {
    const previous = this.states.get(stationId);
    this.states.set(stationId, { ...(previous ?? { stationId }), stationId, online, updatedAt: new Date().toISOString() });
    this.emit('status', { stationId, online });
  }

  private onStatus(stationId: string, status: string): void {
    const online = status === 'online';
    if (this.options.liveness === 'session') {
      // The connection says whether it is online; the birth message only that it is ready, once per connection.
      if (online && this.awaitingBirth.delete(stationId)) this.onBirth(stationId);
      return;
    }
    const wasOnline = this.states.get(stationId)?.online === true;
    this.setOnline(stationId, online);
    if (online && !wasOnline) this.onBirth(stationId);
  }

  private onBirth(stationId: string): void {
    this.setTime(stationId).catch((error) => this.options.log.warn(`time to ${stationId}: ${(error as Error).message}`));
  }

  /** A station that reports an older badge list than the hub's gets the current one, once at a time. */
  private async keepCurrent(stationId: string, state: StationState): Promise<void> {
    if (this.pushing.has(stationId)) return;
    const list = await this.options.badgeList();
    if (!list || (state.badgeListVersion ?? 0) >= list.version) return;
    this.pushing.add(stationId);
    try {
      const result = await this.pushBadgeList(stationId, list.version, list.file);
      if (result.ok) this.options.log.info(`badge list ${list.version} (${list.file.length} bytes) sent to ${stationId}`);
      else this.options.log.warn(`badge list ${list.version} to ${stationId} failed: ${result.refusal}`);
    } finally {
      this.pushing.delete(stationId);
    }
  }
}
