// Issue 13 as the office saw it with `npm start`: after *Stations → Unlock…* of one locker whose door
// nobody shuts, pupils could no longer deposit (the station refused every tap as busy) while the page
// still showed the station online and the locker free. Here the hub with its demo station (the built
// bundle in the simulator), driven over HTTP as the office and the demo buttons do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CARDS } from '../../hub/src/demo/demo-school';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { WebClient } from './client';

describe('a remotely unlocked door left open, with the demo station', () => {
  let harness: HubHarness;
  let office: WebClient;

  beforeAll(async () => {
    harness = await startHub({ demo: true });
    await eventually(async () => (await harness.getJson('/api/stations')).body.stations.find((station: { id: string }) => station.id === 'demo-1')?.status === 'online', 10_000, 'the demo station to come online');
    office = await WebClient.as(harness.hub, 'office');
  }, 30_000);
  afterAll(async () => {
    await harness?.stop();
  });

  const panel = async () => (await office.page('/lockers/panel')).html;
  /** The rendered locker item of demo-1's locker `number` (counted from 1, as on the page). */
  const lockerItem = (html: string, number: number) => new RegExp(`<li class="[^"]*" data-station="demo-1" data-locker="${number - 1}"[\\s\\S]*?</li>`).exec(html)?.[0] ?? '';

  it('keeps taking deposits, and Lockers now shows the open door in plain words until it is shut', async () => {
    await office.page('/stations');
    const unlock = await office.send('POST', '/stations/demo-1/unlock', { form: { locker: '8', confirm: 'yes', _csrf: office.csrfToken }, accept: 'html' });
    expect(unlock.status).toBe(303);
    const flash = (await office.page('/stations')).html;
    expect(flash).toContain('Station demo-1 unlocked locker 8.');
    // Nobody shuts locker 8: its door stands open (the simulated door springs open under the coil).
    await eventually(() => harness.hub.demo!.station.lockers.doorOpen[7], 5000, 'locker 8 to spring open');
    await eventually(async () => lockerItem(await panel(), 8).includes('Door open'), 10_000, 'Lockers now to show locker 8 open');
    expect(lockerItem(await panel(), 8)).toContain('data-door="open"');
    expect(lockerItem(await panel(), 1)).toContain('data-door="shut"');
    expect(lockerItem(await panel(), 1)).not.toContain('Door open');

    // Two demo pupils tap, one after the other, as the page's buttons do: both deposit.
    const [amira, ben] = DEMO_CARDS;
    for (const card of [amira, ben]) {
      const tap = await office.send('POST', '/api/demo/tap', { json: { uid: card.uid } });
      expect(tap.status).toBe(202);
      await eventually(async () => ((await (await office.get('/api/custody', 'json')).json()) as { phonesIn: Array<{ personName: string }> }).phonesIn.some((phone) => phone.personName === card.name), 15_000, `${card.name}'s phone to be in`);
    }
    const phones = ((await (await office.get('/api/custody', 'json')).json()) as { phonesIn: Array<{ personName: string; locker: number }> }).phonesIn;
    expect(phones.map((phone) => [phone.personName, phone.locker]).sort()).toEqual([
      [amira.name, 0],
      [ben.name, 1],
    ]);
    // Ben's door shut a moment ago: the station's state report follows within a second.
    const openDoors = async () =>
      ((await (await office.get('/api/lockers', 'json')).json()) as { lockers: Array<{ stationId: string; locker: number; doorOpen: boolean | null }> }).lockers
        .filter((locker) => locker.stationId === 'demo-1' && locker.doorOpen)
        .map((locker) => locker.locker);
    await eventually(async () => (await openDoors()).join() === '7', 5000, 'only locker 8 open in /api/lockers');
    const html = await panel();
    expect(lockerItem(html, 1)).toContain('Phone in');
    expect(lockerItem(html, 8)).toContain('Door open');

    // Someone shuts it: the station records the remote unlock, and the page no longer shows it open.
    harness.hub.demo!.station.lockers.closeDoor(7);
    await eventually(async () => !lockerItem(await panel(), 8).includes('Door open'), 10_000, 'locker 8 to show shut');
    expect(lockerItem(await panel(), 8)).toContain('data-door="shut"');
  }, 60_000);
});
