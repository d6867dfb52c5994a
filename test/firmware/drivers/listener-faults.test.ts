// A driver's listener that throws (issue 18): the reader and expander drivers catch it, so one bad
// event does not stop the driver, and print why on the station's console. Run by the built
// dist/firmware.js in the simulator; the listeners throw for a real reason: the journal's flash file
// is gone, so recording the event fails.
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT, ROLE } from '../../../protocol/wire';
import { JOURNAL_PREFIX } from '../../../firmware/src/storage/journal';
import { tapCard } from '../../../hardware/sim/scripted-person';
import { eventually } from '../../support/eventually';
import { StationRig } from '../../support/station-rig';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };

let rig: StationRig;
afterEach(async () => {
  await rig?.stop();
});

async function stationWithoutJournal(): Promise<StationRig> {
  rig = await new StationRig({ people: [AMIRA] }).start();
  await rig.waitForEvent(EVENT.BOOT);
  // Flash trouble: the journal's files vanish under the running station.
  for (const name of rig.station.storage.list()) if (name.startsWith(JOURNAL_PREFIX)) rig.station.storage.erase(name);
  return rig;
}

describe('a listener that throws', () => {
  it('the reader prints the reason, and still reads the next card', async () => {
    await stationWithoutJournal();
    await tapCard(rig.station, 'deadbeef'); // an unknown card: recording it fails
    await eventually(() => rig.station.logLines.some((line) => /^reader: listener failed: .*hj\./.test(line)), 5000, 'the reason on the console');
    const failures = () => rig.station.logLines.filter((line) => line.startsWith('reader: listener failed')).length;
    const before = failures();
    await tapCard(rig.station, 'cafef00d');
    await eventually(() => failures() > before, 5000, 'the next card read (and failing) too');
    expect(rig.station.boots).toBe(1);
  });

  it('the door expander prints the reason, and still reports the next door', async () => {
    await stationWithoutJournal();
    rig.station.lockers.forceDoor(3); // a forced door: recording the alarm fails
    await eventually(() => rig.station.logLines.some((line) => /^expander: door listener failed: .*hj\./.test(line)), 5000, 'the reason on the console');
    rig.station.lockers.forceDoor(5);
    await eventually(() => rig.station.logLines.filter((line) => line.startsWith('expander: door listener failed')).length >= 2, 5000, 'the next door too');
    expect(rig.station.boots).toBe(1);
  });
});
