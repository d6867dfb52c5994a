// What someone on the school Wi-Fi can make the broker hold or write, with no credential or with a
// stolen station credential, against the embedded broker and against Debian's Mosquitto run with
// the files `handover broker mosquitto-config` writes:
// - a CONNECT announcing 256 MB, streamed from a socket with no credential: the broker closes the
//   connection at the fixed header instead of keeping the bytes (the parser would keep them all);
// - a 2 MB publish from a station's credential: the connection is closed, nothing reaches the hub,
//   and a 64 KB frame (over the hub's own frame limit, under the broker's) still reaches the hub to
//   be refused with its reason;
// - QoS 2 publishes from a station's credential whose PUBREL never comes (aedes kept up to 1,000,
//   payload and all): the embedded broker closes the connection after a few;
// - a station's credential reconnecting to start each connection with a fresh allowance: the
//   embedded broker's 200-a-second limit is the station's, not the connection's;
// - a client id another credential is connected under (Home Assistant's, taken by another read-only
//   account) is refused on the embedded broker (Mosquitto: each user name is its own client id);
// - user names with a newline, control and bidi characters, or 10,000 characters: the hub's log
//   gets one line per refusal with the name quoted, escaped and cut, never a line the client wrote,
//   and the Stations page shows the same.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PACKET_BYTES } from '../../hub/src/broker/packet-limit';
import { writeMosquittoFiles } from '../../hub/src/broker/mosquitto-files';
import { BrokerAccounts } from '../../hub/src/broker/accounts';
import { DEMO_STATION_ID } from '../../hub/src/demo/demo-station';
import { Stations } from '../../hub/src/records/stations';
import { eventually, mqttLogin, startHub, type HubHarness } from '../support/hub-harness';
import { HAS_MOSQUITTO } from '../support/mosquitto';
import { startClosedNetwork, type ClosedNetwork } from '../support/closed-network';

const DEMO = DEMO_STATION_ID;
const OTHER = 'room-12';

/**
 * Opens a socket with no credential, sends a CONNECT's fixed header announcing the largest length
 * MQTT allows, then streams `megabytes` of its body. Whether the broker closed the socket, and how
 * much had been written by then.
 */
async function hugeConnect(port: number, megabytes: number): Promise<{ closed: boolean; written: number }> {
  const socket = net.connect(port, '127.0.0.1');
  let closed = false;
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
  const chunk = Buffer.alloc(1024 * 1024, 0x41);
  let written = 0;
  for (let i = 0; i < megabytes && !closed; i++) {
    const drained = socket.write(chunk);
    written += chunk.length;
    if (!drained) await new Promise<void>((resolve) => (closed ? resolve() : (socket.once('drain', () => resolve()), socket.once('close', () => resolve()))));
  }
  // Whatever the broker does with a complete body, it has had time to close.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const result = { closed, written };
  socket.destroy();
  return result;
}

/** Publishes `payload` on `topic` as `login`; whether the broker closed the connection instead of acknowledging it. */
async function publishCloses(url: string, login: IClientOptions, topic: string, payload: Buffer): Promise<boolean> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...login });
  let closed = false;
  client.on('close', () => {
    closed = true;
  });
  client.on('error', () => {});
  await Promise.race([client.publishAsync(topic, payload, { qos: 1 }).catch(() => undefined), new Promise<void>((resolve) => client.once('close', () => resolve()))]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  client.end(true);
  return closed;
}

for (const broker of ['embedded', 'mosquitto'] as const) {
  describe.skipIf(broker === 'mosquitto' && !process.env.CI && !HAS_MOSQUITTO)(`the ${broker} broker's bounds against a client on the Wi-Fi`, () => {
    let network: ClosedNetwork;
    let harness: HubHarness;
    const readers: Record<string, string> = {};

    beforeAll(async () => {
      network = await startClosedNetwork(broker, OTHER, ['homeassistant', 'grafana']);
      ({ harness } = network);
      Object.assign(readers, network.readers);
    }, 60_000);

    afterAll(async () => {
      await network?.stop();
    });

    const port = () => Number(new URL(harness.hub.mqttUrl).port);
    const demoOnline = async () => (await harness.getJson('/api/stations')).body.stations.find((s: { id: string }) => s.id === DEMO).status === 'online';

    it('closes a connection with no credential whose CONNECT announces 256 MB, before keeping its body', async () => {
      const { closed, written } = await hugeConnect(port(), 48);
      expect(closed).toBe(true);
      expect(written).toBeLessThan(48 * 1024 * 1024);
      expect(await demoOnline()).toBe(true);
      if (harness.hub.broker) {
        const refusal = harness.hub.broker.guard!.refusals().find((r) => r.reason === 'packet too large: connection closed');
        expect(refusal).toMatchObject({ what: 'connect', client: expect.stringMatching(/^unauthenticated client from /) });
      }
    }, 60_000);

    it("closes a station credential's connection on a 2 MB publish; a 64 KB frame still reaches the hub to be refused", async () => {
      const login = await mqttLogin(harness.hub, { station: OTHER });
      const topic = `handover/demo/${OTHER}/events`;
      expect(await publishCloses(harness.hub.mqttUrl, login, topic, Buffer.alloc(2 * 1024 * 1024, 0x41))).toBe(true);
      expect(await publishCloses(harness.hub.mqttUrl, login, topic, Buffer.alloc(64 * 1024, 0x41))).toBe(false);
      await eventually(async () => (await harness.getJson('/api/rejections')).body.rejected.some((r: { bytes: number }) => r.bytes === 64 * 1024), 10_000, 'the 64 KB frame refused by the hub');
      const rejected = (await harness.getJson('/api/rejections')).body.rejected as Array<{ bytes: number }>;
      expect(rejected.filter((r) => r.bytes > MAX_PACKET_BYTES)).toEqual([]);
      expect(await demoOnline()).toBe(true);
      if (harness.hub.broker) {
        const refusal = harness.hub.broker.guard!.refusals().find((r) => r.client === `station ${OTHER}` && r.reason === 'packet too large: connection closed');
        expect(refusal?.what).toBe('publish');
      }
    }, 60_000);

    // Mosquitto acknowledges them all but keeps next to nothing of them (measured: +22 MB for 300 of 1 MB).
    it.skipIf(broker === 'mosquitto')("closes a station credential's connection that leaves QoS 2 publishes unreleased", async () => {
      const login = await mqttLogin(harness.hub, { station: OTHER });
      const socket = net.connect(port(), '127.0.0.1');
      const parser = mqttPacket.parser();
      const received: string[] = [];
      let closed = false;
      parser.on('packet', (packet) => received.push(packet.cmd));
      socket.on('data', (data) => parser.parse(data));
      socket.on('error', () => {});
      socket.on('close', () => {
        closed = true;
      });
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: login.clientId!, username: login.username!, password: Buffer.from(String(login.password)) }));
      await eventually(() => received.includes('connack'), 5000, 'the CONNACK');
      const payload = Buffer.alloc(100 * 1024, 0x41);
      for (let id = 1; id <= 100 && !closed; id++) {
        if (!socket.write(mqttPacket.generate({ cmd: 'publish', topic: `handover/demo/${OTHER}/events`, payload, qos: 2, messageId: id, dup: false, retain: false }))) {
          await new Promise<void>((resolve) => (closed ? resolve() : (socket.once('drain', () => resolve()), socket.once('close', () => resolve()))));
        }
      }
      await eventually(() => closed, 10_000, 'the broker to close the connection');
      expect(received.filter((cmd) => cmd === 'pubrec').length).toBeLessThanOrEqual(8);
      socket.destroy();
      expect(await demoOnline()).toBe(true);
    }, 30_000);

    it.skipIf(broker === 'mosquitto')("holds a station's credential to its publish limit across reconnects", async () => {
      const login = await mqttLogin(harness.hub, { station: OTHER });
      const overLimit = () => harness.hub.broker!.guard!.refusals().find((r) => r.client === `station ${OTHER}` && r.reason.startsWith('over '))?.count ?? 0;
      const before = overLimit();
      // 20 connections, each sending 400 (the burst one connection may send at once): 8,000 in far less than the 38 s 200 a second would take.
      for (let round = 0; round < 20; round++) {
        const client = await mqtt.connectAsync(harness.hub.mqttUrl, { reconnectPeriod: 0, ...login });
        for (let i = 0; i < 400; i++) client.publish(`handover/demo/${OTHER}/events`, Buffer.from([0x82, 0x40, 0x40]), { qos: 0 });
        await client.endAsync();
      }
      await eventually(() => overLimit() > before, 5000, 'publishes over the limit dropped');
      expect(overLimit() - before).toBeGreaterThan(1000);
      expect(await demoOnline()).toBe(true);
    }, 60_000);

    it.skipIf(broker === 'mosquitto')("refuses a client id another credential is connected under (one read-only account knocking another off)", async () => {
      const ha = await mqtt.connectAsync(harness.hub.mqttUrl, { reconnectPeriod: 0, username: 'homeassistant', password: readers.homeassistant, clientId: 'home-assistant-1' });
      let haClosed = false;
      ha.on('close', () => {
        haClosed = true;
      });
      const taken = await mqtt.connectAsync(harness.hub.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, username: 'grafana', password: readers.grafana, clientId: 'home-assistant-1' }).then(
        async (client) => {
          await client.endAsync();
          return 0;
        },
        (error: { code?: number }) => error.code ?? -1,
      );
      expect(taken).toBe(5);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(haClosed).toBe(false);
      // Its own credential may take its session over (a reconnect after a half-open connection).
      const again = await mqtt.connectAsync(harness.hub.mqttUrl, { reconnectPeriod: 0, username: 'homeassistant', password: readers.homeassistant, clientId: 'home-assistant-1' });
      await eventually(() => haClosed, 5000, 'the old connection replaced');
      await again.endAsync();
    }, 30_000);

    it('says on the Stations page where online and offline come from with this broker', async () => {
      const page = await harness.getPage('/stations');
      expect(page.text).toContain(broker === 'embedded' ? 'own signed-in connection to the hub’s broker' : 'own birth message and last will');
    });

    it.skipIf(broker === 'mosquitto')('logs a user name a client chose as one quoted, escaped, cut line, on the page too', async () => {
      const forged = '2026-12-07T12:00:00.000Z info [hub/ingest] demo-1 boot 1 #99 collect locker 0';
      // (A name of 60,000 characters is a CONNECT over the broker's 16 KiB: closed at its header, as above.)
      const names = [`x\n${forged}`, `\u202e\u0000<b>bold</b>`, 'u'.repeat(10_000)];
      for (const username of names) {
        await mqtt.connectAsync(harness.hub.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, username, password: 'guess', clientId: `laptop-${Math.random().toString(16).slice(2)}` }).then(
          (client) => client.endAsync().then(() => expect.unreachable('let in')),
          () => undefined,
        );
      }
      // Each name's own refusal (earlier tests' refusals are in the log too), as the log shows it.
      const shownNames = ['"x\\u000a', '"\\u202e\\u0000<b>bold</b>"', '"uuuu'];
      await eventually(() => shownNames.every((name) => harness.logs.some((line) => line.includes(`refused connect by ${name}`))), 10_000, 'each refusal logged');
      const lines = harness.logs.flatMap((line) => line.split('\n'));
      expect(lines.filter((line) => line.startsWith(forged))).toEqual([]);
      const refusedLines = harness.logs.filter((line) => line.includes('refused connect by'));
      for (const line of refusedLines) {
        expect(line).not.toMatch(/[\n\u0000\u202e]/);
        expect(line.length).toBeLessThan(400);
      }
      expect(refusedLines.some((line) => line.includes(`refused connect by "x\\u000a${forged.slice(0, 10)}`))).toBe(true);
      const page = await harness.getPage('/stations');
      expect(page.text).not.toContain('u'.repeat(100));
      expect(page.text).not.toMatch(/[\u0000\u202e]/);
      expect(page.text).toContain('\\u202e\\u0000&lt;b&gt;bold&lt;/b&gt;');
    }, 30_000);
  });
}
