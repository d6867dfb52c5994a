// The journal's replay after a reconnect, through the built bundle in the simulator and a real
// broker: every frame the hub side receives is counted (duplicates kept), and after the link drops
// and comes back the station sends only what the hub has not acknowledged.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT, MSG, ROLE } from '../../protocol/wire';
import { openEventFrame } from '../../hub/src/protocol/frames';
import { cborDecode, unseal } from '../../hub/src/protocol/sealed';
import { STATION_KEY, StationRig } from '../support/station-rig';
import { eventually } from '../support/eventually';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };
const BEN = { uid: '0411223344a580', person: 102, role: ROLE.PUPIL };

let rig: StationRig | undefined;

afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

describe('replay after a reconnect', () => {
  it('sends only the events the hub has not acknowledged, and reports a backlog of 0 once all are', async () => {
    rig = await new StationRig({ people: [AMIRA, BEN], acknowledge: true }).start();
    const received: number[] = [];
    let births = 0;
    let backlog = -1;
    rig.listener.on('message', (topic, payload) => {
      if (topic.endsWith('/events')) {
        const opened = openEventFrame(STATION_KEY, new Uint8Array(payload));
        if (opened.ok) received.push(opened.frame.seq);
      } else if (topic.endsWith('/status') && payload.toString() === 'online') {
        births++;
      } else if (topic.endsWith('/state')) {
        const opened = unseal(STATION_KEY, new Uint8Array(payload));
        const message = opened.ok ? cborDecode(opened.body) : undefined;
        if (message instanceof Map) backlog = message.get(MSG.BACKLOG) as number;
      }
    });
    await rig.visit(AMIRA.uid);
    await rig.visit(BEN.uid);
    await rig.visit(AMIRA.uid);
    await rig.waitForEvent(EVENT.COLLECT);
    // Everything so far (boot, two deposits, a collection) is acknowledged as it arrives.
    await rig.settle();
    await eventually(() => backlog === 0, 5000, 'the state report to show every event confirmed');
    const acknowledged = received.length;
    const birthsBefore = births;
    expect(new Set(received).size).toBe(acknowledged);

    rig.station.env.setWifi(false);
    await sleep(300);
    rig.station.env.setWifi(true);
    await eventually(() => births > birthsBefore, 8000, 'the station to connect again');
    await rig.visit(BEN.uid);
    const collect = await rig.waitForEvent(EVENT.COLLECT, (frame) => frame.person === BEN.person);
    await rig.settle(500);

    // After the reconnect: Ben's collection only, none of the acknowledged events again.
    expect(received.slice(acknowledged)).toEqual([collect.seq]);
    expect(rig.station.env.errors).toEqual([]);
  });
});
