// What the office page's tests need besides the demo school: staff in each role, a staff loan
// bank with an encrypted stick out on loan, a second form's station with a safeguarding hold and a
// confiscation — all made through the records and station events, as the hub would see them.
import { EVENT } from '../../protocol/wire';
import type { Hub } from '../../hub/src/hub';
import { SYSTEM } from '../../hub/src/records/access';
import type { EventFrame } from '../../hub/src/protocol/frames';

export interface OfficeSchool {
  staff: { teacher: number; dsl: number; headteacher: number };
  pupil: number;
  stickTag: string;
  safeguardingHoldId: number;
  confiscationHoldId: number;
}

export async function seedOffice(hub: Hub): Promise<OfficeSchool> {
  const { records } = hub;
  const teacher = await records.people.add({ externalId: 'S-PAT', name: 'Priya Patel', role: 'staff' });
  const dsl = await records.people.add({ externalId: 'S-DSL', name: 'Dan Shaw', role: 'dsl' });
  const headteacher = await records.people.add({ externalId: 'S-HT', name: 'Helen Tate', role: 'headteacher' });
  const pupil = await records.people.add({ externalId: 'P-900', name: 'Grace Hughes', role: 'pupil', form: '7B' });
  const other = await records.people.add({ externalId: 'P-901', name: 'Harry Iqbal', role: 'pupil', form: '7B' });
  await records.stations.add(hub.settings.site, 'loans-1', 4);
  await records.stations.add(hub.settings.site, 'form-7b', 8);
  await records.assets.upsert({ tag: 'STK-001', classId: 'usb-stick', serial: 'KS-0001', encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: 0 }, SYSTEM);
  await records.assets.upsert({ tag: 'LAP-001', classId: 'laptop', serial: 'LT-0001', homeStation: 'loans-1', homeLocker: 1 }, SYSTEM);

  // Each station numbers its own events from 1, as a real one does (the hub applies them in that order).
  const seqs = new Map<string, number>();
  const frame = (station: string, type: number, fields: Partial<EventFrame>): EventFrame => {
    const seq = (seqs.get(station) ?? 0) + 1;
    seqs.set(station, seq);
    return { station, boot: 1, seq, uptimeMs: seq * 1000, type, ...fields };
  };
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
  // Priya borrows the stick from the loan bank.
  await records.custody.applyEvent(frame('loans-1', EVENT.LOAN, { locker: 0, person: teacher, actor: teacher }), at(90));
  // The DSL places a safeguarding hold on Grace's phone; a teacher confiscates Harry's.
  await records.custody.applyEvent(frame('form-7b', EVENT.DEPOSIT, { locker: 2, person: pupil }), at(80));
  await records.custody.applyEvent(frame('form-7b', EVENT.HOLD_SET, { locker: 2, person: pupil, actor: dsl }), at(60));
  await records.custody.applyEvent(frame('form-7b', EVENT.DEPOSIT, { locker: 3, person: other }), at(79));
  await records.custody.applyEvent(frame('form-7b', EVENT.HOLD_SET, { locker: 3, person: other, actor: teacher }), at(30));
  // Someone forces locker 6 at form-7b open.
  await records.custody.applyEvent(frame('form-7b', EVENT.DOOR_FORCED, { locker: 5 }), at(20));
  const holds = await hub.db.all<{ id: number; kind: string }>('SELECT id, kind FROM holds ORDER BY id');
  return {
    staff: { teacher, dsl, headteacher },
    pupil,
    stickTag: 'STK-001',
    safeguardingHoldId: Number(holds.find((hold) => hold.kind === 'safeguarding')!.id),
    confiscationHoldId: Number(holds.find((hold) => hold.kind === 'confiscation')!.id),
  };
}
