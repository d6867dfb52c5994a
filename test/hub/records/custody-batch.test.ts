// A batch's deposits and collections are written together (records/custody-writes.ts) and its
// boots' committed marks read and written together (records/committed-marks.ts): the records
// must come out exactly as when the same events are applied one at a time.
import { afterEach, expect, it } from 'vitest';
import type { EventFrame } from '../../../hub/src/protocol/frames';
import { prng } from '../../support/prng';
import { EVENT, openSchool, type School } from '../support/school';

let schools: School[] = [];
afterEach(async () => {
  for (const school of schools) await school.close();
  schools = [];
});

async function tables(school: School) {
  const db = school.test.db;
  const normalise = (rows: Record<string, unknown>[]) => rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'bigint' ? Number(value) : value])));
  return {
    // Ids follow the order effects were applied in, which interleaves stations differently.
    custody: normalise(await db.all('SELECT station_id, deposit_boot, deposit_seq, person_id, locker, deposited_at, collected_at, collected_by FROM phone_custody ORDER BY station_id, deposit_boot, deposit_seq')),
    lockers: normalise(await db.all('SELECT station_id, locker, state, person_id, since FROM lockers ORDER BY station_id, locker')),
    boots: normalise(await db.all('SELECT station_id, boot, committed_seq FROM station_boots ORDER BY station_id, boot')),
    lastSeen: normalise(await db.all('SELECT id, last_seen FROM stations ORDER BY id')),
  };
}

it('a batch of deposits and collections leaves the same records as its events one at a time', async () => {
  const seed = Number(process.env.TEST_SEED ?? Date.now() % 100000);
  console.log(`custody-batch seed ${seed} (TEST_SEED=${seed} reproduces it)`);
  const random = prng(seed);
  const batched = await openSchool();
  const single = await openSchool();
  schools = [batched, single];
  expect(batched.pupils).toEqual(single.pupils);

  // Pupils tap at few lockers, so deposits and collections of the same pupil and locker meet in
  // one batch, some collections find nothing to collect and some deposits go into a full locker.
  const stations = ['form-7a', 'loans-1'];
  const seqs = new Map<string, number>();
  const frames: EventFrame[] = [];
  for (let i = 0; i < 400; i++) {
    const station = stations[Math.floor(random() * stations.length)];
    const seq = (seqs.get(station) ?? 0) + 1;
    seqs.set(station, seq);
    const roll = random();
    const type = roll < 0.45 ? EVENT.DEPOSIT : roll < 0.9 ? EVENT.COLLECT : roll < 0.95 ? EVENT.DOOR_FORCED : EVENT.UNKNOWN_BADGE;
    const frame: EventFrame = { station, boot: 1, seq, uptimeMs: seq * 1000, type, locker: Math.floor(random() * 3) };
    if (type === EVENT.DEPOSIT || type === EVENT.COLLECT) frame.person = batched.pupils[Math.floor(random() * 2)];
    frames.push(frame);
  }
  const at = (i: number) => new Date(Date.UTC(2026, 2, 2, 7, 0, i)).toISOString();

  // The first events one at a time on both, so the batches also meet rows stored before them.
  for (let i = 0; i < 40; i++) {
    await batched.records.custody.applyEvent(frames[i], at(i));
    await single.records.custody.applyEvent(frames[i], at(i));
  }
  // Then batches of random sizes, each with a few frames held back (a gap, filled by a later
  // batch) and a few sent again.
  let held: number[] = [];
  for (let start = 40; start < frames.length; ) {
    const size = 1 + Math.floor(random() * 120);
    const indexes: number[] = [...held];
    held = [];
    for (let i = start; i < Math.min(start + size, frames.length); i++) {
      if (random() < 0.03 && start + size < frames.length) held.push(i);
      else indexes.push(i);
      if (random() < 0.03) indexes.push(i);
    }
    start += size;
    await batched.records.custody.applyBatch(indexes.map((i) => ({ frame: frames[i], receivedAt: at(i) })));
    for (const i of indexes) await single.records.custody.applyEvent(frames[i], at(i));
  }
  if (held.length) {
    await batched.records.custody.applyBatch(held.map((i) => ({ frame: frames[i], receivedAt: at(i) })));
    for (const i of held) await single.records.custody.applyEvent(frames[i], at(i));
  }

  const expected = await tables(single);
  expect(expected.custody.length).toBeGreaterThan(50);
  expect(expected.custody.some((row) => row.collected_at === null)).toBe(true);
  expect(await tables(batched)).toEqual(expected);
  expect(expected.boots).toEqual(stations.map((station) => ({ station_id: station, boot: 1, committed_seq: seqs.get(station) })));
});
