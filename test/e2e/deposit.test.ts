// The walking skeleton, end to end through the real parts: the built dist/firmware.js running in
// the simulator, real TCP to the hub's embedded MQTT broker, the hub's SQLite file, its HTTP API.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../protocol/wire';
import { BOOT_CODE_FILE } from '../../hardware/sim/simulated-station';
import { DEMO_CARDS } from '../../hub/src/demo/demo-school';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';

const BUNDLE = path.resolve(__dirname, '../../dist/firmware.js');

describe('a pupil deposits a phone, end to end', () => {
  let harness: HubHarness;
  const pupil = DEMO_CARDS[2]; // a 7-byte UID

  beforeAll(async () => {
    harness = await startHub({ demo: true });
    await eventually(async () => (await harness.getJson('/api/stations')).body.stations[0]?.status === 'online', 10_000, 'the station to come online');
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('runs the built bundle, installed in the simulated flash', () => {
    const station = harness.hub.demo!.station;
    expect(station.storage.read(BOOT_CODE_FILE)).toBe(fs.readFileSync(BUNDLE, 'latin1'));
    expect(station.env.errors).toEqual([]);
  });

  it('records the deposit in the database and shows it in the JSON endpoint', async () => {
    const tap = await harness.getJson('/api/demo/tap', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uid: pupil.uid }),
    });
    expect(tap.status).toBe(202);

    const custody = await eventually(async () => {
      const { body } = await harness.getJson('/api/custody');
      return body.phonesIn.find((phone: { personName: string }) => phone.personName === pupil.name);
    }, 10_000, 'the deposit to appear in /api/custody');
    expect(custody).toMatchObject({ personName: pupil.name, form: '7A', stationId: 'demo-1', locker: 0 });

    const { body } = await harness.getJson('/api/lockers');
    expect(body.lockers[0]).toMatchObject({ stationId: 'demo-1', locker: 0, state: 'phone-in', personName: pupil.name });

    // Read back from the database itself (SQLite file, or PostgreSQL when DATABASE_URL is set).
    const db = harness.hub.db;
    const row = await db.get(`SELECT c.locker, c.station_id, p.name FROM phone_custody c JOIN people p ON p.id = c.person_id WHERE c.collected_at IS NULL`);
    expect(row).toEqual({ locker: 0, station_id: 'demo-1', name: pupil.name });
    const event = await db.get('SELECT type, locker FROM station_events WHERE type = ?', [EVENT.DEPOSIT]);
    expect(event).toEqual({ type: EVENT.DEPOSIT, locker: 0 });
  });

  it('lets the same pupil collect from the same locker', async () => {
    const result = await harness.hub.demo!.tap(pupil.uid);
    expect(result.locker).toBe(0);
    await eventually(async () => (await harness.getJson('/api/custody')).body.phonesIn.length === 0, 10_000, 'the collection');
    const { body } = await harness.getJson('/api/lockers');
    expect(body.lockers[0].state).toBe('free');
  });

  it('rejects a malformed payload with a logged reason and keeps serving', async () => {
    // Something holding the station's own credential (it takes over the station's session for a moment).
    const client = await harness.mqtt({ station: 'demo-1' });
    await client.publishAsync('handover/demo/demo-1/events', Buffer.from([0xff, 0x00, 0x13, 0x37]), { qos: 1 });
    await client.publishAsync('handover/demo/demo-1/events', Buffer.from('a10163616263', 'hex'), { qos: 1 });
    await client.endAsync();
    await eventually(() => harness.hub.ingest.rejections.length >= 2, 5000, 'two rejections');
    expect(harness.hub.ingest.rejections[0].reason).toMatch(/not CBOR/);
    expect(harness.hub.ingest.rejections[1].reason).toMatch(/not a signed envelope/);
    expect(harness.logs.some((line) => line.includes('rejected frame on handover/demo/demo-1/events'))).toBe(true);

    // Still serving: the next real tap is stored.
    const before = harness.hub.ingest.stored;
    const result = await harness.hub.demo!.tap(DEMO_CARDS[0].uid);
    expect(result.locker).not.toBeNull();
    await eventually(() => harness.hub.ingest.stored >= before + 1, 10_000, 'the next deposit');
    expect((await harness.getJson('/api/lockers')).status).toBe(200);
  });
});
