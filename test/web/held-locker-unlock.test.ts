// A locker under a safeguarding hold opens only to the DSL's card (P5), and a confiscated phone
// only with two staff cards, one of them the headteacher's (P4). *Stations → Unlock…* must not be a
// way round either: one office (or headteacher) account opening that door from the page would hand
// the phone to whoever stands at the station. Here with the demo station (the built bundle in the
// simulator), driven over HTTP as the page and its demo buttons are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CARDS } from '../../hub/src/demo/demo-school';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { WebClient } from './client';

describe('remote unlock of a held locker', () => {
  let harness: HubHarness;
  let office: WebClient;
  let headteacher: WebClient;

  const card = (name: string) => DEMO_CARDS.find((candidate) => candidate.name === name)!.uid;
  const lockers = async () =>
    ((await (await office.get('/api/lockers', 'json')).json()) as { lockers: Array<{ stationId: string; locker: number; state: string }> }).lockers.filter((locker) => locker.stationId === 'demo-1');
  const stateOf = async (locker: number) => (await lockers()).find((candidate) => candidate.locker === locker)?.state;
  const tap = async (name: string) => expect((await office.send('POST', '/api/demo/tap', { json: { uid: card(name) } })).status).toBe(202);
  const unlock = (client: WebClient, locker: number) => client.send('POST', '/stations/demo-1/unlock', { form: { locker: String(locker + 1), confirm: 'yes', _csrf: client.csrfToken }, accept: 'html' });

  beforeAll(async () => {
    harness = await startHub({ demo: true });
    await eventually(async () => (await harness.getJson('/api/stations')).body.stations.find((station: { id: string }) => station.id === 'demo-1')?.status === 'online', 10_000, 'the demo station to come online');
    office = await WebClient.as(harness.hub, 'office');
    headteacher = await WebClient.as(harness.hub, 'headteacher');
    await office.page('/stations');
    await headteacher.page('/stations');
  }, 90_000);
  afterAll(async () => {
    await harness?.stop();
  });

  it('is refused for a safeguarding hold and a confiscation, to every role, and the doors stay shut', async () => {
    // Amira's phone in locker 1, Ben's in locker 2; Tom confiscates Amira's, the DSL holds Ben's.
    await tap('Amira Khan');
    await eventually(async () => (await stateOf(0)) === 'phone-in', 15_000, "Amira's phone to be in");
    await tap('Ben Oduya');
    await eventually(async () => (await stateOf(1)) === 'phone-in', 15_000, "Ben's phone to be in");
    await tap('Tom Reed');
    await tap('Amira Khan');
    await eventually(async () => (await stateOf(0)) === 'held', 10_000, 'the confiscation');
    await tap('Dara Singh');
    await tap('Ben Oduya');
    await eventually(async () => (await stateOf(1)) === 'safeguarding-held', 10_000, 'the safeguarding hold');

    for (const [client, who] of [[office, 'office'], [headteacher, 'headteacher']] as const) {
      for (const locker of [0, 1]) {
        const refused = await unlock(client, locker);
        expect(refused.status, `${who} unlocking locker ${locker + 1}`).toBe(409);
        expect(await refused.text()).toContain('released at the station');
      }
    }
    // A free locker still unlocks; once it has opened, a command sent before it would have been done too.
    expect((await unlock(office, 7)).status).toBe(303);
    await eventually(() => harness.hub.demo!.station.lockers.doorOpen[7], 5000, 'locker 8 to spring open');
    expect(harness.hub.demo!.station.lockers.doorOpen[0]).toBe(false);
    expect(harness.hub.demo!.station.lockers.doorOpen[1]).toBe(false);
    expect(await stateOf(0)).toBe('held');
    expect(await stateOf(1)).toBe('safeguarding-held');
  }, 90_000);
});
