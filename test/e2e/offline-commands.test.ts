// A command the office gives while a station is off the network must not be carried out when it
// comes back. The office presses *Unlock…* (or the emergency *open every locker…*) for a station
// whose Wi-Fi is down; the page says the station did not answer, and the office goes on believing
// nothing opened. Were the command kept for the station (an MQTT broker queues QoS 1 messages for a
// persistent session that is away), the door would spring open minutes later with nobody there,
// and a set-time sent just before the drop would set the clock back when it arrived late.
// The hub with its demo station (the built bundle in the simulator) and embedded broker, driven
// over HTTP as the office does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { WebClient } from '../web/client';

const STATION = 'demo-1';

describe('commands given while the station is offline', () => {
  let harness: HubHarness;
  let office: WebClient;

  const online = async () => (await harness.getJson('/api/stations')).body.stations.find((station: { id: string }) => station.id === STATION)?.status === 'online';

  beforeAll(async () => {
    harness = await startHub({ demo: true });
    await eventually(online, 10_000, 'the demo station to come online');
    office = await WebClient.as(harness.hub, 'headteacher');
  }, 30_000);
  afterAll(async () => {
    await harness?.stop();
  });

  it('are not carried out when it comes back: no door opens by itself, no flash is written', async () => {
    const station = harness.hub.demo!.station;
    const unlocked: number[] = [];
    station.on('unlock', (locker: number) => unlocked.push(locker));

    station.env.setWifi(false);
    await eventually(async () => !(await online()), 10_000, 'the hub to see the station offline');

    await office.page('/stations');
    const unlock = await office.send('POST', `/stations/${STATION}/unlock`, { form: { locker: '3', confirm: 'yes', _csrf: office.csrfToken }, accept: 'html' });
    expect(unlock.status).toBe(303);
    expect((await office.page('/stations')).html).toContain('The station did not answer: it may be offline.');
    const openAll = await office.send('POST', `/stations/${STATION}/open-all`, { form: { confirm: 'yes', understood: 'yes', _csrf: office.csrfToken }, accept: 'html' });
    expect(openAll.status).toBe(303);
    expect((await office.page('/stations')).html).toContain('did not open its lockers. The station did not answer: it may be offline.');

    const written: string[] = [];
    const write = station.storage.write.bind(station.storage);
    station.storage.write = (name: string, data: unknown, offset?: number, size?: number) => {
      written.push(name);
      return write(name, data, offset, size);
    };
    station.env.setWifi(true);
    await eventually(online, 20_000, 'the station back online');
    // Whatever a broker kept for it arrives with the reconnection; give it time to act.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(unlocked).toEqual([]);
    expect(station.lockers.doorOpen.some((open) => open)).toBe(false);
    expect(station.logLines.filter((line) => /command/.test(line))).toEqual([]);
    // Coming back writes no command counter and no locker state.
    expect(written.filter((name) => !name.startsWith('hj.'))).toEqual([]);

    // Online again, the office's unlock is carried out at once.
    await office.page('/stations');
    const again = await office.send('POST', `/stations/${STATION}/unlock`, { form: { locker: '3', confirm: 'yes', _csrf: office.csrfToken }, accept: 'html' });
    expect(again.status).toBe(303);
    expect((await office.page('/stations')).html).toContain(`Station ${STATION} unlocked locker 3.`);
    expect(unlocked).toEqual([2]);
    harness.hub.demo!.shutOpenDoors();
  }, 60_000);
});
