// The rulebook from the outside: every role against every action, through the office page (HTTP
// with a session and CSRF token), the JSON API, and the command line (the `handover` command's own
// entry point run in this process on the same database — test/hub/cli/cli.test.ts and the other CLI
// suites run the real binary as a child process), each cell's outcome held against
// rules/permissions.ts: a refusal (403, or "needs the … role" and exit 1) exactly where the table says no. The probes use targets
// that do not exist or input that is wrong *after* the permission check (an unknown asset tag, a
// date that is not in the calendar), so an allowed cell is told by what comes after the door and
// nothing changes; the conditions beyond the role (one's own charge, another's loan, the DSL-only
// receipt) are then tested with real records. One hub for all of it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../protocol/wire';
import { WEB_ROLES, type WebRole } from '../../hub/src/accounts/roles';
import { allows, tableRoleOf, type Permission } from '../../hub/src/rules/permissions';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';
import { commandLine, type Run } from '../hub/support/cli';
import { HELD, seedRulesSchool, STAFF, type RulesSchool, type StaffRole } from './rules-school';

let harness: HubHarness;
let school: RulesSchool;
let cli: ReturnType<typeof commandLine>;

beforeAll(async () => {
  harness = await startHub({ demo: false });
  school = await seedRulesSchool(harness);
  cli = commandLine(() => school.target, { inProcess: true });
}, 120_000);
afterAll(async () => {
  await harness?.stop();
});

interface WebProbe {
  permission: Permission;
  name: string;
  send(role: WebRole): Promise<number>;
}

const form = (role: WebRole, fields: Record<string, string>) => ({ form: { ...fields, _csrf: school.clients[role].csrfToken }, accept: 'html' as const });
const get = (role: WebRole, route: string, accept: 'html' | 'json' = 'html') => school.clients[role].get(route, accept).then((response) => response.status);
const post = (role: WebRole, route: string, fields: Record<string, string> = {}) => school.clients[role].send('POST', route, form(role, fields)).then((response) => response.status);

const postJson = (role: WebRole, route: string, json: Record<string, unknown>) => school.clients[role].send('POST', route, { json }).then((response) => response.status);

const DESK_PROBES: Array<[Permission, string, Record<string, string>]> = [
  ['desk.lend', 'lend', { tag: 'NO-SUCH-TAG', borrower: 'P-101' }],
  ['desk.lend', 'return', { tag: 'NO-SUCH-TAG', condition: 'good' }],
  ['assets.health-check', 'health-check', { tag: 'NO-SUCH-TAG' }],
  ['day-cards.give', 'day-card', { card: 'No such card', person: 'P-101' }],
  ['day-cards.give', 'day-card-back', { card: 'No such card' }],
  ['day-cards.give', 'spare-card', { label: 'Spare 9', uid: 'not-a-uid' }],
  ['register.edit', 'person', { mode: 'correct', externalId: 'NO-SUCH-PERSON' }],
  ['register.edit', 'card', { person: 'P-101', uid: 'not-a-uid' }],
  ['register.edit', 'asset', { mode: 'add', tag: 'NO-SUCH-TAG', classId: 'laptop', lastHealthCheck: '2027-02-30' }],
];

const WEB: WebProbe[] = [
  ...(
    [
      ['lockers.view', '/lockers'],
      ['today.view', '/today'],
      ['people.view', '/who'],
      ['loans.view', '/loans'],
      ['end-of-day.view', '/end-of-day'],
      ['holds.view', '/holds'],
      ['stations.view', '/stations'],
      ['charges.view', '/charges'],
      ['leavers.view', '/leavers'],
      ['imports.run', '/imports'],
      ['notifications.view', '/notifications'],
    ] as Array<[Permission, string]>
  ).map(([permission, route]) => ({ permission, name: `page ${route}`, send: (role: WebRole) => get(role, route) })),
  { permission: 'people.view', name: 'page a person', send: (role) => get(role, `/who/person/${school.leftIn}`) },
  { permission: 'holds.safeguarding', name: 'page a safeguarding hold', send: (role) => get(role, `/holds/${school.safeguardingHold}`) },
  { permission: 'charges.report', name: 'page report an item', send: (role) => post(role, '/charges/preview', { tag: 'NO-SUCH-TAG', action: 'lost' }) },
  { permission: 'charges.waive', name: 'page waive', send: (role) => get(role, '/charges/999999/waive') },
  { permission: 'leavers.act', name: 'page leaver declaration', send: (role) => post(role, `/leavers/${school.people.deputy}/declare`, { tag: 'NO-SUCH-TAG', declaration: 'all school information deleted' }) },
  { permission: 'leavers.act', name: 'page complete a leaver', send: (role) => post(role, `/leavers/${school.people.deputy}/complete`, { leftOn: '2023-13-45' }) },
  { permission: 'lost-property.dispose', name: 'page record a disposal', send: (role) => get(role, '/end-of-day/dispose/999999') },
  { permission: 'firmware.manage', name: 'page roll out firmware', send: (role) => post(role, '/stations/firmware/rollout', { version: '9.9.9', stage: 'one' }) },
  { permission: 'firmware.manage', name: 'page withdraw firmware', send: (role) => post(role, '/stations/firmware/withdraw', { station: 'no-such-station' }) },
  { permission: 'stations.unlock', name: 'page remote unlock', send: (role) => post(role, '/stations/no-such-station/unlock', { locker: '1' }) },
  { permission: 'stations.open-all', name: 'page open-all', send: (role) => post(role, '/stations/no-such-station/open-all') },
  { permission: 'alerts.acknowledge', name: 'page acknowledge an alert', send: (role) => post(role, '/alerts/999999/acknowledge') },
  // The JSON API.
  { permission: 'lockers.view', name: 'api lockers', send: (role) => get(role, '/api/lockers', 'json') },
  { permission: 'lockers.view', name: 'api custody', send: (role) => get(role, '/api/custody', 'json') },
  { permission: 'stations.view', name: 'api stations', send: (role) => get(role, '/api/stations', 'json') },
  { permission: 'stations.view', name: 'api rejections', send: (role) => get(role, '/api/rejections', 'json') },
  { permission: 'imports.run', name: 'api an import', send: (role) => get(role, '/api/imports/999999', 'json') },
  { permission: 'demo.tap', name: 'api demo cards', send: (role) => get(role, '/api/demo/cards', 'json') },
  // The Desk (issue 17): every action on the page and as JSON, each with input refused after the door.
  { permission: 'desk.lend', name: 'page desk', send: (role) => get(role, '/desk') },
  ...DESK_PROBES.flatMap(([permission, action, fields]) => [
    { permission, name: `page desk ${action}`, send: (role: WebRole) => post(role, `/desk/${action}`, fields) },
    { permission, name: `api desk ${action}`, send: (role: WebRole) => postJson(role, `/api/desk/${action}`, { ...fields, confirm: true }) },
  ]),
];

interface CliProbe {
  permission: Permission;
  argv: (by: string) => string[];
}

const CLI: CliProbe[] = [
  { permission: 'charges.report', argv: (by) => ['charge', 'lost', 'NO-SUCH-TAG', '--by', by] },
  { permission: 'charges.report', argv: (by) => ['charge', 'stolen', 'NO-SUCH-TAG', '--crime-number', 'CR/1/26', '--by', by] },
  { permission: 'charges.report', argv: (by) => ['charge', 'damage', 'NO-SUCH-TAG', 'cap', '--by', by] },
  { permission: 'charges.report', argv: (by) => ['charge', 'found', 'NO-SUCH-TAG', '--by', by] },
  { permission: 'charges.waive', argv: (by) => ['charge', 'waive', '999999', '--reason', 'goodwill', '--by', by] },
  { permission: 'charges.reverse', argv: (by) => ['charge', 'reverse', '999999', '--reason', 'in error', '--by', by] },
  { permission: 'charges.view', argv: (by) => ['charge', 'list', '--by', by] },
  { permission: 'charges.view', argv: (by) => ['charge', 'evidence', '999999', '--by', by] },
  { permission: 'leavers.act', argv: (by) => ['leaver', 'P-101', '--retain', 'NO-SUCH-TAG', '--declaration', 'all school information deleted', '--by', by] },
  { permission: 'leavers.act', argv: (by) => ['leaver', 'P-101', '--complete', '--left-on', '2023-13-45', '--by', by] },
  { permission: 'leavers.view', argv: (by) => ['leaver', 'P-101', '--by', by] },
  { permission: 'lost-property.dispose', argv: (by) => ['dispose', '999999', '--note', 'recycled', '--by', by] },
  { permission: 'firmware.manage', argv: (by) => ['firmware', 'rollout', '9.9.9', '--stage', 'one', '--by', by] },
  { permission: 'firmware.manage', argv: (by) => ['firmware', 'withdraw', 'no-such-station', '--by', by] },
  { permission: 'exemptions.manage', argv: (by) => ['exemption', 'grant', 'P-101', '--reference', 'RA-1', '--review', '2027-02-30', '--by', by] },
  { permission: 'exemptions.manage', argv: (by) => ['exemption', 'end', 'P-101', '--by', by] },
  { permission: 'classes.manage', argv: (by) => ['class', 'set', 'no-such-class', '--loan-days', '3', '--by', by] },
  { permission: 'classes.manage', argv: (by) => ['price', 'set', 'no-such-class', 'cap', '1', '--by', by] },
  { permission: 'imports.run', argv: (by) => ['import', 'people', 'not-people.csv', '--by', by] },
  { permission: 'imports.run', argv: (by) => ['import', 'assets', 'not-people.csv', '--by', by] },
  { permission: 'records.purge', argv: (by) => ['purge', '--dry-run', '--by', by] },
  { permission: 'charges.view', argv: (by) => ['report', 'ledger', '--by', by] },
  { permission: 'leavers.view', argv: (by) => ['report', 'leavers', '--by', by] },
  { permission: 'people.view', argv: (by) => ['report', 'holdings', '--by', by] },
  { permission: 'people.view', argv: (by) => ['export', 'subject', 'P-101', '--out', 'export.json', '--by', by] },
  { permission: 'desk.lend', argv: (by) => ['lend', 'NO-SUCH-TAG', 'P-101', '--by', by] },
  { permission: 'desk.lend', argv: (by) => ['return', 'NO-SUCH-TAG', '--by', by] },
  { permission: 'assets.health-check', argv: (by) => ['health-check', 'NO-SUCH-TAG', '--by', by] },
  { permission: 'day-cards.give', argv: (by) => ['daycard', 'give', 'No such card', 'P-101', '--by', by] },
  { permission: 'day-cards.give', argv: (by) => ['daycard', 'spare', 'Spare 9', 'not-a-uid', '--by', by] },
  { permission: 'register.edit', argv: (by) => ['person', 'correct', 'NO-SUCH-PERSON', '--name', 'X', '--by', by] },
  { permission: 'register.edit', argv: (by) => ['card', 'enrol', 'P-101', 'not-a-uid', '--by', by] },
  { permission: 'register.edit', argv: (by) => ['asset', 'add', 'NO-SUCH-TAG', '--class', 'laptop', '--last-health-check', '2027-02-30', '--by', by] },
];

const refusedOnLine = (run: Run) => run.code === 1 && /needs the .* role; the acting account is/.test(run.stderr);

describe(`the rulebook from the outside (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 900_000 }, () => {
  it('refuses exactly what the table refuses, on every page and API endpoint, for every page role', async () => {
    const outcomes: string[] = [];
    for (const role of WEB_ROLES) {
      for (const probe of WEB) {
        const status = await probe.send(role);
        const allowed = allows(role, probe.permission);
        outcomes.push(`${role} ${probe.name}: ${allowed ? 'allowed' : 'refused'} -> ${status}`);
        expect(status === 403, `${role} ${probe.name} (${probe.permission}) answered ${status}`).toBe(!allowed);
        expect(status, `${role} ${probe.name}`).toBeLessThan(500);
      }
    }
    // The table refuses someone somewhere on each kind of probe, or the test could not fail.
    expect(outcomes.filter((line) => line.includes('refused')).length).toBeGreaterThan(20);
  });

  it('refuses exactly what the table refuses, on every command, for every role a member of staff can have', async () => {
    fs.writeFileSync(path.join(school.target.dataDir, 'not-people.csv'), 'Something,Else\nx,y\n');
    const roles = Object.keys(STAFF) as StaffRole[];
    const cells = roles.flatMap((role) => CLI.map((probe) => ({ role, probe })));
    const runs: Run[] = [];
    for (const { role, probe } of cells) runs.push(await cli.handover(...probe.argv(STAFF[role])));
    cells.forEach(({ role, probe }, index) => {
      const run = runs[index];
      const allowed = allows(tableRoleOf(role), probe.permission);
      const label = `${role} handover ${probe.argv(STAFF[role]).join(' ')} -> ${run.code} ${run.stderr.trim()}`;
      expect(refusedOnLine(run), label).toBe(!allowed);
      // An allowed probe gets past the door: refused later for its target, or done (a report, a dry run).
      if (allowed) expect(run.stderr, label).not.toMatch(/needs the .* role/);
    });
    // A pupil is no member of staff.
    const pupil = await cli.handover('charge', 'list', '--by', 'P-101');
    expect(pupil.stderr.trim()).toBe('handover: P-101 is a pupil, not a member of staff');
  });

  it('lets nobody waive or reverse a charge raised against themselves, on the page or the command line', async () => {
    const charge = String(school.ownCharge);
    for (const action of ['waive', 'reverse']) {
      const own = await cli.handover('charge', action, charge, '--reason', 'my own', '--by', STAFF.office);
      expect(own.code).toBe(1);
      expect(own.stderr.trim()).toBe(`handover: nobody may ${action} a charge raised against themselves: charge ${charge} is yours`);
    }
    // The office account is Olu's own: the page refuses the waiver too.
    const office = school.clients.office;
    await office.page(`/charges/${charge}/waive`);
    const page = await office.send('POST', `/charges/${charge}/waive`, form('office', { reason: 'my own', confirm: 'yes' }));
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('nobody may waive a charge raised against themselves');
    expect(await harness.hub.records.ledger.outstanding(school.ownCharge)).toBe(1000);
    // Someone else may.
    const head = await cli.handover('charge', 'waive', charge, '--reason', 'stick was faulty', '--by', STAFF.headteacher);
    expect(head.stdout).toMatch(new RegExp(`^waiver \\d+ recorded against charge ${charge}`));
  });

  it('closes only the leaver’s own loans, and never one’s own, whichever way it is asked', async () => {
    // Priya's stick STK-002 is not the deputy's to keep.
    const other = await cli.handover('leaver', 'S-DEP', '--retain', 'STK-002', '--declaration', 'all school information deleted', '--by', STAFF.office);
    expect(other.code).toBe(1);
    expect(other.stderr.trim()).toBe(`handover: STK-002 is not on loan to person #${school.people.deputy}: a declaration closes only the leaver's own loans`);
    const page = await school.clients.office.send('POST', `/leavers/${school.people.deputy}/declare`, form('office', { tag: 'STK-002', declaration: 'all school information deleted', confirm: 'yes' }));
    expect(page.status).toBe(422);
    // Priya (read-only at the office page; plain staff on the command line) may not write off her own.
    const own = await cli.handover('leaver', STAFF.staff, '--retain', 'STK-002', '--declaration', 'all school information deleted', '--by', STAFF.staff);
    expect(refusedOnLine(own)).toBe(true);
    // Nor may the office's own member of staff, with their own account: lend Olu STK-003 and try.
    await school.station('loans-1', EVENT.LOAN, { locker: 2, person: school.people.office, actor: school.people.office });
    const self = await cli.handover('leaver', STAFF.office, '--retain', 'STK-003', '--declaration', 'all school information deleted', '--by', STAFF.office);
    expect(self.stderr.trim()).toBe('handover: nobody may record their own leaver declaration: another member of staff must');
    const selfPage = await school.clients.office.send('POST', `/leavers/${school.people.office}/declare`, form('office', { tag: 'STK-003', declaration: 'all school information deleted', confirm: 'yes' }));
    expect(selfPage.status).toBe(403);
    expect((await harness.hub.records.assets.byTag('STK-003')).status).toBe('on-loan');
    expect((await harness.hub.records.assets.byTag('STK-002')).status).toBe('on-loan');
    // The right way round works.
    const done = await cli.handover('leaver', STAFF.staff, '--retain', 'STK-002', '--declaration', 'all school information deleted', '--by', STAFF.office);
    expect(done.stdout).toMatch(/^STK-002 retained by Priya Patel with a declaration/);
  });

  it('refuses days that are not in the calendar', async () => {
    const review = await cli.handover('exemption', 'grant', 'P-101', '--reference', 'RA-1', '--review', '2027-02-30', '--by', STAFF.office);
    expect(review.stderr.trim()).toBe('handover: review date 2027-02-30 is not a date in the calendar');
    const left = await cli.handover('leaver', 'P-102', '--complete', '--left-on', '2023-13-45', '--by', STAFF.office);
    expect(left.stderr.trim()).toBe('handover: leaving date 2023-13-45 is not a date in the calendar');
    const page = await school.clients.office.send('POST', `/leavers/${school.confiscated}/complete`, form('office', { leftOn: '2027-02-30' }));
    expect(page.status).toBe(422);
    expect(await page.text()).toContain('The leaving date 2027-02-30 is not a date in the calendar');
    expect((await harness.hub.records.people.get(school.confiscated))!.left_on).toBeNull();
  });

  it('says on Check only how many people the import would mark as leavers, and changes nothing', async () => {
    const office = school.clients.office;
    await office.page('/imports');
    const active = Number((await harness.hub.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM people WHERE kind = 'pupil' AND left_on IS NULL"))!.n);
    const body = new FormData();
    body.set('kind', 'people');
    body.set('dryRun', 'yes');
    body.set('file', new Blob(['UPN,Name,Form\nP-101,Amy Bell,7A\n'], { type: 'text/csv' }), 'pupils.csv');
    const cookie = [...office.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const started = await fetch(`${harness.hub.httpUrl}/imports`, { method: 'POST', body, headers: { cookie, accept: 'application/json', 'x-csrf-token': office.csrfToken } });
    expect(started.status).toBe(202);
    const { job } = (await started.json()) as { job: { id: string } };
    await eventually(async () => ((await (await office.get(`/api/imports/${job.id}`, 'json')).json()) as { job: { state: string } }).job.state.match(/^(running|queued)$/) === null, 60_000, 'the check to finish');
    const report = await office.page(`/imports/${job.id}`);
    expect(report.html).toContain(`${active - 1} marked as leavers`);
    expect(Number((await harness.hub.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM people WHERE kind = 'pupil' AND left_on IS NULL"))!.n)).toBe(active);
  });

  it('writes a safeguarding receipt naming who released the hold and in what role', async () => {
    const { records } = harness.hub;
    const release = (locker: number, actor: number) => school.station(HELD.station, EVENT.HOLD_RELEASED, { locker, actor });
    // A second safeguarding hold, released by the office's member of staff: the receipt says so, and the DSL is alerted.
    const pupil = await records.people.add({ externalId: 'P-103', name: 'Cara Doyle', role: 'pupil', form: '8B' });
    await school.station(HELD.station, EVENT.DEPOSIT, { locker: 6, person: pupil }, new Date(Date.now() - 60_000).toISOString());
    await school.station(HELD.station, EVENT.HOLD_SET, { locker: 6, person: pupil, actor: school.people.dsl }, new Date(Date.now() - 30_000).toISOString());
    await release(6, school.people.office);
    await release(HELD.locker, school.people.dsl);
    const receipts = await records.db.all<{ locker: number; receipt: string }>("SELECT locker, receipt FROM holds WHERE kind = 'safeguarding' ORDER BY id");
    expect(receipts.find((row) => Number(row.locker) === 6)!.receipt).toMatch(new RegExp(`^released by person #${school.people.office} \\(office\\), not the designated safeguarding lead, at `));
    expect(receipts.find((row) => Number(row.locker) === HELD.locker)!.receipt).toMatch(new RegExp(`^received by the designated safeguarding lead, person #${school.people.dsl}, at `));
    expect((await records.alerts.open()).map((alert) => alert.kind)).toContain('safeguarding-release-not-dsl');
  });
});

