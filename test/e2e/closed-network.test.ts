// The closed network, tried the way a pupil with a laptop on the school Wi-Fi would: against the
// embedded broker and against Debian's Mosquitto set up with the files `handover broker
// mosquitto-config` writes. Anonymous clients and wrong passwords are refused at CONNECT; a
// station's credential reads and writes only its own topics; spoofed status and discovery from
// anyone but the rightful client change nothing (database, page, Home Assistant's retained
// configs, the station's flash); a client-id takeover leaves the real station connected.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stationPassword } from '../../hub/src/broker/access';
import { BrokerAccounts } from '../../hub/src/broker/accounts';
import { writeMosquittoFiles } from '../../hub/src/broker/mosquitto-files';
import { DEMO_CARDS } from '../../hub/src/demo/demo-school';
import { DEMO_STATION_ID } from '../../hub/src/demo/demo-station';
import { Stations } from '../../hub/src/records/stations';
import { eventually, mqttLogin, startHub, type HubHarness } from '../support/hub-harness';
import { HAS_MOSQUITTO, type Mosquitto } from '../support/mosquitto';
import { startClosedNetwork, type ClosedNetwork } from '../support/closed-network';

const DEMO = DEMO_STATION_ID;
const OTHER = 'room-12';
const CONFIG_TOPIC = `homeassistant/binary_sensor/handover_demo_${DEMO}/online/config`;
const STATUS_TOPIC = `handover/demo/${DEMO}/status`;

/** CONNECT as `options`; the CONNACK's refusal code, or 0 when accepted. */
async function connackCode(url: string, options: IClientOptions): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    await client.endAsync();
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

/** Every message a client receives on `filters` (retained ones first), and what each SUBACK granted. */
async function listen(client: MqttClient, filters: string[]): Promise<{ messages: Array<{ topic: string; payload: string; retain: boolean }>; granted: number[] }> {
  const messages: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString('utf8'), retain: packet.retain }));
  // One SUBSCRIBE per filter: mqtt.js rejects a whole SUBACK that refuses any of its filters.
  const granted: number[] = [];
  for (const filter of filters) {
    try {
      granted.push((await client.subscribeAsync(filter, { qos: 1 }))[0].qos);
    } catch (error) {
      granted.push(/Subscribe error/.test((error as Error).message) ? 128 : -1);
    }
  }
  return { messages, granted };
}

const settle = (ms = 600) => new Promise((resolve) => setTimeout(resolve, ms));

for (const broker of ['embedded', 'mosquitto'] as const) {
  describe.skipIf(broker === 'mosquitto' && !process.env.CI && !HAS_MOSQUITTO)(`a closed network on the ${broker} broker`, () => {
    let network: ClosedNetwork;
    let harness: HubHarness;
    let mosquitto: Mosquitto | null = null;
    let mosquittoDir = '';
    let haPassword = '';
    let watcher: MqttClient;
    let seen: Awaited<ReturnType<typeof listen>>;
    const flashWrites: string[] = [];

    beforeAll(async () => {
      network = await startClosedNetwork(broker, OTHER, ['homeassistant']);
      ({ harness, mosquitto, mosquittoDir } = network);
      haPassword = network.readers.homeassistant;
      // Discovery is published with the first state report.
      watcher = await harness.mqtt({ hub: true });
      seen = await listen(watcher, ['handover/#', 'homeassistant/#']);
      await eventually(() => seen.messages.some((m) => m.topic === CONFIG_TOPIC), 10_000, 'the discovery config');
      const storage = harness.hub.demo!.station.storage;
      const write = storage.write.bind(storage);
      storage.write = (name: string, data: unknown, offset?: number, size?: number) => {
        flashWrites.push(name);
        return write(name, data, offset, size);
      };
    }, 60_000);

    afterAll(async () => {
      await watcher?.endAsync();
      await network?.stop();
    });

    const url = () => harness.hub.mqttUrl;

    it('refuses anonymous clients and wrong passwords at CONNECT', async () => {
      expect(await connackCode(url(), { clientId: 'laptop-1' })).toBe(5);
      expect(await connackCode(url(), { clientId: `handover-${DEMO}` })).toBe(5);
      expect([4, 5]).toContain(await connackCode(url(), { clientId: 'laptop-2', username: DEMO, password: 'guess' }));
      expect([4, 5]).toContain(await connackCode(url(), { clientId: 'laptop-3', username: 'handover_hub', password: 'guess' }));
      expect([4, 5]).toContain(await connackCode(url(), { clientId: 'laptop-4', username: 'homeassistant', password: 'guess' }));
      // The rightful credentials are let in.
      expect(await connackCode(url(), await mqttLogin(harness.hub, { station: OTHER }))).toBe(0);
      expect(await connackCode(url(), { username: 'homeassistant', password: haPassword, clientId: 'ha-check' })).toBe(0);
    });

    it("lets a station's credential read and write only its own topics", async () => {
      const other = await harness.mqtt({ station: OTHER });
      const heard = await listen(other, [`handover/demo/${DEMO}/events`, `handover/demo/${DEMO}/#`, '#', 'homeassistant/#', `handover/demo/${OTHER}/cmd`]);
      // SUBACK: the embedded broker refuses (128) everything but its own command topic; Mosquitto 2
      // grants the subscription and delivers nothing its ACL does not let the user read.
      if (broker === 'embedded') expect(heard.granted).toEqual([128, 128, 128, 128, 1]);
      // The demo station has retained state and status, and now reports a deposit: none of it reaches the other station.
      const events = () => seen.messages.filter((m) => m.topic === `handover/demo/${DEMO}/events`).length;
      const eventsBefore = events();
      await harness.hub.demo!.tap(DEMO_CARDS[2].uid);
      await eventually(() => events() > eventsBefore, 10_000, "the demo station's deposit on the wire");
      const before = seen.messages.length;
      await settle();
      await other.publishAsync(`handover/demo/${DEMO}/ack`, Buffer.from([0x82, 0x40, 0x40]), { qos: 1 });
      await other.publishAsync(`handover/demo/${DEMO}/cmd`, Buffer.from([0x82, 0x40, 0x40]), { qos: 1 });
      await other.publishAsync(`handover/demo/${OTHER}/cmd`, Buffer.from([0x82, 0x40, 0x40]), { qos: 1 });
      await other.publishAsync(`handover/demo/${DEMO}/events`, Buffer.from([0x82, 0x40, 0x40]), { qos: 1 });
      await other.publishAsync(CONFIG_TOPIC, JSON.stringify({ name: 'pwned', state_topic: 'evil/state' }), { qos: 1, retain: true });
      await settle();
      // Only the demo station's own traffic (its deposit's events, state and the hub's answers) passed.
      expect(seen.messages.slice(before).filter((m) => !m.topic.startsWith(`handover/demo/${DEMO}/`) || m.payload === '\x82@@')).toEqual([]);
      expect(heard.messages.filter((m) => !m.topic.startsWith(`handover/demo/${OTHER}/`))).toEqual([]);
      await other.endAsync();
    });

    it("changes nothing on a spoofed status or discovery config: database, page, Home Assistant's configs, the station's flash", async () => {
      const ha = await harness.mqtt({ username: 'homeassistant', password: haPassword });
      const haView = await listen(ha, ['homeassistant/#', `handover/demo/+/status`, `handover/demo/+/ha`]);
      await eventually(() => haView.messages.some((m) => m.topic === CONFIG_TOPIC) && haView.messages.some((m) => m.topic === STATUS_TOPIC), 5000, "Home Assistant's retained view");
      const configBefore = haView.messages.filter((m) => m.topic === CONFIG_TOPIC).at(-1)!.payload;
      const flashBefore = flashWrites.length;
      const seenBefore = seen.messages.length;
      const commandsBefore = seen.messages.filter((m) => m.topic === `handover/demo/${DEMO}/cmd`).length;

      const other = await harness.mqtt({ station: OTHER });
      for (const spoofer of [other, ha]) {
        await spoofer.publishAsync(STATUS_TOPIC, 'offline', { qos: 1, retain: true });
        for (let i = 0; i < 100; i++) spoofer.publish(STATUS_TOPIC, 'online', { qos: 1 });
        await spoofer.publishAsync(CONFIG_TOPIC, JSON.stringify({ name: 'pwned', state_topic: 'evil/state' }), { qos: 1, retain: true });
        await spoofer.publishAsync(`homeassistant/sensor/evil/config`, JSON.stringify({ name: 'new entity' }), { qos: 1, retain: true });
      }
      await settle(1500);

      expect(seen.messages.slice(seenBefore).filter((m) => m.topic === STATUS_TOPIC || m.topic.startsWith('homeassistant/'))).toEqual([]);
      const row = await harness.hub.db.get<{ status: string }>('SELECT status FROM stations WHERE id = ?', [DEMO]);
      expect(row!.status).toBe('online');
      const listed = (await harness.getJson('/api/stations')).body.stations.find((s: { id: string }) => s.id === DEMO);
      expect(listed.status).toBe('online');
      // A new subscriber (Home Assistant restarting) gets the hub's config and the station's own status.
      const fresh = await harness.mqtt({ username: 'homeassistant', password: haPassword });
      const retained = await listen(fresh, ['homeassistant/#', STATUS_TOPIC]);
      await eventually(() => retained.messages.some((m) => m.topic === CONFIG_TOPIC) && retained.messages.some((m) => m.topic === STATUS_TOPIC), 5000, 'the retained messages');
      await settle(300);
      expect(retained.messages.find((m) => m.topic === CONFIG_TOPIC)!.payload).toBe(configBefore);
      expect(retained.messages.find((m) => m.topic === STATUS_TOPIC)!.payload).toBe('online');
      expect(retained.messages.some((m) => m.topic === 'homeassistant/sensor/evil/config')).toBe(false);
      // The hub sent the station nothing (no time, no rewrite of its flash).
      expect(seen.messages.filter((m) => m.topic === `handover/demo/${DEMO}/cmd`).length).toBe(commandsBefore);
      expect(flashWrites.slice(flashBefore)).toEqual([]);
      if (harness.hub.broker) {
        const refusals = harness.hub.broker.guard!.refusals();
        expect(refusals.find((r) => r.client === `station ${OTHER}` && r.what === 'publish')!.count).toBeGreaterThanOrEqual(100);
        expect(refusals.find((r) => r.client === 'account homeassistant' && r.what === 'publish')!.count).toBeGreaterThanOrEqual(100);
        // Logged once per client and reason, not a line each.
        expect(harness.logs.filter((line) => line.includes(`refused publish by station ${OTHER}`)).length).toBe(1);
        // And counted on the Stations page.
        const page = await harness.getPage('/stations');
        expect(page.status).toBe(200);
        const row = new RegExp(`<td>station ${OTHER}</td><td>publish</td><td>topic not allowed</td><td data-count>(\\d+)</td>`).exec(page.text);
        expect(Number(row?.[1])).toBeGreaterThanOrEqual(100);
      }
      for (const client of [other, ha, fresh]) await client.endAsync();
    });

    it('keeps the real station connected when another credential tries its client id', async () => {
      const station = harness.hub.demo!.station;
      const linesBefore = station.logLines.length;
      // Another station's credential, Home Assistant's, and no credential, each as handover-<demo>.
      const attempts = [
        { ...(await mqttLogin(harness.hub, { station: OTHER })), clientId: `handover-${DEMO}` },
        { username: 'homeassistant', password: haPassword, clientId: `handover-${DEMO}` },
        { clientId: `handover-${DEMO}` },
      ];
      for (const attempt of attempts) {
        const code = await connackCode(url(), attempt);
        // Mosquitto lets a rightful credential in under its own user name as client id (use_username_as_clientid).
        if (broker === 'embedded' || !attempt.username) expect(code).toBeGreaterThan(0);
      }
      await settle(1500);
      expect(station.logLines.slice(linesBefore).filter((line) => line.startsWith('mqtt:'))).toEqual([]);
      expect((await harness.getJson('/api/stations')).body.stations.find((s: { id: string }) => s.id === DEMO).status).toBe('online');
      if (harness.hub.broker) expect(harness.hub.broker.guard!.connectedStations()).toContain(DEMO);
    });

    it('sends a station that really reconnects at most the time, and a new station added later can sign in', async () => {
      const station = harness.hub.demo!.station;
      const commands = () => seen.messages.filter((m) => m.topic === `handover/demo/${DEMO}/cmd`).length;
      const before = commands();
      station.env.setWifi(false);
      await eventually(async () => (await harness.getJson('/api/stations')).body.stations.find((s: { id: string }) => s.id === DEMO).status === 'offline', 30_000, 'the station to be seen offline');
      station.env.setWifi(true);
      await eventually(async () => (await harness.getJson('/api/stations')).body.stations.find((s: { id: string }) => s.id === DEMO).status === 'online', 40_000, 'the station to come back');
      // The reconnect brings a signed state report whose clock is right: the hub has nothing to send
      // (a set-time only when the clock is unset or has drifted, issue 13), however the birth came.
      await settle(2500);
      expect(commands()).toBeLessThanOrEqual(before + 1);

      // A station registered while the network runs: Mosquitto learns it from the rewritten files.
      const key = await (async () => {
        const row = await harness.hub.stations.add('demo', 'room-14', 4);
        if (mosquitto) {
          await writeMosquittoFiles(harness.hub.db, harness.hub.settings, mosquittoDir);
          mosquitto.reload();
          await settle(500);
        }
        return row.station_key;
      })();
      expect(await connackCode(url(), { username: 'room-14', password: stationPassword(key), clientId: 'handover-room-14' })).toBe(0);
    }, 90_000);
  });
}
