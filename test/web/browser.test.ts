// The office page in a real browser: Debian's Chromium (/usr/bin/chromium; `.ci/run` installs it)
// driven by playwright-core, against a real hub with the simulated station. Screenshots go to
// test-output/screenshots/ for a reviewer. Skipped, saying why, only when Chromium is absent.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePassword } from '../../hub/src/accounts/password';
import type { WebRole } from '../../hub/src/accounts/roles';
import { DEMO_CARDS } from '../../hub/src/demo/demo-school';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { seedOffice, type OfficeSchool } from './school';

export const CHROMIUM = process.env.HANDOVER_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const SCREENSHOTS = path.resolve(__dirname, '../../test-output/screenshots');
/** A tablet at the office counter, landscape. */
const TABLET = { width: 1180, height: 820 };

if (!HAVE_CHROMIUM) {
  console.warn(`office page browser tests SKIPPED: ${CHROMIUM} is absent (install Debian's chromium: apt-get install -y chromium)`);
}

describe.skipIf(!HAVE_CHROMIUM)('the office page in Chromium', () => {
  let harness: HubHarness;
  let browser: Browser;
  let school: OfficeSchool;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    harness = await startHub({ demo: true });
    await eventually(async () => (await harness.getJson('/api/stations')).body.stations.find((station: { id: string }) => station.id === 'demo-1')?.status === 'online', 10_000, 'the demo station to come online');
    school = await seedOffice(harness.hub);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await harness?.stop();
  });

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  /** A new browser (its own cookies) signed in through the form, by keyboard, as a new account of `role`. */
  async function signedIn(role: WebRole, screenshot?: string, personId?: number): Promise<Page> {
    const username = `${role.replace(/[^a-z]/g, '')}.${Math.random().toString(36).slice(2, 7)}`;
    const password = generatePassword();
    await harness.hub.accounts.add({ username, role, password, personId }, 'browser test');
    const context = await browser.newContext({ viewport: TABLET, locale: 'en-GB' });
    contexts.push(context);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => message.type() === 'error' && !/status of (401|403|404|422)/.test(message.text()) && problems.push(message.text()));
    (page as Page & { problems: string[] }).problems = problems;
    await page.goto(harness.hub.httpUrl + '/');
    await expect(page).toHaveURLish(/\/login\?next=%2F/);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    if (screenshot) await shot(page, screenshot);
    await page.getByLabel('Password').press('Enter');
    await page.waitForURL('**/lockers');
    return page;
  }

  it('signs in with the keyboard and lands on Lockers now', async () => {
    const page = await signedIn('office', '01-sign-in');
    await expect(page.getByRole('heading', { level: 1 })).toHaveTextish('Lockers now');
    expect(await page.getByText(/^Signed in as/).textContent()).toContain('(Office)');
    // The navigation lists every page.
    const links = await page.getByRole('navigation', { name: 'Pages' }).getByRole('link').allTextContents();
    expect(links).toEqual(['Lockers now', 'Today', 'Who holds what', 'Loans', 'End of day', 'Holds', 'Charges', 'Leavers', 'Stations', 'Imports', 'Desk']);
    // The first Tab reaches the skip link, which takes the keyboard past the menu.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to the page');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    expect((page as Page & { problems: string[] }).problems).toEqual([]);
  });

  it('shows a simulated tap change a locker live, without reloading', async () => {
    const page = await signedIn('office');
    const locker = page.locator('[data-station="demo-1"][data-locker="0"]');
    expect(await locker.getAttribute('data-state')).toBe('free');
    await page.waitForFunction(() => document.querySelector('[data-live-status]')?.textContent?.startsWith('Live'));
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await shot(page, '02-lockers-before-tap');

    const pupil = DEMO_CARDS[0];
    // By keyboard: focus the card's button and press Enter.
    await page.getByRole('button', { name: pupil.name }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-station="demo-1"][data-locker="0"]')?.getAttribute('data-state') === 'phone-in', undefined, { timeout: 15_000 });
    expect(await locker.textContent()).toContain(pupil.name);
    // The change is also put in words in the live status line, which screen readers announce.
    await expect(page.locator('[data-live-status]')).toContainTextish('demo-1 Locker 1: Phone in');
    expect(await page.locator('[data-live-status]').getAttribute('aria-live')).toBe('polite');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await expect(page.getByRole('table').first()).toContainTextish(pupil.name);
    await shot(page, '03-lockers-after-tap');
    await page.setViewportSize({ width: 768, height: 1024 }); // the same tablet, portrait
    await shot(page, '03b-lockers-portrait');
    expect((page as Page & { problems: string[] }).problems).toEqual([]);
  });

  it('reports a stick lost, shows the effect first, and the £10.00 charge after', async () => {
    const page = await signedIn('office');
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Charges', exact: true }).click();
    await page.getByLabel('Asset tag').fill(school.stickTag);
    await page.getByLabel('Lost', { exact: true }).check();
    await page.getByRole('button', { name: 'Show what this will do' }).click();
    const effects = page.locator('.confirm');
    await expect(effects).toContainTextish('Priya Patel (S-PAT) is charged £10.00');
    await expect(effects).toContainTextish('The headteacher is alerted');
    await shot(page, '04-report-lost-confirm');
    // Nothing is charged until it is confirmed.
    expect(await harness.hub.records.ledger.entries()).toEqual([]);

    await page.getByRole('button', { name: `Confirm: report ${school.stickTag} lost` }).click();
    await page.waitForURL('**/charges');
    await expect(page.getByRole('status').first()).toContainTextish(`${school.stickTag} reported lost: charge`);
    const row = page.locator('table.ledger tbody tr').first();
    await expect(row).toContainTextish('Priya Patel');
    await expect(row).toContainTextish('£10.00');
    await shot(page, '05-charges-after-lost');
    const [charge] = await harness.hub.records.ledger.entries();
    expect(charge).toMatchObject({ entry: 'charge', amount_pence: 1000, person_id: school.staff.teacher });
  });

  it('refuses office staff the details of a safeguarding hold', async () => {
    const page = await signedIn('office');
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Holds', exact: true }).click();
    const safeguarding = page.locator('section', { has: page.getByRole('heading', { name: 'Safeguarding holds' }) });
    await expect(safeguarding).toContainTextish('DSL and headteacher only');
    expect(await safeguarding.textContent()).not.toContain('Grace Hughes');
    await shot(page, '06-holds-office');
    const [response] = await Promise.all([page.waitForResponse((candidate) => candidate.url().endsWith(`/holds/${school.safeguardingHoldId}`)), safeguarding.getByRole('link', { name: `Hold ${school.safeguardingHoldId}` }).click()]);
    expect(response.status()).toBe(403);
    await expect(page.getByRole('heading', { level: 1 })).toHaveTextish('Not for your role');
    await expect(page.getByRole('alert')).toContainTextish('may not see the details of a safeguarding hold');
    expect(await page.content()).not.toContain('Grace Hughes');
    await shot(page, '07-safeguarding-refused');

    // The DSL sees them.
    const dsl = await signedIn('dsl');
    const allowed = await dsl.goto(`${harness.hub.httpUrl}/holds/${school.safeguardingHoldId}`);
    expect(allowed!.status()).toBe(200);
    await expect(dsl.locator('dl.facts')).toContainTextish('Grace Hughes');
  });

  it('draws today at a glance and the other pages without errors', async () => {
    const page = await signedIn('headteacher');
    for (const [link, heading, file] of [
      ['Today', 'Today at a glance', '09-today'],
      ['Loans', 'Loans', '10-loans'],
      ['End of day', 'End of day', '11-end-of-day'],
      ['Stations', 'Stations', '12-stations'],
      ['Leavers', 'Leavers', '13-leavers'],
    ] as const) {
      const [response] = await Promise.all([page.waitForResponse((candidate) => candidate.request().isNavigationRequest()), page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: link, exact: true }).click()]);
      expect(response.status(), link).toBe(200);
      await expect(page.getByRole('heading', { level: 1 })).toHaveTextish(heading);
      await shot(page, file);
    }
    await page.goto(`${harness.hub.httpUrl}/today`);
    expect(await page.locator('.chart svg rect.deposits').count()).toBeGreaterThan(0);
    await page.goto(`${harness.hub.httpUrl}/who?q=Patel`);
    await page.getByRole('link', { name: 'Priya Patel' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveTextish('Priya Patel');
    await shot(page, '14-who-person');
    expect((page as Page & { problems: string[] }).problems).toEqual([]);
  });

  it('acknowledges an alert with the keyboard, after seeing what it does', async () => {
    const page = await signedIn('headteacher', undefined, school.staff.headteacher);
    const alerts = page.getByRole('region', { name: /Alerts not yet acknowledged/ });
    // The records' locker 5 is the sixth door: the page says locker 6.
    await expect(alerts).toContainTextish('Door forced open: station form-7b, locker 6');
    expect(await page.locator('[data-station="form-7b"][data-locker="5"]').getAttribute('class')).toContain('state-alarm');
    const button = alerts.getByRole('button', { name: 'Acknowledge: Door forced open: station form-7b, locker 6' });
    await button.focus();
    await shot(page, '15-alert-before-acknowledge');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/alerts/*/acknowledge');
    await expect(page.getByRole('heading', { level: 1 })).toHaveTextish('Acknowledge an alert: check and confirm');
    await expect(page.locator('.confirm')).toContainTextish('leaves the list at the top of Lockers now');
    await shot(page, '16-alert-acknowledge-confirm');
    await page.getByRole('button', { name: 'Confirm: acknowledge' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL('**/lockers');
    await expect(page.getByRole('status').first()).toContainTextish('Alert acknowledged: Door forced open: station form-7b, locker 6.');
    expect(await page.locator('[data-station="form-7b"][data-locker="5"]').getAttribute('class')).not.toContain('state-alarm');
    expect(await page.content()).not.toContain('Acknowledge: Door forced open');
    await shot(page, '17-alert-acknowledged');
    expect((page as Page & { problems: string[] }).problems).toEqual([]);
  });

  it('unlocks a locker of the simulated station remotely, after confirming, and records it', async () => {
    const page = await signedIn('office');
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Stations', exact: true }).click();
    await page.getByLabel('Locker to unlock').first().selectOption('8');
    await page.getByRole('button', { name: 'Unlock… (asks to confirm)' }).first().click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveTextish('Unlock locker 8 at demo-1: check and confirm');
    await shot(page, '18-unlock-confirm');
    await page.getByRole('button', { name: 'Confirm: unlock locker 8' }).click();
    await page.waitForURL('**/stations');
    await expect(page.getByRole('status').first()).toContainTextish('Station demo-1 unlocked locker 8.');
    const records = await harness.hub.db.all<{ action: string; actor: string; details: string }>("SELECT action, actor, details FROM audit_log WHERE action IN ('web.remote-unlock', 'web.remote-unlock-result') ORDER BY seq");
    expect(records.map((record) => record.action)).toEqual(['web.remote-unlock', 'web.remote-unlock-result']);
    expect(records[1].details).toContain('"ok":true');
    expect(new Set(records.map((record) => record.actor)).size).toBe(1);
    expect(records[0].actor).toMatch(/^account:office\./);
  });

  it('imports a CSV with a bad row and shows the row report', async () => {
    const page = await signedIn('office');
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Imports', exact: true }).click();
    const csv = [
      'MIS ID,Forename,Surname,Reg Group,Card Chip ID',
      'P-1001,Isla,Jones,8C,04 a9 b8 c7',
      'P-1002,Jack,Khan,8C,not-a-card',
      'P-1003,Kemi,Lewis,8C,04c1d2e3',
    ].join('\r\n');
    await page.getByLabel('What the file holds').selectOption('people');
    await page.getByLabel('Rows without a role are').selectOption('pupil');
    await page.getByLabel('CSV file', { exact: true }).setInputFiles({ name: 'pupils-8c.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await shot(page, '08a-imports-form');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await page.waitForURL(/\/imports\/[A-Za-z0-9_-]+$/);
    await page.getByRole('heading', { name: 'Row report' }).waitFor({ timeout: 15_000 });
    const report = page.locator('table.row-report tbody tr');
    expect(await report.count()).toBe(1);
    await expect(report.first()).toContainTextish('3');
    await expect(report.first()).toContainTextish('card id is not hex bytes');
    await expect(page.getByRole('status').first()).toContainTextish('2 added');
    await shot(page, '08-import-row-report');
    const imported = await harness.hub.db.all<{ external_id: string }>("SELECT external_id FROM people WHERE external_id LIKE 'P-10%' ORDER BY external_id");
    expect(imported.map((row) => row.external_id)).toEqual(['P-1001', 'P-1003']);
  });
});

// Small waits in the style of Playwright's expect, on playwright-core alone.
declare module 'vitest' {
  interface Assertion<T> {
    toHaveTextish(text: string): Promise<void>;
    toContainTextish(text: string): Promise<void>;
    toHaveURLish(pattern: RegExp): Promise<void>;
  }
}

async function waitFor(check: () => Promise<boolean>, describe: () => Promise<string>, timeoutMs = 10_000): Promise<{ pass: boolean; message: () => string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return { pass: true, message: () => '' };
    if (Date.now() > deadline) {
      const seen = await describe().catch((error) => `(${(error as Error).message})`);
      return { pass: false, message: () => seen };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

expect.extend({
  async toHaveTextish(locator: { textContent(): Promise<string | null> }, text: string) {
    const read = async () => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
    return waitFor(async () => (await read()) === text, async () => `expected text ${JSON.stringify(text)}, saw ${JSON.stringify(await read())}`);
  },
  async toContainTextish(locator: { textContent(): Promise<string | null> }, text: string) {
    const read = async () => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ');
    return waitFor(async () => (await read()).includes(text), async () => `expected to contain ${JSON.stringify(text)}, saw ${JSON.stringify((await read()).slice(0, 400))}`);
  },
  async toHaveURLish(page: Page, pattern: RegExp) {
    return waitFor(async () => pattern.test(page.url()), async () => `expected URL ${pattern}, saw ${page.url()}`);
  },
});
