// Fault run: the station resets (as its watchdog would) in the middle of replaying its journal
// after an outage. The events it had already sent, those still unsent, and the events of its next
// boot must each reach the hub exactly once. Ends with the hub's records compared to the journal.
import { afterAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../protocol/wire';
import { FaultRig, describeReconciliation } from '../support/fault-rig';
import { eventually } from '../support/eventually';
import { HAS_MOSQUITTO } from '../support/mosquitto';

// 2 x 28 = 56 events offline: more than the 50 a second the station replays at most, so the
// replay cannot be over before the first frame of it is seen and the station is reset.
const PUPILS = 28;

describe.skipIf(!process.env.CI && !HAS_MOSQUITTO)('the station resets in the middle of a replay', () => {
  let rig: FaultRig;

  afterAll(async () => {
    await rig?.stop();
  });

  it('sends the rest after the reboot, losing and doubling nothing', async () => {
    rig = await new FaultRig({ pupils: PUPILS }).start();
    // Wait for the boot event to be stored, so the backlog below is only what was made offline.
    await eventually(async () => (await rig.settle(0)).lost.length === 0, 15_000, 'the boot event in the hub');
    rig.station.env.setWifi(false);
    for (const pupil of rig.pupils) await rig.visit(pupil.uid);
    for (const pupil of rig.pupils) await rig.visit(pupil.uid);
    const backlog = [...rig.watch.events.keys()].filter((id) => id !== '1/1');
    expect(backlog.length).toBe(2 * PUPILS);

    // The moment the first replayed frame of the backlog passes the broker, the station resets.
    const sentBeforeReset = new Set<string>();
    let resetDone = false;
    rig.onFrame = (id) => {
      if (resetDone || !backlog.includes(id)) return;
      resetDone = true;
      rig.station.reset('watchdog');
    };
    const seenBefore = rig.framesSeen.length;
    rig.station.env.setWifi(true);
    await eventually(() => resetDone, 60_000, 'the replay to begin');
    for (const id of rig.framesSeen.slice(seenBefore)) sentBeforeReset.add(id);
    await eventually(() => rig.watch.count(EVENT.BOOT) === 2, 15_000, 'the station to boot again');
    expect(sentBeforeReset.size).toBeLessThan(backlog.length); // it really was in the middle

    // After the reboot, a few more taps in the new boot.
    for (const pupil of rig.pupils.slice(0, 3)) await rig.visit(pupil.uid);

    const result = await rig.settle();
    console.log(describeReconciliation('station reset mid-replay', result) + `; ${sentBeforeReset.size} of ${backlog.length} backlog events had reached the broker when the station reset`);
    expect(result.lost).toEqual([]);
    expect(result.doubled).toEqual([]);
    expect(result.unknown).toEqual([]);
    expect(result.journaled).toBe(1 + 2 * PUPILS + 1 + 3);
    const custody = await rig.withDb((db) => db.get<{ n: number; open: number }>('SELECT COUNT(*) AS n, SUM(CASE WHEN collected_at IS NULL THEN 1 ELSE 0 END) AS open FROM phone_custody'));
    expect({ n: Number(custody!.n), open: Number(custody!.open) }).toEqual({ n: PUPILS + 3, open: 3 });
  }, 120_000);
});
