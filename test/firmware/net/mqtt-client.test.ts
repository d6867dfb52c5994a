// The firmware's MQTT client: against a real aedes broker on a loopback port (through the Node
// implementation of the hal's Network and Clock), against scripted servers under a fake clock for
// exact keep-alive and backoff timing, and its packet parser under seeded fuzzing. Packets are
// cross-checked with mqtt-packet (the parser/generator MQTT.js and aedes use).
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Aedes, type AedesOptions } from 'aedes';
import mqtt, { type MqttClient as NodeMqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import type { Clock, Network, TcpConnection, TcpHandlers } from '../../../firmware/src/hal';
import { MqttClient, type MqttClientOptions } from '../../../firmware/src/net/mqtt-client';
import {
  DEFAULT_MAX_PACKET_BYTES,
  MqttParser,
  PACKET,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  setPublishPacketId,
  markPublishDuplicate,
  topicFilterProblem,
  topicNameProblem,
  type ServerPacket,
} from '../../../firmware/src/net/mqtt-packets';
import { createNodeClock, createNodeNetwork, type NodeClock, type NodeNetwork } from '../../support/node-network';
import { prng } from '../../support/prng';
import { FakeClock } from '../../support/fake-clock';

// ---------------------------------------------------------------------------------------------
// Helpers


const below = (random: () => number, n: number) => Math.floor(random() * n);

function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = below(random, 256);
  return bytes;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(probe: () => T, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Parses client packets with mqtt-packet, as a broker would. */
function parseAll(chunks: Uint8Array[]): mqttPacket.Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: mqttPacket.Packet[] = [];
  parser.on('packet', (packet) => packets.push(packet));
  parser.on('error', (error) => {
    throw error;
  });
  for (const chunk of chunks) parser.parse(Buffer.from(chunk));
  return packets;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

// ---------------------------------------------------------------------------------------------
// Real broker fixtures

interface TestBroker {
  aedes: Aedes;
  port: number;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startTestBroker(port: number, options?: AedesOptions): Promise<TestBroker> {
  const aedes = await Aedes.createBroker(options);
  const server = net.createServer(aedes.handle);
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  let closed = false;
  const broker: TestBroker = {
    aedes,
    port: (server.address() as net.AddressInfo).port,
    async close() {
      if (closed) return;
      closed = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
  cleanups.push(() => broker.close());
  return broker;
}

interface Received {
  topic: string;
  payload: Buffer;
  packet: mqttPacket.IPublishPacket;
}

async function nodeSubscriber(port: number, topic: string): Promise<{ client: NodeMqttClient; messages: Received[] }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `hub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  const messages: Received[] = [];
  client.on('message', (messageTopic, payload, packet) => messages.push({ topic: messageTopic, payload, packet }));
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, messages };
}

interface Station {
  client: MqttClient;
  network: NodeNetwork;
  clock: NodeClock;
  connects: number;
  disconnects: string[];
  messages: { topic: string; payload: Uint8Array }[];
  logs: string[];
}

let stationCount = 0;

function startStation(port: number, overrides: Partial<MqttClientOptions> = {}, network?: NodeNetwork, clock?: NodeClock): Station {
  const stationClock = clock ?? createNodeClock();
  const stationNetwork = network ?? createNodeNetwork(stationClock);
  const client = new MqttClient(stationNetwork, stationClock, {
    host: '127.0.0.1',
    port,
    clientId: `station-${++stationCount}`,
    keepAliveSec: 30,
    maxInflight: 8,
    reconnectMinMs: 50,
    reconnectMaxMs: 400,
    random: prng(stationCount),
    ...overrides,
  });
  const station: Station = { client, network: stationNetwork, clock: stationClock, connects: 0, disconnects: [], messages: [], logs: [] };
  client.onConnect = () => station.connects++;
  client.onDisconnect = (reason) => station.disconnects.push(reason);
  client.onMessage = (topic, payload) => station.messages.push({ topic, payload });
  client.onLog = (message) => station.logs.push(message);
  cleanups.push(() => {
    client.stop();
    for (const socket of stationNetwork.sockets) socket.destroy();
    stationClock.clearAll();
  });
  return station;
}

/** Publishes in flight and queued (the client keeps no method for it: every method costs the interpreter variables). */
function backlogOf(client: MqttClient): { inflight: number; queued: number } {
  const inside = client as unknown as { inflight: unknown[]; queue: unknown[] };
  return { inflight: inside.inflight.length, queued: inside.queue.length };
}

function publishAsync(client: MqttClient, topic: string, payload: Uint8Array | string, qos: 0 | 1, retain = false): Promise<boolean> {
  return new Promise((resolve) => client.publish(topic, payload, qos, retain, resolve));
}

/** A TCP server speaking raw bytes, for misbehaving brokers. */
async function rawServer(onConnection: (socket: net.Socket, index: number) => void): Promise<{ port: number; connections: net.Socket[] }> {
  const connections: net.Socket[] = [];
  const server = net.createServer((socket) => {
    connections.push(socket);
    socket.on('error', () => {});
    onConnection(socket, connections.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of connections) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, connections };
}

const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);

// ---------------------------------------------------------------------------------------------

describe('MqttClient against an aedes broker on loopback', () => {
  it('connects, publishes QoS 1 (PUBACK → onDone(true)) and an mqtt.js subscriber receives the bytes', async () => {
    const broker = await startTestBroker(0);
    const hub = await nodeSubscriber(broker.port, 'handover/demo/st-1/events');
    const station = startStation(broker.port);
    expect(station.client.state).toBe('idle');
    station.client.start();
    expect(station.client.state).toBe('connecting');
    await waitFor(() => station.client.state === 'connected', 'connected');
    expect(station.connects).toBe(1);

    const payload = new Uint8Array([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0xa3, 0x01]);
    expect(await publishAsync(station.client, 'handover/demo/st-1/events', payload, 1)).toBe(true);
    expect(await publishAsync(station.client, 'handover/demo/st-1/events', 'grüße ✓', 0)).toBe(true);
    await waitFor(() => hub.messages.length === 2, 'two messages at the subscriber');
    expect(new Uint8Array(hub.messages[0].payload)).toEqual(payload);
    expect(hub.messages[0].packet.qos).toBe(1);
    expect(hub.messages[1].payload.toString('utf8')).toBe('grüße ✓');
    expect(hub.messages[1].packet.qos).toBe(0);
    expect(backlogOf(station.client)).toEqual({ inflight: 0, queued: 0 });

    // What went over the wire, read back by mqtt-packet: CONNECT, then the two PUBLISHes.
    const sent = parseAll(station.network.written);
    expect(sent[0]).toMatchObject({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 30 });
    expect(sent.filter((packet) => packet.cmd === 'publish').map((packet) => (packet as mqttPacket.IPublishPacket).qos)).toEqual([1, 0]);
    expect(station.disconnects).toEqual([]);
  });

  it('retained birth message, last will on an abrupt drop, none after stop()', async () => {
    const broker = await startTestBroker(0);
    const status = 'handover/demo/st-1/status';
    const station = startStation(broker.port, { will: { topic: status, payload: 'offline', qos: 1, retain: true } });
    station.client.onConnect = () => {
      station.connects++;
      station.client.publish(status, 'online', 1, true);
    };
    station.client.start();
    await waitFor(() => station.connects === 1 && backlogOf(station.client).inflight === 0 && station.network.written.length >= 2, 'birth acknowledged');

    // A subscriber arriving later gets the retained birth message.
    const hub = await nodeSubscriber(broker.port, status);
    const birth = await waitFor(() => hub.messages[0], 'retained birth');
    expect(birth.payload.toString()).toBe('online');
    expect(birth.packet.retain).toBe(true);

    // Cut the link without a goodbye: the broker publishes the will; the station comes back.
    station.network.killAll();
    await waitFor(() => hub.messages.length >= 2, 'last will');
    expect(hub.messages[1].payload.toString()).toBe('offline');
    expect(hub.messages[1].packet.qos).toBe(1);
    await waitFor(() => station.connects === 2, 'reconnect');
    await waitFor(() => hub.messages.length >= 3, 'second birth');
    expect(hub.messages[2].payload.toString()).toBe('online');
    expect(station.disconnects.length).toBe(1);

    // A clean stop sends DISCONNECT: no will.
    const disconnected = new Promise<void>((resolve) => broker.aedes.once('clientDisconnect', () => resolve()));
    station.client.stop();
    expect(station.client.state).toBe('idle');
    await disconnected;
    await sleep(200);
    expect(hub.messages.length).toBe(3);
    expect(parseAll(station.network.written).at(-1)?.cmd).toBe('disconnect');
  });

  it('subscribes, receives QoS 1 messages and acknowledges them, and re-subscribes after a reconnect', async () => {
    const broker = await startTestBroker(0);
    const subscribed: string[] = [];
    broker.aedes.on('subscribe', (subscriptions, client) => {
      if (client.id.startsWith('station-')) subscribed.push(...subscriptions.map((subscription) => `${subscription.topic}@${subscription.qos}`));
    });
    let stationAcks = 0;
    broker.aedes.on('ack', (packet, client) => {
      if (client.id.startsWith('station-')) stationAcks++;
    });
    const station = startStation(broker.port);
    expect(station.client.subscribe('handover/demo/st-1/cmd', 1)).toBe(true);
    expect(station.client.subscribe('bad/#/filter', 1)).toBe(false);
    station.client.start();
    await waitFor(() => subscribed.length === 1, 'subscription');
    expect(subscribed).toEqual(['handover/demo/st-1/cmd@1']);

    const hub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 });
    cleanups.push(() => hub.endAsync(true));
    const payloads = [new Uint8Array([1, 2, 3]), new Uint8Array(0), randomBytes(prng(3), 5000)];
    for (const payload of payloads) await hub.publishAsync('handover/demo/st-1/cmd', Buffer.from(payload), { qos: 1 });
    await waitFor(() => station.messages.length === 3, 'three commands');
    expect(station.messages.map((message) => message.topic)).toEqual(Array(3).fill('handover/demo/st-1/cmd'));
    station.messages.forEach((message, index) => expect(message.payload).toEqual(payloads[index]));
    await waitFor(() => stationAcks === 3, 'three PUBACKs from the station');
    // Over maxPacketBytes (16 KiB): acknowledged so the broker does not resend it, but not delivered.
    await hub.publishAsync('handover/demo/st-1/cmd', Buffer.alloc(20000, 7), { qos: 1 });
    await waitFor(() => stationAcks === 4, 'PUBACK for the oversized command');
    expect(station.messages.length).toBe(3);
    expect(station.logs).toEqual([expect.stringMatching(/^subscribe bad\/#\/filter refused/), expect.stringMatching(/^dropped a PUBLISH of 200\d\d bytes/)]);
    expect(station.client.state).toBe('connected');

    station.network.killAll();
    await waitFor(() => subscribed.length === 2, 're-subscription after reconnect');
    await hub.publishAsync('handover/demo/st-1/cmd', 'after reconnect', { qos: 1 });
    await waitFor(() => station.messages.length === 4, 'message after reconnect');
    expect(text(station.messages[3].payload)).toBe('after reconnect');
  });

  it('sends keep-alive PINGREQs and stays connected', async () => {
    const broker = await startTestBroker(0);
    let pings = 0;
    broker.aedes.on('ping', () => pings++);
    const station = startStation(broker.port, { keepAliveSec: 1 });
    station.client.start();
    await waitFor(() => station.client.state === 'connected', 'connected');
    await sleep(2700);
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(pings).toBeLessThanOrEqual(3);
    expect(station.client.state).toBe('connected');
    expect(station.disconnects).toEqual([]);
  });

  it('detects a dead connection (no PINGRESP, no traffic for 1.5 × keep-alive) and reconnects', async () => {
    // Answers CONNECT with CONNACK, then never says anything again.
    const server = await rawServer((socket) => socket.once('data', () => socket.write(CONNACK_ACCEPTED)));
    const station = startStation(server.port, { keepAliveSec: 1 });
    station.client.start();
    await waitFor(() => station.client.state === 'connected', 'connected');
    const connectedAt = Date.now();
    await waitFor(() => station.disconnects.length === 1, 'dead connection detected', 4000);
    const elapsedMs = Date.now() - connectedAt;
    expect(elapsedMs).toBeGreaterThanOrEqual(1400);
    expect(elapsedMs).toBeLessThan(2200);
    expect(station.disconnects[0]).toMatch(/no PINGRESP/);
    await waitFor(() => server.connections.length === 2, 'reconnection');
  });

  it('broker stopped and restarted on the same port: reconnects with backoff, re-sends unacknowledged publishes with DUP', async () => {
    // The first broker takes the publishes but never acknowledges them.
    const firstSeen: { messageId: number; dup: boolean; payload: string }[] = [];
    const first = await startTestBroker(0, {
      authorizePublish: (client, packet) => {
        firstSeen.push({ messageId: packet.messageId!, dup: packet.dup, payload: packet.payload.toString() });
      },
    });
    const port = first.port;
    const station = startStation(port, { reconnectMinMs: 100, reconnectMaxMs: 800 });
    station.client.start();
    await waitFor(() => station.client.state === 'connected', 'connected');
    const results: boolean[] = [];
    for (const payload of ['one', 'two', 'three']) station.client.publish('handover/demo/st-1/events', payload, 1, false, (ok) => results.push(ok));
    await waitFor(() => firstSeen.length === 3, 'publishes at the first broker');
    expect(firstSeen.map((seen) => seen.dup)).toEqual([false, false, false]);
    expect(backlogOf(station.client)).toEqual({ inflight: 3, queued: 0 });

    await first.close();
    await waitFor(() => station.disconnects.length === 1, 'disconnect');
    const downAt = station.clock.nowMs();
    station.client.publish('handover/demo/st-1/events', 'four', 1, false, (ok) => results.push(ok));
    expect(backlogOf(station.client)).toEqual({ inflight: 3, queued: 1 });
    await sleep(1600);

    const secondSeen: { messageId: number; dup: boolean; payload: string }[] = [];
    const second = await startTestBroker(port, {
      authorizePublish: (client, packet, callback) => {
        secondSeen.push({ messageId: packet.messageId!, dup: packet.dup, payload: packet.payload.toString() });
        callback(null);
      },
    });
    expect(second.port).toBe(port);
    await waitFor(() => results.length === 4, 'all four acknowledged', 5000);
    expect(results).toEqual([true, true, true, true]);

    // [MQTT-4.4.0-1] same packet ids, DUP set, original order; the queued one goes out fresh.
    expect(secondSeen.map((seen) => seen.payload)).toEqual(['one', 'two', 'three', 'four']);
    expect(secondSeen.map((seen) => seen.dup)).toEqual([true, true, true, false]);
    expect(secondSeen.slice(0, 3).map((seen) => seen.messageId)).toEqual(firstSeen.map((seen) => seen.messageId));
    expect(new Set(secondSeen.map((seen) => seen.messageId)).size).toBe(4);

    // Backoff while the broker was down: gaps between attempts grow from min towards max, jittered.
    const retries = station.network.attempts.filter((attempt) => attempt.atMs > downAt - 5).map((attempt) => attempt.atMs);
    expect(retries.length).toBeGreaterThanOrEqual(4);
    expect(retries.length).toBeLessThanOrEqual(9);
    const gaps = retries.slice(1).map((at, index) => at - retries[index]);
    gaps.forEach((gapMs, index) => {
      const ceilingMs = Math.min(100 * 2 ** (index + 1), 800);
      expect(gapMs, `gap ${index}`).toBeGreaterThanOrEqual(Math.max(100, ceilingMs / 2) - 5);
      expect(gapMs, `gap ${index}`).toBeLessThanOrEqual(ceilingMs + 150);
    });
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(300);
    expect(station.disconnects.filter((reason) => /ECONNREFUSED/.test(reason)).length).toBeGreaterThanOrEqual(3);
    expect(station.connects).toBe(2);
  });

  it('bounds the in-flight window and the queue, refusing clearly when full', async () => {
    const held: (() => void)[] = [];
    const seen: string[] = [];
    const broker = await startTestBroker(0, {
      authorizePublish: (client, packet, callback) => {
        seen.push(packet.payload.toString());
        held.push(() => callback(null));
      },
    });
    const station = startStation(broker.port, { maxInflight: 2, maxQueued: 3, maxPacketBytes: 1024 });
    station.client.start();
    await waitFor(() => station.client.state === 'connected', 'connected');
    const results: (boolean | undefined)[] = [];
    for (let index = 0; index < 5; index++) {
      results.push(undefined);
      expect(station.client.publish('handover/t', `m${index}`, 1, false, (ok) => (results[index] = ok))).toBe(true);
    }
    let refused: boolean | undefined;
    expect(station.client.publish('handover/t', 'm5', 1, false, (ok) => (refused = ok))).toBe(false);
    expect(refused).toBe(false);
    expect(station.logs.at(-1)).toMatch(/queue full/);
    expect(station.client.publish('handover/t', new Uint8Array(1100), 0, false)).toBe(false);
    expect(station.logs.at(-1)).toMatch(/exceeds maxPacketBytes 1024/);
    expect(station.client.publish('handover/+', 'x', 0, false)).toBe(false);
    expect(station.logs.at(-1)).toMatch(/MQTT-3.3.2-2/);

    await waitFor(() => seen.length === 2, 'two in flight');
    await sleep(150);
    expect(seen).toEqual(['m0', 'm1']);
    expect(backlogOf(station.client)).toEqual({ inflight: 2, queued: 3 });
    // Each PUBACK frees one slot for the next queued publish, in order: release one held PUBACK per poll.
    let released = 0;
    await waitFor(() => {
      const release = held.shift();
      if (release) {
        release();
        released++;
      }
      expect(seen.length - released).toBeLessThanOrEqual(2); // never more than maxInflight unacknowledged
      expect(backlogOf(station.client).inflight).toBeLessThanOrEqual(2);
      return results.every((result) => result !== undefined);
    }, 'all five acknowledged');
    expect(seen).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(results).toEqual([true, true, true, true, true]);
  });

  it('a protocol error from the server closes the connection and the client reconnects', async () => {
    // First connection: CONNACK followed by a PUBLISH with QoS 3. Second: behaves.
    const server = await rawServer((socket, index) =>
      socket.once('data', () => socket.write(index === 0 ? Buffer.concat([CONNACK_ACCEPTED, Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61])]) : CONNACK_ACCEPTED)),
    );
    const station = startStation(server.port);
    station.client.start();
    await waitFor(() => station.connects === 2, 'second connection');
    expect(station.disconnects[0]).toMatch(/protocol error: PUBLISH with both QoS bits set \[MQTT-3.3.1-4\]/);
    expect(server.connections.length).toBe(2);
  });

  it('connection failures never throw out of the client', async () => {
    // A port nobody listens on.
    const closed = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(port));
      });
    });
    const station = startStation(closed, { reconnectMinMs: 20, reconnectMaxMs: 40 });
    expect(() => station.client.start()).not.toThrow();
    await waitFor(() => station.disconnects.length >= 3, 'three refused attempts');
    expect(station.disconnects[0]).toMatch(/socket error: .*ECONNREFUSED/);
    expect(['waiting', 'connecting']).toContain(station.client.state);
    station.client.stop();
    expect(station.client.state).toBe('idle');
  });
});

// ---------------------------------------------------------------------------------------------
// Scripted server under a fake clock: exact timing of keep-alive, timeouts and backoff.

interface ScriptedBehaviour {
  /** 'refuse': error + close right after connect(); 'sync-fail': the same, inside connect(); 'throw': connect() throws. */
  connect: 'accept' | 'refuse' | 'sync-fail' | 'throw';
  connack: 'accept' | 'none' | number;
  answerPings: boolean;
}

/** A server in memory: decodes the client's packets with mqtt-packet and answers per `behaviour`. */
class ScriptedNetwork implements Network {
  behaviour: ScriptedBehaviour = { connect: 'accept', connack: 'accept', answerPings: true };
  attemptsAtMs: number[] = [];
  received: { atMs: number; packet: mqttPacket.Packet }[] = [];
  handlers: TcpHandlers | undefined;
  constructor(private clock: FakeClock) {}

  isUp(): boolean {
    return true;
  }

  connect(host: string, port: number, handlers: TcpHandlers): TcpConnection {
    this.attemptsAtMs.push(this.clock.now);
    const behaviour = this.behaviour.connect;
    if (behaviour === 'throw') throw new Error('no route to host');
    if (behaviour === 'sync-fail') {
      handlers.onError('refused at once');
      handlers.onClose();
    } else if (behaviour === 'refuse') {
      this.clock.setTimeout(() => {
        handlers.onError('ECONNREFUSED');
        handlers.onClose();
      }, 0);
    } else {
      this.handlers = handlers;
      this.clock.setTimeout(() => handlers.onConnect(), 0);
    }
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet) => {
      this.received.push({ atMs: this.clock.now, packet });
      if (packet.cmd === 'connect' && this.behaviour.connack !== 'none') {
        const code = this.behaviour.connack === 'accept' ? 0 : this.behaviour.connack;
        this.clock.setTimeout(() => handlers.onData(new Uint8Array([0x20, 0x02, 0x00, code])), 0);
      }
      if (packet.cmd === 'pingreq' && this.behaviour.answerPings) this.clock.setTimeout(() => handlers.onData(new Uint8Array([0xd0, 0x00])), 0);
    });
    return {
      write: (data) => {
        parser.parse(Buffer.from(data));
      },
      end: () => {},
    };
  }

  sent(cmd: string): { atMs: number; packet: mqttPacket.Packet }[] {
    return this.received.filter((entry) => entry.packet.cmd === cmd);
  }
}

function scripted(overrides: Partial<MqttClientOptions> = {}) {
  const clock = new FakeClock();
  const network = new ScriptedNetwork(clock);
  const client = new MqttClient(network, clock, {
    host: 'broker',
    port: 1883,
    clientId: 'station-fake',
    keepAliveSec: 10,
    maxInflight: 4,
    reconnectMinMs: 500,
    reconnectMaxMs: 8000,
    random: prng(42),
    ...overrides,
  });
  const disconnects: { atMs: number; reason: string }[] = [];
  client.onDisconnect = (reason) => disconnects.push({ atMs: clock.now, reason });
  return { clock, network, client, disconnects };
}

describe('MqttClient under a fake clock', () => {
  it('PINGREQ after a keep-alive period of silence; dead after 1.5 periods with no answer', () => {
    const { clock, network, client, disconnects } = scripted({ keepAliveSec: 10 });
    client.start();
    clock.advance(1);
    expect(client.state).toBe('connected');
    clock.advance(9999);
    expect(network.sent('pingreq').map((entry) => entry.atMs)).toEqual([10000]);
    clock.advance(10000);
    expect(network.sent('pingreq').map((entry) => entry.atMs)).toEqual([10000, 20000]);
    network.behaviour.answerPings = false;
    clock.advance(10000);
    expect(network.sent('pingreq').length).toBe(3);
    expect(client.state).toBe('connected');
    // The last PINGRESP at 20000: dead at 20000 + 15000.
    clock.advance(4999);
    expect(client.state).toBe('connected');
    clock.advance(1);
    expect(client.state).toBe('waiting');
    expect(disconnects).toEqual([{ atMs: 35000, reason: 'no PINGRESP for 15000 ms (keep-alive 10 s)' }]);
  });

  it('pings when nothing is received even while it keeps sending (QoS 0 every second)', () => {
    const { clock, network, client } = scripted({ keepAliveSec: 10 });
    client.start();
    clock.advance(1);
    for (let second = 0; second < 12; second++) {
      client.publish('t', 'x', 0, false);
      clock.advance(1000);
    }
    expect(network.sent('pingreq').length).toBe(1);
    expect(client.state).toBe('connected');
  });

  it('a broker that keeps sending publishes but never answers PINGREQ is left 1.5 periods after the CONNACK [MQTT-3.1.2-23]', () => {
    const { clock, network, client, disconnects } = scripted({ keepAliveSec: 10 });
    network.behaviour.answerPings = false;
    client.start();
    clock.advance(1); // CONNACK at 0
    let messageId = 1;
    for (let step = 0; step < 40 && client.state === 'connected'; step++) {
      // A QoS 1 PUBLISH every 500 ms, so the client both receives and sends (PUBACK) all the time.
      network.handlers!.onData(new Uint8Array(mqttPacket.generate({ cmd: 'publish', topic: 'cmd', payload: Buffer.from('x'), qos: 1, messageId: messageId++, dup: false, retain: false })));
      clock.advance(500);
    }
    expect(network.sent('pingreq').map((entry) => entry.atMs)).toEqual([10000]);
    expect(disconnects).toEqual([{ atMs: 15000, reason: 'no PINGRESP for 15000 ms (keep-alive 10 s)' }]);
    expect(client.state).toBe('waiting');
  });

  it('handles one packet of a chunk per turn: the rest in timer callbacks, in order (taps first)', () => {
    const { clock, network, client } = scripted();
    const messages: string[] = [];
    client.onMessage = (topic) => messages.push(topic);
    client.start();
    clock.advance(1);
    const publish = (topic: string, messageId: number) => mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId, dup: false, retain: false });
    network.handlers!.onData(new Uint8Array(Buffer.concat([publish('a', 1), publish('b', 2), publish('c', 3)])));
    expect(messages).toEqual(['a']);
    // A chunk arriving before the rest is handled queues behind it.
    network.handlers!.onData(new Uint8Array(publish('d', 4)));
    expect(messages).toEqual(['a']);
    // (The fake clock runs the chain of 0 ms timers in one advance.)
    clock.advance(0);
    expect(messages).toEqual(['a', 'b', 'c', 'd']);
    expect(network.sent('puback').map((entry) => (entry.packet as mqttPacket.IPubackPacket).messageId)).toEqual([1, 2, 3, 4]);
  });

  it('holds received packets while busy() says so (a card being read), then handles them in order', () => {
    let busy = false;
    const { clock, network, client } = scripted({ busy: () => busy });
    const messages: string[] = [];
    client.onMessage = (topic) => messages.push(topic);
    client.start();
    clock.advance(1);
    busy = true;
    const publish = (topic: string, messageId: number) => mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId, dup: false, retain: false });
    network.handlers!.onData(new Uint8Array(Buffer.concat([publish('a', 1), publish('b', 2)])));
    clock.advance(50);
    expect(messages).toEqual([]);
    busy = false;
    clock.advance(5);
    expect(messages).toEqual(['a', 'b']);
    expect(network.sent('puback').map((entry) => (entry.packet as mqttPacket.IPubackPacket).messageId)).toEqual([1, 2]);
  });

  it('keep-alive 0 sends no pings', () => {
    const { clock, network, client } = scripted({ keepAliveSec: 0 });
    client.start();
    clock.advance(100000);
    expect(network.sent('pingreq').length).toBe(0);
    expect(client.state).toBe('connected');
  });

  it('gives up on a CONNACK that never comes after connectTimeoutMs', () => {
    const { clock, network, client, disconnects } = scripted({ connectTimeoutMs: 3000 });
    network.behaviour.connack = 'none';
    client.start();
    clock.advance(2999);
    expect(client.state).toBe('connecting');
    clock.advance(1);
    expect(client.state).toBe('waiting');
    expect(disconnects[0].reason).toBe('no CONNACK within 3000 ms');
  });

  it('reports a refused CONNACK and retries', () => {
    const { clock, network, client, disconnects } = scripted();
    network.behaviour.connack = 5;
    client.start();
    clock.advance(1);
    expect(disconnects[0].reason).toBe('connection refused: 5 not authorized');
    expect(client.state).toBe('waiting');
  });

  it('backoff: each delay in [max(min, ceiling/2), ceiling], the ceiling doubling up to max, reset after a success', () => {
    const { clock, network, client } = scripted({ reconnectMinMs: 500, reconnectMaxMs: 8000 });
    network.behaviour.connect = 'refuse';
    client.start();
    clock.advance(120000);
    const gaps = network.attemptsAtMs.slice(1).map((at, index) => at - network.attemptsAtMs[index]);
    expect(gaps.length).toBeGreaterThan(10);
    gaps.forEach((gapMs, index) => {
      const ceilingMs = Math.min(500 * 2 ** index, 8000);
      expect(gapMs, `gap ${index}`).toBeGreaterThanOrEqual(Math.max(500, ceilingMs / 2));
      expect(gapMs, `gap ${index}`).toBeLessThanOrEqual(ceilingMs);
    });
    expect(new Set(gaps.slice(5)).size).toBeGreaterThan(1); // jittered, not a fixed period

    network.behaviour.connect = 'accept';
    clock.advance(8000);
    expect(client.state).toBe('connected');
    network.behaviour.connect = 'refuse';
    network.handlers!.onClose();
    const droppedAt = clock.now;
    const before = network.attemptsAtMs.length;
    clock.advance(500);
    expect(network.attemptsAtMs.length).toBe(before + 1);
    expect(network.attemptsAtMs[before] - droppedAt).toBe(500);
  });

  it('a connect() that throws or fails synchronously is a failed attempt, never an exception', () => {
    for (const mode of ['throw', 'sync-fail'] as const) {
      const { clock, network, client, disconnects } = scripted({ reconnectMinMs: 100, reconnectMaxMs: 100 });
      network.behaviour.connect = mode;
      expect(() => client.start()).not.toThrow();
      expect(client.state).toBe('waiting');
      expect(() => clock.advance(1000)).not.toThrow();
      expect(network.attemptsAtMs).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
      expect(disconnects.length).toBe(11);
      expect(disconnects[0].reason).toBe(mode === 'throw' ? 'connect failed: Error: no route to host' : 'socket error: refused at once');
      client.stop();
      expect(clock.pending()).toBe(0);
    }
  });

  it('a PUBLISH before CONNACK is a protocol error [MQTT-3.2.0-1]', () => {
    const { clock, network, client, disconnects } = scripted();
    network.behaviour.connack = 'none';
    client.start();
    clock.advance(1);
    network.handlers!.onData(new Uint8Array(mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, dup: false, retain: false })));
    expect(disconnects[0].reason).toMatch(/not CONNACK \[MQTT-3.2.0-1\]/);
  });

  it('an application callback that throws does not stop the PUBACK or the client', () => {
    const { clock, network, client } = scripted();
    const logs: string[] = [];
    client.onLog = (message) => logs.push(message);
    client.onMessage = () => {
      throw new Error('app bug');
    };
    client.start();
    clock.advance(1);
    network.handlers!.onData(new Uint8Array(mqttPacket.generate({ cmd: 'publish', topic: 'cmd', payload: Buffer.from('x'), qos: 1, messageId: 77, dup: false, retain: false })));
    expect(network.sent('puback').map((entry) => (entry.packet as mqttPacket.IPubackPacket).messageId)).toEqual([77]);
    expect(logs).toEqual(['mqtt: onMessage threw: Error: app bug']);
    expect(client.state).toBe('connected');
  });

  it('an incoming PUBLISH over maxPacketBytes is acknowledged and reported, not delivered', () => {
    const { clock, network, client } = scripted({ maxPacketBytes: 1024 });
    const logs: string[] = [];
    const messages: string[] = [];
    client.onLog = (message) => logs.push(message);
    client.onMessage = (topic) => messages.push(topic);
    client.start();
    clock.advance(1);
    const big = mqttPacket.generate({ cmd: 'publish', topic: 'cmd', payload: Buffer.alloc(5000), qos: 1, messageId: 9, dup: false, retain: false });
    for (let offset = 0; offset < big.length; offset += 700) network.handlers!.onData(new Uint8Array(big.subarray(offset, offset + 700)));
    network.handlers!.onData(new Uint8Array(mqttPacket.generate({ cmd: 'publish', topic: 'cmd', payload: Buffer.from('small'), qos: 1, messageId: 10, dup: false, retain: false })));
    expect(network.sent('puback').map((entry) => (entry.packet as mqttPacket.IPubackPacket).messageId)).toEqual([9, 10]);
    expect(messages).toEqual(['cmd']);
    expect(logs).toEqual([`dropped a PUBLISH of ${big.length} bytes on cmd (maxPacketBytes 1024)`]);
    expect(client.state).toBe('connected');
  });

  it('stop() gives up queued and in-flight publishes with onDone(false) and leaves no timer behind', () => {
    const { clock, client } = scripted();
    const results: boolean[] = [];
    client.start();
    clock.advance(1);
    for (let index = 0; index < 6; index++) client.publish('t', 'x', 1, false, (ok) => results.push(ok));
    expect(backlogOf(client)).toEqual({ inflight: 4, queued: 2 });
    client.stop();
    expect(results).toEqual([false, false, false, false, false, false]);
    expect(clock.pending()).toBe(0);
  });

  it('refuses options that could never work', () => {
    const clock = new FakeClock();
    const network = new ScriptedNetwork(clock);
    const base: MqttClientOptions = { host: 'h', port: 1, clientId: 'c', keepAliveSec: 10, maxInflight: 1, reconnectMinMs: 1, reconnectMaxMs: 2, random: Math.random };
    expect(() => new MqttClient(network, clock, { ...base, password: 'secret' })).toThrow(/MQTT-3.1.2-22/);
    expect(() => new MqttClient(network, clock, { ...base, clientId: '' })).toThrow(/MQTT-3.1.3-7/);
    expect(() => new MqttClient(network, clock, { ...base, maxInflight: 0 })).toThrow(/maxInflight/);
    expect(() => new MqttClient(network, clock, { ...base, maxPacketBytes: 64 })).toThrow(/maxPacketBytes/);
    expect(() => new MqttClient(network, clock, { ...base, keepAliveSec: 70000 })).toThrow(/keepAliveSec/);
    expect(() => new MqttClient(network, clock, { ...base, will: { topic: 'a/#', payload: '', qos: 0, retain: false } })).toThrow(/will/);
    expect(() => new MqttClient(network, clock, { ...base, clientId: '', cleanSession: true })).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// Packets: our encoders read by mqtt-packet, mqtt-packet's encodings read by our parser.

describe('packet encoders, read back by mqtt-packet', () => {
  it('CONNECT with will, user name and password', () => {
    const [packet] = parseAll([
      encodeConnect({
        clientId: 'handover-st-1',
        cleanSession: true,
        keepAliveSec: 45,
        username: 'station',
        password: new Uint8Array([0, 1, 2, 0xff]),
        will: { topic: 'handover/s/st-1/status', payload: 'offline', qos: 1, retain: true },
      }),
    ]);
    expect(packet).toMatchObject({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 45,
      clientId: 'handover-st-1',
      username: 'station',
      password: Buffer.from([0, 1, 2, 0xff]),
      will: { topic: 'handover/s/st-1/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    });
  });

  it('PUBLISH (with packet id and DUP set afterwards), PUBACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT', () => {
    const payload = randomBytes(prng(9), 300);
    const publish = encodePublish('a/ü/b', payload, 1, true, false, 0);
    setPublishPacketId(publish, 0xbeef);
    markPublishDuplicate(publish);
    const packets = parseAll([
      publish,
      encodePublish('q0', new Uint8Array(0), 0, false, true, 0),
      encodePuback(513),
      encodeSubscribe(7, 'handover/+/st-1/#', 1),
      encodeUnsubscribe(8, 'handover/+/st-1/#'),
      encodePingreq(),
      encodeDisconnect(),
    ]);
    expect(packets[0]).toMatchObject({ cmd: 'publish', topic: 'a/ü/b', qos: 1, retain: true, dup: true, messageId: 0xbeef, payload: Buffer.from(payload) });
    expect(packets[1]).toMatchObject({ cmd: 'publish', topic: 'q0', qos: 0, dup: false, retain: false });
    expect(packets[2]).toMatchObject({ cmd: 'puback', messageId: 513 });
    expect(packets[3]).toMatchObject({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'handover/+/st-1/#', qos: 1 }] });
    expect(packets[4]).toMatchObject({ cmd: 'unsubscribe', messageId: 8, unsubscriptions: ['handover/+/st-1/#'] });
    expect(packets.slice(5).map((packet) => packet.cmd)).toEqual(['pingreq', 'disconnect']);
  });

  it('Remaining Length at the 1/2/3-byte boundaries', () => {
    for (const payloadBytes of [0, 120, 121, 122, 16378, 16379, 16380, 200000]) {
      const [packet] = parseAll([encodePublish('t', new Uint8Array(payloadBytes), 0, false, false, 0)]);
      expect((packet as mqttPacket.IPublishPacket).payload.length).toBe(payloadBytes);
    }
  });

  it('topic name and filter rules', () => {
    expect(topicNameProblem('handover/s/st-1/events')).toBeUndefined();
    expect(topicNameProblem('')).toMatch(/MQTT-4.7.3-1/);
    expect(topicNameProblem('a/+/b')).toMatch(/MQTT-3.3.2-2/);
    expect(topicNameProblem('a\u0000b')).toMatch(/MQTT-4.7.3-2/);
    expect(topicNameProblem('x'.repeat(65536))).toMatch(/MQTT-4.7.3-3/);
    expect(topicFilterProblem('a/+/b/#')).toBeUndefined();
    expect(topicFilterProblem('#')).toBeUndefined();
    expect(topicFilterProblem('a/#/b')).toMatch(/MQTT-4.7.1-2/);
    expect(topicFilterProblem('a/b#')).toMatch(/MQTT-4.7.1-2/);
    expect(topicFilterProblem('a/b+/c')).toMatch(/MQTT-4.7.1-3/);
  });
});

/** Server packets as mqtt-packet writes them, with what our parser must make of them. */
function randomServerPacket(random: () => number): { bytes: Uint8Array; expected: ServerPacket } {
  const messageId = 1 + below(random, 65535);
  switch (below(random, 6)) {
    case 0: {
      const returnCode = below(random, 6);
      const sessionPresent = returnCode === 0 && random() < 0.5;
      return {
        bytes: mqttPacket.generate({ cmd: 'connack', returnCode, sessionPresent }),
        expected: { type: PACKET.CONNACK, returnCode, sessionPresent },
      };
    }
    case 1: {
      const qos = below(random, 2) as 0 | 1;
      const topic = ['handover/demo/st-1/cmd', 'a', 'ü/✓/𝄞', 'x/'.repeat(below(random, 40)) + 'y'][below(random, 4)];
      const payload = randomBytes(random, random() < 0.1 ? below(random, 3000) : below(random, 40));
      const dup = qos > 0 && random() < 0.3;
      const retain = random() < 0.3;
      return {
        bytes: mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup, retain, messageId }),
        expected: { type: PACKET.PUBLISH, topic, payload, qos, dup, retain, packetId: qos ? messageId : 0 },
      };
    }
    case 2:
      return { bytes: mqttPacket.generate({ cmd: 'puback', messageId }), expected: { type: PACKET.PUBACK, packetId: messageId } };
    case 3: {
      const granted = Array.from({ length: 1 + below(random, 3) }, () => [0, 1, 2, 128][below(random, 4)]);
      return { bytes: mqttPacket.generate({ cmd: 'suback', messageId, granted }), expected: { type: PACKET.SUBACK, packetId: messageId, returnCodes: granted } };
    }
    case 4:
      return { bytes: mqttPacket.generate({ cmd: 'unsuback', messageId, granted: [] }), expected: { type: PACKET.UNSUBACK, packetId: messageId } };
    default:
      return { bytes: mqttPacket.generate({ cmd: 'pingresp' }), expected: { type: PACKET.PINGRESP } };
  }
}

/** Feeds `stream` in random fragments (often single bytes); checks the buffer bound after each. */
function feed(parser: MqttParser, stream: Uint8Array, random: () => number, maxPacketBytes: number) {
  const packets: ServerPacket[] = [];
  let error: string | undefined;
  let offset = 0;
  while (offset < stream.length) {
    const size = random() < 0.3 ? 1 : 1 + below(random, random() < 0.5 ? 16 : 4096);
    const chunk = stream.subarray(offset, offset + size);
    offset += size;
    const countBefore = packets.length;
    const result = parser.push(chunk, (packet) => packets.push({ ...packet, ...('payload' in packet ? { payload: packet.payload.slice() } : {}) }));
    expect(parser.bufferedBytes()).toBeLessThanOrEqual(maxPacketBytes);
    if (error !== undefined) {
      // After an error, the parser refuses everything and delivers nothing more.
      expect(result).toBe(error);
      expect(packets.length).toBe(countBefore);
    }
    error = result;
  }
  return { packets, error };
}

describe('MqttParser fuzzing (seeded, reproducible)', () => {
  it('skips an oversized PUBLISH without keeping it, reports it for acknowledgement, and goes on', () => {
    const random = prng(0x51de);
    for (let round = 0; round < 200; round++) {
      const big = randomBytes(random, 16384 + below(random, 100000));
      const stream = Buffer.concat([
        mqttPacket.generate({ cmd: 'publish', topic: 'handover/demo/st-1/cmd', payload: Buffer.from(big), qos: 1, messageId: 4242, dup: false, retain: true }),
        mqttPacket.generate({ cmd: 'pingresp' }),
        mqttPacket.generate({ cmd: 'publish', topic: 'small', payload: Buffer.from('ok'), qos: 0, dup: false, retain: false }),
      ]);
      const parser = new MqttParser(DEFAULT_MAX_PACKET_BYTES);
      const { packets, error } = feed(parser, new Uint8Array(stream), random, 5 + 256);
      expect(error).toBeUndefined();
      expect(packets).toEqual([
        { type: PACKET.PUBLISH, topic: 'handover/demo/st-1/cmd', payload: new Uint8Array(0), qos: 1, dup: false, retain: true, packetId: 4242, droppedBytes: stream.length - 2 - 11 },
        { type: PACKET.PINGRESP },
        { type: PACKET.PUBLISH, topic: 'small', payload: new Uint8Array([0x6f, 0x6b]), qos: 0, dup: false, retain: false, packetId: 0 },
      ]);
    }
  });

  it('valid streams from mqtt-packet, fragmented at random, several packets per chunk', () => {
    const random = prng(0xc0ffee);
    for (let round = 0; round < 1500; round++) {
      const generated = Array.from({ length: 1 + below(random, 8) }, () => randomServerPacket(random));
      const stream = Buffer.concat(generated.map((entry) => entry.bytes));
      const parser = new MqttParser(DEFAULT_MAX_PACKET_BYTES);
      const { packets, error } = feed(parser, new Uint8Array(stream), random, DEFAULT_MAX_PACKET_BYTES);
      expect(error, `round ${round}`).toBeUndefined();
      expect(packets, `round ${round}`).toEqual(generated.map((entry) => entry.expected));
      expect(parser.bufferedBytes()).toBe(0);
    }
  });

  it('mutated streams and garbage: never throws, bounded buffer, stops at the first error', () => {
    const random = prng(0xbadc0de);
    const started = performance.now();
    let errors = 0;
    for (let round = 0; round < 6000; round++) {
      let stream: Uint8Array;
      const kind = round % 3;
      if (kind === 0) stream = randomBytes(random, below(random, 300));
      else {
        const valid = Buffer.concat(Array.from({ length: 1 + below(random, 5) }, () => randomServerPacket(random).bytes));
        const bytes = Array.from(valid);
        for (let edit = 0; edit < 1 + below(random, 4); edit++) {
          const at = below(random, bytes.length + 1);
          const op = below(random, 4);
          if (op === 0 && bytes.length) bytes[at % bytes.length] ^= 1 << below(random, 8);
          else if (op === 1) bytes.splice(at, 0, ...randomBytes(random, 1 + below(random, 6)));
          else if (op === 2) bytes.splice(at, 1 + below(random, 6));
          else if (bytes.length) bytes[at % bytes.length] = [0x00, 0x7f, 0x80, 0xff, 0x36, 0x62, 0xf0][below(random, 7)];
        }
        stream = Uint8Array.from(bytes);
        if (kind === 2) stream = Uint8Array.from([...stream, ...randomBytes(random, below(random, 100))]);
      }
      const maxPacketBytes = random() < 0.5 ? 256 : DEFAULT_MAX_PACKET_BYTES;
      const parser = new MqttParser(maxPacketBytes);
      let result: { error: string | undefined };
      try {
        result = feed(parser, stream, random, maxPacketBytes);
      } catch (error) {
        throw new Error(`round ${round}: ${String(error)} on ${Buffer.from(stream).toString('hex')}`);
      }
      if (result.error) errors++;
    }
    expect(errors).toBeGreaterThan(1000);
    expect(performance.now() - started).toBeLessThan(15000);
  });

  it('refuses an oversized or malformed length as soon as the header says so', () => {
    // A SUBACK announcing 1 MB: refused after its 4 header bytes, nothing allocated.
    const oversized = new MqttParser(16384);
    expect(oversized.push(new Uint8Array([0x90, 0x80, 0x80, 0x40]), () => {})).toMatch(/exceeds the limit of 16384/);
    expect(oversized.bufferedBytes()).toBe(0);
    // An oversized PUBLISH whose topic does not fit the kept prefix cannot be acknowledged: an error.
    const longTopic = mqttPacket.generate({ cmd: 'publish', topic: 't'.repeat(400), payload: Buffer.alloc(200), qos: 1, messageId: 5, dup: false, retain: false });
    expect(new MqttParser(512).push(new Uint8Array(longTopic), () => {})).toMatch(/too long to acknowledge/);
    expect(new MqttParser(16384).push(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => {})).toMatch(/longer than four bytes/);
    expect(new MqttParser(16384).push(new Uint8Array([0x20, 0x03, 0, 0, 0]), () => {})).toMatch(/remaining length 3, not 2/);
    expect(new MqttParser(16384).push(new Uint8Array([0x10]), () => {})).toMatch(/type 1 is not sent to a client/);
    expect(new MqttParser(16384).push(new Uint8Array([0x41, 0x02, 0, 1]), () => {})).toMatch(/MQTT-2.2.2-1/);
    expect(new MqttParser(16384).push(new Uint8Array([0x32, 0x03, 0x00, 0x01, 0x61, 0x00, 0x00]), () => {})).toMatch(/run|packet id/);
    expect(new MqttParser(16384).push(new Uint8Array([0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00]), () => {})).toMatch(/MQTT-2.3.1-1/);
    expect(new MqttParser(16384).push(new Uint8Array([0x30, 0x03, 0x00, 0x01, 0x23]), () => {})).toMatch(/MQTT-3.3.2-2/);
    expect(new MqttParser(16384).push(new Uint8Array([0x30, 0x04, 0x00, 0x02, 0xc3, 0x28]), () => {})).toMatch(/MQTT-1.5.3-1/);
    expect(new MqttParser(16384).push(new Uint8Array([0x90, 0x03, 0x00, 0x01, 0x03]), () => {})).toMatch(/reserved/);
  });
});
