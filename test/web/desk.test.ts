// The Desk over HTTP and on the command line (issue 17): each action first shows what it will do and
// changes nothing, then acts on confirmation; bad input gets a sentence (422) and nothing changes;
// duplicates are refused; a loan made at the desk behaves as one made at a station (lost, charged);
// a day card is in the badge list until its cut-off and out of it after. One hub (no station).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM } from '../../hub/src/records/access';
import { subjectAccessExport } from '../../hub/src/export/subject';
import { BADGE_HASH_BYTES, BADGE_HEADER_BYTES, BADGE_RECORD_BYTES } from '../../firmware/src/station/badge-list';
import { readU32 } from '../../firmware/src/storage/record-file';
import { badgeHash, parseUid, schoolBadgeKey } from '../../hub/src/records/people';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';
import { commandLine } from '../hub/support/cli';
import { WebClient } from './client';

let harness: HubHarness;
let office: WebClient & { username: string };
let ict: WebClient;
let readOnly: WebClient;
let cli: ReturnType<typeof commandLine>;

const form = (client: WebClient, fields: Record<string, string>) => ({ form: { ...fields, _csrf: client.csrfToken }, accept: 'html' as const });
/** The page's text, unescaped and in lower case (messages start with a capital on the page). */
const said = async (response: Response) => (await response.text()).replace(/&quot;/g, '"').replace(/&#39;/g, "'").toLowerCase();
const count = async (sql: string, params: string[] = []) => Number((await harness.hub.db.get<{ n: number }>(sql, params))!.n);

beforeAll(async () => {
  harness = await startHub({ demo: false });
  const { records } = harness.hub;
  await records.people.add({ externalId: 'S-PAT', name: 'Priya Patel', role: 'staff' });
  await records.people.add({ externalId: 'S-OFF', name: 'Olu Obi', role: 'office' });
  await records.people.add({ externalId: 'S-OF2', name: 'Ola Bello', role: 'office' });
  await records.people.add({ externalId: 'P-700', name: 'Amira Khan', role: 'pupil', form: '7A' });
  await records.stations.add(harness.hub.settings.site, 'loans-1', 4);
  // An imported stick that lives in a cupboard (no home locker) and a laptop.
  await records.assets.upsert({ tag: 'STK-010', classId: 'usb-stick', serial: 'KS-0010', encryption: 'AES-256 hardware' }, SYSTEM);
  await records.assets.upsert({ tag: 'LAP-010', classId: 'laptop', serial: 'LT-0010', homeStation: 'loans-1', homeLocker: 1 }, SYSTEM);
  [office, ict, readOnly] = await Promise.all([WebClient.as(harness.hub, 'office'), WebClient.as(harness.hub, 'ict'), WebClient.as(harness.hub, 'read-only')]);
  for (const client of [office, ict, readOnly]) await client.page('/lockers');
  cli = commandLine(() => ({ dataDir: harness.dataDir, databaseUrl: harness.hub.settings.databaseUrl ?? null, drop: async () => undefined }));
}, 120_000);
afterAll(async () => {
  await harness?.stop();
});

describe(`the Desk (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 120_000 }, () => {
  it('lends an imported stick at the desk after showing what will happen, and Charges → Lost then charges the borrower', async () => {
    const page = await office.page('/desk');
    expect(page.status).toBe(200);
    expect(page.html).toContain('Lend an item');
    const preview = await office.send('POST', '/desk/lend', form(office, { tag: 'STK-010', borrower: 'S-PAT' }));
    expect(preview.status).toBe(200);
    const text = await preview.text();
    expect(text).toContain('This will happen when you confirm');
    expect(text).toMatch(/USB stick STK-010 \(serial KS-0010\) is lent to Priya Patel \(S-PAT\) from the desk, due back/);
    expect(await count("SELECT COUNT(*) AS n FROM loans")).toBe(0);
    const done = await office.send('POST', '/desk/lend', form(office, { tag: 'STK-010', borrower: 'S-PAT', due: '', confirm: 'yes' }));
    expect(done.status).toBe(303);
    expect((await harness.hub.records.assets.byTag('STK-010')).status).toBe('on-loan');
    const audit = await harness.hub.db.all<{ actor: string; details: string }>("SELECT actor, details FROM audit_log WHERE action = 'loan.opened'");
    expect(audit.at(-1)!.actor).toBe(`account:${office.username}`);
    expect(JSON.parse(audit.at(-1)!.details)).toMatchObject({ desk: true });
    // Lending it again is refused, in words.
    const again = await office.send('POST', '/desk/lend', form(office, { tag: 'STK-010', borrower: 'S-OFF' }));
    expect(again.status).toBe(422);
    expect(await again.text()).toContain('STK-010 is already on loan to Priya Patel (S-PAT): return it first');
    // Charges → Lost, as for a loan made at a station.
    await office.page('/charges');
    const lost = await office.send('POST', '/charges/confirm', form(office, { tag: 'STK-010', action: 'lost', crimeNumber: '', item: '' }));
    expect(lost.status).toBe(303);
    const charge = await harness.hub.db.get<{ amount_pence: number; person_id: number }>("SELECT amount_pence, person_id FROM charges WHERE entry = 'charge' ORDER BY id DESC LIMIT 1");
    expect(Number(charge!.amount_pence)).toBe(1000);
    expect(Number(charge!.person_id)).toBe(Number((await harness.hub.records.people.resolve('S-PAT')).id));
  });

  it('refuses a loan the rules refuse: a pupil borrowing a laptop, a borrower or item that does not exist, a due day not in the calendar', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ tag: 'LAP-010', borrower: 'P-700' }, 'that role may not borrow a laptop (see: '],
      [{ tag: 'NOPE-1', borrower: 'S-PAT' }, 'no asset with tag'],
      [{ tag: 'LAP-010', borrower: 'NOBODY' }, 'no person'],
      [{ tag: 'LAP-010', borrower: 'S-PAT', due: '2027-02-30' }, 'due date 2027-02-30 is not a date in the calendar'],
      [{ tag: '', borrower: 'S-PAT' }, 'Give the asset tag'],
    ];
    for (const [fields, message] of cases) {
      const response = await office.send('POST', '/desk/lend', form(office, { ...fields, confirm: 'yes' }));
      expect([404, 422], JSON.stringify(fields)).toContain(response.status);
      expect(await said(response), JSON.stringify(fields)).toContain(message.toLowerCase());
    }
    expect((await harness.hub.records.assets.byTag('LAP-010')).status).toBe('available');
  });

  it('returns a laptop at the desk and holds it for ICT when its health check is due; ICT records the check', async () => {
    await office.send('POST', '/desk/lend', form(office, { tag: 'LAP-010', borrower: 'S-PAT', confirm: 'yes' }));
    const preview = await office.send('POST', '/desk/return', form(office, { tag: 'LAP-010', condition: 'good' }));
    expect(await preview.text()).toContain('Its health check is due: it is held for ICT');
    expect((await office.send('POST', '/desk/return', form(office, { tag: 'LAP-010', condition: 'good', confirm: 'yes' }))).status).toBe(303);
    expect((await harness.hub.records.assets.byTag('LAP-010')).status).toBe('health-check');
    // Office may not record a health check (P10: ICT); ICT may.
    expect((await office.send('POST', '/desk/health-check', form(office, { tag: 'LAP-010' }))).status).toBe(403);
    const check = await ict.send('POST', '/desk/health-check', form(ict, { tag: 'LAP-010' }));
    expect(await check.text()).toContain('It was held for ICT: it is released and may be lent again.');
    expect((await ict.send('POST', '/desk/health-check', form(ict, { tag: 'LAP-010', note: 'battery fine', confirm: 'yes' }))).status).toBe(303);
    const laptop = await harness.hub.records.assets.byTag('LAP-010');
    expect(laptop.status).toBe('available');
    expect(laptop.last_health_check).not.toBeNull();
    // A stick has no health checks.
    const stick = await ict.send('POST', '/desk/health-check', form(ict, { tag: 'STK-010', confirm: 'yes' }));
    expect(stick.status).toBe(422);
  });

  it('adds and corrects a person, refusing duplicates and bad input with a sentence', async () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ mode: 'add', externalId: 'P-700', name: 'Someone Else', role: 'pupil' }, 'MIS id P-700 is already Amira Khan'],
      [{ mode: 'add', externalId: 'P-701', name: '', role: 'pupil' }, 'Give the person’s name'],
      [{ mode: 'add', externalId: 'P-701', name: 'Ben Cole', role: 'wizard' }, 'Choose a role'],
      [{ mode: 'add', externalId: 'P-701', name: 'Ben Cole', role: 'pupil', email: 'not-an-address' }, 'is not an e-mail address'],
      [{ mode: 'add', externalId: 'P 701!', name: 'Ben Cole', role: 'pupil' }, 'use letters, digits'],
      [{ mode: 'add', externalId: 'S-NEW', name: 'Nia Evans', role: 'staff', staffCode: 'OBI' }, ''],
      [{ mode: 'add', externalId: 'S-NEW2', name: 'Nat Ellis', role: 'staff', staffCode: 'OBI' }, 'staff code OBI is already Nia Evans’s (S-NEW)'],
      [{ mode: 'correct', externalId: 'P-999', name: 'Nobody' }, 'no person with MIS id P-999'],
    ];
    for (const [fields, message] of bad) {
      const response = await office.send('POST', '/desk/person', form(office, { ...fields, confirm: 'yes' }));
      if (!message) {
        expect(response.status).toBe(303);
        continue;
      }
      expect([404, 422], JSON.stringify(fields)).toContain(response.status);
      expect(await said(response), JSON.stringify(fields)).toContain(message.toLowerCase());
    }
    expect(await count("SELECT COUNT(*) AS n FROM people WHERE external_id IN ('P-701', 'P 701!', 'S-NEW2')")).toBe(0);
    const preview = await office.send('POST', '/desk/person', form(office, { mode: 'correct', externalId: 'P-700', form: '7B' }));
    expect(await preview.text()).toContain('Amira Khan (P-700) is corrected — form: 7A → 7B.');
    expect((await office.send('POST', '/desk/person', form(office, { mode: 'correct', externalId: 'P-700', form: '7B', confirm: 'yes' }))).status).toBe(303);
    expect((await harness.hub.records.people.resolve('P-700')).form).toBe('7B');
    expect((await harness.hub.records.people.resolve('P-700')).name).toBe('Amira Khan');
    // Read-only accounts may not.
    expect((await readOnly.send('POST', '/desk/person', form(readOnly, { mode: 'add', externalId: 'P-702', name: 'X Y', role: 'pupil' }))).status).toBe(403);
  });

  it('adds and corrects an asset with real dates, lockers counted from 1, and no duplicate tag or serial', async () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ mode: 'add', tag: 'STK-010', classId: 'usb-stick', encryption: 'AES' }, 'asset tag STK-010 is already registered'],
      [{ mode: 'add', tag: 'STK-011', classId: 'usb-stick' }, 'as only encrypted ones may be registered (see: '],
      [{ mode: 'add', tag: 'STK-011', classId: 'usb-stick', encryption: 'AES', serial: 'KS-0010' }, 'serial KS-0010 is already STK-010’s'],
      [{ mode: 'add', tag: 'LAP-011', classId: 'laptop', lastHealthCheck: '2026-02-30' }, 'last health check 2026-02-30 is not a date in the calendar'],
      [{ mode: 'add', tag: 'LAP-011', classId: 'laptop', homeStation: 'loans-1', homeLocker: '5' }, 'loans-1 has lockers 1 to 4: there is no locker 5'],
      [{ mode: 'add', tag: 'LAP-011', classId: 'laptop', homeStation: 'loans-1', homeLocker: '2' }, 'loans-1 locker 2 is already home to LAP-010'],
      [{ mode: 'add', tag: 'LAP-011', classId: 'laptop', replacement: 'ten pounds' }, 'replacement price'],
      [{ mode: 'add', tag: 'LAP-011', classId: 'spaceship' }, 'there is no asset class'],
    ];
    for (const [fields, message] of bad) {
      const response = await office.send('POST', '/desk/asset', form(office, { ...fields, confirm: 'yes' }));
      expect([404, 422], JSON.stringify(fields)).toContain(response.status);
      expect(await said(response), JSON.stringify(fields)).toContain(message.toLowerCase());
    }
    expect(await count("SELECT COUNT(*) AS n FROM assets WHERE tag IN ('STK-011', 'LAP-011')")).toBe(0);
    const preview = await office.send('POST', '/desk/asset', form(office, { mode: 'add', tag: 'lap-011', classId: 'laptop', serial: 'LT-0011', homeStation: 'loans-1', homeLocker: '3', lastHealthCheck: '2026-01-05' }));
    expect(await preview.text()).toContain('LAP-011 is registered: laptop, serial LT-0011, the class’s replacement price, home loans-1 locker 3');
    expect((await office.send('POST', '/desk/asset', form(office, { mode: 'add', tag: 'lap-011', classId: 'laptop', serial: 'LT-0011', homeStation: 'loans-1', homeLocker: '3', lastHealthCheck: '2026-01-05', confirm: 'yes' }))).status).toBe(303);
    const laptop = await harness.hub.records.assets.byTag('LAP-011');
    expect(Number(laptop.home_locker)).toBe(2);
    // A correction keeps what it does not name.
    await office.send('POST', '/desk/asset', form(office, { mode: 'correct', tag: 'LAP-011', replacement: '450', confirm: 'yes' }));
    const corrected = await harness.hub.records.assets.byTag('LAP-011');
    expect(Number(corrected.replacement_pence)).toBe(45000);
    expect(corrected.serial).toBe('LT-0011');
    expect(Number(corrected.home_locker)).toBe(2);
  });

  it('enrols a card, refusing one someone else holds, and gives a day card that leaves the badge list at the cut-off', async () => {
    const { records } = harness.hub;
    const bad = await office.send('POST', '/desk/card', form(office, { person: 'P-700', uid: 'zz12', confirm: 'yes' }));
    expect(bad.status).toBe(422);
    expect(await said(bad)).toContain('the card id is not a card uid');
    expect((await office.send('POST', '/desk/card', form(office, { person: 'P-700', uid: '04:A1:B2:C3', confirm: 'yes' }))).status).toBe(303);
    const taken = await office.send('POST', '/desk/card', form(office, { person: 'S-PAT', uid: '04a1b2c3', confirm: 'yes' }));
    expect(await said(taken)).toContain('that card is already enrolled to amira khan (p-700)');
    // The spare-card pool: a card already someone's cannot be a spare; labels are unique.
    expect(await (await office.send('POST', '/desk/spare-card', form(office, { label: 'Spare 1', uid: '04a1b2c3', confirm: 'yes' }))).text()).toContain('already enrolled');
    expect((await office.send('POST', '/desk/spare-card', form(office, { label: 'Spare 1', uid: '04c0ffee', confirm: 'yes' }))).status).toBe(303);
    expect(await (await office.send('POST', '/desk/spare-card', form(office, { label: 'Spare 1', uid: '04beef01', confirm: 'yes' }))).text()).toContain('There is already a spare card labelled');

    // The hub's clock says 09:00 today: the card lasts until today's cut-off.
    const morning = new Date();
    morning.setHours(9, 0, 0, 0);
    records.clock.now = () => morning;
    const preview = await office.send('POST', '/desk/day-card', form(office, { card: 'Spare 1', person: 'P-700' }));
    expect(await said(preview)).toContain('spare card spare 1 becomes amira khan’s (p-700) card until today\'s cut-off, 16:00');
    expect((await office.send('POST', '/desk/day-card', form(office, { card: 'Spare 1', person: 'P-700', confirm: 'yes' }))).status).toBe(303);
    expect(await (await office.send('POST', '/desk/day-card', form(office, { card: 'Spare 1', person: 'S-PAT', confirm: 'yes' }))).text()).toContain('Spare card Spare 1 is already out to Amira Khan');
    const hash = Buffer.from(badgeHash(await schoolBadgeKey(harness.hub.db), parseUid('04c0ffee'))).subarray(0, BADGE_HASH_BYTES).toString('hex');
    /** The person the stations' current list gives the spare card to, if any. */
    const listed = async () => {
      const file = harness.hub.badgeLists.current()!.file;
      for (let offset = BADGE_HEADER_BYTES; offset < file.length; offset += BADGE_RECORD_BYTES) {
        if (Buffer.from(file.subarray(offset, offset + BADGE_HASH_BYTES)).toString('hex') === hash) return { person: readU32(file, offset + 8) };
      }
      return undefined;
    };
    const amira = Number((await records.people.resolve('P-700')).id);
    expect((await eventually(listed, 5000, 'the spare card in the badge list'))!.person).toBe(amira);
    expect((await office.page('/desk')).html).toMatch(/Amira Khan<\/a> until 16:00/);

    // Past the cut-off, the sweep ends it and the list drops it.
    records.clock.now = () => new Date(morning.getTime() + 7 * 3600_000 + 60_000);
    await harness.hub.housekeeping!.tick();
    await eventually(async () => (await listed()) === undefined, 5000, 'the spare card to leave the badge list');
    const ended = await harness.hub.db.get<{ ended_how: string }>('SELECT ended_how FROM day_cards ORDER BY id DESC LIMIT 1');
    expect(ended!.ended_how).toBe('expired');
    const history = await harness.hub.db.all<{ action: string }>("SELECT action FROM audit_log WHERE person_id = ? AND action LIKE 'day-card.%' ORDER BY seq", [amira]);
    expect(history.map((row) => row.action)).toEqual(['day-card.given', 'day-card.expired']);
    // Their subject access export lists the day card.
    const exported = await subjectAccessExport(records, (await records.people.get(amira))!, SYSTEM);
    expect(exported.dayCards).toMatchObject([{ spare_card: 'Spare 1', ended_how: 'expired' }]);
    records.clock.now = () => new Date();
  });

  it('answers the same actions as JSON, and on the command line', async () => {
    const check = await office.send('POST', '/api/desk/lend', { json: { tag: 'LAP-011', borrower: 'S-OFF' } });
    expect(check.status).toBe(200);
    expect(((await check.json()) as { effects: string[] }).effects[0]).toContain('Laptop LAP-011 (serial LT-0011) is lent to Olu Obi (S-OFF)');
    const badDate = await office.send('POST', '/api/desk/asset', { json: { mode: 'correct', tag: 'LAP-011', lastHealthCheck: '2025-13-45', confirm: true } });
    expect(badDate.status).toBe(422);
    expect(((await badDate.json()) as { error: string }).error).toBe('last health check 2025-13-45 is not a date in the calendar');

    const dry = await cli.handover('lend', 'LAP-011', 'S-OFF', '--dry-run', '--by', 'S-OFF');
    expect(dry.stdout).toContain('(dry run: nothing changed)');
    expect((await harness.hub.records.assets.byTag('LAP-011')).status).toBe('available');
    const lend = await cli.handover('lend', 'LAP-011', 'S-OFF', '--by', 'S-OFF');
    expect(lend.stdout).toMatch(/^LAP-011 lent: loan \d+, due /);
    const teacher = await cli.handover('return', 'LAP-011', '--by', 'S-PAT');
    expect(teacher.code).toBe(1);
    expect(teacher.stderr).toMatch(/needs the .* role; the acting account is staff/);
    // Nobody takes back their own loan at the desk: a colleague does.
    expect((await cli.handover('return', 'LAP-011', '--by', 'S-OFF')).code).toBe(1);
    const back = await cli.handover('return', 'LAP-011', '--by', 'S-OF2');
    expect(back.stdout).toMatch(/^LAP-011 returned: loan \d+/);
    const person = await cli.handover('person', 'add', 'P-800', '--name', 'Cara Doyle', '--role', 'pupil', '--form', '8B', '--by', 'S-OFF');
    expect(person.stdout).toMatch(/^P-800 added/);
    const duplicate = await cli.handover('person', 'add', 'P-800', '--name', 'Cara Doyle', '--role', 'pupil', '--by', 'S-OFF');
    expect(duplicate.stderr.trim()).toBe('handover: MIS id P-800 is already Cara Doyle: choose “Correct” to change their details');
    const noBy = await cli.handover('person', 'add', 'P-801', '--name', 'Dee Doe', '--role', 'pupil');
    expect(noBy.code).toBe(1);
  });
});
