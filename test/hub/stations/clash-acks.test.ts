// Two boards with one identity (a board whose flash was copied from another, or two identities
// that collide): the second board counts boot and sequence like the first, so its first events
// carry numbers the hub already holds with other content. The hub refuses them (a clash) and must
// never acknowledge them: an acknowledgement is cumulative — "every event of this boot up to seq
// is stored" — so one for a later event of that boot would let the board erase the clashing ones
// from its journal, and they would be lost. Over real MQTT to a running hub, signed with the
// station's own key, as the firmware's frames are.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT, FRAME } from '../../../protocol/wire';
import { cborDecode, seal, unseal } from '../../../hub/src/protocol/sealed';
import { eventually, listenAsStation, startHub, type HubHarness, type StationAck } from '../../support/hub-harness';

const STATION = 'room-5';
const TOPIC = `handover/demo/${STATION}/events`;
const BOARD = 0x5a3c91f0;

describe('a frame that clashes with a stored one', () => {
  let harness: HubHarness;
  let client: MqttClient;
  let key: string;
  let acks: StationAck[] = [];

  const frame = (boot: number, seq: number, type: number, uptimeMs: number) =>
    Buffer.from(
      seal(
        key,
        new Map<number, unknown>([
          [FRAME.STATION, STATION],
          [FRAME.BOARD, BOARD],
          [FRAME.BOOT, boot],
          [FRAME.SEQ, seq],
          [FRAME.UPTIME_MS, uptimeMs],
          [FRAME.TYPE, type],
        ]),
      ),
    );
  const stored = async (boot: number) =>
    (await harness.hub.db.all<{ seq: number; type: number }>('SELECT seq, type FROM station_events WHERE station_id = ? AND board = ? AND boot = ? ORDER BY seq', [STATION, BOARD, boot])).map((row) => [Number(row.seq), Number(row.type)]);

  beforeAll(async () => {
    harness = await startHub({ demo: false });
    key = (await harness.hub.stations.add('demo', STATION, 8)).station_key;
    ({ client, acks } = await listenAsStation(harness, 'demo', STATION, key));
  }, 30_000);

  afterAll(async () => {
    await client?.endAsync();
    await harness?.stop();
  });

  it('acknowledges no later event of that boot either: the clashing events stay in the journal', async () => {
    // The first board: boot 2, events 1-3, stored and acknowledged.
    for (let seq = 1; seq <= 3; seq++) await client.publishAsync(TOPIC, frame(2, seq, EVENT.UNKNOWN_BADGE, seq * 100), { qos: 1 });
    await eventually(() => acks.some((ack) => ack.board === BOARD && ack.boot === 2 && ack.seq === 3), 10_000, 'the first board\'s events acknowledged');
    acks.length = 0;

    // The copy: boot 2 as well, its own events 1-3 (other content: a clash each), then 4 and 5,
    // numbers nobody used before, sent one by one as a station's taps come.
    for (let seq = 1; seq <= 5; seq++) {
      const rejected = harness.hub.ingest.rejectedTotal;
      const storedBefore = harness.hub.ingest.stored;
      await client.publishAsync(TOPIC, frame(2, seq, EVENT.DEPOSIT, 50_000 + seq * 100), { qos: 1 });
      await eventually(() => harness.hub.ingest.rejectedTotal > rejected || harness.hub.ingest.stored > storedBefore, 10_000, `frame ${seq} handled`);
    }
    // A frame of another boot, acknowledged after anything the frames before it brought.
    await client.publishAsync(TOPIC, frame(3, 1, EVENT.BOOT, 10), { qos: 1 });
    await eventually(() => acks.some((ack) => ack.boot === 3), 10_000, 'the acknowledgement of boot 3');

    expect(harness.hub.ingest.rejections.filter((rejection) => rejection.reason.startsWith('clash: ')).length).toBe(3);
    // Events 4 and 5 are stored (nothing of the copy that can be stored is lost), the first board's 1-3 kept.
    expect(await stored(2)).toEqual([
      [1, EVENT.UNKNOWN_BADGE],
      [2, EVENT.UNKNOWN_BADGE],
      [3, EVENT.UNKNOWN_BADGE],
      [4, EVENT.DEPOSIT],
      [5, EVENT.DEPOSIT],
    ]);
    // But no acknowledgement covers the copy's events 1-3, which the hub did not store.
    expect(acks.filter((ack) => ack.board === BOARD && ack.boot === 2 && ack.seq >= 1)).toEqual([]);
  });
});
