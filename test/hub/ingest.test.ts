// The ingest through a real broker: signed frames in, records committed in batches, one signed
// acknowledgement per station boot after each commit; repeats stored once; bad frames rejected.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT, FRAME } from '../../protocol/wire';
import { startBroker, type RunningBroker } from '../../hub/src/broker';
import { Ingest } from '../../hub/src/ingest';
import { createLogger } from '../../hub/src/log';
import { cborDecode, seal, unseal } from '../../hub/src/protocol/sealed';
import { createRecords, type Records } from '../../hub/src/records';
import { eventually } from '../support/hub-harness';
import { openTestDatabase, type TestDatabase } from '../support/test-database';

function signedFrame(key: string, fields: { station: string; boot: number; seq: number; type: number; locker?: number; person?: number; wallTime?: number }): Buffer {
  const map = new Map<number, unknown>([
    [FRAME.STATION, fields.station],
    [FRAME.BOOT, fields.boot],
    [FRAME.SEQ, fields.seq],
    [FRAME.UPTIME_MS, fields.seq * 10],
  ]);
  if (fields.wallTime !== undefined) map.set(FRAME.WALL_TIME, fields.wallTime);
  map.set(FRAME.TYPE, fields.type);
  if (fields.locker !== undefined) map.set(FRAME.LOCKER, fields.locker);
  if (fields.person !== undefined) map.set(FRAME.PERSON, fields.person);
  return Buffer.from(seal(key, map));
}

describe('ingest', () => {
  let test: TestDatabase;
  let records: Records;
  let broker: RunningBroker;
  let ingest: Ingest;
  let key: string;
  const pupils: number[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    test = await openTestDatabase();
    records = createRecords(test.db);
    key = (await records.stations.add('demo', 'room-1', 32)).station_key;
    for (let i = 0; i < 32; i++) pupils.push(await records.people.add({ externalId: `I${i}`, name: `Pupil ${i}`, role: 'pupil', form: '8B' }));
    broker = await startBroker('127.0.0.1', 0);
    ingest = new Ingest({ brokerUrl: `mqtt://127.0.0.1:${broker.port}`, clientId: 'test-ingest', db: test.db, custody: records.custody, log: createLogger('ingest', (line) => logs.push(line)), maxBatch: 500 });
    await ingest.start();
  });

  afterAll(async () => {
    await ingest?.stop();
    await broker?.close();
    await test?.close();
  });

  it('stores a burst in few commits, acknowledges after each, and keeps repeats out', async () => {
    const station = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'room-1' });
    const acks: Array<{ boot: number; seq: number }> = [];
    station.on('message', (_topic, payload) => {
      const opened = unseal(key, new Uint8Array(payload));
      if (!opened.ok) throw new Error(opened.reason);
      const ack = cborDecode(opened.body) as Map<number, number> | Record<number, number>;
      const get = (k: number) => (ack instanceof Map ? ack.get(k) : ack[k])!;
      acks.push({ boot: get(FRAME.BOOT), seq: get(FRAME.SEQ) });
    });
    await station.subscribeAsync('handover/demo/room-1/ack', { qos: 1 });
    const batchesBefore = ingest.batches;
    const frames: Buffer[] = [];
    for (let seq = 1; seq <= 64; seq++) {
      const pupil = (seq - 1) % 32;
      frames.push(signedFrame(key, { station: 'room-1', boot: 7, seq, type: seq <= 32 ? EVENT.DEPOSIT : EVENT.COLLECT, locker: pupil, person: pupils[pupil] }));
    }
    // Everything at once, then the first ten again (a station replaying its journal).
    await Promise.all([...frames, ...frames.slice(0, 10)].map((frame) => station.publishAsync('handover/demo/room-1/events', frame, { qos: 1 })));
    await eventually(() => ingest.stored >= 64 && ingest.duplicates >= 10, 10_000, 'all 64 events and 10 repeats');
    await eventually(() => acks.some((ack) => ack.seq === 64), 5000, 'the acknowledgement of seq 64');
    expect(ingest.stored).toBe(64);
    expect(ingest.batches - batchesBefore).toBeLessThan(64);
    expect(acks.every((ack) => ack.boot === 7)).toBe(true);
    expect(await records.custody.phonesIn()).toEqual([]);
    const count = await test.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM station_events WHERE station_id = ?', ['room-1']);
    expect(Number(count!.n)).toBe(64);
    expect((await records.audit.verify()).ok).toBe(true);
    await station.endAsync();
  });

  it('rejects a frame signed with another key, with a reason, and keeps going', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
    await client.publishAsync('handover/demo/room-1/events', signedFrame('00'.repeat(32), { station: 'room-1', boot: 8, seq: 1, type: EVENT.BOOT }), { qos: 1 });
    await client.publishAsync('handover/demo/nowhere/events', signedFrame(key, { station: 'nowhere', boot: 8, seq: 1, type: EVENT.BOOT }), { qos: 1 });
    await client.publishAsync('handover/demo/room-1/events', signedFrame(key, { station: 'room-1', boot: 8, seq: 1, type: EVENT.BOOT }), { qos: 1 });
    await eventually(() => ingest.rejections.length >= 2 && ingest.stored >= 65, 5000, 'two rejections and one stored');
    expect(ingest.rejections.map((r) => r.reason)).toEqual(expect.arrayContaining(['bad signature', 'unknown station nowhere']));
    await client.endAsync();
  });

  it("refuses a station's frames on another school's topics, though the broker (no ACL here) let them through", async () => {
    // School B's station, registered for site "north", publishing on school A's ("demo") topics:
    // an external broker with a wrong ACL would pass it on; the hub must still refuse it.
    const northKey = (await records.stations.add('north', 'north-1', 8)).station_key;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'north-1' });
    const before = ingest.stored;
    const stored = () => test.db.all<{ seq: number }>('SELECT seq FROM station_events WHERE station_id = ? ORDER BY seq', ['north-1']);
    await client.publishAsync('handover/demo/north-1/events', signedFrame(northKey, { station: 'north-1', boot: 1, seq: 1, type: EVENT.BOOT }), { qos: 1 });
    await client.publishAsync('handover/demo/north-1/status', 'online', { qos: 1 });
    await eventually(() => ingest.rejections.filter((r) => r.station === 'north-1').length >= 2, 5000, "both of north-1's frames on demo's topics refused");
    expect(ingest.rejections.filter((r) => r.station === 'north-1').map((r) => r.reason)).toEqual([
      'station north-1 is registered for site north, topic names site demo',
      'station north-1 is registered for site north, topic names site demo',
    ]);
    expect(await test.db.get('SELECT status FROM stations WHERE id = ?', ['north-1'])).toEqual({ status: 'unknown' });
    // On its own site's topic the same station is heard (and its refused frame was never stored).
    await client.publishAsync('handover/north/north-1/events', signedFrame(northKey, { station: 'north-1', boot: 1, seq: 2, type: EVENT.BOOT }), { qos: 1 });
    await eventually(() => ingest.stored > before, 5000, "north-1's frame on its own site");
    expect((await stored()).map((row) => Number(row.seq))).toEqual([2]);
    await client.endAsync();
  });

  it('dates phone custody by the station clock when the frame carries it, by arrival when not', async () => {
    const station = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'room-1-clock' });
    // After a long network cut: a deposit made three hours ago and a collection made one hour
    // ago arrive now, with the station's wall time; a deposit from before the station had the
    // time (boot counter and uptime only) arrives beside them.
    const depositedAt = Date.now() - 3 * 3600_000;
    const collectedAt = Date.now() - 3600_000;
    const sentFrom = new Date().toISOString();
    const frames = [
      signedFrame(key, { station: 'room-1', boot: 9, seq: 1, type: EVENT.DEPOSIT, locker: 20, person: pupils[20], wallTime: depositedAt }),
      signedFrame(key, { station: 'room-1', boot: 9, seq: 2, type: EVENT.DEPOSIT, locker: 21, person: pupils[21] }),
      signedFrame(key, { station: 'room-1', boot: 9, seq: 3, type: EVENT.COLLECT, locker: 20, person: pupils[20], wallTime: collectedAt }),
    ];
    for (const frame of frames) await station.publishAsync('handover/demo/room-1/events', frame, { qos: 1 });
    const rows = () => test.db.all<{ id: number; locker: number; deposited_at: string; collected_at: string | null }>('SELECT id, locker, deposited_at, collected_at FROM phone_custody WHERE station_id = ? AND deposit_boot = 9 ORDER BY locker', ['room-1']);
    await eventually(async () => (await rows()).some((row) => row.collected_at !== null), 5000, 'the collection from locker 20');
    const [morning, undated] = await rows();
    expect(morning).toMatchObject({ locker: 20, deposited_at: new Date(depositedAt).toISOString(), collected_at: new Date(collectedAt).toISOString() });
    expect(undated.locker).toBe(21);
    expect(undated.deposited_at >= sentFrom && undated.deposited_at <= new Date().toISOString()).toBe(true);
    const lockers = await records.custody.lockers();
    expect(lockers.find((l) => l.stationId === 'room-1' && l.locker === 20)!.since).toBe(new Date(collectedAt).toISOString());
    // The chain holds the deposit and the collection, though both arrived after the collection's moment.
    const chain = await records.custody.phoneChain(Number(morning.id));
    expect(chain!.events.map((event) => [event.event, event.at])).toEqual([
      ['deposit', new Date(depositedAt).toISOString()],
      ['collect', new Date(collectedAt).toISOString()],
    ]);
    await station.endAsync();
  });
});
