// Open-all follows the configured pulse (issue 18): with a long unlock pulse the lock bank takes
// lockers x (pulse + rest) to work through every coil, and the station's forced-door grace must
// last until the last coil is released, not a fixed 600 ms a locker. Run by the built
// dist/firmware.js in the simulator.
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT, ROLE } from '../../../protocol/wire';
import { BADGE_FLAG } from '../../../firmware/src/station/badge-list';
import { tapCard } from '../../../hardware/sim/scripted-person';
import { eventually } from '../../support/eventually';
import { StationRig } from '../../support/station-rig';

const FIRE = { uid: '51000006', person: 206, role: ROLE.STAFF, flags: BADGE_FLAG.OPEN_ALL };
const LOCKERS = 6;
const PULSE_MS = 1500;

let rig: StationRig;
afterEach(async () => {
  await rig?.stop();
});

describe('open-all with a long unlock pulse', () => {
  it('opens every door, one coil at a time for the whole pulse, with no forced-door alarm', async () => {
    rig = new StationRig({ people: [FIRE], lockers: LOCKERS });
    rig.options.beforeBoot = (station) => station.writeConfig({ ...rig.config(), unlockPulseMs: PULSE_MS });
    await rig.start();
    await tapCard(rig.station, FIRE.uid);
    expect((await rig.waitForEvent(EVENT.OPEN_ALL)).actor).toBe(FIRE.person);
    // 6 x (1500 + 50) ms of coils; the last door's left-open alarm comes after any forced-door alarm would have.
    await eventually(() => rig.station.lockers.doorOpen.every((open) => open), 20_000, 'every door open');
    await rig.waitForEvent(EVENT.DOOR_LEFT_OPEN, (frame) => frame.locker === LOCKERS - 1, 10_000);
    expect(rig.pulsedLockers()).toEqual(Array.from({ length: LOCKERS }, (_, i) => i));
    expect(rig.station.lockers.maxSimultaneous).toBe(1);
    for (const pulse of rig.station.lockers.pulses) expect(pulse.endMs! - pulse.startMs).toBeGreaterThanOrEqual(PULSE_MS - 50);
    expect(rig.events(EVENT.DOOR_FORCED)).toEqual([]);
  }, 60_000);
});
