// No congestion collapse (issue 16): a hub that stops acknowledging, through the built bundle in the
// simulator and a real broker. The station holds 200 events of an earlier boot; the hub confirms
// the first 100 as they come and then goes quiet. The station sends the unconfirmed rest again,
// waiting longer each time (10 s, then doubling with jitter); no confirmed event is in any resend.
// When the hub comes back at the start of a resend and confirms up to 180, the station skips what
// that confirmed: only what was already on its way arrives, not events 129 to 180 (in the journal's
// second segment, which that confirmation leaves in flash). Nothing is lost.
// The station's clock runs 5 times faster than real time (the waits are tens of seconds).
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT, MSG } from '../../../protocol/wire';
import { encodeAck, openEventFrame } from '../../../hub/src/protocol/frames';
import { cborDecode, unseal } from '../../../hub/src/protocol/sealed';
import { Journal, JOURNAL_DEFAULTS } from '../../../firmware/src/storage/journal';
import { nodeCrypto, nodeFlash } from '../../support/node-flash';
import { STATION_KEY, StationRig } from '../../support/station-rig';
import { eventually } from '../../support/eventually';

const SCALE = 5;
const EARLIER_EVENTS = 200;
const CONFIRMED_AT_RESUME = 180;
/** The journal's segments hold 128 events: 129 is the first of the second. */
const SECOND_SEGMENT = 129;
const CONFIRMED_FIRST = 100;
const BOARD = 7;

let rig: StationRig | undefined;

afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

describe('uplink when the hub stops acknowledging', () => {
  it('resends only the unconfirmed events, further apart each time, skips what the hub confirms mid-resend, and loses nothing', async () => {
    rig = new StationRig({
      people: [],
      timeScale: SCALE,
      waitForBoot: false,
      beforeBoot: (station) => {
        // Boot 1 (of board 7) left 200 events; this boot is 2. A long keep-alive: the broker keeps real time.
        station.storage.write('handover.boot', `1/${BOARD}`);
        station.writeConfig({ ...(rig!.config() as object), keepAliveSec: 600 });
        const journal = new Journal(nodeFlash(station.storage), nodeCrypto, JOURNAL_DEFAULTS);
        journal.open(1);
        for (let i = 0; i < EARLIER_EVENTS; i++) {
          journal.append({ type: EVENT.DEPOSIT, locker: i % 8, detail: 0, uptimeMs: i, wallSec: 0, person: 100 + i, actor: 0, witness: 0, badge: null });
        }
      },
    });
    // The hub's side: every frame as it arrives, on the station's clock (ms since the test began).
    const arrivals: Array<{ boot: number; seq: number; atMs: number }> = [];
    const ackedUpTo = new Map<number, number>(); // boot -> highest seq acknowledged
    let acking: 'first-100' | 'none' | 'partial' | 'all' = 'first-100';
    let backlog = -1;
    let resumedAtArrival = -1;
    const t0 = Date.now();
    const ack = (boot: number, seq: number) => {
      if ((ackedUpTo.get(boot) ?? 0) >= seq) return;
      ackedUpTo.set(boot, seq);
      void rig!.listener.publish('handover/bench/st-1/ack', Buffer.from(encodeAck(STATION_KEY, boot, seq, BOARD)), { qos: 1 });
    };
    const seen = (boot: number, seq: number) => arrivals.some((arrival) => arrival.boot === boot && arrival.seq === seq);
    const highestContiguous = (boot: number) => {
      let top = ackedUpTo.get(boot) ?? 0;
      while (seen(boot, top + 1)) top++;
      return top;
    };
    const resendStarts = () => arrivals.filter((arrival) => arrival.boot === 1 && arrival.seq === CONFIRMED_FIRST + 1);

    await rig.start();
    rig.listener.on('message', (topic, payload) => {
      if (topic.endsWith('/state')) {
        const opened = unseal(STATION_KEY, new Uint8Array(payload));
        const message = opened.ok ? cborDecode(opened.body) : undefined;
        if (message instanceof Map) backlog = message.get(MSG.BACKLOG) as number;
        return;
      }
      if (!topic.endsWith('/events')) return;
      const opened = openEventFrame(STATION_KEY, new Uint8Array(payload));
      if (!opened.ok) return;
      const { boot, seq } = opened.frame;
      arrivals.push({ boot, seq, atMs: (Date.now() - t0) * SCALE });
      if (acking === 'first-100' && boot === 1) {
        ack(1, Math.min(CONFIRMED_FIRST, highestContiguous(1)));
        if ((ackedUpTo.get(1) ?? 0) >= CONFIRMED_FIRST) acking = 'none';
      } else if (acking === 'none' && resendStarts().length === 4 && boot === 1 && seq === CONFIRMED_FIRST + 1) {
        // The start of the third resend: the hub is back and confirms up to 180 (it commits in batches).
        acking = 'partial';
        resumedAtArrival = arrivals.length;
        ack(1, CONFIRMED_AT_RESUME);
      } else if (acking === 'partial' && boot === 2) {
        // The end of that resend: everything else is confirmed too.
        acking = 'all';
        ack(1, highestContiguous(1));
        ack(2, highestContiguous(2));
      } else if (acking === 'all') {
        ack(boot, highestContiguous(boot));
      }
    });

    // Up to 10 + 20 + 40 s of the station's clock for the first send and three resends.
    await eventually(() => acking === 'all', 200_000 / SCALE, 'three resends and the hub back').catch((error) => {
      const starts = resendStarts().map((arrival) => arrival.atMs);
      throw new Error(`${(error as Error).message}: ${arrivals.length} frames, resends began at ${starts.join(', ')} ms; station: ${rig!.station.logLines.slice(-8).join(' | ')}`);
    });
    await eventually(() => backlog === 0, 30_000 / SCALE + 5000, 'the state report to show every event confirmed');
    const quietFrom = arrivals.length;
    await new Promise((resolve) => setTimeout(resolve, 30_000 / SCALE));
    expect(arrivals.length, 'nothing is sent once everything is confirmed').toBe(quietFrom);

    // Nothing the hub had confirmed was ever sent again, and nothing is missing.
    const earlier = arrivals.filter((arrival) => arrival.boot === 1);
    expect(earlier.filter((arrival) => arrival.seq <= CONFIRMED_FIRST).map((arrival) => arrival.seq)).toEqual(Array.from({ length: CONFIRMED_FIRST }, (_, i) => i + 1));
    for (let seq = 1; seq <= EARLIER_EVENTS; seq++) expect(seen(1, seq), `event ${seq} of boot 1`).toBe(true);
    expect(seen(2, 1), "this boot's BOOT event").toBe(true);
    expect(ackedUpTo.get(1)).toBe(EARLIER_EVENTS);

    // After the confirmation up to 180 only what was already on its way comes (the uplink keeps 8
    // publishes in flight, from 101 on), not events 129 to 180.
    const confirmedYetSent = arrivals.slice(resumedAtArrival).filter((arrival) => arrival.boot === 1 && arrival.seq >= SECOND_SEGMENT && arrival.seq <= CONFIRMED_AT_RESUME);
    expect(confirmedYetSent.length, `sent again after being confirmed: ${confirmedYetSent.map((arrival) => arrival.seq).join(' ')}`).toBeLessThan(20);

    // Each resend before the hub came back: exactly the unconfirmed events, in order.
    const starts = resendStarts().slice(0, 4);
    for (let round = 0; round < 3; round++) {
      const from = arrivals.indexOf(starts[round]);
      const to = arrivals.indexOf(starts[round + 1]);
      const sent = arrivals.slice(from, to).map((arrival) => `${arrival.boot}/${arrival.seq}`);
      const unconfirmed = Array.from({ length: EARLIER_EVENTS - CONFIRMED_FIRST }, (_, i) => `1/${CONFIRMED_FIRST + 1 + i}`).concat(['2/1']);
      expect(sent, `round ${round + 1}`).toEqual(unconfirmed);
    }
    // Further apart each time: 10 s, then in [10, 20] s, then in [20, 40] s (the jitter's range), on
    // the station's clock. A loaded machine only delays a resend (the scale multiplies that, and a
    // resend still being sent when its wait is over waits once more), so only the lower bounds are
    // checked: a station resending at a fixed 10 s would fail the third.
    const gaps = [1, 2, 3].map((i) => starts[i].atMs - starts[i - 1].atMs);
    expect(gaps[0]).toBeGreaterThan(9_500);
    expect(gaps[1]).toBeGreaterThan(9_500);
    expect(gaps[2]).toBeGreaterThan(19_000);
    expect(rig.station.env.errors).toEqual([]);
  }, 90_000);
});
