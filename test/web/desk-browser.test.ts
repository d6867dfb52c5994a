// The Desk in a real browser (issue 17), as an office worker walks it: lend a stick at the desk,
// report it lost, see the charge, waive it; give a pupil who forgot their card a day card, use it at
// the simulated station (the built bundle), and see it refused after the cut-off (the hub's clock
// moved past it, as the housekeeping sweep reads it). Debian's Chromium through playwright-core, as
// test/web/browser.test.ts; skipped, saying why, only when Chromium is absent.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePassword } from '../../hub/src/accounts/password';
import { SYSTEM } from '../../hub/src/records/access';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';

const CHROMIUM = process.env.HANDOVER_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const SCREENSHOTS = path.resolve(__dirname, '../../test-output/screenshots');
const SPARE_UID = '04d00d01';

if (!HAVE_CHROMIUM) console.warn(`desk browser tests SKIPPED: ${CHROMIUM} is absent (install Debian's chromium: apt-get install -y chromium)`);

describe.skipIf(!HAVE_CHROMIUM)(`the Desk in Chromium (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 180_000 }, () => {
  let harness: HubHarness;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    harness = await startHub({ demo: true });
    await eventually(() => harness.hub.badgeSync.status('demo-1').state === 'current', 20_000, 'the demo station to hold the badge list');
    const { records } = harness.hub;
    await records.people.add({ externalId: 'S-PAT', name: 'Priya Patel', role: 'staff' });
    const office = await records.people.add({ externalId: 'S-OFF', name: 'Olu Obi', role: 'office' });
    // An imported stick kept in the office cupboard: no station lends it.
    await records.assets.upsert({ tag: 'STK-020', classId: 'usb-stick', serial: 'KS-0020', encryption: 'AES-256 hardware' }, SYSTEM);
    const password = generatePassword();
    await harness.hub.accounts.add({ username: 'olu', role: 'office', password, personId: office }, 'desk browser test');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    const context = await browser.newContext({ viewport: { width: 1180, height: 820 }, locale: 'en-GB' });
    page = await context.newPage();
    await page.goto(`${harness.hub.httpUrl}/login`);
    await page.getByLabel('Username').fill('olu');
    await page.getByLabel('Password').fill(password);
    await page.getByLabel('Password').press('Enter');
    await page.waitForURL('**/lockers');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await harness?.stop();
  });

  const text = async (selector: string) => ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ');
  const desk = async () => {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Desk', exact: true }).click();
    await page.waitForURL('**/desk');
  };

  it('lends a stick at the desk, reports it lost, shows the charge and waives it', async () => {
    await desk();
    const lend = page.locator('#lend');
    await lend.getByLabel('Asset tag').fill('STK-020');
    await lend.getByLabel(/^Borrower/).fill('S-PAT');
    await lend.getByRole('button', { name: 'Check the loan' }).click();
    expect(await text('.confirm')).toContain('USB stick STK-020 (serial KS-0020) is lent to Priya Patel (S-PAT) from the desk');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'desk-01-lend-confirm.png'), fullPage: true });
    expect((await harness.hub.records.assets.byTag('STK-020')).status).toBe('available');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL('**/desk');
    expect(await text('[role="status"]')).toContain('STK-020 lent');

    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Charges', exact: true }).click();
    await page.getByLabel('Asset tag').fill('STK-020');
    await page.getByLabel('Lost', { exact: true }).check();
    await page.getByRole('button', { name: 'Show what this will do' }).click();
    expect(await text('.confirm')).toContain('Priya Patel (S-PAT) is charged £10.00');
    await page.getByRole('button', { name: 'Confirm: report STK-020 lost' }).click();
    await page.waitForURL('**/charges');
    const row = page.locator('table.ledger tbody tr', { hasText: 'STK-020' }).first();
    expect((await row.textContent())!.replace(/\s+/g, ' ')).toMatch(/Priya Patel[\s\S]*£10\.00/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'desk-02-charged.png'), fullPage: true });

    await row.getByRole('link', { name: 'Waive…' }).click();
    await page.getByLabel('Reason for the waiver').fill('stick was faulty when lent');
    await page.getByRole('button', { name: 'Confirm: waive £10.00' }).click();
    await page.waitForURL('**/charges');
    expect(await text('[role="status"]')).toContain('£10.00 waived');
    const [charge] = (await harness.hub.records.ledger.entries()).filter((entry) => entry.entry === 'charge');
    expect(await harness.hub.records.ledger.outstanding(Number(charge.id))).toBe(0);
  });

  it('gives a day card at the desk that opens a locker at the station as the pupil, and is refused after the cut-off', async () => {
    const { records } = harness.hub;
    const pupil = await records.people.resolve('demo-2'); // Ben Oduya, who forgot his card
    await desk();
    const spare = page.locator('#day-card');
    await spare.getByLabel('Label on the card').fill('Spare 1');
    await spare.getByLabel(/^Card id/).fill(SPARE_UID);
    await spare.getByRole('button', { name: 'Check the spare card' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL('**/desk');

    // A spare card opens nothing before it is given.
    expect((await harness.hub.demo!.tap(SPARE_UID)).locker).toBeNull();

    // The hub's clock reads 09:00 today: the card lasts until today's cut-off.
    const morning = new Date();
    morning.setHours(9, 0, 0, 0);
    records.clock.now = () => morning;
    const before = harness.hub.badgeLists.current()!.version;
    await page.reload();
    await spare.getByLabel('Spare card', { exact: true }).selectOption('Spare 1');
    await spare.getByLabel(/^Person/).fill('demo-2');
    await spare.getByRole('button', { name: 'Check the day card' }).click();
    expect(await text('.confirm')).toContain('Spare card Spare 1 becomes Ben Oduya’s (demo-2) card until today\'s cut-off');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'desk-03-day-card-confirm.png'), fullPage: true });
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL('**/desk');
    expect(await text('[role="status"]')).toContain('Spare card Spare 1 is Ben Oduya’s until');

    // The station is sent the new list, and the card opens a locker as Ben's: in and out again.
    await eventually(() => harness.hub.badgeSync.status('demo-1').state === 'current' && harness.hub.badgeSync.status('demo-1').stationVersion! > before, 15_000, 'the station to hold the list with the day card');
    const deposit = await harness.hub.demo!.tap(SPARE_UID);
    expect(deposit.locker).not.toBeNull();
    await eventually(async () => (await harness.hub.db.get('SELECT id FROM phone_custody WHERE person_id = ? AND collected_at IS NULL', [pupil.id])) !== undefined, 10_000, 'his phone to be in');
    expect((await harness.hub.demo!.tap(SPARE_UID)).locker).toBe(deposit.locker);
    await eventually(async () => (await harness.hub.db.get('SELECT id FROM phone_custody WHERE person_id = ? AND collected_at IS NOT NULL', [pupil.id])) !== undefined, 10_000, 'his phone to be collected');
    // His history shows it under his own name.
    await page.goto(`${harness.hub.httpUrl}/who/person/${pupil.id}`);
    expect(await text('main')).toContain('Ben Oduya');
    expect(await text('main')).toContain('Phone history');
    expect(await text('main')).toContain(`demo-1, ${deposit.locker! + 1}`);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'desk-04-day-card-history.png'), fullPage: true });

    // Past the cut-off: the sweep ends the card, the station is sent a list without it, and it opens nothing.
    const during = harness.hub.badgeLists.current()!.version;
    records.clock.now = () => new Date(morning.getTime() + 7 * 3600_000 + 60_000);
    await harness.hub.housekeeping!.tick();
    await eventually(() => harness.hub.badgeLists.current()!.version > during && harness.hub.badgeSync.status('demo-1').state === 'current', 15_000, 'the station to hold the list without the day card');
    expect((await harness.hub.demo!.tap(SPARE_UID)).locker).toBeNull();
    const cards = await harness.hub.db.all<{ ended_how: string }>('SELECT ended_how FROM day_cards');
    expect(cards.map((card) => card.ended_how)).toEqual(['expired']);
    await desk();
    expect(await text('[data-spare="Spare 1"]')).toContain('Free');
    records.clock.now = () => new Date();
  });
});
