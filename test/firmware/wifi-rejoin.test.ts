// The school Wi-Fi drops and comes back, through the built bundle in the simulator with a Wi-Fi
// network in the configuration: the firmware rejoins by itself (Espruino does not) with the code
// that boot set up, after boot has let its boot-only functions go, and the taps made offline reach
// the broker.
import { afterEach, expect, it } from 'vitest';
import { EVENT, ROLE } from '../../protocol/wire';
import { StationRig } from '../support/station-rig';
import { eventually } from '../support/eventually';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };
let rig: StationRig;

afterEach(async () => {
  await rig?.stop();
});

it('rejoins the Wi-Fi after a drop and sends the deposit made while it was down', async () => {
  rig = await new StationRig({ people: [AMIRA], wifi: { ssid: 'school', password: 'secret' } }).start();
  const env = rig.station.env;
  expect(env.wifiJoins).toBe(1);
  env.setWifi(false);
  expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
  await eventually(() => env.wifiJoins >= 3, 8000, 'the firmware to try to rejoin while the network is down');
  expect(rig.events(EVENT.DEPOSIT)).toEqual([]);
  env.setWifi(true);
  const joinsBefore = env.wifiJoins;
  await rig.waitForEvent(EVENT.DEPOSIT, (frame) => frame.person === AMIRA.person, 70_000);
  expect(env.wifiJoins).toBeGreaterThan(joinsBefore);
  expect(env.errors).toEqual([]);
}, 90_000);
