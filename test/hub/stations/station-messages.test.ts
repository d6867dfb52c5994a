// State reports and command replies are checked against the contract (protocol/messages.ts) like
// event frames: a message signed with the station's own key but holding a field of the wrong type,
// a key the contract does not have, or another station's name is refused with its reason and not
// used. Through a real broker (Mosquitto over TCP) and the hub's StationLink; what an attacker or
// a broken firmware would publish.
import crypto from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../hub/src/log';
import { cborDecode, seal, unseal } from '../../../hub/src/protocol/sealed';
import { StationLink } from '../../../hub/src/stations/station-link';
import { COMMAND, MSG, REFUSAL, TOPIC, topicBase } from '../../../protocol/wire';
import { eventually } from '../../support/eventually';
import { HAS_MOSQUITTO, startMosquitto, type Mosquitto } from '../../support/mosquitto';

const KEY = crypto.randomBytes(32).toString('hex');
const SITE = 'school';

function validState(station: string, boot: number): Map<number, unknown> {
  return new Map<number, unknown>([
    [MSG.STATION, station],
    [MSG.BOOT, boot],
    [MSG.WALL_TIME, Date.now()],
    [MSG.FIRMWARE, '1.0'],
    [MSG.LOCKERS, new Uint8Array([0, 1])],
    [MSG.DOORS, 2],
    [MSG.VERSION, 4],
    [MSG.BACKLOG, 0],
    [MSG.MEMORY, [2000, 16383]],
    [MSG.READER, 'ok'],
    [MSG.UPTIME, 12],
  ]);
}

describe.skipIf(!HAS_MOSQUITTO)('state reports and replies checked against the contract', () => {
  let broker: Mosquitto;
  let link: StationLink;
  let station: MqttClient;
  const lines: string[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    link = new StationLink({
      brokerUrl: `mqtt://127.0.0.1:${broker.port}`,
      clientId: 'hub-link',
      site: SITE,
      log: createLogger('link', (line) => lines.push(line)),
      keyOf: async (id) => (id.startsWith('st-') ? KEY : undefined),
      // Every test station is registered with two lockers (validState reports two).
      lockersOf: async (id) => (id.startsWith('st-') ? 2 : undefined),
      replyTimeoutMs: 1500,
    });
    await link.start();
    station = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'forger' });
  }, 20_000);

  afterAll(async () => {
    await station?.endAsync();
    await link?.stop();
    await broker?.stop();
  });

  const publishState = (id: string, message: Map<number, unknown>) =>
    station.publishAsync(`${topicBase(SITE, id)}${TOPIC.STATE}`, Buffer.from(seal(KEY, message)), { qos: 1 });

  it('takes a well-formed state report', async () => {
    await publishState('st-1', validState('st-1', 3));
    await eventually(() => link.states.get('st-1')?.boot === 3, 5000, 'the state');
    expect(link.states.get('st-1')).toMatchObject({ boot: 3, board: 0, firmware: '1.0', lockers: ['free', 'phone-in'], doorsOpen: [1], badgeListVersion: 4, memory: { used: 2000, total: 16383 }, uptimeSec: 12 });
  });

  it('takes a report without the open-door bitmap, as firmware from before door reports sends', async () => {
    const older = validState('st-8', 2);
    older.delete(MSG.DOORS);
    await publishState('st-8', older);
    await eventually(() => link.states.get('st-8')?.boot === 2, 5000, 'the older state');
    expect(link.states.get('st-8')?.doorsOpen).toBeUndefined();
  });

  it.each([
    ['a boot that is text', 'st-2', (m: Map<number, unknown>) => m.set(MSG.BOOT, '7'), /state from st-2 rejected: boot: /],
    ['memory that is not two numbers', 'st-3', (m: Map<number, unknown>) => m.set(MSG.MEMORY, [1]), /state from st-3 rejected: memory/],
    ['lockers that are not bytes', 'st-4', (m: Map<number, unknown>) => m.set(MSG.LOCKERS, [0, 1]), /state from st-4 rejected: lockers: /],
    ['a key the contract does not have', 'st-5', (m: Map<number, unknown>) => m.set(99, 1), /state from st-5 rejected: unknown frame key 99$/],
    ['a missing firmware version', 'st-6', (m: Map<number, unknown>) => m.delete(MSG.FIRMWARE), /state from st-6 rejected: firmware: /],
    ["another station's name", 'st-7', (m: Map<number, unknown>) => m.set(MSG.STATION, 'st-1'), /state from st-7 rejected: state names station st-1$/],
    ['more lockers than it is registered with', 'st-12', (m: Map<number, unknown>) => m.set(MSG.LOCKERS, new Uint8Array(3)), /state from st-12 rejected: reports 3 lockers, registered with 2$/],
    ['fewer lockers than it is registered with', 'st-13', (m: Map<number, unknown>) => m.set(MSG.LOCKERS, new Uint8Array(1)), /state from st-13 rejected: reports 1 lockers, registered with 2$/],
  ])('refuses a signed state report with %s, and keeps none of it', async (_what, id, spoil, logged) => {
    const message = validState(id, 9);
    spoil(message);
    await publishState(id, message);
    await eventually(() => lines.some((line) => logged.test(line)), 5000, `the refusal of ${id}'s state`).catch((error) => { throw new Error(`${error.message}; logged: ${lines.join(' / ')}`); });
    expect(link.states.get(id)).toBeUndefined();
    expect(link.states.get('st-1')?.boot).toBe(3);
  });

  /** Answers the next command to `id` with `answer(counter)`, signed with the station's key. */
  async function answerNext(id: string, answer: (counter: number) => Map<number, unknown>): Promise<void> {
    const commandTopic = `${topicBase(SITE, id)}${TOPIC.COMMAND}`;
    await station.subscribeAsync(commandTopic, { qos: 1 });
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== commandTopic) return;
      station.off('message', onMessage);
      const opened = unseal(KEY, new Uint8Array(payload));
      if (!opened.ok) throw new Error(opened.reason);
      const counter = (cborDecode(opened.body) as Map<number, unknown>).get(MSG.COUNTER) as number;
      void station.publishAsync(`${topicBase(SITE, id)}${TOPIC.REPLY}`, Buffer.from(seal(KEY, answer(counter))), { qos: 1 });
    };
    station.on('message', onMessage);
  }

  it('takes a well-formed reply, and names a refusal', async () => {
    await answerNext('st-1', (counter) => new Map<number, unknown>([[MSG.STATION, 'st-1'], [MSG.COUNTER, counter], [MSG.OK, false], [MSG.DETAIL, REFUSAL.NOT_NOW]]));
    expect(await link.command('st-1', COMMAND.UNLOCK, { locker: 1, actor: 5 })).toEqual({ ok: false, refusal: 'not-now' });
    await answerNext('st-1', (counter) => new Map<number, unknown>([[MSG.STATION, 'st-1'], [MSG.COUNTER, counter], [MSG.OK, true], [MSG.VERSION, 8]]));
    expect(await link.command('st-1', COMMAND.BADGES_COMMIT, { version: 8 })).toEqual({ ok: true, refusal: null, version: 8 });
  });

  it('refuses a signed reply whose "ok" is not true or false: the command is left unanswered', async () => {
    await answerNext('st-1', (counter) => new Map<number, unknown>([[MSG.STATION, 'st-1'], [MSG.COUNTER, counter], [MSG.OK, 1]]));
    expect(await link.command('st-1', COMMAND.UNLOCK, { locker: 0, actor: 5 })).toEqual({ ok: false, refusal: 'no reply (station offline?)' });
    expect(lines.some((line) => /reply from st-1 rejected: ok: /.test(line))).toBe(true);
  });

  it('does not write a log line for every signed refusal answering a command the hub never sent', async () => {
    // A station's key in the wrong hands (or a firmware gone wrong): refusals with counters nobody
    // sent, as fast as the broker lets them through. One line says so, not one per message.
    const before = lines.length;
    const forged = (counter: number) => new Map<number, unknown>([[MSG.STATION, 'st-1'], [MSG.COUNTER, counter], [MSG.OK, false], [MSG.DETAIL, REFUSAL.NOT_NOW]]);
    for (let counter = 1; counter <= 40; counter++) await station.publishAsync(`${topicBase(SITE, 'st-1')}${TOPIC.REPLY}`, Buffer.from(seal(KEY, forged(counter))), { qos: 1 });
    await eventually(() => lines.slice(before).some((line) => /reply from st-1 rejected: no command 1 awaits a reply/.test(line)), 5000, 'the refusal of the unasked replies').catch((error) => {
      throw new Error(`${error.message}; logged: ${lines.slice(before).join(' / ')}`);
    });
    // The hub keeps serving: a real command still gets its answer.
    await answerNext('st-1', (counter) => new Map<number, unknown>([[MSG.STATION, 'st-1'], [MSG.COUNTER, counter], [MSG.OK, true]]));
    expect(await link.command('st-1', COMMAND.UNLOCK, { locker: 1, actor: 5 })).toEqual({ ok: true, refusal: null });
    expect(lines.slice(before).length).toBeLessThanOrEqual(2);
  });

  it('refuses an oversized or deeply nested state report with its reason, and keeps serving', async () => {
    const huge = new Uint8Array(200_000).fill(0x81); // 200,000 nested one-element arrays
    await station.publishAsync(`${topicBase(SITE, 'st-9')}${TOPIC.STATE}`, Buffer.from(huge), { qos: 1 });
    const big = validState('st-10', 1);
    big.set(MSG.FIRMWARE, 'x'.repeat(100_000));
    await publishState('st-10', big);
    await eventually(() => lines.some((line) => /state from st-9 rejected/.test(line)) && lines.some((line) => /state from st-10 rejected/.test(line)), 5000, 'both refusals').catch((error) => {
      throw new Error(`${error.message}; logged: ${lines.join(' / ')}`);
    });
    expect(link.states.get('st-9')).toBeUndefined();
    expect(link.states.get('st-10')).toBeUndefined();
    await publishState('st-11', validState('st-11', 5));
    await eventually(() => link.states.get('st-11')?.boot === 5, 5000, 'a good report after them');
  });
});
