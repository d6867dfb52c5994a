// MQTT over TLS with a pinned CA, through the built bundle in the simulator (whose tls module is
// Node's, as Espruino's is mbedTLS): events arrive when the broker's certificate chains to the
// pinned CA, and nothing connects when it does not.
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT, ROLE } from '../../protocol/wire';
import { StationRig } from '../support/station-rig';
import { makeCertificates } from '../support/certificates';
import { eventually } from '../support/eventually';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };
let rig: StationRig;

afterEach(async () => {
  await rig?.stop();
});

describe('TLS to the broker', () => {
  const good = makeCertificates();

  it('sends events over TLS to a broker whose certificate chains to the pinned CA', async () => {
    rig = await new StationRig({ people: [AMIRA], tls: good }).start();
    expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
    expect((await rig.waitForEvent(EVENT.DEPOSIT)).person).toBe(AMIRA.person);
  });

  it('refuses a broker whose certificate another CA signed, and says why', async () => {
    const other = makeCertificates();
    rig = await new StationRig({ people: [AMIRA], tls: { ...good, stationCa: other.ca }, waitForBoot: false }).start();
    const refusal = await eventually(() => rig.station.logLines.find((line) => /mqtt: .*(certificate|self.signed|verify)/i.test(line)), 5000, 'the refusal in the log');
    expect(refusal).toBeTruthy();
    expect(rig.frames).toEqual([]);
    expect(rig.station.env.errors).toEqual([]);
  });
});
