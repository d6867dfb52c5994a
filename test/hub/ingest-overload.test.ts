// Under overload the hub sheds work in order: frames are stored and acknowledged first; updates
// for the live page wait until nothing is waiting to be stored, and then go out as one per station
// (its latest), never one per event. A burst from three stations is held in the queue by the
// test setting that delays each commit, so the ingest is behind for most of it.
import mqtt from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { EVENT, FRAME } from '../../protocol/wire';
import { startBroker, type RunningBroker } from '../../hub/src/broker';
import { Ingest, type IngestChange } from '../../hub/src/ingest';
import { createLogger } from '../../hub/src/log';
import { cborDecode, seal, unseal } from '../../hub/src/protocol/sealed';
import { createRecords } from '../../hub/src/records';
import { eventually } from '../support/hub-harness';
import { openTestDatabase, type TestDatabase } from '../support/test-database';

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

it('acknowledges every stored event before any page update, and sends one update per station once caught up', async () => {
  const test: TestDatabase = await openTestDatabase();
  cleanup.push(() => test.close());
  const records = createRecords(test.db);
  const stations = ['room-1', 'room-2', 'room-3'];
  const keys = new Map<string, string>();
  for (const id of stations) keys.set(id, (await records.stations.add('demo', id, 32)).station_key);
  const pupils: number[] = [];
  for (let i = 0; i < 20; i++) pupils.push(await records.people.add({ externalId: `O${i}`, name: `Pupil ${i}`, role: 'pupil', form: '9C' }));
  const broker: RunningBroker = await startBroker('127.0.0.1', 0);
  cleanup.push(() => broker.close());
  const ingest = new Ingest({ brokerUrl: `mqtt://127.0.0.1:${broker.port}`, clientId: 'test-ingest', db: test.db, custody: records.custody, log: createLogger('ingest', () => {}), maxBatch: 15, commitDelayMs: 300 });
  await ingest.start();
  cleanup.push(() => ingest.stop());

  const changes: Array<{ change: IngestChange; busy: boolean; stored: number }> = [];
  ingest.on('change', (change: IngestChange) => changes.push({ change, busy: ingest.busy, stored: ingest.stored }));
  const acked = new Map<string, number>();
  const clients: mqtt.MqttClient[] = [];
  for (const id of stations) {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: id });
    clients.push(client);
    cleanup.push(() => client.endAsync());
    client.on('message', (_topic, payload) => {
      const opened = unseal(keys.get(id)!, new Uint8Array(payload));
      if (!opened.ok) throw new Error(opened.reason);
      const ack = cborDecode(opened.body) as Map<number, number>;
      acked.set(id, Math.max(acked.get(id) ?? 0, ack.get(FRAME.SEQ)!));
    });
    await client.subscribeAsync(`handover/demo/${id}/ack`, { qos: 1 });
  }
  const PER_STATION = 40;
  const sends: Promise<unknown>[] = [];
  for (let seq = 1; seq <= PER_STATION; seq++) {
    stations.forEach((id, s) => {
      const pupil = (seq - 1) % 20;
      const frame = new Map<number, unknown>([
        [FRAME.STATION, id],
        [FRAME.BOOT, 1],
        [FRAME.SEQ, seq],
        [FRAME.UPTIME_MS, seq * 10],
        [FRAME.TYPE, seq <= 20 ? EVENT.DEPOSIT : EVENT.COLLECT],
        [FRAME.LOCKER, pupil],
        [FRAME.PERSON, pupils[pupil]],
      ]);
      sends.push(clients[s].publishAsync(`handover/demo/${id}/events`, Buffer.from(seal(keys.get(id)!, frame)), { qos: 1 }));
    });
  }
  await Promise.all(sends);
  await eventually(() => stations.every((id) => acked.get(id) === PER_STATION), 30_000, 'every event acknowledged');
  await eventually(() => !ingest.busy && changes.length > 0 && changes.at(-1)!.stored === stations.length * PER_STATION, 10_000, 'the page updates after the burst');

  expect(ingest.stored).toBe(stations.length * PER_STATION);
  // No page update went out while frames were waiting to be stored.
  expect(changes.filter((entry) => entry.busy)).toEqual([]);
  // Far fewer updates than events; the last of each station names its last event.
  expect(changes.length).toBeLessThan(ingest.stored);
  expect(ingest.shedChanges).toBeGreaterThan(0);
  for (const id of stations) {
    const last = changes.filter((entry) => entry.change.stationId === id).at(-1);
    expect(last?.change.frame?.seq).toBe(PER_STATION);
  }
  expect(await records.custody.phonesIn()).toEqual([]);
});
