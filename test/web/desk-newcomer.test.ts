// The Desk as a newcomer in the office tries it, over HTTP (a fresh-eyes review of issue 17): what a
// school trips on first. Moving an item to another locker of its station by giving only the new
// locker; refusals that say an item's state in words (never `health-check` or `on-loan`); class names
// as written (USB, not usb); names with control or bidirectional characters refused before they
// reach a page, an e-mail or a CSV. One hub (no station).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM } from '../../hub/src/records/access';
import { startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';
import fs from 'node:fs';
import path from 'node:path';
import { commandLine } from '../hub/support/cli';
import { WebClient } from './client';

let harness: HubHarness;
let office: WebClient;
let colleague: WebClient;

const json = (client: WebClient, path: string, body: Record<string, unknown>) => client.send('POST', path, { json: body });
const answer = async (response: Response) => (await response.json()) as { effects?: string[]; error?: string; done?: string };

beforeAll(async () => {
  harness = await startHub({ demo: false });
  const { records } = harness.hub;
  await records.people.add({ externalId: 'S-PAT', name: 'Priya Patel', role: 'staff' });
  await records.stations.add(harness.hub.settings.site, 'loans-1', 4);
  await records.assets.upsert({ tag: 'STK-020', classId: 'usb-stick', serial: 'KS-0020', encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: 0 }, SYSTEM);
  await records.assets.upsert({ tag: 'LAP-020', classId: 'laptop', serial: 'LT-0020', healthCheckDays: 1, lastHealthCheck: '2020-01-01T12:00:00.000Z' }, SYSTEM);
  [office, colleague] = await Promise.all([WebClient.as(harness.hub, 'office'), WebClient.as(harness.hub, 'office')]);
  for (const client of [office, colleague]) await client.page('/lockers');
}, 120_000);
afterAll(async () => {
  await harness?.stop();
});

describe(`the Desk for a newcomer (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 120_000 }, () => {
  it('moves an item to another locker of its station when only the new locker is given (a correction keeps what it does not name)', async () => {
    const check = await json(office, '/api/desk/asset', { mode: 'correct', tag: 'STK-020', homeLocker: '3' });
    expect(check.status).toBe(200);
    expect((await answer(check)).effects![0]).toContain('home loans-1 locker 3');
    expect((await json(office, '/api/desk/asset', { mode: 'correct', tag: 'STK-020', homeLocker: '3', confirm: true })).status).toBe(200);
    const stick = await harness.hub.records.assets.byTag('STK-020');
    expect([stick.home_station, Number(stick.home_locker)]).toEqual(['loans-1', 2]);
    // Without a station to keep, the station is still asked for, and nothing changes.
    const bare = await json(office, '/api/desk/asset', { mode: 'add', tag: 'STK-021', classId: 'usb-stick', encryption: 'AES', homeLocker: '2', confirm: true });
    expect(bare.status).toBe(422);
    expect((await answer(bare)).error).toMatch(/station/);
  });

  it('says a held laptop is held for its health check, and an item on loan is on loan, in words', async () => {
    const lent = await json(office, '/api/desk/lend', { tag: 'lap-020', borrower: 'S-PAT', confirm: true });
    expect(lent.status).toBe(200);
    // The same day as the check-and-confirm page wrote it (“due back 8 Dec 2026”), not 08/12/2026.
    expect((await answer(lent)).done).toMatch(/^LAP-020 lent \(loan \d+\), due back \d{1,2} [A-Z][a-z]{2} \d{4}\.$/);
    const onLoan = await answer(await json(office, '/api/desk/health-check', { tag: 'LAP-020' }));
    expect(JSON.stringify(onLoan)).not.toMatch(/on-loan/);
    const found = await office.send('POST', '/charges/preview', { form: { tag: 'LAP-020', action: 'found', _csrf: office.csrfToken }, accept: 'html' });
    expect(await found.text()).not.toMatch(/on-loan/);
    expect((await json(colleague, '/api/desk/return', { tag: 'LAP-020', condition: 'good', confirm: true })).status).toBe(200);
    expect((await harness.hub.records.assets.byTag('LAP-020')).status).toBe('health-check');
    const lend = await json(office, '/api/desk/lend', { tag: 'LAP-020', borrower: 'S-PAT' });
    expect(lend.status).toBe(422);
    const { error } = await answer(lend);
    expect(error).toContain('held for its health check');
    expect(error).not.toMatch(/health-check/);
  });

  it('writes a class name as it is written: “encrypted USB stick”, not “usb”', async () => {
    await json(office, '/api/desk/lend', { tag: 'STK-020', borrower: 'S-PAT', confirm: true });
    const check = await answer(await json(colleague, '/api/desk/return', { tag: 'STK-020', condition: 'good' }));
    expect(check.effects![0]).toContain('encrypted USB stick STK-020');
    const asset = await answer(await json(office, '/api/desk/asset', { mode: 'correct', tag: 'STK-020', model: 'Kingston' }));
    expect(asset.effects![0]).toContain('encrypted USB stick');
  });

  it('refuses a name with control or bidirectional characters (a line break, a right-to-left override), and adds no one', async () => {
    for (const name of ['Line\nBreak', 'Amira\u202eKhan', 'Tab\there', 'Zero\u200bwidth\u2066isolate']) {
      const response = await json(office, '/api/desk/person', { mode: 'add', externalId: 'P-900', name, role: 'pupil', confirm: true });
      expect(response.status, JSON.stringify(name)).toBe(422);
      expect((await answer(response)).error).toMatch(/name/);
    }
    expect(await harness.hub.db.get("SELECT id FROM people WHERE external_id = 'P-900'")).toBeUndefined();
    // Accents, apostrophes and hyphens are names.
    expect((await json(office, '/api/desk/person', { mode: 'add', externalId: 'P-901', name: 'Zoë O’Brien-Łukasz', role: 'pupil', confirm: true })).status).toBe(200);
  });

  it('keeps cards and item tags apart: an item tag that is someone’s card, or a card that is an item’s tag, is refused with who or what holds it', async () => {
    expect((await json(office, '/api/desk/card', { person: 'S-PAT', uid: '04A1B2C3', confirm: true })).status).toBe(200);
    const clash = await json(office, '/api/desk/asset', { mode: 'add', tag: 'LAP-021', classId: 'laptop', tagUid: '04a1b2c3', confirm: true });
    expect(clash.status).toBe(422);
    expect((await answer(clash)).error).toContain('Priya Patel');
    expect(await harness.hub.db.get("SELECT id FROM assets WHERE tag = 'LAP-021'")).toBeUndefined();
    expect((await json(office, '/api/desk/asset', { mode: 'correct', tag: 'LAP-020', tagUid: 'A1B2C3D4', confirm: true })).status).toBe(200);
    const card = await json(office, '/api/desk/card', { person: 'P-901', uid: 'a1b2c3d4', confirm: true });
    expect(card.status).toBe(422);
    expect((await answer(card)).error).toContain('LAP-020');
    const spare = await json(office, '/api/desk/spare-card', { label: 'Spare 9', uid: 'A1B2C3D4', confirm: true });
    expect(spare.status).toBe(422);
    expect((await answer(spare)).error).toContain('LAP-020');
    const own = await answer(await json(office, '/api/desk/spare-card', { label: 'Spare 9', uid: '04A1B2C3' }));
    expect(own.error).toContain('Priya Patel');
    expect(own.error).not.toMatch(/#\d/);
    const another = await json(office, '/api/desk/asset', { mode: 'add', tag: 'LAP-022', classId: 'laptop', tagUid: 'A1B2C3D4', confirm: true });
    expect(another.status).toBe(422);
    expect((await answer(another)).error).toContain('LAP-020');
  });

  it('says a refusal on Charges as a sentence: a capital and a full stop', async () => {
    const response = await office.send('POST', '/charges/preview', { form: { tag: 'NOPE-1', action: 'lost', _csrf: office.csrfToken }, accept: 'html' });
    expect(response.status).toBe(422);
    expect((await response.text()).replace(/&quot;/g, '"')).toContain('No asset with tag "NOPE-1".');
  });

  it('refuses, in an asset import too, an item tag id that is someone’s card, and imports the other rows', async () => {
    const cli = commandLine(() => ({ dataDir: harness.dataDir, databaseUrl: harness.hub.settings.databaseUrl ?? null, drop: async () => undefined }));
    const file = path.join(harness.dataDir, 'assets-with-a-card.csv');
    fs.writeFileSync(file, 'Asset Tag,Category,Serial,Encryption,Tag UID\nSTK-040,USB Stick,KS-0040,AES,04a1b2c3\nSTK-041,USB Stick,KS-0041,AES,0a0b0c0d\n');
    const run = await cli.handover('import', 'assets', file);
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).toMatch(/line 2: .*Priya Patel/);
    expect(await harness.hub.db.get("SELECT id FROM assets WHERE tag = 'STK-040'")).toBeUndefined();
    expect(await harness.hub.db.get("SELECT id FROM assets WHERE tag = 'STK-041'")).toBeDefined();
  });

  it('finds a borrower whose MIS id is typed in lower case, and tells someone who typed a name where to find the id', async () => {
    const check = await json(office, '/api/desk/lend', { tag: 'STK-041', borrower: 's-pat' });
    expect(check.status).toBe(200);
    expect((await answer(check)).effects![0]).toContain('Priya Patel (S-PAT)');
    const byName = await json(office, '/api/desk/lend', { tag: 'STK-041', borrower: 'Priya Patel' });
    expect(byName.status).toBe(404);
    const { error } = await answer(byName);
    expect(error).toContain('Who holds what');
    expect(error).not.toContain('#<number>');
  });

  it('says “an encrypted USB stick” with its article when a stick has no health checks', async () => {
    const ict = await WebClient.as(harness.hub, 'ict');
    await ict.page('/lockers');
    const { error } = await answer(await json(ict, '/api/desk/health-check', { tag: 'STK-041' }));
    expect(error).toContain('STK-041 is an encrypted USB stick');
  });

  it('shows an item lent at the desk as out, with its borrower, at its home locker on Lockers now (not free)', async () => {
    // STK-020 (home loans-1 locker 3) went out at the desk above and has not come back.
    expect((await harness.hub.records.assets.byTag('STK-020')).status).toBe('on-loan');
    const { lockers } = (await (await office.get('/api/lockers', 'json')).json()) as { lockers: Array<{ stationId: string; locker: number; state: string; personName: string | null }> };
    const home = lockers.find((locker) => locker.stationId === 'loans-1' && locker.locker === 2)!;
    expect([home.state, home.personName]).toEqual(['item-out', 'Priya Patel']);
    const page = await office.page('/lockers');
    expect(page.html).toMatch(/Locker 3[\s\S]{0,400}Item out[\s\S]{0,200}Priya Patel/);
  });
});
