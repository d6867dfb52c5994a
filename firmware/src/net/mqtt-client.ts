// A compact MQTT 3.1.1 client for the station: QoS 0 and 1 both ways, last will, keep-alive with
// dead-connection detection, reconnection with jittered exponential backoff, and QoS 1 publishes
// that survive a reconnect (re-sent with DUP, in order). It sees the network only through the hal's
// Network and Clock, so the same code runs on Espruino, in the simulator and against a real broker
// in tests. Spec clauses are cited as [MQTT-x.y.z-n] (OASIS MQTT 3.1.1).
//
// One state value:
//   idle ──start()──▶ connecting ──CONNACK 0──▶ connected
//                        │   ▲                      │
//   (socket error, close, │   └──── timer ───┐       │ (socket error or close, protocol error,
//    refused, timeout)    ▼                  │       ▼  keep-alive timeout)
//                      waiting ◀─────────────┴── waiting
//   stop() from any state ──▶ idle
// Every connection attempt has a number; events from an older socket or timer are ignored, so a late
// `onClose` can never tear down its successor. Nothing here throws into the network layer: socket
// failures, refusals and protocol errors all end in `waiting`, and exceptions thrown by the
// application's callbacks are caught and reported through `onLog`.
//
// Memory: every method of this class costs the interpreter variables for good, so code that runs
// once per connection (the CONNACK, keep-alive and packet handling, the option checks) is written
// as inner functions of the one method that uses it: they exist only while it is in use.
import type { Clock, Network, TcpConnection, TcpHandlers, TlsOptions } from '../hal';
import { utf8Encode, utf8Length } from '../codec/bytes';
import {
  CONNACK_RETURN_CODES,
  DEFAULT_MAX_PACKET_BYTES,
  MqttParser,
  PACKET,
  PUBLISH_DUP,
  SUBACK_FAILURE,
  encodeConnect,
  encodePacket,
  setPublishPacketId,
  topicProblem,
  type QoS,
  type ServerPacket,
  type WillMessage,
} from './mqtt-packets';

export type { QoS, WillMessage } from './mqtt-packets';

export type MqttState = 'idle' | 'connecting' | 'connected' | 'waiting';

export interface MqttClientOptions {
  host: string;
  port: number;
  /** TLS with a pinned CA; null or absent for plain TCP. */
  tls?: TlsOptions | null;
  clientId: string;
  /** 0 turns keep-alive off; at most 65535. */
  keepAliveSec: number;
  username?: string;
  /** Only with a username [MQTT-3.1.2-22]. */
  password?: string | Uint8Array;
  will?: WillMessage;
  /**
   * Default false: the broker keeps the session (subscriptions and QoS 1 messages queued for the
   * station while it is away), and unacknowledged publishes are re-sent on reconnect [MQTT-4.4.0-1].
   */
  cleanSession?: boolean;
  /** QoS 1 publishes sent and not yet acknowledged, at most (≥ 1). */
  maxInflight: number;
  /** Publishes waiting for a connection or a free in-flight slot, at most. Default 32. */
  maxQueued?: number;
  /**
   * Largest packet sent or accepted, fixed header included. Default 16384. A larger incoming
   * PUBLISH is acknowledged but not delivered (reported through onLog); any other is a protocol error.
   */
  maxPacketBytes?: number;
  /** TCP connect plus CONNACK must take less than this. Default 10000. */
  connectTimeoutMs?: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Uniform in [0, 1), for the reconnect jitter (Math.random on the board; seeded in tests). */
  random: () => number;
  /**
   * True while the application must not be interrupted (the station is reading a card): received
   * packets then wait, a few milliseconds at a time, until it is false. Absent: never.
   */
  busy?: () => boolean;
}

type DoneCallback = (ok: boolean) => void;

/** A publish waiting in the queue or in flight: the encoded packet is all that is kept. */
interface Outgoing {
  packet: Uint8Array;
  qos: QoS;
  packetId: number;
  onDone: DoneCallback | undefined;
}

interface Subscription {
  topicFilter: string;
  qos: QoS;
}

interface PendingAck {
  packetId: number;
  topicFilter: string;
}

const DEFAULT_MAX_QUEUED = 32;
const DEFAULT_CONNECT_TIMEOUT_MS = 10000;
const LAST_PACKET_ID = 65535;

function noop(): void {}

export class MqttClient {
  /** The single state value; read it, never write it. */
  state: MqttState = 'idle';

  /** A PUBLISH arrived on a subscribed topic (QoS 1 ones are acknowledged after this returns). */
  onMessage: (topic: string, payload: Uint8Array) => void = noop;
  /** The broker accepted the connection (after every reconnect). Publishing here is the birth message. */
  onConnect: () => void = noop;
  /** A connection or connection attempt ended; the client goes on retrying unless stopped. */
  onDisconnect: (reason: string) => void = noop;
  /** Things worth a log line that change no state: refused publishes and subscriptions, callback errors. */
  onLog: (message: string) => void = noop;

  private network: Network;
  private clock: Clock;
  private options: MqttClientOptions;
  private maxPacketBytes: number;

  private connection: TcpConnection | undefined;
  /** Numbers connection attempts; callbacks from an earlier attempt are ignored. */
  private attempt = 0;
  /** The one timer of the current state: connect timeout, keep-alive or reconnect delay. */
  private timerId: number | undefined;
  /** Connection attempts that failed in a row, for the backoff. */
  private failures = 0;
  private lastSentMs = 0;

  private queue: Outgoing[] = [];
  private inflight: Outgoing[] = [];
  private subscriptions: Subscription[] = [];
  private pendingAcks: PendingAck[] = [];
  private nextPacketId = 1;

  /** Throws an Error for options that could never work (a configuration mistake, found at boot). */
  constructor(network: Network, clock: Clock, options: MqttClientOptions) {
    this.network = network;
    this.clock = clock;
    this.options = options;
    const maxPacketBytes = options.maxPacketBytes !== undefined ? options.maxPacketBytes : DEFAULT_MAX_PACKET_BYTES;
    this.maxPacketBytes = maxPacketBytes;
    const optionsProblem = (): string | undefined => {
      if (!(options.keepAliveSec >= 0 && options.keepAliveSec <= 65535)) return 'keepAliveSec must be 0..65535';
      if (!(options.maxInflight >= 1)) return 'maxInflight must be at least 1';
      if (!((options.maxQueued !== undefined ? options.maxQueued : DEFAULT_MAX_QUEUED) >= 1)) return 'maxQueued must be at least 1';
      if (!(maxPacketBytes >= 128)) return 'maxPacketBytes must be at least 128';
      if (!(options.reconnectMinMs > 0 && options.reconnectMaxMs >= options.reconnectMinMs)) return 'need 0 < reconnectMinMs <= reconnectMaxMs';
      if (options.clientId.length === 0 && !options.cleanSession) return 'an empty clientId needs cleanSession [MQTT-3.1.3-7]';
      if (options.password !== undefined && options.username === undefined) return 'a password needs a username [MQTT-3.1.2-22]';
      if (options.will) {
        const willProblem = topicProblem(options.will.topic, false);
        if (willProblem) return 'will: ' + willProblem;
      }
      if (encodeConnect(options).length > maxPacketBytes) return 'CONNECT packet exceeds maxPacketBytes';
      return undefined;
    };
    const problem = optionsProblem();
    if (problem) throw new Error('mqtt: ' + problem);
  }

  // -------------------------------------------------------------------------------------------
  // Application interface

  /** Starts connecting (and keeps reconnecting until stop()). Does nothing unless idle. */
  start(): void {
    if (this.state !== 'idle') return;
    this.failures = 0;
    this.connect(false);
  }

  /**
   * Says goodbye (DISCONNECT, so the broker drops the will [MQTT-3.14.4-3]), closes the socket and
   * goes idle. Publishes still queued or unacknowledged are given up: their onDone gets false.
   */
  stop(): void {
    if (this.state === 'idle') return;
    const wasConnected = this.state === 'connected';
    if (wasConnected) this.send(new Uint8Array([PACKET.DISCONNECT << 4, 0])); // DISCONNECT (§3.14)
    this.drop();
    const abandoned = this.inflight.concat(this.queue);
    this.inflight = [];
    this.queue = [];
    for (let index = 0; index < abandoned.length; index++) {
      const onDone = abandoned[index].onDone;
      if (onDone) this.call('onDone', onDone, false);
    }
    if (wasConnected) this.call('callback', this.onDisconnect, 'stopped');
  }

  /**
   * Queues a PUBLISH. QoS 1 publishes stay until acknowledged (re-sent with DUP after a reconnect);
   * QoS 0 ones wait for a connection but are sent once. `onDone` is called exactly once: true when
   * acknowledged (QoS 1) or written (QoS 0), false when refused or abandoned by stop(). Returns false
   * (after calling onDone(false)) when refused: invalid topic, packet over maxPacketBytes, or
   * maxQueued publishes already waiting.
   */
  publish(topic: string, payload: Uint8Array | string, qos: QoS, retain: boolean, onDone?: DoneCallback): boolean {
    const bytes = typeof payload === 'string' ? utf8Encode(payload) : payload;
    const maxQueued = this.options.maxQueued !== undefined ? this.options.maxQueued : DEFAULT_MAX_QUEUED;
    let refusal = topicProblem(topic, false);
    if (!refusal && qos !== 0 && qos !== 1) refusal = 'QoS ' + qos + ' is not supported';
    // The packet's size, found before encoding it (§3.3): topic with its length, packet id for QoS 1,
    // payload, after the first byte and the Remaining Length (§2.2.3).
    const remaining = 2 + utf8Length(topic) + (qos > 0 ? 2 : 0) + bytes.length;
    const size = 1 + (remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x200000 ? 3 : 4) + remaining;
    if (!refusal && size > this.maxPacketBytes) refusal = 'PUBLISH of ' + size + ' bytes exceeds maxPacketBytes ' + this.maxPacketBytes;
    if (!refusal && this.queue.length >= maxQueued) refusal = 'queue full (' + maxQueued + ' publishes waiting)';
    if (refusal) {
      this.call('onLog', this.onLog, 'publish to ' + topic + ' refused: ' + refusal);
      if (onDone) this.call('onDone', onDone, false);
      return false;
    }
    // PUBLISH with QoS and RETAIN in its first byte; a QoS 1 one gets its packet id (0 here) when sent.
    const first = (PACKET.PUBLISH << 4) | (qos << 1) | (retain ? 0x01 : 0);
    this.queue.push({ packet: encodePacket(first, qos > 0 ? [topic, 0, bytes] : [topic, bytes]), qos, packetId: 0, onDone });
    this.pump();
    return true;
  }

  /**
   * Subscribes now if connected, and again after every reconnect. Returns false for an invalid
   * filter. A refusal by the broker is reported through onLog.
   */
  subscribe(topicFilter: string, qos: QoS): boolean {
    const problem = topicProblem(topicFilter, true);
    if (problem) {
      this.call('onLog', this.onLog, 'subscribe ' + topicFilter + ' refused: ' + problem);
      return false;
    }
    let subscription: Subscription | undefined;
    for (let index = 0; index < this.subscriptions.length; index++) {
      if (this.subscriptions[index].topicFilter === topicFilter) subscription = this.subscriptions[index];
    }
    if (subscription) subscription.qos = qos;
    else this.subscriptions.push({ topicFilter, qos });
    if (this.state === 'connected') {
      const packetId = this.allocatePacketId();
      this.pendingAcks.push({ packetId, topicFilter });
      // SUBSCRIBE (§3.8) for one topic filter. Fixed-header flags 0010 [MQTT-3.8.1-1].
      this.send(encodePacket((PACKET.SUBSCRIBE << 4) | 0x02, [packetId, topicFilter, new Uint8Array([qos])]));
    }
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Connection pipeline: connect → socket open → CONNECT → CONNACK → established

  /**
   * Opens a connection; when `later`, or while the network is down, first waits (state `waiting`)
   * for the backoff delay. What runs once per connection (keep-alive, packet handling) is made here.
   */
  private connect(later: boolean): void {
    const options = this.options;
    if (this.timerId !== undefined) this.clock.clearTimeout(this.timerId);
    this.timerId = undefined;
    this.attempt++;
    if (later || !this.network.isUp()) {
      // (The reconnect timer keeps this function's variables: few are made before it.)
      this.state = 'waiting';
      // Jittered exponential backoff: ceiling = min · 2^failures (≤ max), delay in [ceiling/2, ceiling], ≥ min.
      let ceilingMs = options.reconnectMinMs;
      for (let step = 0; step < this.failures && ceilingMs < options.reconnectMaxMs; step++) ceilingMs *= 2;
      if (ceilingMs > options.reconnectMaxMs) ceilingMs = options.reconnectMaxMs;
      let random = options.random();
      if (!(random >= 0 && random <= 1)) random = 1;
      const delayMs = Math.max(options.reconnectMinMs, ceilingMs / 2 + (random * ceilingMs) / 2);
      this.failures++;
      this.timerId = this.clock.setTimeout(() => {
        this.timerId = undefined;
        if (this.state === 'waiting') this.connect(false);
      }, delayMs);
      return;
    }
    const clock = this.clock;
    const attempt = this.attempt;
    this.state = 'connecting';
    const keepAliveMs = options.keepAliveSec * 1000;
    const connectTimeoutMs = options.connectTimeoutMs !== undefined ? options.connectTimeoutMs : DEFAULT_CONNECT_TIMEOUT_MS;
    const parser = new MqttParser(this.maxPacketBytes);
    /** The last answer to the keep-alive: the CONNACK, then each PINGRESP. */
    let lastPongMs = 0;
    let pingOutstanding = false;

    // Keep-alive [MQTT-3.1.2-23]: a PINGREQ once a keep-alive period has passed since the last one
    // was answered, or sooner when nothing was sent for a period; no PINGRESP within 1.5 periods of
    // the last answer means the connection is dead. Only the PINGRESP counts: a broker that still
    // forwards publishes but no longer answers pings is broken, and is left.
    const scheduleKeepAlive = () => {
      if (keepAliveMs === 0) return;
      const dueMs = pingOutstanding ? lastPongMs + keepAliveMs * 1.5 : Math.min(this.lastSentMs, lastPongMs) + keepAliveMs;
      this.timerId = clock.setTimeout(() => {
        this.timerId = undefined;
        if (attempt !== this.attempt) return;
        const nowMs = clock.nowMs();
        if (pingOutstanding) {
          if (nowMs - lastPongMs >= keepAliveMs * 1.5) {
            this.drop('no PINGRESP for ' + (nowMs - lastPongMs) + ' ms (keep-alive ' + options.keepAliveSec + ' s)');
            return;
          }
        } else if (nowMs - Math.min(this.lastSentMs, lastPongMs) >= keepAliveMs) {
          pingOutstanding = true;
          this.send(new Uint8Array([PACKET.PINGREQ << 4, 0])); // PINGREQ (§3.12)
        }
        if (this.state === 'connected') scheduleKeepAlive();
      }, Math.max(1, dueMs - clock.nowMs()));
    };

    const established = () => {
      if (this.timerId !== undefined) clock.clearTimeout(this.timerId);
      this.timerId = undefined;
      this.state = 'connected';
      this.failures = 0;
      lastPongMs = clock.nowMs();
      pingOutstanding = false;
      // [MQTT-4.4.0-1] re-send every unacknowledged QoS 1 PUBLISH with its original packet id, with
      // DUP set [MQTT-3.3.1-1], in the original order [MQTT-4.6.0-1], before anything new.
      for (let index = 0; index < this.inflight.length && attempt === this.attempt; index++) {
        this.inflight[index].packet[0] |= PUBLISH_DUP;
        this.send(this.inflight[index].packet);
      }
      // subscribe() finds each subscription and, connected, sends it again.
      const subscriptions = this.subscriptions;
      for (let index = 0; index < subscriptions.length && attempt === this.attempt; index++) this.subscribe(subscriptions[index].topicFilter, subscriptions[index].qos);
      if (attempt !== this.attempt) return;
      scheduleKeepAlive();
      this.call('callback', this.onConnect);
      this.pump();
    };

    /** The one dispatch over packets from the server. */
    const handle = (packet: ServerPacket) => {
      if (this.state === 'connecting' && packet.type !== PACKET.CONNACK) {
        this.drop('protocol error: first packet from the server was type ' + packet.type + ', not CONNACK [MQTT-3.2.0-1]');
        return;
      }
      switch (packet.type) {
        case PACKET.CONNACK:
          if (this.state !== 'connecting') this.drop('protocol error: a second CONNACK');
          else if (packet.returnCode !== 0) {
            // [MQTT-3.2.2-5] the server closes after a refusal; close from this side too.
            const meaning = CONNACK_RETURN_CODES.split(',')[packet.returnCode] || 'reserved code';
            this.drop('connection refused: ' + packet.returnCode + ' ' + meaning);
          } else established();
          return;
        case PACKET.PUBLISH:
          if (packet.droppedBytes) {
            // Acknowledged all the same, or the broker would send it again after every reconnect.
            this.call('onLog', this.onLog, 'dropped a PUBLISH of ' + packet.droppedBytes + ' bytes on ' + packet.topic + ' (maxPacketBytes ' + this.maxPacketBytes + ')');
          } else this.call('onMessage', this.onMessage, packet.topic, packet.payload);
          // [MQTT-4.3.2-2] a QoS 1 PUBLISH is answered with a PUBACK (§3.4) carrying its packet id.
          if (packet.qos === 1 && attempt === this.attempt) this.send(encodePacket(PACKET.PUBACK << 4, [packet.packetId]));
          return;
        case PACKET.PUBACK:
          for (let index = 0; index < this.inflight.length; index++) {
            const outgoing = this.inflight[index];
            if (outgoing.packetId === packet.packetId) {
              this.inflight.splice(index, 1);
              if (outgoing.onDone) this.call('onDone', outgoing.onDone, true);
              this.pump();
              return;
            }
          }
          // A PUBACK for an id not in flight (e.g. acknowledged twice around a reconnect) is harmless.
          return;
        case PACKET.SUBACK:
        case PACKET.UNSUBACK: {
          const pendingAcks = this.pendingAcks;
          for (let index = 0; index < pendingAcks.length; index++) {
            if (pendingAcks[index].packetId === packet.packetId) {
              const pending = pendingAcks.splice(index, 1)[0];
              if (packet.type === PACKET.SUBACK && packet.returnCodes[0] === SUBACK_FAILURE) this.call('onLog', this.onLog, 'subscription to ' + pending.topicFilter + ' refused by the broker');
              return;
            }
          }
          return;
        }
        case PACKET.PINGRESP:
          // The timer was set for the dead-connection deadline while the ping was out; the next
          // ping may now be due before it.
          pingOutstanding = false;
          lastPongMs = clock.nowMs();
          if (this.timerId !== undefined) clock.clearTimeout(this.timerId);
          this.timerId = undefined;
          scheduleKeepAlive();
          return;
      }
    };

    // Taps first: one packet from the server is handled per turn of the interpreter's loop, the
    // rest of a chunk in timer callbacks after it, so the reader's IRQ waits behind one message's
    // work at most (a chunk can carry several acknowledgements or commands).
    const inbox: ServerPacket[] = [];
    const drain = () => {
      if (attempt !== this.attempt) return;
      if (options.busy && options.busy()) {
        clock.setTimeout(drain, 5);
        return;
      }
      handle(inbox.shift() as ServerPacket);
      if (inbox.length > 0 && attempt === this.attempt) clock.setTimeout(drain, 0);
    };

    this.timerId = clock.setTimeout(() => {
      this.timerId = undefined;
      if (attempt === this.attempt) this.drop('no CONNACK within ' + connectTimeoutMs + ' ms');
    }, connectTimeoutMs);
    const handlers: TcpHandlers = {
      onConnect: () => {
        // [MQTT-3.1.0-1] CONNECT is the first packet the client sends.
        if (attempt === this.attempt) this.send(encodeConnect(options));
      },
      onData: (data: Uint8Array) => {
        if (attempt !== this.attempt) return;
        const draining = inbox.length > 0;
        const problem = parser.push(data, (packet) => {
          inbox.push(packet);
        });
        if (problem) {
          // [MQTT-4.8.0-1] a protocol violation closes the connection, after what came before it.
          while (inbox.length > 0 && attempt === this.attempt) handle(inbox.shift() as ServerPacket);
          if (attempt === this.attempt) this.drop('protocol error: ' + problem);
        } else if (!draining && inbox.length > 0) drain();
      },
      onClose: () => {
        if (attempt === this.attempt) this.drop('connection closed');
      },
      onError: (message: string) => {
        if (attempt === this.attempt) this.drop('socket error: ' + message);
      },
    };
    let connection: TcpConnection | undefined;
    try {
      connection = this.network.connect(options.host, options.port, handlers, options.tls || null);
    } catch (error) {
      if (attempt === this.attempt) this.drop('connect failed: ' + String(error));
      return;
    }
    if (attempt !== this.attempt) {
      // The network reported failure before connect() even returned: this socket is already over.
      try {
        connection.end();
      } catch (ignored) {
        // The socket is being abandoned either way.
      }
      return;
    }
    this.connection = connection;
  }

  /**
   * Ends the current connection (or attempt). With a reason, a failure: reports it and schedules the
   * next attempt. Without, for stop(): goes idle.
   */
  private drop(reason?: string): void {
    if (reason !== undefined && this.state !== 'connecting' && this.state !== 'connected') return;
    this.attempt++; // anything the old socket or its timers still report is now ignored
    if (this.timerId !== undefined) this.clock.clearTimeout(this.timerId);
    this.timerId = undefined;
    const connection = this.connection;
    this.connection = undefined;
    this.pendingAcks = [];
    if (connection) {
      try {
        connection.end();
      } catch (ignored) {
        // The socket is being abandoned either way.
      }
    }
    if (reason === undefined) {
      this.state = 'idle';
      return;
    }
    this.connect(true);
    this.call('callback', this.onDisconnect, reason);
  }

  // -------------------------------------------------------------------------------------------
  // Bytes out

  /** Writes to the socket; false if there is none or the write threw (the connection is then dropped). */
  private send(bytes: Uint8Array): boolean {
    const connection = this.connection;
    if (!connection) return false;
    try {
      connection.write(bytes);
    } catch (error) {
      this.drop('write failed: ' + String(error));
      return false;
    }
    this.lastSentMs = this.clock.nowMs();
    return true;
  }

  /** Sends from the queue while connected and the in-flight window has room; order is kept. */
  private pump(): void {
    while (this.state === 'connected' && this.queue.length > 0) {
      const outgoing = this.queue[0];
      if (outgoing.qos === 1) {
        if (this.inflight.length >= this.options.maxInflight) return;
        // [MQTT-4.3.2-1] a packet id not in use by another unacknowledged packet.
        const packetId = this.allocatePacketId();
        outgoing.packetId = packetId;
        setPublishPacketId(outgoing.packet, packetId);
        this.queue.shift();
        this.inflight.push(outgoing);
        this.send(outgoing.packet);
      } else {
        this.queue.shift();
        const sent = this.send(outgoing.packet);
        if (outgoing.onDone) this.call('onDone', outgoing.onDone, sent);
      }
    }
  }

  /** Next packet id in 1..65535 [MQTT-2.3.1-1] not held by an in-flight publish or pending ack. */
  private allocatePacketId(): number {
    for (let tries = 0; tries < LAST_PACKET_ID; tries++) {
      const packetId = this.nextPacketId;
      this.nextPacketId = packetId === LAST_PACKET_ID ? 1 : packetId + 1;
      let inUse = false;
      for (let index = 0; index < this.inflight.length; index++) if (this.inflight[index].packetId === packetId) inUse = true;
      for (let index = 0; index < this.pendingAcks.length; index++) if (this.pendingAcks[index].packetId === packetId) inUse = true;
      if (!inUse) return packetId;
    }
    return this.nextPacketId; // unreachable: far fewer than 65535 ids are ever held
  }

  // -------------------------------------------------------------------------------------------
  // Calling the application without letting its exceptions into the state machine

  /** Calls the application; what it throws is logged by name instead (unless the logger threw). */
  private call(name: string, callback: (first?: any, second?: any) => void, first?: unknown, second?: unknown): void {
    try {
      callback.call(this, first, second);
    } catch (error) {
      if (callback === this.onLog) return;
      try {
        this.onLog('mqtt: ' + name + ' threw: ' + String(error));
      } catch (ignored) {
        // Nothing more to do for a logger that throws.
      }
    }
  }
}
