// The uplink (firmware/src/net/uplink.ts) on a real journal in the simulator's flash model, with
// a scripted MQTT client and a hand-driven clock: an entry the client refuses (its queue full) is
// read again a second later, in order, instead of waiting for the acknowledgement timeout.
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../firmware/src/hal';
import type { MqttClient } from '../../../firmware/src/net/mqtt-client';
import { Uplink } from '../../../firmware/src/net/uplink';
import { FRAME, EVENT } from '../../../protocol/wire';
import { Journal, JOURNAL_DEFAULTS } from '../../../firmware/src/storage/journal';
import { FlashStorage } from '../../../hardware/sim/flash-storage';
import { nodeCrypto, nodeFlash } from '../../support/node-flash';
import { FakeClock } from '../../support/fake-clock';

/** Publishes are recorded and acknowledged (PUBACK) at once, except those the test marks refused. */
function scriptedClient(refuse: (call: number) => boolean, clock?: FakeClock) {
  const sent: number[] = [];
  const sentAtMs: number[] = [];
  let calls = 0;
  const client = {
    state: 'connected',
    publish(_topic: string, payload: unknown, _qos: number, _retain: boolean, onDone?: (ok: boolean) => void): boolean {
      calls++;
      const frame = payload as { [key: number]: number };
      if (refuse(calls)) {
        onDone?.(false);
        return false;
      }
      sent.push(frame[FRAME.SEQ]);
      sentAtMs.push(clock ? clock.now : -1);
      onDone?.(true);
      return true;
    },
  };
  return { client: client as unknown as MqttClient, sent, sentAtMs };
}

function journalOf(events: number): Journal {
  const journal = new Journal(nodeFlash(new FlashStorage(null)), nodeCrypto, JOURNAL_DEFAULTS);
  journal.open(1);
  for (let i = 0; i < events; i++) {
    journal.append({ type: EVENT.DEPOSIT, locker: i, detail: 0, uptimeMs: i, wallSec: 0, person: 100 + i, actor: 0, witness: 0, badge: null });
  }
  return journal;
}

/** The hub's acknowledgement, as the uplink reads it once opened (the test's unseal passes it through). */
function ack(boot: number, seq: number): Uint8Array {
  const message: { [key: number]: number } = {};
  message[FRAME.BOOT] = boot;
  message[FRAME.SEQ] = seq;
  return message as unknown as Uint8Array;
}

function uplinkOf(client: MqttClient, journal: Journal, clock: Clock, random: () => number = () => 0.5, busy?: () => boolean): Uplink {
  return new Uplink(client, journal, clock, {
    stationId: 'test-1',
    board: 0,
    eventsTopic: 'handover/test/test-1/events',
    seal: (message) => message as unknown as Uint8Array,
    unseal: (payload) => ({ ok: true, message: payload as unknown as { [key: string]: unknown } }),
    maxPerSecond: 50,
    random,
    busy,
  });
}

describe('uplink', () => {
  it('sends every entry once, in order, one per timer callback, 1000 / maxPerSecond ms apart', () => {
    const clock = new FakeClock();
    const { client, sent, sentAtMs } = scriptedClient(() => false, clock);
    uplinkOf(client, journalOf(5), clock).onConnected();
    // Nothing in the caller's own turn: a tap being served is never held up by the uplink.
    expect(sent).toEqual([]);
    clock.advance(100);
    expect(sent).toEqual([1, 2, 3, 4, 5]);
    expect(sentAtMs).toEqual([0, 20, 40, 60, 80]);
  });

  it('reads a refused entry again a second later, in order, long before the acknowledgement timeout', () => {
    const clock = new FakeClock();
    const { client, sent } = scriptedClient((call) => call === 3, clock);
    uplinkOf(client, journalOf(5), clock).onConnected();
    clock.advance(50);
    expect(sent).toEqual([1, 2]);
    clock.advance(989);
    expect(sent).toEqual([1, 2]);
    clock.advance(100);
    expect(sent).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps trying while the client keeps refusing, and loses nothing', () => {
    const clock = new FakeClock();
    const { client, sent } = scriptedClient((call) => call >= 2 && call <= 4, clock);
    uplinkOf(client, journalOf(3), clock).onConnected();
    clock.advance(10);
    expect(sent).toEqual([1]);
    clock.advance(3100);
    expect(sent).toEqual([1, 2, 3]);
  });

  it('after a reconnect starts at the oldest entry the hub has not confirmed, in a segment still being written', () => {
    const clock = new FakeClock();
    const { client, sent } = scriptedClient(() => false, clock);
    const uplink = uplinkOf(client, journalOf(10), clock);
    uplink.onConnected();
    clock.advance(1000);
    expect(sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    uplink.onAck(ack(1, 7));
    sent.length = 0;
    uplink.onConnected();
    clock.advance(1000);
    expect(sent).toEqual([8, 9, 10]);
    uplink.onAck(ack(1, 10));
    sent.length = 0;
    uplink.onConnected();
    clock.advance(1000);
    expect(sent).toEqual([]);
  });

  it('resends only what is unconfirmed when acknowledgements stop, waiting longer each time, with jitter', () => {
    const clock = new FakeClock();
    const { client, sent, sentAtMs } = scriptedClient(() => false, clock);
    const randoms = [0, 1, 0.5];
    const uplink = uplinkOf(client, journalOf(6), clock, () => randoms.shift() ?? 0);
    uplink.onConnected();
    clock.advance(200);
    uplink.onAck(ack(1, 4)); // at 200: 5 and 6 stay unconfirmed
    sent.length = 0;
    sentAtMs.length = 0;
    clock.advance(60_100);
    // Quiet from 200: resent after 10 s; then waits drawn from [ceiling / 2, ceiling] as the ceiling doubles
    // (20 s with random 0 -> 10 s; 40 s with random 1 -> 40 s; 80 s with 0.5 -> 60 s).
    expect(sent).toEqual([5, 6, 5, 6, 5, 6]);
    expect(sentAtMs).toEqual([10_200, 10_220, 20_200, 20_220, 60_200, 60_220]);
  });

  it('sends nothing while a card is being read, and goes on 5 ms at a time once it is done', () => {
    const clock = new FakeClock();
    const { client, sent, sentAtMs } = scriptedClient(() => false, clock);
    let reading = false;
    const uplink = uplinkOf(client, journalOf(4), clock, () => 0.5, () => reading);
    uplink.onConnected();
    clock.advance(20);
    expect(sent).toEqual([1, 2]);
    reading = true;
    clock.advance(100);
    expect(sent).toEqual([1, 2]);
    reading = false;
    clock.advance(100);
    expect(sent).toEqual([1, 2, 3, 4]);
    // The first entry after the read goes out within 5 ms of its end.
    expect(sentAtMs[2]).toBeGreaterThan(120);
    expect(sentAtMs[2]).toBeLessThanOrEqual(125);
  });
});
