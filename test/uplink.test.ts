// The uplink (firmware/src/net/uplink.ts) on a real journal in the simulator's flash model, with
// a scripted MQTT client and a hand-driven clock: an entry the client refuses (its queue full) is
// read again a second later, in order, instead of waiting for the acknowledgement timeout.
import { describe, expect, it } from 'vitest';
import type { Clock } from '../firmware/src/hal';
import type { MqttClient } from '../firmware/src/net/mqtt-client';
import { Uplink } from '../firmware/src/net/uplink';
import { FRAME, EVENT } from '../firmware/src/protocol/wire';
import { Journal, JOURNAL_DEFAULTS } from '../firmware/src/storage/journal';
import { FlashStorage } from '../hardware/sim/flash-storage';
import { nodeCrypto, nodeFlash } from './support/node-flash';
import { FakeClock } from './support/fake-clock';

/** Publishes are recorded and acknowledged (PUBACK) at once, except those the test marks refused. */
function scriptedClient(refuse: (call: number) => boolean) {
  const sent: number[] = [];
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
      onDone?.(true);
      return true;
    },
  };
  return { client: client as unknown as MqttClient, sent };
}

function journalOf(events: number): Journal {
  const journal = new Journal(nodeFlash(new FlashStorage(null)), nodeCrypto, JOURNAL_DEFAULTS);
  journal.open(1);
  for (let i = 0; i < events; i++) {
    journal.append({ type: EVENT.DEPOSIT, locker: i, detail: 0, uptimeMs: i, wallSec: 0, person: 100 + i, actor: 0, witness: 0, badge: null });
  }
  return journal;
}

function uplinkOf(client: MqttClient, journal: Journal, clock: Clock): Uplink {
  return new Uplink(client, journal, clock, {
    stationId: 'test-1',
    board: 0,
    eventsTopic: 'handover/test/test-1/events',
    seal: (message) => message as unknown as Uint8Array,
    unseal: () => ({ ok: false, error: 'not used' }),
    window: 8,
    maxPerSecond: 50,
    ackTimeoutMs: 10000,
    ackTimeoutMaxMs: 300000,
  });
}

describe('uplink', () => {
  it('sends every entry once, in order, when nothing is refused', () => {
    const clock = new FakeClock();
    const { client, sent } = scriptedClient(() => false);
    uplinkOf(client, journalOf(5), clock).onConnected();
    expect(sent).toEqual([1, 2, 3, 4, 5]);
  });

  it('reads a refused entry again a second later, in order, long before the acknowledgement timeout', () => {
    const clock = new FakeClock();
    const { client, sent } = scriptedClient((call) => call === 3);
    uplinkOf(client, journalOf(5), clock).onConnected();
    expect(sent).toEqual([1, 2]);
    clock.advance(999);
    expect(sent).toEqual([1, 2]);
    clock.advance(1);
    expect(sent).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps trying while the client keeps refusing, and loses nothing', () => {
    const clock = new FakeClock();
    const { client, sent } = scriptedClient((call) => call >= 2 && call <= 4);
    uplinkOf(client, journalOf(3), clock).onConnected();
    expect(sent).toEqual([1]);
    clock.advance(3000);
    expect(sent).toEqual([1, 2, 3]);
  });
});
