// The office pages over HTTP, per role: what each may see and do (403 otherwise), actions shown
// with their effect before they are confirmed and done only then, readable errors, the audit
// trail naming the account, and the chart's arithmetic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../protocol/wire';
import { bucketDay } from '../../hub/src/web/chart';
import { startHub, eventually, type HubHarness } from '../support/hub-harness';
import { WebClient } from './client';
import { seedOffice, type OfficeSchool } from './school';

describe('the chart of the day', () => {
  it('counts deposits and collections per five minutes of local time, widening the day to fit', () => {
    const at = (time: string) => new Date(`2026-03-02T${time}:00`).toISOString();
    const buckets = bucketDay([at('08:41'), at('08:44'), at('08:46')], [at('15:22'), at('19:03')]);
    expect(buckets.slots[0]).toBe(7 * 60);
    expect(buckets.slots.at(-1)).toBe(19 * 60 + 55);
    const index = (time: string) => buckets.slots.indexOf(Number(time.slice(0, 2)) * 60 + Number(time.slice(3)));
    expect(buckets.deposits[index('08:40')]).toBe(2);
    expect(buckets.deposits[index('08:45')]).toBe(1);
    expect(buckets.collections[index('15:20')]).toBe(1);
    expect(buckets.collections[index('19:00')]).toBe(1);
    expect(buckets.deposits.reduce((a, b) => a + b)).toBe(3);
  });

  it("counts a trust's day of taps (150,000 and more, where Math.min of them all threw)", () => {
    const day = Array.from({ length: 200_000 }, (_, i) => new Date(`2026-03-02T08:${String(40 + (i % 10)).padStart(2, '0')}:00`).toISOString());
    const buckets = bucketDay(day, day.slice(0, 150_000));
    expect(buckets.deposits.reduce((a, b) => a + b)).toBe(200_000);
    expect(buckets.collections.reduce((a, b) => a + b)).toBe(150_000);
  });
});

describe('office pages by role', () => {
  let harness: HubHarness;
  let school: OfficeSchool;
  let office: WebClient & { username: string };
  let readOnly: WebClient;
  let dsl: WebClient;
  let headteacher: WebClient;

  beforeAll(async () => {
    harness = await startHub({ demo: false });
    school = await seedOffice(harness.hub);
    [office, readOnly, dsl, headteacher] = await Promise.all([
      WebClient.as(harness.hub, 'office'),
      WebClient.as(harness.hub, 'read-only'),
      WebClient.as(harness.hub, 'dsl'),
      WebClient.as(harness.hub, 'headteacher'),
    ]);
  });
  afterAll(async () => {
    await harness?.stop();
  });

  const auditOf = (action: string) => harness.hub.db.all<{ actor: string; subject: string | null; person_id: number | null; details: string }>('SELECT actor, subject, person_id, details FROM audit_log WHERE action = ? ORDER BY seq', [action]);

  it('serves every page to a role that may see it, with labels and security headers', async () => {
    for (const path of ['/lockers', '/today', '/who', '/loans', '/end-of-day', '/holds', '/charges', '/leavers', '/stations', '/imports']) {
      const response = await headteacher.get(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-security-policy'), path).toContain("default-src 'self'");
      expect(response.headers.get('cache-control'), path).toBe('no-store');
      const page = await response.text();
      // Every input, select and textarea (but hidden ones) has a label.
      const ids = [...page.matchAll(/<(?:input|select|textarea)\b(?![^>]*type="(?:hidden|radio|checkbox)")[^>]*\bid="([^"]+)"/g)].map((match) => match[1]);
      for (const id of ids) expect(page, `${path}: label for ${id}`).toContain(`for="${id}"`);
      expect(page, path).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/); // nothing from outside the hub
    }
  });

  it('answers 403 to a read-only account that tries to act, and shows it no action forms', async () => {
    const charges = await readOnly.page('/charges');
    expect(charges.status).toBe(200);
    expect(charges.html).not.toContain('action="/charges/preview"');
    for (const [path, form] of [
      ['/charges/preview', { tag: school.stickTag, action: 'lost' }],
      ['/charges/confirm', { tag: school.stickTag, action: 'lost' }],
      ['/stations/loans-1/unlock', { locker: '1' }],
      ['/stations/loans-1/open-all', { confirm: 'yes', understood: 'yes' }],
    ] as const) {
      const response = await readOnly.send('POST', path, { form: { ...form, _csrf: readOnly.csrfToken }, accept: 'html' });
      expect(response.status, path).toBe(403);
      expect(await response.text()).toContain('Your role (Read-only) may not');
    }
    expect((await readOnly.page('/imports')).status).toBe(403);
    expect(await harness.hub.records.ledger.entries()).toEqual([]);
    // The DSL sees holds but not the ledger.
    expect((await dsl.page('/charges')).status).toBe(403);
  });

  it('shows safeguarding details to the DSL and headteacher only, and audits every reading under the account', async () => {
    const list = await office.page('/holds');
    expect(list.html).toContain(`href="/holds/${school.safeguardingHoldId}"`);
    expect(list.html).not.toContain('Grace Hughes');
    expect(list.html).toContain('Harry Iqbal'); // a confiscation names its pupil
    expect((await office.page(`/holds/${school.safeguardingHoldId}`)).status).toBe(403);
    expect((await readOnly.page(`/holds/${school.safeguardingHoldId}`)).status).toBe(403);
    expect((await office.page(`/holds/${school.confiscationHoldId}`)).status).toBe(200);
    for (const reader of [dsl, headteacher]) {
      const page = await reader.page(`/holds/${school.safeguardingHoldId}`);
      expect(page.status).toBe(200);
      expect(page.html).toContain('Grace Hughes');
    }
    const reads = await auditOf('web.hold-viewed');
    expect(reads.filter((record) => record.subject === `hold:${school.safeguardingHoldId}`).map((record) => record.actor)).toEqual([`account:${(dsl as WebClient & { username: string }).username}`, `account:${(headteacher as WebClient & { username: string }).username}`]);
    expect((await auditOf('hold.details-read')).length).toBe(2); // the records' own entries
    const refused = await auditOf('web.refused');
    expect(refused.some((record) => record.actor === `account:${(office as WebClient & { username: string }).username}` && record.details.includes('holds.safeguarding'))).toBe(true);
  });

  it('reports a theft only with a crime number, and shows each effect before doing it', async () => {
    const form = await office.page('/charges');
    // The damage choices name the item's class in words, not its internal code.
    expect(form.html).toContain('damaged (Encrypted USB stick, £10.00)');
    expect(form.html).not.toContain('(usb-stick');
    const noCrime = await office.send('POST', '/charges/preview', { form: { tag: school.stickTag, action: 'stolen', crimeNumber: '', _csrf: office.csrfToken }, accept: 'html' });
    expect(noCrime.status).toBe(422);
    expect(await noCrime.text()).toContain('A theft must be reported with the police crime number (see: <a class="rule-link" href="/rules#a-stolen-stick-needs-a-crime-number">A stolen stick needs a crime number</a>)');
    const unknown = await office.send('POST', '/charges/preview', { form: { tag: 'NOPE-1', action: 'lost', _csrf: office.csrfToken }, accept: 'html' });
    expect(unknown.status).toBe(422);
    expect(await unknown.text()).toContain('No asset with tag');

    const preview = await office.send('POST', '/charges/preview', { form: { tag: school.stickTag, action: 'lost', _csrf: office.csrfToken }, accept: 'html' });
    expect(await preview.clone().text()).toContain('the replacement price of encrypted USB sticks');
    expect(preview.status).toBe(200);
    const text = await preview.text();
    expect(text).toContain('Priya Patel (S-PAT) is charged £10.00');
    expect(await harness.hub.records.ledger.entries()).toEqual([]); // nothing done yet
    const loan = await harness.hub.records.loans.openLoanOf(Number((await harness.hub.records.assets.byTag(school.stickTag)).id));
    expect(loan).toBeDefined();

    const done = await office.send('POST', '/charges/confirm', { form: { tag: school.stickTag, action: 'lost', _csrf: office.csrfToken }, accept: 'html' });
    expect(done.status).toBe(303);
    expect((await office.page('/charges')).html).toContain('STK-001 reported lost: charge');
    const [charge] = await harness.hub.records.ledger.entries();
    expect(charge).toMatchObject({ entry: 'charge', amount_pence: 1000, person_id: school.staff.teacher });
    expect((await auditOf('web.reported-lost'))[0].actor).toBe(`account:${(office as WebClient & { username: string }).username}`);
    // The loss tops the office view (P11).
    const landing = await office.page('/lockers');
    expect(landing.html).toMatch(/Alerts not yet acknowledged[\s\S]*<li class="urgent" data-alert="\d+">STK-001 \(Encrypted USB stick\) reported lost; £10.00 charged/);

    // Found: the preview names the reversal; confirming writes it as a new entry.
    const found = await office.send('POST', '/charges/preview', { form: { tag: school.stickTag, action: 'found', _csrf: office.csrfToken }, accept: 'html' });
    expect(await found.text()).toContain(`Charge ${charge.id} (£10.00 outstanding, Priya Patel (S-PAT)) is reversed by a new ledger entry.`);
    await office.send('POST', '/charges/confirm', { form: { tag: school.stickTag, action: 'found', _csrf: office.csrfToken }, accept: 'html' });
    const entries = await harness.hub.records.ledger.entries();
    expect(entries.map((entry) => [entry.entry, Number(entry.amount_pence)])).toEqual([
      ['charge', 1000],
      ['reversal', -1000],
    ]);
  });

  it('waives a charge only with a reason, by a role that may', async () => {
    const [charge] = await harness.hub.records.ledger.entries();
    // A new charge to waive: damage to the stick, from the price list.
    await office.page('/charges');
    const damage = await office.send('POST', '/charges/preview', { form: { tag: school.stickTag, action: 'damaged', item: 'damaged', _csrf: office.csrfToken }, accept: 'html' });
    expect(await damage.text()).toContain('is charged £10.00 for “damaged” (price list)');
    await office.send('POST', '/charges/confirm', { form: { tag: school.stickTag, action: 'damaged', item: 'damaged', _csrf: office.csrfToken }, accept: 'html' });
    const damageCharge = (await harness.hub.records.ledger.entries()).find((entry) => entry.entry === 'charge' && entry.id !== charge.id)!;

    const ict = await WebClient.as(harness.hub, 'ict');
    expect((await ict.page(`/charges/${damageCharge.id}/waive`)).status).toBe(403);
    const form = await office.page(`/charges/${damageCharge.id}/waive`);
    expect(form.html).toContain('A waiver of £10.00 is added to the ledger');
    const noReason = await office.send('POST', `/charges/${damageCharge.id}/waive`, { form: { reason: ' ', _csrf: office.csrfToken }, accept: 'html' });
    expect(noReason.status).toBe(422);
    expect(await noReason.text()).toContain('A waiver needs a reason');
    const waived = await office.send('POST', `/charges/${damageCharge.id}/waive`, { form: { reason: 'damaged in the post room', _csrf: office.csrfToken }, accept: 'html' });
    expect(waived.status).toBe(303);
    expect(await harness.hub.records.ledger.outstanding(Number(damageCharge.id))).toBe(0);
    // The office account is linked to no member of staff: the records name the account, not "system".
    const waiver = (await auditOf('charge.waiver')).find((row) => row.subject === `charge:${damageCharge.id}`);
    expect(waiver?.actor).toBe(`account:${office.username}`);
  });

  it('audits each look at a person under the account, and searches too', async () => {
    const search = await readOnly.page('/who?q=patel');
    expect(search.html).toContain(`href="/who/person/${school.staff.teacher}"`);
    const person = await readOnly.page(`/who/person/${school.staff.teacher}`);
    expect(person.status).toBe(200);
    expect(person.html).toContain('STK-001');
    const views = await auditOf('web.person-viewed');
    expect(views.at(-1)).toMatchObject({ actor: `account:${(readOnly as WebClient & { username: string }).username}`, subject: `person:${school.staff.teacher}`, person_id: school.staff.teacher });
    expect((await auditOf('web.searched')).at(-1)!.details).toContain('patel');
    const asset = await readOnly.page(`/who/asset/${school.stickTag}`);
    expect(asset.html).toContain('Custody chain');
  });

  it('shows alarms on the locker and on its station', async () => {
    const lockers = await readOnly.page('/lockers');
    expect(lockers.html).toMatch(/<li class="locker state-alarm" data-station="form-7b" data-locker="5"/);
    // One school: drawn as ever, never the trust's table of schools (issue 16).
    expect(lockers.html).not.toMatch(/data-school=/);
    const stations = await readOnly.page('/stations');
    expect(stations.html).not.toMatch(/data-school=/);
    expect(stations.html).toContain('Door forced open, locker 6');
    expect(stations.html).toMatch(/<tr data-station-row="form-7b">[\s\S]*?offline/);
    // Read-only sees the stations but gets no command forms.
    expect(stations.html).not.toContain('action="/stations/form-7b/unlock"');
  });

  it('asks before a remote unlock or an emergency open-all', async () => {
    await office.page('/stations');
    const unlock = await office.send('POST', '/stations/form-7b/unlock', { form: { locker: '1', _csrf: office.csrfToken }, accept: 'html' });
    expect(unlock.status).toBe(200);
    expect(await unlock.text()).toContain('Confirm: unlock locker 1');
    // Locker 3 is under a safeguarding hold, locker 4 a confiscation: released only at the station.
    for (const locker of ['3', '4']) {
      const held = await office.send('POST', '/stations/form-7b/unlock', { form: { locker, _csrf: office.csrfToken }, accept: 'html' });
      expect(held.status).toBe(409);
      expect(await held.text()).toContain('released at the station');
    }
    const openAll = await office.send('POST', '/stations/form-7b/open-all', { form: { _csrf: office.csrfToken }, accept: 'html' });
    expect(await openAll.text()).toContain('I understand that every locker at form-7b will open');
    const notTicked = await office.send('POST', '/stations/form-7b/open-all', { form: { confirm: 'yes', _csrf: office.csrfToken }, accept: 'html' });
    expect(notTicked.status).toBe(422);
    expect(await auditOf('web.open-all')).toEqual([]);
    const badLocker = await office.send('POST', '/stations/form-7b/unlock', { form: { locker: '99', _csrf: office.csrfToken }, accept: 'html' });
    expect(badLocker.status).toBe(422);
    expect(await badLocker.text()).toContain('Choose a locker from 1 to 8.');
  });

  it('imports over HTTP with progress and a row report', async () => {
    await office.page('/imports');
    const csv = 'Asset Tag,Class,Serial,Encryption\nSTK-010,USB stick,KS-10,AES-256\nSTK-011,USB stick,KS-11,\nLAP-010,Laptop,LT-10,\n';
    const body = new FormData();
    body.set('kind', 'assets');
    body.set('file', new Blob([csv], { type: 'text/csv' }), 'assets.csv');
    const cookie = [...office.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const refused = await fetch(`${harness.hub.httpUrl}/imports`, { method: 'POST', body, headers: { cookie, accept: 'application/json' } });
    expect(refused.status).toBe(403); // no CSRF token
    const started = await fetch(`${harness.hub.httpUrl}/imports`, { method: 'POST', body, headers: { cookie, accept: 'application/json', 'x-csrf-token': office.csrfToken } });
    expect(started.status).toBe(202);
    const { job } = (await started.json()) as { job: { id: string } };
    const finished = await eventually(async () => {
      const { job: state } = (await (await office.get(`/api/imports/${job.id}`, 'json')).json()) as { job: { state: string; refused: number } };
      return state.state !== 'running' && state.state !== 'queued' && state;
    }, 10_000, 'the import to finish');
    expect(finished).toMatchObject({ state: 'done', refused: 1 });
    const report = await office.page(`/imports/${job.id}`);
    expect(report.html).toMatch(/<tr class="row-refused"><td>3<\/td><td>[^<]*encrypt/i);
    expect(report.html).toContain('3 rows, 2 added, 0 updated; 1 row refused.');
  });

  it('walks a leaver through the checklist: the laptop must come back, the stick may stay with a declaration', async () => {
    const { records } = harness.hub;
    await records.assets.upsert({ tag: 'STK-002', classId: 'usb-stick', encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: 2 }, { personId: null, role: 'system' });
    const at = new Date().toISOString();
    await records.custody.applyEvent({ station: 'loans-1', boot: 2, seq: 1, uptimeMs: 1000, type: EVENT.LOAN, locker: 1, person: school.staff.teacher, actor: school.staff.teacher }, at);
    await records.custody.applyEvent({ station: 'loans-1', boot: 2, seq: 2, uptimeMs: 2000, type: EVENT.LOAN, locker: 2, person: school.staff.teacher, actor: school.staff.teacher }, at);

    const find = await office.send('GET', '/leavers/find?ref=S-PAT', { accept: 'html' });
    expect(find.status).toBe(303);
    const checklist = await office.page(find.headers.get('location')!);
    expect(checklist.html).toContain('LAP-001');
    expect(checklist.html).toContain('must be returned to its locker (see: <a class="rule-link" href="/rules#laptops-come-back">Laptops come back</a>)');
    expect(checklist.html).toContain('Declaration for STK-002');

    const path = `/leavers/${school.staff.teacher}`;
    const blocked = await office.send('POST', `${path}/complete`, { form: { leftOn: '2026-07-31', _csrf: office.csrfToken }, accept: 'html' });
    expect(blocked.status).toBe(422);
    expect(await blocked.text()).toContain('cannot complete the leaver: LAP-001 (laptop: must be returned)');

    const declaration = 'I confirm all school information on STK-002 has been deleted.';
    const preview = await office.send('POST', `${path}/declare`, { form: { tag: 'STK-002', declaration, _csrf: office.csrfToken }, accept: 'html' });
    expect(await preview.text()).toContain('STK-002 is written off without charge (see: <a class="rule-link" href="/rules#leavers-may-keep-a-stick-after-a-declaration">Leavers may keep a stick after a declaration</a>)');
    expect((await records.loans.leaverLoans(school.staff.teacher)).map((item) => item.asset.tag)).toEqual(['LAP-001', 'STK-002']);
    const done = await office.send('POST', `${path}/declare`, { form: { tag: 'STK-002', declaration, confirm: 'yes', _csrf: office.csrfToken }, accept: 'html' });
    expect(done.status).toBe(303);
    expect((await records.loans.leaverLoans(school.staff.teacher)).map((item) => item.asset.tag)).toEqual(['LAP-001']);
    expect((await records.assets.byTag('STK-002')).status).toBe('written-off');
    expect(await records.ledger.entries({ personId: school.staff.teacher })).not.toContainEqual(expect.objectContaining({ asset_id: (await records.assets.byTag('STK-002')).id }));
    const after = await office.page(path);
    expect(after.html).toContain('Declaration for STK-002 recorded');
    expect(after.html).toContain(`“${declaration}”`);
  });

  it('lists phones left behind and records a disposal once the term is up', async () => {
    const { records } = harness.hub;
    const day = 86_400_000;
    const lost = await records.people.add({ externalId: 'P-950', name: 'Leo Morgan', role: 'pupil', form: '9D' });
    await records.custody.applyEvent({ station: 'form-7b', boot: 3, seq: 1, uptimeMs: 1000, type: EVENT.DEPOSIT, locker: 7, person: lost }, new Date(Date.now() - 101 * day).toISOString());
    // Nothing has marked it yet (the hub's housekeeping sweeps once a minute): the page applies the
    // rule itself when it is opened, dating it by the first cut-off after the deposit.
    expect((await records.lostProperty.uncollected()).some((row) => Number(row.person_id) === lost)).toBe(false);
    const page = await readOnly.page('/end-of-day');
    expect(page.html).toMatch(/Uncollected \(\d+\)[\s\S]*Leo Morgan<\/a><\/td><td>9D<\/td>/);
    expect(page.html).toMatch(/Lost property due for disposal \(1\)[\s\S]*office or headteacher/);
    const custody = (await records.lostProperty.dueForDisposal())[0];
    expect((await readOnly.page(`/end-of-day/dispose/${custody.id}`)).status).toBe(403);
    const form = await office.page(`/end-of-day/dispose/${custody.id}`);
    expect(form.html).toContain('Leo Morgan’s phone (9D)');
    const done = await office.send('POST', `/end-of-day/dispose/${custody.id}`, { form: { note: 'returned to parent', _csrf: office.csrfToken }, accept: 'html' });
    expect(done.status).toBe(303);
    expect(await records.lostProperty.dueForDisposal()).toEqual([]);
    expect((await office.page('/end-of-day')).html).toContain('Disposal of Leo Morgan’s phone recorded.');
  });

  it('acknowledges an alert from Lockers now: shown first, refused to read-only, recorded under the staff member and the account', async () => {
    const before = await office.page('/lockers');
    const alert = (await harness.hub.records.alerts.open()).find((candidate) => candidate.kind === 'door-forced')!;
    // The page numbers lockers from 1, as the doors are: the records' locker 5 is locker 6.
    expect(alert.subject).toBe('locker:form-7b/5');
    expect(before.html).toContain('Door forced open: station form-7b, locker 6');
    expect(before.html).toContain(`action="/alerts/${alert.id}/acknowledge"`);
    const readOnlyView = await readOnly.page('/lockers');
    expect(readOnlyView.html).toContain('Door forced open: station form-7b, locker 6');
    expect(readOnlyView.html).not.toContain('/acknowledge"');
    const refused = await readOnly.send('POST', `/alerts/${alert.id}/acknowledge`, { form: { confirm: 'yes', _csrf: readOnly.csrfToken }, accept: 'html' });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('may not acknowledge an alert');

    // An account not linked to a member of staff is told how to link it (the records name a person).
    const unlinked = await office.send('POST', `/alerts/${alert.id}/acknowledge`, { form: { _csrf: office.csrfToken }, accept: 'html' });
    expect(unlinked.status).toBe(409);
    expect(await unlinked.text()).toContain(`handover account link ${(office as WebClient & { username: string }).username} --person`);

    const officePerson = await harness.hub.records.people.add({ externalId: 'S-OFF', name: 'Olive Ford', role: 'office' });
    await harness.hub.accounts.link((office as WebClient & { username: string }).username, officePerson, 'test');
    const preview = await office.send('POST', `/alerts/${alert.id}/acknowledge`, { form: { _csrf: office.csrfToken }, accept: 'html' });
    expect(preview.status).toBe(200);
    expect(await preview.text()).toContain('“Door forced open: station form-7b, locker 6”');
    expect((await harness.hub.records.alerts.open()).some((candidate) => candidate.id === alert.id)).toBe(true); // nothing done yet
    const done = await office.send('POST', `/alerts/${alert.id}/acknowledge`, { form: { confirm: 'yes', _csrf: office.csrfToken }, accept: 'html' });
    expect(done.status).toBe(303);
    expect((await harness.hub.records.alerts.open()).some((candidate) => candidate.id === alert.id)).toBe(false);
    const row = await harness.hub.db.get<{ acknowledged_by: number }>('SELECT acknowledged_by FROM alerts WHERE id = ?', [alert.id]);
    expect(Number(row!.acknowledged_by)).toBe(officePerson);
    expect((await auditOf('alert.acknowledged')).at(-1)!.actor).toBe(`person:${officePerson}`);
    expect((await auditOf('web.alert-acknowledged')).at(-1)).toMatchObject({ actor: `account:${(office as WebClient & { username: string }).username}`, subject: `alert:${alert.id}` });
    const after = await office.page('/lockers');
    expect(after.html).toContain('Alert acknowledged: Door forced open: station form-7b, locker 6.');
    expect(after.html).not.toMatch(/<li class="locker state-alarm" data-station="form-7b" data-locker="5"/);
    // Twice is a readable 404, not a fault.
    const again = await office.send('POST', `/alerts/${alert.id}/acknowledge`, { form: { confirm: 'yes', _csrf: office.csrfToken }, accept: 'html' });
    expect(again.status).toBe(404);
    expect(await again.text()).toContain('That alert is not open');
  });

  it('charts each tap at the moment the station says it happened, not when a late replay arrived', async () => {
    const { records } = harness.hub;
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const early = midnight.getTime() + 60_000; // 00:01 today, hub local time
    const pupil = await records.people.add({ externalId: 'P-960', name: 'Mia Nolan', role: 'pupil', form: '8A' });
    // Received now, but the station's clock says 00:01 (it was cut off from the hub until now).
    await records.custody.applyEvent({ station: 'form-7b', boot: 4, seq: 1, uptimeMs: 1000, type: EVENT.DEPOSIT, locker: 6, person: pupil, wallTime: early }, new Date().toISOString());
    const today = await readOnly.page('/today');
    expect(today.html).toMatch(/<tr><td>00:00<\/td><td>1<\/td><td>0<\/td><\/tr>/);
  });

  it('shows errors as sentences, never a stack trace', async () => {
    const missing = await office.page('/who/person/999999');
    expect(missing.status).toBe(404);
    expect(missing.html).toContain('There is no such person.');
    const nowhere = await office.page('/no-such-page');
    expect(nowhere.status).toBe(404);
    const json = await office.get('/api/imports/unknown', 'json');
    expect(json.status).toBe(404);
    expect(await json.json()).toEqual({ error: 'There is no such import (the hub keeps the reports of the last 50).' });
    for (const page of [missing.html, nowhere.html]) expect(page).not.toMatch(/\bat .+\.(ts|js):\d+/);
  });
});
