// A station on the bench: the built dist/firmware.js in the simulator, a real MQTT broker (the
// hub's embedded aedes) on a loopback port, and a subscriber that decodes every event frame the
// station publishes with the hub's own decoder. No hub records: these tests are about the station.
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import mqtt, { type MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../../hub/src/broker';
import { createLogger } from '../../hub/src/log';
import { StationLink, type StationLinkOptions } from '../../hub/src/stations/station-link';
import { encodeAck, openEventFrame, type EventFrame } from '../../hub/src/protocol/frames';
import { directPinMap, expanderPinMap } from '../../protocol/pin-map';
import { SimulatedStation } from '../../hardware/sim/simulated-station';
import { badgeFileName, encodeBadgeList, type BadgeRecord } from '../../firmware/src/station/badge-list';
import { eventually } from './eventually';
import { visitLocker, type VisitResult } from '../../hardware/sim/scripted-person';
import { EVENT } from '../../protocol/wire';

/** Events that finish an opening: the station is ready for the next person once one arrives. */
const COMPLETIONS = new Set<number>([EVENT.DEPOSIT, EVENT.COLLECT, EVENT.LOAN, EVENT.RETURN, EVENT.HOLD_SET, EVENT.HOLD_RELEASED, EVENT.REMOTE_UNLOCK]);
export const TEST_PACE = { unlockTimeoutMs: 3000, openMs: 150, leaveMs: 100 };

export const BUNDLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/firmware.js');
export const BADGE_KEY = Buffer.alloc(32, 7);
export const STATION_KEY = Buffer.alloc(32, 9).toString('hex');

export interface RigPerson {
  uid: string;
  person: number;
  role: number;
  assetClasses?: number;
  flags?: number;
}

export interface RigAsset {
  tagUid: string;
  assetClass: number;
  healthCheckDue?: boolean;
}

export interface RigOptions {
  lockers?: number;
  people: RigPerson[];
  /** Per locker: an asset or null. */
  assets?: Array<RigAsset | null>;
  timing?: Record<string, number>;
  /** Send the hub's acknowledgement for every frame (as the hub would). */
  acknowledge?: boolean;
  /** Extra badge records, e.g. thousands of generated ones. */
  extraBadges?: BadgeRecord[];
  flashFile?: string | null;
  /** Locks and doors on GPIO pins (8 lockers at most) instead of the standard expander board. */
  directWired?: boolean;
  /** Runs on the station's flash before its first boot (to prepare files). */
  beforeBoot?: (station: SimulatedStation) => void;
  /** Wait for the boot event before start() returns (default true). */
  waitForBoot?: boolean;
  /** Run the broker over TLS with this key and certificate; the station pins `stationCa` (default `ca`). */
  tls?: { key: string; cert: string; ca: string; stationCa?: string };
  /** The station's clock runs this many times faster than real time (SimulatedStation's timeScale). */
  timeScale?: number;
  /** The school Wi-Fi in the configuration (default none: the simulator's network is simply up). */
  wifi?: { ssid: string; password: string };
}

export function hashUid(uidHex: string): Uint8Array {
  return new Uint8Array(crypto.createHmac('sha256', BADGE_KEY).update(Buffer.from(uidHex, 'hex')).digest().subarray(0, 8));
}

export const FAST_TIMING = {
  doorOpenTimeoutMs: 400,
  doorLeftOpenMs: 1500,
  staffSessionMs: 2000,
  releaseWindowMs: 5000,
  unknownLimit: 3,
  unknownWindowMs: 3000,
};

export class StationRig {
  station!: SimulatedStation;
  broker!: RunningBroker;
  listener!: MqttClient;
  frames: EventFrame[] = [];
  rejected: string[] = [];
  options: RigOptions;
  lockers: number;
  private lastVisit = new Map<string, number>();

  constructor(options: RigOptions) {
    this.options = options;
    this.lockers = options.lockers ?? 8;
  }

  config(): object {
    const assets = (this.options.assets ?? []).map((asset) =>
      asset ? { tag: Buffer.from(hashUid(asset.tagUid)).toString('hex'), assetClass: asset.assetClass, healthCheckDue: asset.healthCheckDue ?? false } : null,
    );
    while (assets.length < this.lockers) assets.push(null);
    return {
      site: 'bench',
      station: 'st-1',
      lockers: this.lockers,
      io: this.options.directWired ? 'gpio' : 'expander',
      pins: this.options.directWired ? directPinMap(this.lockers) : expanderPinMap(),
      broker: { host: '127.0.0.1', port: this.broker.port, ...(this.options.tls ? { tls: { ca: this.options.tls.stationCa ?? this.options.tls.ca } } : {}) },
      wifi: this.options.wifi ?? null,
      badgeKey: BADGE_KEY.toString('hex'),
      stationKey: STATION_KEY,
      unlockPulseMs: 300,
      doorDebounceMs: 20,
      keepAliveSec: 5,
      timing: { ...FAST_TIMING, ...this.options.timing },
      assets,
    };
  }

  badgeList(): Uint8Array {
    const records: BadgeRecord[] = this.options.people.map((person) => ({
      hash: hashUid(person.uid),
      person: person.person,
      role: person.role,
      assetClasses: person.assetClasses ?? 0,
      flags: person.flags ?? 0,
    }));
    return encodeBadgeList(records.concat(this.options.extraBadges ?? []), 1, (data) => zlib.crc32(data));
  }

  async start(): Promise<this> {
    const secure = this.options.tls;
    this.broker = await startBroker('127.0.0.1', 0, secure ? { key: secure.key, cert: secure.cert } : null);
    this.listener = await mqtt.connectAsync(secure ? `mqtts://127.0.0.1:${this.broker.port}` : `mqtt://127.0.0.1:${this.broker.port}`, {
      clientId: `rig-${process.pid}-${Math.random()}`,
      ...(secure ? { ca: secure.ca } : {}),
    });
    this.listener.on('message', (topic, payload) => {
      if (!topic.endsWith('/events')) return;
      const decoded = openEventFrame(STATION_KEY, new Uint8Array(payload));
      if (!decoded.ok) {
        this.rejected.push(decoded.reason);
        return;
      }
      // The journal replays after a reconnect: keep one copy of each (boot, seq), as the hub does.
      if (!this.frames.some((f) => f.boot === decoded.frame.boot && f.seq === decoded.frame.seq)) this.frames.push(decoded.frame);
      if (this.options.acknowledge) this.listener.publish(topic.replace(/events$/, 'ack'), Buffer.from(encodeAck(STATION_KEY, decoded.frame.boot, decoded.frame.seq, decoded.frame.board ?? 0)), { qos: 1 });
    });
    await this.listener.subscribeAsync('handover/bench/st-1/#', { qos: 1 });
    this.station = new SimulatedStation({ flashFile: this.options.flashFile ?? null, doorBounceMs: 3, timeScale: this.options.timeScale });
    this.station.installFirmware(BUNDLE);
    this.station.writeConfig(this.config());
    this.station.writeFile(badgeFileName(1), this.badgeList());
    this.options.beforeBoot?.(this.station);
    this.station.boot();
    if (this.options.waitForBoot !== false) await this.waitForEvent(1, () => true, 5000);
    return this;
  }

  async stop(): Promise<void> {
    this.station?.powerOff();
    await this.listener?.endAsync();
    await this.broker?.close();
  }

  events(type: number): EventFrame[] {
    return this.frames.filter((frame) => frame.type === type);
  }

  async waitForEvent(type: number, match: (frame: EventFrame) => boolean = () => true, timeoutMs = 5000): Promise<EventFrame> {
    try {
      return (await eventually(() => this.frames.find((frame) => frame.type === type && match(frame)), timeoutMs, `event type ${type}`))!;
    } catch (error) {
      const seen = this.frames.map((f) => `#${f.seq} type ${f.type}${f.locker !== undefined ? ` locker ${f.locker}` : ''}${f.person ? ` person ${f.person}` : ''}${f.actor ? ` actor ${f.actor}` : ''}${f.detail ? ` detail ${f.detail}` : ''}`);
      throw new Error(`${(error as Error).message}; events so far: ${seen.join(', ')}`);
    }
  }

  /** Waits until no new frame arrived for `quietMs`. */
  async settle(quietMs = 300): Promise<void> {
    let count = -1;
    while (count !== this.frames.length) {
      count = this.frames.length;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
  }

  /**
   * A person taps, uses the locker that opens and shuts it; then waits until the station has
   * reported the opening finished (so the next tap is not refused as busy, however slow the machine).
   */
  async visit(uid: string): Promise<VisitResult> {
    // The reader takes the same card back within 4 polls (400 ms) as the same presentation.
    const sinceLast = Date.now() - (this.lastVisit.get(uid) ?? 0);
    if (sinceLast < 600) await new Promise((resolve) => setTimeout(resolve, 600 - sinceLast));
    const before = this.frames.length;
    const result = await visitLocker(this.station, uid, TEST_PACE);
    this.lastVisit.set(uid, Date.now());
    if (result.locker !== null && this.station.env.wifiUp) {
      await eventually(() => this.frames.slice(before).some((frame) => COMPLETIONS.has(frame.type) && frame.locker === result.locker), 8000, `the opening of locker ${result.locker} to finish`);
    }
    return result;
  }

  pulsedLockers(): number[] {
    return this.station.lockers.pulses.map((pulse) => pulse.locker);
  }
}

/** The hub's command channel to the rig's station 'st-1' (site 'bench'), started. */
export async function startLink(rig: StationRig, log: (line: string) => void = () => {}, options: Partial<StationLinkOptions> = {}): Promise<StationLink> {
  const link = new StationLink({
    brokerUrl: `mqtt://127.0.0.1:${rig.broker.port}`,
    clientId: `link-${Math.random()}`,
    site: 'bench',
    log: createLogger('link', log),
    keyOf: async (id) => (id === 'st-1' ? STATION_KEY : undefined),
    ...options,
  });
  await link.start();
  return link;
}
