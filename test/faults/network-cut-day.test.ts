// Fault run: the station's network is cut for a whole school day of taps, then restored. The day,
// from ../shared/SCENARIO.md, for one form room's bank: a form of 30 pupils at a 32-locker station,
// each depositing at registration and collecting at home time — 60 custody events (plus the boot
// event) journaled offline, then replayed. (Pupils tap back to back, not at 2-3 s each, to keep
// the run short.) Ends with the hub's records compared to the station's journal.
import { afterAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../protocol/wire';
import { FaultRig, describeReconciliation } from '../support/fault-rig';
import { HAS_MOSQUITTO } from '../support/mosquitto';

const FORM = 30;
const LOCKERS = 32;

describe.skipIf(!process.env.CI && !HAS_MOSQUITTO)('a school day with the network cut', () => {
  let rig: FaultRig;

  afterAll(async () => {
    await rig?.stop();
  });

  it(`replays ${FORM} deposits and ${FORM} collections made offline, losing and doubling nothing`, async () => {
    rig = await new FaultRig({ pupils: FORM, lockers: LOCKERS }).start();
    rig.station.env.setWifi(false);
    const cutAt = rig.framesSeen.length;
    for (const pupil of rig.pupils) await rig.visit(pupil.uid); // registration
    for (const pupil of rig.pupils) await rig.visit(pupil.uid); // home time
    expect(rig.watch.count(EVENT.DEPOSIT)).toBe(FORM);
    expect(rig.watch.count(EVENT.COLLECT)).toBe(FORM);
    expect(rig.framesSeen.length).toBe(cutAt); // nothing got out while the network was down

    rig.station.env.setWifi(true);
    const result = await rig.settle(60_000);
    console.log(describeReconciliation(`a day offline (${FORM} pupils, ${LOCKERS} lockers)`, result) + `; ${rig.framesSeen.length - cutAt} frames crossed the broker after the restore`);
    expect(result.lost).toEqual([]);
    expect(result.doubled).toEqual([]);
    expect(result.unknown).toEqual([]);
    expect(result.journaled).toBeGreaterThanOrEqual(2 * FORM + 1);
    const custody = await rig.withDb((db) => db.get<{ n: number; open: number }>('SELECT COUNT(*) AS n, SUM(CASE WHEN collected_at IS NULL THEN 1 ELSE 0 END) AS open FROM phone_custody'));
    expect({ n: Number(custody!.n), open: Number(custody!.open) }).toEqual({ n: FORM, open: 0 });
  }, 150_000);
});
