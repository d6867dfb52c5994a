// The station's retained state message (firmware/src/net/state-report.ts) through the built bundle:
// while the station is offline, locker changes must not pile up state reports in the MQTT client's
// queue (each costs variables on the board, and a full queue refuses the birth message and the
// current state at the next connect); when it is back, the hub gets "online" and the current state.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MSG, ROLE } from '../../protocol/wire';
import { LOCKER } from '../../protocol/lockers';
import { cborDecode, unseal } from '../../hub/src/protocol/sealed';
import { StationRig, STATION_KEY } from '../support/station-rig';
import { eventually } from '../support/eventually';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };
const BEN = { uid: '0411223344a580', person: 102, role: ROLE.PUPIL };

type Heard = { kind: 'status'; text: string } | { kind: 'state'; lockers: number[] };

let rig: StationRig | undefined;

afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

/** Everything the station publishes on its status and state topics, decoded as the hub does. */
function listen(station: StationRig): Heard[] {
  const heard: Heard[] = [];
  station.listener.on('message', (topic, payload) => {
    if (topic.endsWith('/status')) heard.push({ kind: 'status', text: payload.toString('utf8') });
    if (!topic.endsWith('/state')) return;
    const opened = unseal(STATION_KEY, new Uint8Array(payload));
    if (!opened.ok) throw new Error(`state message rejected: ${opened.reason}`);
    const message = cborDecode(opened.body) as Map<number, unknown>;
    heard.push({ kind: 'state', lockers: [...(message.get(MSG.LOCKERS) as Uint8Array)] });
  });
  return heard;
}

describe('state reports while offline', () => {
  it('keeps none queued: after 12 s of offline locker changes the hub gets "online" and the current state, once', async () => {
    rig = await new StationRig({ people: [AMIRA, BEN], lockers: 4 }).start();
    const heard = listen(rig);
    // The first state report of the boot (sent at connect, or within a second of a change).
    await rig.visit(AMIRA.uid);
    await rig.visit(AMIRA.uid);
    await eventually(() => heard.some((h) => h.kind === 'state'), 5000, 'a state message');

    rig.station.env.setWifi(false);
    await eventually(() => heard.some((h) => h.kind === 'status' && h.text === 'offline'), 5000, 'the last will');
    const mark = heard.length;
    // Amira and Ben deposit and collect in turn for a while: a report per second of changes would
    // be queued if reports were kept while offline (the MQTT client keeps up to 32 publishes).
    const started = Date.now();
    let rounds = 0;
    while (Date.now() - started < 12_000 || rounds % 2 === 1) {
      expect((await rig.visit(AMIRA.uid)).locker).toBe(0);
      expect((await rig.visit(BEN.uid)).locker).toBe(1);
      rounds++;
    }
    await sleep(1500); // the last change's report is due within a second
    expect(heard.slice(mark)).toEqual([]);

    rig.station.env.setWifi(true);
    // After 12 s offline the client waits out its reconnect backoff first: a hang guard, not a goal.
    await eventually(() => heard.slice(mark).some((h) => h.kind === 'status' && h.text === 'online'), 45_000, 'the birth message');
    await eventually(() => heard.slice(mark).some((h) => h.kind === 'state'), 5000, 'a state message after the reconnect');
    await sleep(3000); // time for any stale report still queued to arrive
    const states = heard.slice(mark).filter((h) => h.kind === 'state');
    // An even number of rounds: both collected, every locker free.
    expect(states).toEqual([{ kind: 'state', lockers: [LOCKER.FREE, LOCKER.FREE, LOCKER.FREE, LOCKER.FREE] }]);
    expect(rig.station.logLines.filter((line) => /refused/.test(line))).toEqual([]);
    expect(rig.station.env.errors).toEqual([]);
  }, 90_000);
});
