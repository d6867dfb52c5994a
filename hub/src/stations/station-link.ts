// The hub's command channel to its stations: signed commands with a strictly increasing counter,
// each answered by a signed reply; the stations' retained state and online/offline status; the
// wall-clock time, sent only to a station whose signed state shows no clock or one that has
// drifted (each connect brings a fresh state), never on a mere "online": anyone on the broker can
// publish that, and every command costs the station work (issue 13); the badge-list transfer
// (badge-sync.ts decides when).
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { COMMAND, REFUSAL, TOPIC, topicBase } from '../../../protocol/wire';
import { LOCKER_STATE_NAMES } from '../../../protocol/lockers';
import { COMMAND_KEYS, type Command, type CommandArguments, type Reply, type StateReport } from '../../../protocol/messages';
import { parseStationTopic, stationsFilter } from '../../../protocol/topics';
import { timingProblems, unknownSettingProblems } from '../../../protocol/station-config';
import { pinMapProblems } from '../../../protocol/esp32-pins';
import { seal, unseal } from '../protocol/sealed';
import { decodeReply, decodeStateReport } from '../protocol/station-messages';
import type { Logger } from '../log';
import { signBundle, type FirmwareBundle } from '../firmware/bundle';
import { FIRMWARE_BLOCK } from '../../../protocol/firmware';
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
  /** The number of lockers the station is registered with: a state report of any other count is refused. */
  lockersOf?(stationId: string): Promise<number | undefined>;
  /**
   * 'session': the embedded broker reports each station's own authenticated connection (onSession),
   * and online/offline follows it; 'status' (an external broker, whose ACL lets only the station
   * write its status topic): its retained birth message and will. Either way nothing is sent to
   * the station because of a birth message: the time follows its signed state report.
   */
  liveness?: 'session' | 'status';
  /** Bytes per badge-list chunk (each chunk is one signed command). */
  chunkBytes?: number;
  /** Badge-list chunks sent ahead of their replies (default 2). */
  chunkWindow?: number;
  replyTimeoutMs?: number;
  /** Other hubs send commands too (several hubs): every hub hears every reply, so one to no command of this hub's is theirs, not a refusal. */
  sharedReplies?: boolean;
}

export interface CommandResult {
  ok: boolean;
  refusal: string | null;
  version?: number;
  /** RESTORE_LOCKERS: the station's locker states after it (names, as in StationState.lockers). */
  lockers?: string[];
  /** FIRMWARE_BEGIN: the bytes of the bundle the station already holds. */
  offset?: number;
}

export interface StationState {
  stationId: string;
  online: boolean;
  boot?: number;
  /** The board identity (0: firmware from before identities). */
  board?: number;
  /** The station's wall clock when it made the report (Unix ms); absent while it has none. */
  wallTime?: number;
  firmware?: string;
  lockers?: string[];
  /** Lockers (from 0) whose doors stand open, from the station's open-door bitmap; undefined if it sends none. */
  doorsOpen?: number[];
  badgeListVersion?: number;
  journalBacklog?: number;
  memory?: { used: number; total: number };
  reader?: string;
  uptimeSec?: number;
  updatedAt: string;
}

const REFUSAL_NAMES = new Map<number, string>(Object.entries(REFUSAL).map(([name, code]) => [code, name.toLowerCase().replace(/_/g, '-')]));
/** A station clock this far from the hub's is set again. */
const TIME_DRIFT_MS = 5000;

/** The lockers whose bit is set in a station's open-door bitmap (bit n = locker n, up to 64 lockers). */
export function openDoors(bitmap: number): number[] {
  const open: number[] = [];
  for (let locker = 0; locker < 64 && bitmap >= 2 ** locker; locker++) if (Math.floor(bitmap / 2 ** locker) % 2 === 1) open.push(locker);
  return open;
}

function lockerNames(codes: Uint8Array): string[] {
  return [...codes].map((code) => LOCKER_STATE_NAMES[code] ?? `state-${code}`);
}

interface Pending {
  resolve(result: CommandResult): void;
  timer: NodeJS.Timeout;
}

export class StationLink extends EventEmitter {
  private options: StationLinkOptions;
  private client: MqttClient | null = null;
  private counters = new Map<string, number>();
  private pending = new Map<string, Pending>();
  /** The site each station was last heard on (a trust deployment: its school's), for its commands. */
  private siteOf = new Map<string, string>();

  /** The site a station was last heard on (undefined before it was heard). */
  siteOfStation(stationId: string): string | undefined {
    return this.siteOf.get(stationId);
  }
  /** Stations a set-time is on its way to (one at a time). */
  private timing = new Set<string>();
  /**
   * Per station, the board/boot whose clock a set-time was accepted for: firmware from before
   * issue 13 reports no clock, and must not be sent the time (a flash write there) at every report.
   */
  private timeSet = new Map<string, string>();
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
    client.on('message', (topic, payload, packet) => {
      this.handle(topic, new Uint8Array(payload), packet.retain).catch((error) => this.options.log.warn(`station link: ${(error as Error).message}`));
    });
    client.on('error', (error) => this.options.log.warn(`station link: ${error.message}`));
    // Commands go out one after another, each after the reply to the one before: with Nagle's
    // algorithm on, each waited for the broker's delayed ACK (about 40 ms on Linux), which made a
    // 5,000-badge list (79 chunks) take 7 s instead of 1.
    client.on('connect', () => (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    // Every school's stations (issue 16): each is answered on its own site's topics.
    await client.subscribeAsync([stationsFilter('+', 'REPLY'), stationsFilter('+', 'STATE'), stationsFilter('+', 'STATUS')], { qos: 1 });
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
  async command(stationId: string, kind: number, fields: CommandArguments = {}): Promise<CommandResult> {
    if (!this.client) throw new Error('station link is not started');
    const key = await this.options.keyOf(stationId);
    if (!key) throw new Error(`unknown station ${stationId}`);
    return this.send(stationId, key, kind, fields);
  }

  /** Numbers, signs and publishes a command at once (so commands go out in the order of the calls); resolves with the reply. */
  private send(stationId: string, key: string, kind: number, fields: CommandArguments): Promise<CommandResult> {
    const client = this.client;
    if (!client) return Promise.resolve({ ok: false, refusal: 'station link is not started' });
    const counter = this.nextCounter(stationId);
    // Every command names the board the station last reported: a board that replaced it (or the same
    // board after its Storage was erased, its command counter with it) refuses a recorded one.
    const board = fields.board ?? this.states.get(stationId)?.board;
    const command: Command = { station: stationId, counter, command: kind, ...fields, ...(board ? { board } : {}) };
    const message = new Map<number, unknown>();
    for (const [name, value] of Object.entries(command) as Array<[keyof Command, unknown]>) if (value !== undefined) message.set(COMMAND_KEYS[name], value);
    const id = `${stationId}/${counter}`;
    const result = new Promise<CommandResult>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ok: false, refusal: 'no reply (station offline?)' });
      }, this.options.replyTimeoutMs ?? 5000);
      this.pending.set(id, { resolve, timer });
    });
    client.publish(`${topicBase(this.siteOf.get(stationId) ?? this.options.site, stationId)}${TOPIC.COMMAND}`, Buffer.from(seal(key, message)), { qos: 1 }, (error) => {
      const pending = error ? this.pending.get(id) : undefined;
      if (!pending) return;
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.resolve({ ok: false, refusal: `not sent: ${error!.message}` });
    });
    return result;
  }

  unlock(stationId: string, locker: number, actor: number): Promise<CommandResult> {
    return this.command(stationId, COMMAND.UNLOCK, { locker, actor });
  }

  setHold(stationId: string, locker: number, safeguarding: boolean, actor: number): Promise<CommandResult> {
    const hold = LOCKER_STATE_NAMES.indexOf(safeguarding ? 'safeguarding-held' : 'held');
    return this.command(stationId, COMMAND.SET_HOLD, { locker, hold, actor });
  }

  releaseHold(stationId: string, locker: number, actor: number): Promise<CommandResult> {
    return this.command(stationId, COMMAND.RELEASE_HOLD, { locker, actor });
  }

  openAll(stationId: string, actor: number): Promise<CommandResult> {
    return this.command(stationId, COMMAND.OPEN_ALL, { actor });
  }

  /** The hub's time, for the station's boot (and board) it names: refused in any other boot. */
  setTime(stationId: string, boot: number, board: number): Promise<CommandResult> {
    return this.command(stationId, COMMAND.SET_TIME, { wallTime: Date.now(), boot, ...(board ? { board } : {}) });
  }

  /**
   * The hub's record of what each locker holds, for a board that lost its flash: one state and one
   * owner (person id, 0 for none) per locker. Named for the boot and board of the state report it
   * answers; the station takes it only for lockers it shows free (or an item in) and not opening.
   */
  restoreLockers(stationId: string, boot: number, board: number, states: Uint8Array, owners: number[]): Promise<CommandResult> {
    const ownerBytes = new Uint8Array(owners.length * 4);
    const view = new DataView(ownerBytes.buffer);
    owners.forEach((owner, locker) => view.setUint32(locker * 4, owner, true));
    return this.command(stationId, COMMAND.RESTORE_LOCKERS, { boot, ...(board ? { board } : {}), lockers: states, owners: ownerBytes });
  }

  /**
   * A new handover.json for the station. Its timing, setting names and pin map are checked here
   * first (the checks `npm run flash` runs): a configuration with problems is refused with them
   * listed ("config: ..."), and nothing is sent.
   */
  async setConfig(stationId: string, configJson: string): Promise<CommandResult> {
    let config: any;
    try {
      config = JSON.parse(configJson);
    } catch {
      return { ok: false, refusal: 'config: not JSON' };
    }
    if (!config || typeof config !== 'object' || Array.isArray(config)) return { ok: false, refusal: 'config: not an object' };
    const pins = config.pins && typeof config.pins === 'object' ? config.pins : {};
    const problems = [...timingProblems(config), ...unknownSettingProblems(config), ...pinMapProblems(pins)];
    if (problems.length > 0) return { ok: false, refusal: `config: ${problems.join('; ')}` };
    return this.command(stationId, COMMAND.SET_CONFIG, { config: configJson });
  }

  /**
   * Sends a badge-list file in order, chunk by chunk, then asks the station to check and switch.
   * `chunkWindow` chunks may await their reply at once (2 by default): the station takes them in
   * order and holds at most that many in its receive buffer, and a round trip no longer paces the
   * whole transfer.
   */
  async pushBadgeList(stationId: string, version: number, file: Uint8Array): Promise<CommandResult> {
    const key = await this.options.keyOf(stationId);
    if (!key) throw new Error(`unknown station ${stationId}`);
    const begin = await this.send(stationId, key, COMMAND.BADGES_BEGIN, { version, size: file.length });
    if (!begin.ok) return begin;
    const sent = await this.sendChunks(stationId, file, 0, this.options.chunkBytes ?? 1024, 'badge-progress', (offset, data) => this.send(stationId, key, COMMAND.BADGES_CHUNK, { version, offset, data }));
    if (!sent.ok) return sent;
    return this.send(stationId, key, COMMAND.BADGES_COMMIT, { version });
  }

  /**
   * Sends a firmware bundle (issue 19): the begin names its version, size, hash and this station's
   * signature, and the station answers with the bytes it already holds (a transfer cut by a lost
   * connection or a reboot goes on from there); then the rest in FIRMWARE_BLOCK chunks, in order,
   * and the commit: the station checks the whole file and restarts into it. Emits
   * 'firmware-progress' {stationId, sent, total} as chunks are taken.
   */
  async pushFirmware(stationId: string, bundle: FirmwareBundle, options: { rollback?: boolean; confirmSec?: number; shouldStop?: () => boolean } = {}): Promise<CommandResult> {
    const key = await this.options.keyOf(stationId);
    if (!key) throw new Error(`unknown station ${stationId}`);
    const { version, bytes, hash } = bundle;
    const rollback = options.rollback === true;
    const begin = await this.send(stationId, key, COMMAND.FIRMWARE_BEGIN, { version, size: bytes.length, hash, signature: signBundle(key, hash, version, rollback), rollback });
    if (!begin.ok) return begin;
    const from = begin.offset ?? 0;
    this.emit('firmware-progress', { stationId, sent: from, total: bytes.length });
    const sent = await this.sendChunks(stationId, bytes, from, FIRMWARE_BLOCK, 'firmware-progress', (offset, data) => this.send(stationId, key, COMMAND.FIRMWARE_CHUNK, { version, offset, data }), options.shouldStop);
    if (!sent.ok) return sent;
    return this.send(stationId, key, COMMAND.FIRMWARE_COMMIT, { version, ...(options.confirmSec ? { confirmSec: options.confirmSec } : {}) });
  }

  /**
   * Sends `file` from `from` in chunks, in order, with up to chunkWindow unanswered at a time, and
   * emits `progressEvent` {stationId, sent, total} as each is taken. A stop asked for (a paused
   * firmware rollout) ends it between chunks: what the station holds stays.
   */
  private async sendChunks(stationId: string, file: Uint8Array, from: number, chunkBytes: number, progressEvent: string, sendChunk: (offset: number, data: Uint8Array) => Promise<CommandResult>, shouldStop?: () => boolean): Promise<CommandResult> {
    const window = Math.max(1, this.options.chunkWindow ?? 2);
    const inFlight: Array<Promise<CommandResult>> = [];
    for (let offset = from; offset < file.length; offset += chunkBytes) {
      if (shouldStop?.()) return { ok: false, refusal: 'paused' };
      if (inFlight.length >= window) {
        const answered = await inFlight.shift()!;
        if (!answered.ok) return answered;
      }
      const chunk = file.subarray(offset, offset + chunkBytes);
      const sent = offset + chunk.length;
      inFlight.push(
        sendChunk(offset, chunk).then((answered) => {
          if (answered.ok) this.emit(progressEvent, { stationId, sent, total: file.length });
          return answered;
        }),
      );
    }
    for (const pending of inFlight) {
      const answered = await pending;
      if (!answered.ok) return answered;
    }
    return { ok: true, refusal: null };
  }

  /** The station runs this version and is online: it keeps it (its boot step no longer goes back). */
  confirmFirmware(stationId: string, version: number): Promise<CommandResult> {
    return this.command(stationId, COMMAND.FIRMWARE_CONFIRM, { version });
  }

  private async handle(topic: string, payload: Uint8Array, retained: boolean): Promise<void> {
    const named = parseStationTopic(topic);
    if (!named) return;
    const { station: stationId, kind } = named;
    // The broker lets a station write under its own site only: that site is where it listens.
    this.siteOf.set(stationId, named.site);
    if (kind === 'STATUS') return this.onStatus(stationId, Buffer.from(payload).toString('utf8'));
    if (kind !== 'REPLY' && kind !== 'STATE') return;
    const what = kind === 'REPLY' ? 'reply' : 'state';
    const key = await this.options.keyOf(stationId);
    if (!key) return this.refuse(what, stationId.slice(0, 64), 'unknown station');
    const opened = unseal(key, payload);
    if (!opened.ok) return this.refuse(what, stationId, opened.reason);
    if (kind === 'REPLY') {
      const reply = decodeReply(opened.body);
      if (!reply.ok) return this.refuse(what, stationId, reply.reason);
      if (reply.frame.station !== stationId) return this.refuse(what, stationId, `reply names station ${reply.frame.station.slice(0, 64)}`);
      this.onReply(stationId, reply.frame);
    } else {
      const state = decodeStateReport(opened.body);
      if (!state.ok) return this.refuse(what, stationId, state.reason);
      if (state.frame.station !== stationId) return this.refuse(what, stationId, `state names station ${state.frame.station.slice(0, 64)}`);
      // The contract caps the count at 64; the station's registration says how many it has.
      const registered = await this.options.lockersOf?.(stationId);
      if (registered !== undefined && state.frame.lockers.length !== registered) return this.refuse(what, stationId, `reports ${state.frame.lockers.length} lockers, registered with ${registered}`);
      this.onState(stationId, state.frame, retained);
    }
  }

  private onReply(stationId: string, reply: Reply): void {
    const { counter, ok } = reply;
    const pending = this.pending.get(`${stationId}/${counter}`);
    // A reply to no command (one the hub never sent, or one it stopped waiting for) is used for
    // nothing, and logged as the refusals are: once a minute per station, with a count.
    if (!pending) {
      if (this.options.sharedReplies) return;
      return this.refuse('reply', stationId, `no command ${counter} awaits a reply (never sent, or timed out)`);
    }
    const refusal = ok ? null : (REFUSAL_NAMES.get(reply.detail ?? -1) ?? `refusal ${String(reply.detail)}`);
    if (!ok) this.options.log.warn(`station ${stationId} refused command ${counter}: ${refusal}`);
    clearTimeout(pending.timer);
    this.pending.delete(`${stationId}/${counter}`);
    pending.resolve({
      ok,
      refusal,
      ...(reply.version !== undefined ? { version: reply.version } : {}),
      ...(reply.lockers ? { lockers: lockerNames(reply.lockers) } : {}),
      ...(reply.offset !== undefined ? { offset: reply.offset } : {}),
    });
  }

  private onState(stationId: string, report: StateReport, retained: boolean): void {
    const state: StationState = {
      stationId,
      // Online comes from the session or the status topic only (a state report arriving first,
      // as retained ones may after a hub restart, must not hide the birth message that follows).
      online: this.states.get(stationId)?.online ?? false,
      boot: report.boot,
      board: report.board ?? 0,
      ...(report.wallTime !== undefined ? { wallTime: report.wallTime } : {}),
      firmware: report.firmware,
      lockers: lockerNames(report.lockers),
      doorsOpen: report.doors === undefined ? undefined : openDoors(report.doors),
      badgeListVersion: report.version,
      journalBacklog: report.backlog,
      memory: { used: report.memory[0], total: report.memory[1] },
      reader: report.reader,
      uptimeSec: report.uptime,
      updatedAt: new Date().toISOString(),
    };
    this.states.set(stationId, state);
    this.emit('state', state);
    // No clock: the time, once a boot (older firmware never reports one). A clock that drifted: the
    // time again; a retained report is as old as the hub's absence, so its reading says nothing.
    const needsTime =
      state.wallTime === undefined ? this.timeSet.get(stationId) !== `${state.board}/${state.boot}` : !retained && Math.abs(state.wallTime - Date.now()) > TIME_DRIFT_MS;
    if (needsTime) this.sendTime(stationId, state);
  }

  /** Whether this hub sets the stations' clocks (cluster/leadership.ts: of several hubs, the leader alone). */
  leading: () => boolean = () => true;

  private sendTime(stationId: string, state: StationState): void {
    if (typeof state.boot !== 'number' || this.timing.has(stationId) || !this.leading()) return;
    this.timing.add(stationId);
    this.setTime(stationId, state.boot, state.board ?? 0)
      .then((result) => {
        if (result.ok) this.timeSet.set(stationId, `${state.board}/${state.boot}`);
      })
      .catch((error) => this.options.log.warn(`time to ${stationId}: ${(error as Error).message}`))
      .finally(() => this.timing.delete(stationId));
  }

  /** The embedded broker saw the station's own authenticated connection open or close. */
  onSession(stationId: string, online: boolean): void {
    this.setOnline(stationId, online);
  }

  private setOnline(stationId: string, online: boolean): void {
    const previous = this.states.get(stationId);
    this.states.set(stationId, { ...(previous ?? { stationId }), stationId, online, updatedAt: new Date().toISOString() });
    this.emit('status', { stationId, online });
  }

  private onStatus(stationId: string, status: string): void {
    // 'session': the connection itself says whether the station is online; its birth message and
    // will add nothing (and the hub sends nothing because of them: the time follows the signed state).
    if (this.options.liveness === 'session') return;
    this.setOnline(stationId, status === 'online');
  }
}
