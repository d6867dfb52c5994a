// A school for the rulebook's tests (rules-matrix, safeguarding-crawl): one member of staff in each
// role, a web account for each page role linked to them, a pupil whose phone the DSL put in a
// safeguarding hold a term ago (so it is uncollected and past its lost-property period too), other
// pupils with phones left in, a confiscation, staff loans and a loss charge against the office's
// own member of staff — all made through the records and station events, as the hub would see them.
// The command line reaches the same database (`target`), as an administrator's shell would.
import { EVENT } from '../../protocol/wire';
import { generatePassword } from '../../hub/src/accounts/password';
import type { WebRole } from '../../hub/src/accounts/roles';
import { SYSTEM } from '../../hub/src/records/access';
import type { EventFrame } from '../../hub/src/protocol/frames';
import type { HubHarness } from '../support/hub-harness';
import type { TestDatabaseTarget } from '../support/test-database';
import { WebClient } from './client';

export const HELD = { name: 'Zoë O’Neill', externalId: 'P-SAFE-77', form: '9Q', station: 'form-9', locker: 3 };

/** Staff codes (for --by) of the people in each role. */
export const STAFF = { office: 'OOF', ict: 'ITE', headteacher: 'HTA', deputy: 'DPU', dsl: 'DSH', staff: 'PPA' } as const;
export type StaffRole = keyof typeof STAFF;

/** The member of staff each page role's account is linked to. */
export const ACCOUNT_PERSON: Record<WebRole, StaffRole> = { office: 'office', ict: 'ict', headteacher: 'headteacher', dsl: 'dsl', 'read-only': 'staff' };

export interface RulesSchool {
  people: Record<StaffRole, number>;
  held: number;
  /** A pupil whose phone was left in, not held: every role sees them listed. */
  leftIn: number;
  confiscated: number;
  safeguardingHold: number;
  confiscationHold: number;
  /** Olu Office's loss charge (for the own-charge rule). */
  ownCharge: number;
  clients: Record<WebRole, WebClient>;
  target: TestDatabaseTarget;
  /** A station event, next in that station's sequence, applied as the ingest applies one. */
  station(stationId: string, type: number, fields: Partial<EventFrame>, at?: string): Promise<unknown>;
}

export async function seedRulesSchool(harness: HubHarness): Promise<RulesSchool> {
  const { records } = harness.hub;
  const add = (externalId: string, name: string, role: 'office' | 'ict' | 'headteacher' | 'deputy' | 'dsl' | 'staff', staffCode: string) =>
    records.db.insert("INSERT INTO people (external_id, name, kind, role, staff_code) VALUES (?, ?, 'staff', ?, ?)", [externalId, name, role, staffCode]);
  const people = {
    office: await add('S-OFF', 'Olu Office', 'office', STAFF.office),
    ict: await add('S-ICT', 'Ian Tech', 'ict', STAFF.ict),
    headteacher: await add('S-HT', 'Helen Tate', 'headteacher', STAFF.headteacher),
    deputy: await add('S-DEP', 'Dee Puty', 'deputy', STAFF.deputy),
    dsl: await add('S-DSL', 'Dan Shaw', 'dsl', STAFF.dsl),
    staff: await add('S-TCH', 'Priya Patel', 'staff', STAFF.staff),
  };
  const held = await records.people.add({ externalId: HELD.externalId, name: HELD.name, role: 'pupil', form: HELD.form });
  const leftIn = await records.people.add({ externalId: 'P-101', name: 'Amy Bell', role: 'pupil', form: '7A' });
  const confiscated = await records.people.add({ externalId: 'P-102', name: 'Harry Iqbal', role: 'pupil', form: '7A' });
  await records.stations.add(harness.hub.settings.site, HELD.station, 8);
  await records.stations.add(harness.hub.settings.site, 'loans-1', 4);
  for (const [tag, locker] of [['STK-001', 0], ['STK-002', 1], ['STK-003', 2]] as const) {
    await records.assets.upsert({ tag, classId: 'usb-stick', serial: `KS-${tag}`, encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: locker }, SYSTEM);
  }

  const seqs = new Map<string, number>();
  const apply = (station: string, type: number, fields: Partial<EventFrame>, at: string) => {
    const seq = (seqs.get(station) ?? 0) + 1;
    seqs.set(station, seq);
    return records.custody.applyEvent({ station, boot: 1, seq, uptimeMs: seq * 1000, type, ...fields }, at);
  };
  const daysAgo = (days: number, hour = 8) => {
    const at = new Date();
    at.setDate(at.getDate() - days);
    at.setHours(hour, 30, 0, 0);
    return at.toISOString();
  };
  // A term ago: Amy's phone left in; Zoë's put in a safeguarding hold by the DSL that morning.
  await apply(HELD.station, EVENT.DEPOSIT, { locker: 0, person: leftIn }, daysAgo(100, 8));
  await apply(HELD.station, EVENT.DEPOSIT, { locker: HELD.locker, person: held }, daysAgo(100, 8));
  await apply(HELD.station, EVENT.HOLD_SET, { locker: HELD.locker, person: held, actor: people.dsl }, daysAgo(100, 10));
  // Today: Harry's phone confiscated by his teacher.
  await apply(HELD.station, EVENT.DEPOSIT, { locker: 5, person: confiscated }, daysAgo(0, 8));
  await apply(HELD.station, EVENT.HOLD_SET, { locker: 5, person: confiscated, actor: people.staff }, daysAgo(0, 9));
  // Sticks out: Olu (office) borrows STK-001, Priya STK-002.
  await apply('loans-1', EVENT.LOAN, { locker: 0, person: people.office, actor: people.office }, daysAgo(3));
  await apply('loans-1', EVENT.LOAN, { locker: 1, person: people.staff, actor: people.staff }, daysAgo(3));
  await records.lostProperty.markUncollected();
  // Olu's stick is lost: the headteacher reports it; Olu is charged.
  const lost = await records.loans.reportLost('STK-001', { personId: people.headteacher, role: 'headteacher' });

  const holds = await records.db.all<{ id: number; kind: string }>('SELECT id, kind FROM holds ORDER BY id');
  const clients = {} as Record<WebRole, WebClient>;
  for (const role of Object.keys(ACCOUNT_PERSON) as WebRole[]) {
    const username = `${role.replace(/[^a-z]/g, '')}-account`;
    const password = generatePassword();
    await harness.hub.accounts.add({ username, role, password, personId: people[ACCOUNT_PERSON[role]] }, 'test');
    const client = new WebClient(harness.hub.httpUrl);
    const response = await client.signIn(username, password);
    if (!response.ok) throw new Error(`could not sign in as ${username}: ${response.status}`);
    clients[role] = client;
  }
  const settings = harness.hub.settings;
  return {
    people,
    held,
    leftIn,
    confiscated,
    safeguardingHold: Number(holds.find((hold) => hold.kind === 'safeguarding')!.id),
    confiscationHold: Number(holds.find((hold) => hold.kind === 'confiscation')!.id),
    ownCharge: lost.chargeId!,
    clients,
    station: (stationId, type, fields, at = new Date().toISOString()) => apply(stationId, type, fields, at),
    target: { dataDir: harness.dataDir, databaseUrl: settings.databaseUrl ?? null, drop: async () => undefined },
  };
}
