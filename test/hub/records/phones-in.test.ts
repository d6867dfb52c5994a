// The phones in lockers now (phones_in, migration 16) is kept by the database itself in the same
// transaction as every write to phone custody: after deposits, collections, a confiscation and
// its release by hand, a hold lifted from the office, a phone left at the cut-off and disposed
// of, and a leaver's records purged, it holds exactly the open custody records, and "who holds
// what", end of day's lists and the lockers view read it.
import { afterEach, expect, it } from 'vitest';
import { DETAIL } from '../../../protocol/wire';
import { LostProperty } from '../../../hub/src/records/lost-property';
import { purge } from '../../../hub/src/records/purge';
import { Reports } from '../../../hub/src/reports/reports';
import { EVENT, openSchool, type School } from '../support/school';

let school: School | null = null;
afterEach(async () => {
  await school?.close();
  school = null;
});

const at = (minute: number) => new Date(Date.UTC(2026, 2, 2, 8, minute)).toISOString();

/** What phones_in holds, and what it must hold (the open custody records). */
async function compare(s: School) {
  const db = s.test.db;
  const norm = (rows: Array<Record<string, unknown>>) => rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
  const held = norm(await db.all('SELECT custody_id AS id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at FROM phones_in ORDER BY custody_id'));
  const open = norm(await db.all('SELECT id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at FROM phone_custody WHERE collected_at IS NULL ORDER BY id'));
  return { held, open };
}

async function holdingsPhones(s: School) {
  const report = await new Reports(s.records).holdings({ actor: s.actor('headteacher') });
  return report.rows.filter((row) => row.item === 'phone').map((row) => `${row.holder} ${row.owner}`).sort();
}

it('holds exactly the phones in lockers through deposits, collections, holds, lost property and purge', async () => {
  school = await openSchool();
  const s = school;
  const [p1, p2, p3, p4] = s.pupils;
  const name = async (id: number) => (await s.records.people.get(id))!.name;

  // Deposits in one batch, one collected in the same batch, one later.
  await s.records.custody.applyBatch([
    { frame: s.frame('form-7a', EVENT.DEPOSIT, { locker: 0, person: p1 }), receivedAt: at(0) },
    { frame: s.frame('form-7a', EVENT.DEPOSIT, { locker: 1, person: p2 }), receivedAt: at(1) },
    { frame: s.frame('form-7a', EVENT.DEPOSIT, { locker: 2, person: p3 }), receivedAt: at(2) },
    { frame: s.frame('form-7a', EVENT.COLLECT, { locker: 2, person: p3 }), receivedAt: at(3) },
    { frame: s.frame('form-7a', EVENT.DEPOSIT, { locker: 3, person: p4 }), receivedAt: at(4) },
  ]);
  let state = await compare(s);
  expect(state.held).toEqual(state.open);
  expect(state.held.map((row) => row.person_id)).toEqual([p1, p2, p4]);
  expect(await holdingsPhones(s)).toEqual([`locker 1 at form-7a ${await name(p1)}`, `locker 2 at form-7a ${await name(p2)}`, `locker 4 at form-7a ${await name(p4)}`]);

  await s.apply(s.frame('form-7a', EVENT.COLLECT, { locker: 0, person: p1 }), at(5));
  // A phone confiscated into locker 4, then released by hand (it leaves with the staff member).
  await s.apply(s.frame('form-7a', EVENT.HOLD_SET, { locker: 4, person: p3, actor: s.staff.staff, detail: DETAIL.CONFISCATED }), at(6));
  state = await compare(s);
  expect(state.held).toEqual(state.open);
  expect(state.held.map((row) => row.person_id)).toEqual([p2, p4, p3]);
  await s.apply(s.frame('form-7a', EVENT.HOLD_RELEASED, { locker: 4, person: p3, actor: s.staff.deputy }), at(7));
  state = await compare(s);
  expect(state.held).toEqual(state.open);
  expect(state.held.map((row) => row.person_id)).toEqual([p2, p4]);
  expect((await s.records.custody.phonesIn()).map((phone) => phone.personId)).toEqual([p2, p4]);

  // Left in at the cut-off: lost property, then disposed of.
  const lost = new LostProperty(s.test.db, s.records.audit, { dayCutoff: '16:00', lostPropertyDays: 1 });
  expect(await lost.markUncollected(new Date('2026-03-02T17:00:00.000Z'))).toBe(2);
  state = await compare(s);
  expect(state.held).toEqual(state.open);
  expect(state.held.every((row) => row.uncollected_at !== null)).toBe(true);
  const [first] = await lost.uncollected();
  await lost.dispose(Number(first.id), 'returned to parent', s.actor('office'), new Date('2026-03-10T12:00:00.000Z'));
  state = await compare(s);
  expect(state.held).toEqual(state.open);
  expect(state.held.map((row) => row.person_id)).toEqual([p4]);

  // A leaver's records purged: their phone custody goes, and with it their row here.
  await s.test.db.run('UPDATE people SET left_on = ? WHERE id = ?', ['2025-01-01', p4]);
  await purge(s.records, { actor: s.actor('headteacher'), retentionDays: 30, now: new Date('2026-03-11T12:00:00.000Z') });
  state = await compare(s);
  expect(state.held).toEqual(state.open);
  expect(state.held).toEqual([]);
  expect(await holdingsPhones(s)).toEqual([]);

  // A write from outside the records code (a command, the database shell) is followed as well.
  await s.apply(s.frame('form-7a', EVENT.DEPOSIT, { locker: 5, person: p1 }), at(30));
  await s.test.db.run('UPDATE phone_custody SET locker = 6 WHERE collected_at IS NULL');
  state = await compare(s);
  expect(state.held).toEqual(state.open);
  expect(state.held.map((row) => row.locker)).toEqual([6]);
});
