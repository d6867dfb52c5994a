// The board identity (issue 13) through the built bundle in the simulator, over a real broker: drawn
// when the boot count starts over and kept across reboots, carried in every frame and the state
// report; acknowledgements naming another board (the one this board replaced, whose boot numbers it
// reuses) confirm nothing; Storage from before identities keeps board 0 and frames without one.
import mqtt from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { EVENT, MSG, REFUSAL, ROLE } from '../../protocol/wire';
import { JOURNAL_PREFIX } from '../../firmware/src/storage/journal';
import { encodeAck } from '../../hub/src/protocol/frames';
import { cborDecode, unseal } from '../../hub/src/protocol/sealed';
import { StationRig, STATION_KEY, startLink } from '../support/station-rig';
import { badgeFileName } from '../../firmware/src/station/badge-list';
import { SimulatedStation } from '../../hardware/sim/simulated-station';
import { eventually } from '../support/eventually';

const AMIRA = { uid: '04a1b2c3', person: 101, role: ROLE.PUPIL };

let rig: StationRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

function bootFile(station: StationRig): string {
  return station.station.storage.read('handover.boot') ?? '';
}

it('draws a board identity on empty flash, keeps it across reboots, and confirms only acknowledgements naming it', async () => {
  rig = await new StationRig({ people: [AMIRA] }).start();
  const [boot, board] = bootFile(rig).split('/').map(Number);
  expect(boot).toBe(1);
  expect(board).toBeGreaterThan(0);
  expect(board).toBeLessThan(2 ** 31);
  const states: Array<Map<number, unknown>> = [];
  rig.listener.on('message', (topic, payload) => {
    if (!topic.endsWith('/state')) return;
    const opened = unseal(STATION_KEY, new Uint8Array(payload));
    if (opened.ok) states.push(cborDecode(opened.body) as Map<number, unknown>);
  });
  await rig.visit(AMIRA.uid);
  await rig.waitForEvent(EVENT.DEPOSIT);
  expect(rig.frames.every((frame) => frame.board === board)).toBe(true);
  await eventually(() => states.some((state) => state.get(MSG.BOARD) === board && state.get(MSG.BOOT) === 1), 5000, 'a state report naming the board');

  // The boot-1 events stay unconfirmed into boot 2 (their journal segment is then closed and can go).
  rig.station.reset('power cycle');
  await rig.waitForEvent(EVENT.BOOT, (frame) => frame.boot === 2, 8000);
  expect(bootFile(rig)).toBe(`2/${board}`);
  expect(rig.frames.filter((frame) => frame.boot === 2).every((frame) => frame.board === board)).toBe(true);
  const segments = () => rig!.station.storage.list().filter((name) => name.startsWith(JOURNAL_PREFIX));
  const bootOneSegment = segments()[0];
  expect(segments().length).toBe(2);

  const hub = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.broker.port}`);
  const ack = (ackBoard: number) => hub.publishAsync('handover/bench/st-1/ack', Buffer.from(encodeAck(STATION_KEY, 1, 99, ackBoard)), { qos: 1 });
  // For board 0 (an older board's) and for another board: the segment stays.
  await ack(0);
  await ack(board ^ 1);
  // An acknowledgement that does confirm something comes after them on the same topic: once it has
  // been acted on, the two before it were too.
  await hub.publishAsync('handover/bench/st-1/ack', Buffer.from(encodeAck(STATION_KEY, 2, 0, board)), { qos: 1 });
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(segments()).toContain(bootOneSegment);
  // For this board: erased.
  await ack(board);
  await eventually(() => !segments().includes(bootOneSegment), 5000, 'the confirmed segment to be erased');
  await hub.endAsync();
});

it('keeps board 0 on Storage from before identities, and sends frames without a board', async () => {
  rig = await new StationRig({
    people: [AMIRA],
    beforeBoot: (station) => {
      station.storage.write('handover.boot', '7');
    },
  }).start();
  expect(bootFile(rig)).toBe('8/0');
  const first = await rig.waitForEvent(EVENT.BOOT);
  expect(first.boot).toBe(8);
  expect(first.board).toBeUndefined();
});

it('refuses, on the board that replaced it, a command the hub sent the board before it', async () => {
  // The command counter lives in the old board's Storage, so the new board's starts at 0 and any
  // command recorded earlier is above it: someone who recorded the hub's unlock and open-all (on the
  // wire, or from the broker) replays them to the new board before the hub has spoken to it. (A
  // board whose own Storage was erased is in the same place.)
  rig = await new StationRig({ people: [AMIRA] }).start();
  const oldBoard = Number(bootFile(rig).split('/')[1]);
  const recorded: Buffer[] = [];
  const replies: Array<Map<number, unknown>> = [];
  const states: Array<Map<number, unknown>> = [];
  rig.listener.on('message', (topic, payload) => {
    if (topic.endsWith('/cmd')) recorded.push(Buffer.from(payload));
    if (!topic.endsWith('/reply') && !topic.endsWith('/state')) return;
    const opened = unseal(STATION_KEY, new Uint8Array(payload));
    if (opened.ok) (topic.endsWith('/reply') ? replies : states).push(cborDecode(opened.body) as Map<number, unknown>);
  });
  const link = await startLink(rig);
  try {
    await eventually(() => link.states.get('st-1')?.board === oldBoard, 5000, 'the hub to know the board');
    expect((await link.unlock('st-1', 3, 901)).ok).toBe(true);
    expect((await link.openAll('st-1', 901)).ok).toBe(true);
  } finally {
    await link.stop();
  }
  await eventually(() => recorded.length >= 2, 5000, 'the commands recorded');

  // The board is swapped: another one gets the firmware, the configuration and the badge list.
  const old = rig.station;
  old.powerOff();
  const station = new SimulatedStation({ flashFile: null, doorBounceMs: 3 });
  station.storage.write('.bootcde', old.storage.read('.bootcde')!);
  station.writeConfig(rig.config());
  station.writeFile(badgeFileName(1), rig.badgeList());
  rig.station = station;
  station.boot();
  const newBoard = Number(bootFile(rig).split('/')[1]);
  expect(newBoard).not.toBe(oldBoard);
  // Online: its state report names the new board.
  await eventually(() => states.some((state) => state.get(MSG.BOARD) === newBoard), 8000, 'the new board online');
  const unlocked: number[] = [];
  station.on('unlock', (locker: number) => unlocked.push(locker));
  const hub = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.broker.port}`);
  try {
    // (The listener hears these replays on the command topic too: the list as it stands now.)
    for (const payload of recorded.slice()) {
      const seen = replies.length;
      await hub.publishAsync('handover/bench/st-1/cmd', payload, { qos: 1 });
      const reply = await eventually(() => replies.slice(seen)[0], 5000, "the new board's reply");
      expect(reply.get(MSG.OK)).toBe(false);
      expect(reply.get(MSG.DETAIL)).toBe(REFUSAL.REPLAYED);
    }
  } finally {
    await hub.endAsync();
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(unlocked).toEqual([]);
  // Refused without a flash write: the new board has no command counter file yet.
  expect(station.storage.read('handover.cmd')).toBeUndefined();
}, 30_000);

it('draws a new identity each time one board is erased: the ESP32 random register is mixed in', async () => {
  // The same board (same MAC, same boot timing to the simulator's millisecond): before the register
  // was read, 20 erases drew 9 identities, so a later life's events clashed with an earlier one's.
  rig = await new StationRig({ people: [AMIRA] }).start();
  const boards = new Set<number>([Number(bootFile(rig).split('/')[1])]);
  for (let life = 1; life < 20; life++) {
    rig.station.powerOff();
    rig.station.storage.erase('handover.boot');
    rig.station.boot();
    await eventually(() => bootFile(rig!).startsWith('1/'), 5000, 'the erased board to start at boot 1');
    boards.add(Number(bootFile(rig).split('/')[1]));
  }
  expect(boards.size).toBe(20);
});
