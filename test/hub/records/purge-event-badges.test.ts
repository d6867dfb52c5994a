// Purge clears a leaver's badge hash from the station events it keeps (a loan's, which are not phone
// events past retention), and no one else's: since migration 23 there is no index of station events
// by person, and purge clears all its leavers' hashes in one statement. Runs on SQLite, and on
// PostgreSQL when DATABASE_URL is set.
import { afterEach, expect, it } from 'vitest';
import { purge } from '../../../hub/src/records/purge';
import { EVENT, openSchool, type School } from '../support/school';

let school: School | null = null;
afterEach(async () => {
  await school?.close();
  school = null;
});

it('clears the purged leavers’ badge hashes in the station events it keeps, and only theirs', async () => {
  school = await openSchool();
  const { records, staff } = school;
  const office = school.actor('office');
  await records.assets.upsert({ tag: 'USB-001', serial: 'SN1', classId: 'usb-stick', encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: 0, tagUid: '04aa0001' }, office);
  await records.assets.upsert({ tag: 'USB-002', serial: 'SN2', classId: 'usb-stick', encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: 1, tagUid: '04aa0002' }, office);
  const badge = (byte: number) => new Uint8Array(8).fill(byte);
  // Two leavers and one who stays borrow and return sticks, long ago.
  const borrowers: Array<[number, number]> = [[staff.staff, 1], [staff.ict, 2], [staff.dsl, 3]];
  for (const [person, byte] of borrowers) {
    await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 0, person, actor: person, badge: badge(byte) }), '2023-03-02T09:00:00.000Z');
    await school.apply(school.frame('loans-1', EVENT.RETURN, { locker: 0, person, actor: person, badge: badge(byte) }), '2023-03-02T10:00:00.000Z');
  }
  await school.test.db.transaction((tx) => tx.run("UPDATE people SET left_on = '2023-07-20' WHERE id IN (?, ?)", [staff.staff, staff.ict]));

  const result = await purge(records, { actor: school.actor('headteacher'), retentionDays: 365, now: new Date('2026-03-11T12:00:00.000Z') });
  expect(result.peoplePseudonymised).toBe(2);
  const events = await school.test.db.all<{ person_id: number; type: number; badge_hash: Uint8Array | null }>("SELECT person_id, type, badge_hash FROM station_events WHERE station_id = 'loans-1' ORDER BY seq");
  expect(events.map((event) => [Number(event.person_id), Number(event.type), event.badge_hash === null ? null : [...event.badge_hash][0]])).toEqual([
    [staff.staff, EVENT.LOAN, null],
    [staff.staff, EVENT.RETURN, null],
    [staff.ict, EVENT.LOAN, null],
    [staff.ict, EVENT.RETURN, null],
    [staff.dsl, EVENT.LOAN, 3],
    [staff.dsl, EVENT.RETURN, 3],
  ]);
  const verified = await records.audit.verify();
  expect(verified.problem?.message).toBeUndefined();
  expect(verified.ok).toBe(true);
});
