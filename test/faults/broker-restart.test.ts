// Fault run: Mosquitto killed (SIGKILL, no persistence: every session and queued message gone) and
// started again on the same port while pupils keep tapping. Ends with the hub's records compared to
// the station's journal: every journaled event stored exactly once.
import { afterAll, describe, expect, it } from 'vitest';
import { FaultRig, describeReconciliation } from '../support/fault-rig';
import { HAS_MOSQUITTO } from '../support/mosquitto';

const PUPILS = 10;

describe.skipIf(!process.env.CI && !HAS_MOSQUITTO)('the broker is killed and restarted mid-stream', () => {
  let rig: FaultRig;

  afterAll(async () => {
    await rig?.stop();
  });

  it(`loses and doubles nothing over ${PUPILS} deposits and ${PUPILS} collections`, async () => {
    rig = await new FaultRig({ pupils: PUPILS }).start();
    const port = rig.mosquitto.port;
    for (const [i, pupil] of rig.pupils.entries()) {
      if (i === 3) {
        // Killed while this pupil's tap is being served.
        const visit = rig.visit(pupil.uid);
        await rig.mosquitto.kill();
        await visit;
        continue;
      }
      if (i === 7) await rig.mosquitto.start();
      await rig.visit(pupil.uid);
    }
    expect(rig.mosquitto.port).toBe(port);
    for (const pupil of rig.pupils) await rig.visit(pupil.uid);

    const result = await rig.settle();
    console.log(describeReconciliation('broker killed and restarted', result));
    expect(result.lost).toEqual([]);
    expect(result.doubled).toEqual([]);
    expect(result.unknown).toEqual([]);
    expect(result.journaled).toBeGreaterThanOrEqual(2 * PUPILS + 1);
    // Each deposit applied once, and every phone shows collected: deposits the broker dropped come
    // back from the station after their collections, and the hub applies them in sequence order.
    const custody = await rig.withDb((db) => db.get<{ n: number; open: number }>('SELECT COUNT(*) AS n, SUM(CASE WHEN collected_at IS NULL THEN 1 ELSE 0 END) AS open FROM phone_custody'));
    console.log(`phone custody records ${Number(custody!.n)}, shown still in a locker ${Number(custody!.open)} (all were collected)`);
    expect({ n: Number(custody!.n), open: Number(custody!.open) }).toEqual({ n: PUPILS, open: 0 });
  }, 120_000);
});
