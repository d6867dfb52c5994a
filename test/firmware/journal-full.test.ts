// A station whose journal is full (a long outage with nobody confirming): it refuses to overwrite
// unconfirmed events, raises the alarm, and records again as soon as the hub confirms.
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT, ROLE } from '../../protocol/wire';
import { Journal, JOURNAL_DEFAULTS } from '../../firmware/src/storage/journal';
import { encodeAck } from '../../hub/src/protocol/frames';
import { tapCard } from '../../hardware/sim/scripted-person';
import { StationRig, STATION_KEY } from '../support/station-rig';
import { nodeCrypto, nodeFlash } from '../support/node-flash';
import { eventually } from '../support/eventually';

let rig: StationRig;

afterEach(async () => {
  await rig?.stop();
});

describe('a full journal', () => {
  it('raises the alarm instead of overwriting, and records again once the hub confirms', async () => {
    let capacity = 0;
    rig = await new StationRig({
      people: [{ uid: '04a1b2c3', person: 101, role: ROLE.PUPIL }],
      waitForBoot: false,
      beforeBoot: (station) => {
        // A previous boot left the journal full of events the hub never confirmed.
        station.storage.write('handover.boot', '1');
        const journal = new Journal(nodeFlash(station.storage), nodeCrypto, JOURNAL_DEFAULTS);
        journal.open(1);
        const entry = { type: EVENT.UNKNOWN_BADGE, locker: -1, detail: 0, uptimeMs: 1, wallSec: 0, person: 0, actor: 0, witness: 0, badge: null };
        while (journal.append(entry) > 0) capacity++;
      },
    }).start();
    expect(capacity).toBe(10_112);
    await eventually(() => rig.station.logLines.some((line) => /journal full/.test(line)), 5000, 'the journal-full alarm');
    // The alarm: three long beeps on the buzzer (GPIO 21).
    await eventually(() => rig.station.board.risingEdges(21) >= 3, 3000, 'three beeps');
    // The oldest unconfirmed events are still there and are being sent: nothing was overwritten.
    const first = await rig.waitForEvent(EVENT.UNKNOWN_BADGE, (f) => f.boot === 1 && f.seq === 1);
    expect(first.uptimeMs).toBe(1);
    // No event of this boot could be recorded yet.
    expect(rig.frames.filter((f) => f.boot === 2)).toEqual([]);

    // The hub confirms everything of boot 1: the journal has room again.
    const hub = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.broker.port}`);
    await hub.publishAsync('handover/bench/st-1/ack', Buffer.from(encodeAck(STATION_KEY, 1, capacity)), { qos: 1 });
    await hub.endAsync();
    await eventually(async () => {
      await tapCard(rig.station, 'ee0000aa', 300);
      return rig.frames.find((f) => f.boot === 2 && f.type === EVENT.UNKNOWN_BADGE);
    }, 10_000, 'an event of the new boot');
  }, 30_000);
});
