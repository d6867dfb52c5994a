// Frames the hub must refuse, sent over real MQTT to a running hub (its embedded broker on a TCP
// port, an mqtt.js client signed in with the station's own credential on its events topic): a forged
// signature, a replayed frame, a frame for another station's topic (dropped by the broker), an
// oversized frame, truncated CBOR and garbage. Each is refused
// with a reason that names the station and the time (in the log and in GET /api/rejections), nothing
// of it is stored (row counts), and the hub keeps serving: the next valid frame is stored, HTTP answers.
// (test/hub/ingest.test.ts and test/e2e/deposit.test.ts cover the basic wrong key, unknown station
// and malformed payload cases against the bare ingest; these add the row counts and the record.)
import crypto from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT, FRAME } from '../../../protocol/wire';
import type { SqlValue } from '../../../hub/src/db/sql';
import type { Rejection } from '../../../hub/src/ingest';
import { MAX_FRAME_BYTES } from '../../../hub/src/protocol/frames';
import { cborDecode, cborEncode, seal, unseal } from '../../../hub/src/protocol/sealed';
import { eventually, listenAsStation, startHub, type HubHarness, type StationAck } from '../../support/hub-harness';

const STATION = 'room-9';
const TOPIC = `handover/demo/${STATION}/events`;
const BOOT = 3;

function body(fields: { station?: string; seq: number; type?: number; locker?: number; badge?: Uint8Array }): Map<number, unknown> {
  const map = new Map<number, unknown>([
    [FRAME.STATION, fields.station ?? STATION],
    [FRAME.BOOT, BOOT],
    [FRAME.SEQ, fields.seq],
    [FRAME.UPTIME_MS, fields.seq * 100],
    [FRAME.TYPE, fields.type ?? EVENT.UNKNOWN_BADGE],
  ]);
  if (fields.locker !== undefined) map.set(FRAME.LOCKER, fields.locker);
  if (fields.badge !== undefined) map.set(FRAME.BADGE, fields.badge);
  return map;
}

describe('the hub refuses bad frames over MQTT and keeps serving', () => {
  let harness: HubHarness;
  let client: MqttClient;
  let key: string;
  let nextSeq = 1;
  let acks: StationAck[] = [];
  const startedAt = Date.now();

  const signed = (fields: Parameters<typeof body>[0], withKey = key) => Buffer.from(seal(withKey, body(fields)));
  const rows = async (sql: string, params: SqlValue[] = []) => Number((await harness.hub.db.get<{ n: number }>(sql, params))!.n);
  const eventRows = () => rows('SELECT COUNT(*) AS n FROM station_events');
  const counts = async () => ({
    events: await eventRows(),
    stations: await rows('SELECT COUNT(*) AS n FROM stations'),
    custody: await rows('SELECT COUNT(*) AS n FROM phone_custody'),
  });

  /** Publishes a valid frame and waits until it is stored: the hub still serves. */
  async function sendValid(): Promise<number> {
    const seq = nextSeq++;
    const before = harness.hub.ingest.stored;
    await client.publishAsync(TOPIC, signed({ seq }), { qos: 1 });
    await eventually(() => harness.hub.ingest.stored > before, 10_000, `valid frame #${seq} to be stored`);
    return seq;
  }

  /**
   * Sends `payload` on `topic`, expects one rejection whose reason matches, logged with station,
   * reason and time; then a valid frame, after which exactly that one more event row exists.
   */
  async function expectRefused(topic: string, payload: Buffer, reason: RegExp, station = STATION): Promise<Rejection> {
    const ingest = harness.hub.ingest;
    const rejectionsBefore = ingest.rejections.length;
    const before = await counts();
    await client.publishAsync(topic, payload, { qos: 1 });
    await eventually(() => ingest.rejections.length > rejectionsBefore, 10_000, `a rejection matching ${reason}`);
    const rejection = ingest.rejections[ingest.rejections.length - 1];
    expect(rejection.reason).toMatch(reason);
    expect(rejection.station).toBe(station);
    expect(rejection.topic).toBe(topic);
    expect(rejection.bytes).toBe(payload.length);
    const at = Date.parse(rejection.at);
    expect(at).toBeGreaterThanOrEqual(startedAt);
    expect(at).toBeLessThanOrEqual(Date.now());
    // Logged once per station and kind of reason a minute (the first one as it came), not a line each.
    const kind = rejection.reason.split(':')[0].replace(/\d.*$/, '');
    const line = harness.logs.find((l) => l.includes('rejected frame') && l.includes(`from station ${station} `) && l.includes(kind));
    expect(line, `a log line for ${rejection.reason}`).toBeDefined();
    expect(line).toContain(`from station ${station}`);
    expect(line).toMatch(/ warn /);
    expect(await counts()).toEqual(before);
    await sendValid();
    expect(await counts()).toEqual({ ...before, events: before.events + 1 });
    return rejection;
  }

  beforeAll(async () => {
    harness = await startHub({ demo: false });
    key = (await harness.hub.stations.add('demo', STATION, 8)).station_key;
    // Whatever sends these holds the station's own broker credential (the broker refuses anyone else).
    ({ client, acks } = await listenAsStation(harness, 'demo', STATION, key));
    await sendValid();
  }, 30_000);

  afterAll(async () => {
    await client?.endAsync();
    await harness?.stop();
  });

  it('refuses a forged signature, and the real frame with that number is stored afterwards', async () => {
    const seq = nextSeq; // the next valid frame takes this number: the forgery did not use it up
    await expectRefused(TOPIC, signed({ seq, type: EVENT.DEPOSIT, locker: 0 }, crypto.randomBytes(32).toString('hex')), /^bad signature$/);
    const stored = await harness.hub.db.get<{ type: number }>('SELECT type FROM station_events WHERE station_id = ? AND boot = ? AND seq = ?', [STATION, BOOT, seq]);
    expect(Number(stored!.type)).toBe(EVENT.UNKNOWN_BADGE);
    // A valid envelope whose MAC is cut short, and one whose body was altered after signing.
    const good = cborDecode(signed({ seq: 999 })) as [Uint8Array, Uint8Array];
    await expectRefused(TOPIC, Buffer.from(cborEncode([good[0], good[1].subarray(0, 16)])), /^bad signature$/);
    const altered = new Uint8Array(good[0]);
    altered[altered.length - 1] ^= 1;
    await expectRefused(TOPIC, Buffer.from(cborEncode([altered, good[1]])), /^bad signature$/);
  });

  it('stores a replayed frame once, records the replay, and still acknowledges it', async () => {
    const seq = await sendValid();
    const frame = signed({ seq });
    const before = await counts();
    const replays = harness.hub.ingest.replays.length;
    acks.length = 0;
    // The same bytes again: a station resending after a lost acknowledgement.
    await client.publishAsync(TOPIC, frame, { qos: 1 });
    await eventually(() => harness.hub.ingest.replays.length >= replays + 1, 10_000, 'the replay recorded');
    const [replay] = harness.hub.ingest.replays.slice(replays);
    expect(replay.reason).toBe(`replayed: boot ${BOOT} #${seq} is already stored`);
    expect(replay.station).toBe(STATION);
    expect(Date.parse(replay.at)).toBeGreaterThanOrEqual(startedAt);
    expect(harness.logs.some((line) => line.includes('replayed frame') && line.includes(replay.at) && line.includes(`from station ${STATION}`))).toBe(true);
    expect(await counts()).toEqual(before);
    // The station that lost its acknowledgement gets it again, so it can let the event go.
    await eventually(() => acks.some((ack) => ack.boot === BOOT && ack.seq >= seq), 10_000, 'the acknowledgement of the replay');
    await sendValid();
    expect(await counts()).toEqual({ ...before, events: before.events + 1 });
  });

  it('refuses, and never acknowledges, a frame whose (station, board, boot, seq) is stored with other content', async () => {
    // What a second board with the same identity would send (issue 13): acknowledging it as
    // "already stored" would let that board erase an event the hub never stored.
    const seq = await sendValid();
    await eventually(() => acks.some((ack) => ack.boot === BOOT && ack.seq === seq), 10_000, 'the acknowledgement of the valid frame');
    acks.length = 0;
    const clash = await expectRefused(TOPIC, signed({ seq, type: EVENT.DEPOSIT, locker: 1 }), new RegExp(`^clash: boot ${BOOT} #${seq} is stored with other content; not stored, not acknowledged$`));
    expect(clash.station).toBe(STATION);
    const row = await harness.hub.db.get<{ type: number; locker: number | null }>('SELECT type, locker FROM station_events WHERE station_id = ? AND boot = ? AND seq = ?', [STATION, BOOT, seq]);
    expect({ type: Number(row!.type), locker: row!.locker }).toEqual({ type: EVENT.UNKNOWN_BADGE, locker: null });
    // expectRefused sent one valid frame after it, acknowledged on its own; none came for the clash before it.
    expect(acks.filter((ack) => ack.seq === seq)).toEqual([]);
    // ICT is told, once while the alert is open, however often the station sends it again.
    await expectRefused(TOPIC, signed({ seq, type: EVENT.DEPOSIT, locker: 1 }), /^clash: /);
    const alerts = await harness.hub.db.all<{ role: string; message: string }>("SELECT role, message FROM alerts WHERE kind = 'event-clash' AND subject = ?", [`station:${STATION}`]);
    expect(alerts.map((alert) => alert.role)).toEqual(['ict']);
    expect(alerts[0].message).toContain(`boot ${BOOT} #${seq}`);
  });

  it('refuses a frame for another station id at the broker, and registers nothing for it', async () => {
    // A station may publish only on its own topics: the broker drops this one before the hub sees it.
    const ghostKey = crypto.randomBytes(32).toString('hex');
    const refusedBefore = harness.hub.broker!.guard!.refusals().find((r) => r.client === `station ${STATION}` && r.what === 'publish')?.count ?? 0;
    const rejectionsBefore = harness.hub.ingest.rejections.length;
    await client.publishAsync('handover/demo/ghost-7/events', signed({ station: 'ghost-7', seq: 1 }, ghostKey), { qos: 1 });
    await eventually(() => (harness.hub.broker!.guard!.refusals().find((r) => r.client === `station ${STATION}` && r.what === 'publish')?.count ?? 0) > refusedBefore, 10_000, 'the broker to refuse the publish');
    await sendValid();
    expect(harness.hub.ingest.rejections.length).toBe(rejectionsBefore);
    expect(harness.logs.some((line) => line.includes(`refused publish by station ${STATION}: topic not allowed (handover/demo/ghost-7/events)`))).toBe(true);
    expect(await rows('SELECT COUNT(*) AS n FROM stations WHERE id = ?', ['ghost-7'])).toBe(0);
    expect(await rows('SELECT COUNT(*) AS n FROM station_events WHERE station_id = ?', ['ghost-7'])).toBe(0);
    // A registered station's topic carrying a frame (signed with its key) that names another station.
    await expectRefused(TOPIC, signed({ station: 'ghost-7', seq: nextSeq }), /frame names station ghost-7, topic names room-9/);
  });

  it('refuses an oversized frame, correctly signed, before it is decoded', async () => {
    for (const size of [MAX_FRAME_BYTES + 1, 64 * 1024]) {
      // A signed frame padded to the size with a long badge field (the MAC is valid).
      let padding = size - signed({ seq: nextSeq, badge: new Uint8Array(0) }).length;
      let payload = signed({ seq: nextSeq, badge: new Uint8Array(padding) });
      while (payload.length > size) payload = signed({ seq: nextSeq, badge: new Uint8Array(--padding) });
      expect(payload.length).toBe(size);
      await expectRefused(TOPIC, payload, new RegExp(`^frame of ${size} bytes exceeds ${MAX_FRAME_BYTES}$`));
    }
  });

  it('refuses truncated CBOR and garbage bytes', async () => {
    const frame = signed({ seq: nextSeq, type: EVENT.DEPOSIT, locker: 2 });
    for (const length of [1, 2, 40, frame.length >> 1, frame.length - 1]) {
      await expectRefused(TOPIC, frame.subarray(0, length), /^not CBOR/);
    }
    // Signed correctly over a body that is itself truncated CBOR.
    const whole = cborEncode(body({ seq: nextSeq }));
    const cut = whole.subarray(0, whole.length - 3);
    const mac = crypto.createHmac('sha256', Buffer.from(key, 'hex')).update(cut).digest();
    await expectRefused(TOPIC, Buffer.from(cborEncode([cut, new Uint8Array(mac)])), /^not CBOR/);
    // Garbage: a seeded run of random bytes (reproducible), a lone break byte, text.
    let state = 0x5eed;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24);
    const garbage = Buffer.from(Array.from({ length: 300 }, random));
    await expectRefused(TOPIC, garbage, /^(not CBOR|not a signed envelope)/);
    await expectRefused(TOPIC, Buffer.from([0xff]), /^not CBOR/);
    await expectRefused(TOPIC, Buffer.from('{"station":"room-9","seq":1}'), /^(not CBOR|not a signed envelope)/);
    await expectRefused(TOPIC, Buffer.alloc(0), /^empty payload$/);
  });

  it('logs a run of the same refusal once, not a line each', async () => {
    const lines = () => harness.logs.filter((line) => line.includes('rejected frame')).length;
    const before = lines();
    const rejections = harness.hub.ingest.rejectedTotal;
    for (let i = 0; i < 50; i++) client.publish(TOPIC, Buffer.from([0xff]), { qos: 0 });
    await eventually(() => harness.hub.ingest.rejectedTotal >= rejections + 50, 10_000, '50 more rejections');
    // "not CBOR" from this station was logged already this minute: the 50 are counted, not logged.
    expect(lines()).toBe(before);
  });

  it('keeps serving: HTTP answers and the office can read every refusal with its station, reason and time', async () => {
    const stations = await harness.getJson('/api/stations');
    expect(stations.status).toBe(200);
    expect(stations.body.stations.map((s: { id: string }) => s.id)).toEqual([STATION]);
    const { status, body: listed } = await harness.getJson<{ rejected: Rejection[]; replayed: Rejection[] }>('/api/rejections');
    expect(status).toBe(200);
    expect(listed.rejected.length).toBe(harness.hub.ingest.rejections.length);
    expect(listed.rejected.length).toBeGreaterThanOrEqual(16);
    for (const rejection of listed.rejected) {
      expect(rejection.station).toBe('room-9');
      expect(rejection.reason.length).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(rejection.at))).toBe(false);
    }
    const reasons = listed.rejected.map((r) => r.reason);
    for (const expected of [/^bad signature$/, /^frame names station/, /^frame of \d+ bytes exceeds/, /^not CBOR/]) {
      expect(reasons.some((reason) => expected.test(reason)), String(expected)).toBe(true);
    }
    expect(listed.replayed.length).toBe(1);
    expect(reasons.filter((reason) => reason.startsWith('clash: '))).toHaveLength(2);
    expect(await eventRows()).toBe(nextSeq - 1);
  });
});
