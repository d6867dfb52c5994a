// The office page in a real browser: Debian's Chromium (/usr/bin/chromium; `.ci/run` installs it)
// driven by playwright-core, against a real hub with the simulated station. Screenshots go to
// test-output/screenshots/ for a reviewer. Skipped, saying why, only when Chromium is absent.
import fs from 'node:fs';
import { createRequire } from 'node:module';
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
/** A phone (the narrowest screen the pages are made for) and an office desktop. */
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1366, height: 768 };
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** Every page, as each role reaches it (a page a role may not use answers its 403 page, which is checked too). */
const PAGES = ['/lockers', '/today', '/who', '/who?q=Patel', '/loans', '/end-of-day', '/holds', '/charges', '/leavers', '/stations', '/imports', '/rules'];
const ROLES: WebRole[] = ['office', 'ict', 'headteacher', 'dsl', 'read-only'];

if (!HAVE_CHROMIUM) {
  console.warn(`office page browser tests SKIPPED: ${CHROMIUM} is absent (install Debian's chromium: apt-get install -y chromium)`);
}

describe.skipIf(!HAVE_CHROMIUM)('the office page in Chromium', { timeout: 90_000 }, () => {
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
  async function signedIn(role: WebRole, screenshot?: string, personId?: number, viewport: { width: number; height: number } = TABLET): Promise<Page> {
    const username = `${role.replace(/[^a-z]/g, '')}.${Math.random().toString(36).slice(2, 7)}`;
    const password = generatePassword();
    await harness.hub.accounts.add({ username, role, password, personId }, 'browser test');
    const context = await browser.newContext({ viewport, locale: 'en-GB' });
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
    expect(links).toEqual(['Lockers now', 'Today', 'Who holds what', 'Loans', 'End of day', 'Holds', 'Charges', 'Leavers', 'Stations', 'Imports', 'Desk', 'Notifications']);
    // The keyboard meets the skip link, then the menu, then Sign out, then the page.
    const order: string[] = [];
    for (let i = 0; i < links.length + 4; i++) {
      await page.keyboard.press('Tab');
      order.push((await page.evaluate(() => document.activeElement?.textContent ?? '')).trim());
    }
    expect(order).toEqual(['Skip to the page', 'Handover', ...links, 'Sign out', order[links.length + 3]]);
    expect(await page.evaluate(() => document.activeElement?.closest('main') !== null)).toBe(true);
    // The focus ring stands out: at least 3:1 against the white page (WCAG 1.4.11).
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Today' }).focus();
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineColor);
    expect(contrast(ring, 'rgb(255, 255, 255)')).toBeGreaterThanOrEqual(3);
    // The skip link takes the keyboard past the menu.
    await page.reload();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to the page');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // Every page names its icon, and the hub has it (no 404 for /favicon.ico either).
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).toBe('/favicon.svg');
    for (const icon of ['/favicon.svg', '/favicon.ico']) {
      const response = await page.request.get(harness.hub.httpUrl + icon);
      expect(response.status(), icon).toBe(200);
      expect(response.headers()['content-type']).toContain('image/svg+xml');
    }
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

  /** axe-core run in the page (injected through playwright-core): its serious and critical violations, each with where. */
  async function axeProblems(page: Page): Promise<string[]> {
    await page.evaluate(AXE_SOURCE);
    const result = await page.evaluate(() =>
      (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe.run(document, {
        resultTypes: ['violations'],
      }),
    );
    return result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes.slice(0, 3).map((node) => node.target.join(' ')).join('; ')}`);
  }

  /** How much wider than the window the document is (0: no sideways scroll). */
  async function overflow(page: Page): Promise<number> {
    return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  }

  for (const role of ROLES) {
    it(`fits every page on a phone and a desktop as ${role}, with no serious accessibility problem`, async () => {
      const problems: string[] = [];
      const page = await signedIn(role, undefined, undefined, PHONE);
      for (const width of [PHONE, DESKTOP]) {
        await page.setViewportSize(width);
        for (const address of PAGES) {
          await page.goto(harness.hub.httpUrl + address);
          const wider = await overflow(page);
          if (wider > 0) problems.push(`${address} at ${width.width} px: ${wider} px too wide`);
          if (role === 'headteacher' || (role === 'office' && width === PHONE)) {
            await shot(page, `w${width.width}-${role}-${address.replace(/[^a-z]+/g, '-').replace(/^-|-$/g, '')}`);
          }
          // The checks do not depend on the width but for what is shown: axe runs once, on the phone.
          if (width === PHONE) for (const problem of await axeProblems(page)) problems.push(`${address}: ${problem}`);
        }
      }
      expect(problems).toEqual([]);
      expect((page as Page & { problems: string[] }).problems).toEqual([]);
    }, 300_000);
  }

  it('fits the sign-in page on a phone, with no serious accessibility problem', async () => {
    const context = await browser.newContext({ viewport: PHONE, locale: 'en-GB' });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(harness.hub.httpUrl + '/login');
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    expect(await axeProblems(page)).toEqual([]);
    await shot(page, 'w390-sign-in');
    // The checker itself finds a problem when there is one: a picture without a text alternative.
    await page.evaluate(() => document.querySelector('main')!.insertAdjacentHTML('beforeend', '<img src="/favicon.svg">'));
    expect((await axeProblems(page)).join('\n')).toMatch(/^image-alt \(critical\)/m);
  }, 60_000);

  it('sets the emergency open-all apart from Unlock, and explains rules by name on their own page', async () => {
    const page = await signedIn('office', undefined, undefined, PHONE);
    await page.goto(`${harness.hub.httpUrl}/stations`);
    const section = page.locator('section', { has: page.getByRole('heading', { name: 'Station demo-1: remote commands' }) });
    const danger = section.locator('.danger-zone');
    await expect(danger.getByRole('heading', { level: 3 })).toHaveTextish('Emergency at demo-1');
    expect(await danger.getByRole('button', { name: /open every locker/ }).count()).toBe(1);
    expect(await danger.getByRole('button', { name: /Unlock…/ }).count()).toBe(0);
    // The two buttons are well apart on the screen, the red one below a rule.
    const unlock = await section.getByRole('button', { name: 'Unlock… (asks to confirm)' }).boundingBox();
    const openAll = await danger.getByRole('button', { name: /open every locker/ }).boundingBox();
    expect(openAll!.y - (unlock!.y + unlock!.height)).toBeGreaterThanOrEqual(48);
    await shot(page, 'w390-stations-danger-zone');
    // A rule cited on a page is its name, linking to the school rules page.
    await page.goto(`${harness.hub.httpUrl}/lockers`);
    await page.getByRole('link', { name: 'Losses and thefts go to the headteacher' }).first().click();
    await page.waitForURL('**/rules#losses-and-thefts-go-to-the-headteacher');
    await expect(page.getByRole('heading', { level: 1 })).toHaveTextish('The school rules');
    await expect(page.locator('#losses-and-thefts-go-to-the-headteacher')).toHaveTextish('Losses and thefts go to the headteacher');
    expect(await page.content()).not.toMatch(/\(P\d+\)/);
    await shot(page, 'w390-rules');
  }, 90_000);

  it('walks the README demo from the page on a phone: loan, return, loss, charge, waiver, confiscation and its two-person release, a safeguarding hold, an exemption, open-all', async () => {
    const page = await signedIn('headteacher', undefined, undefined, PHONE);
    const demo = page.getByRole('region', { name: /Try it: the simulated station demo-1/ });
    const press = async (name: string | RegExp) => {
      await demo.getByRole('button', { name }).click();
      await page.waitForTimeout(150); // a person's pace between presses; the demo queues taps
    };
    const lockerState = async (locker: number, state: string) => {
      try {
        await page.waitForFunction(([n, s]) => document.querySelector(`[data-station="demo-1"][data-locker="${n}"]`)?.getAttribute('data-state') === s, [locker - 1, state] as const, { timeout: 30_000 });
      } catch (error) {
        // Say what the station reported, to tell a slow page from a tap the station took otherwise.
        const events = await harness.hub.db.all("SELECT type, locker, detail, person_id, received_at FROM station_events WHERE station_id = 'demo-1' ORDER BY received_at DESC, seq DESC LIMIT 8");
        throw new Error(`locker ${locker} did not become ${state}; the demo station's latest events: ${JSON.stringify(events)}; ${(error as Error).message}`);
      }
    };
    const feed = page.getByRole('region', { name: 'At the stations just now' });
    await page.waitForFunction(() => document.querySelector('[data-live-status]')?.textContent?.startsWith('Live'));
    // The items are in their lockers from the start.
    for (const locker of [6, 7, 8]) await lockerState(locker, 'item-present');

    // A loan: the teacher taps once and waits; the first stick's locker opens and shuts.
    await press('Tom Reed (teacher)');
    await lockerState(6, 'item-out');
    await expect(feed).toContainTextish('Locker 6 at demo-1: an item was borrowed.');
    await shot(page, 'demo-01-loan');
    // A return: the teacher's card, then the stick's own tag.
    await press('Tom Reed (teacher)');
    await press(/Tag of STK-D01/);
    await lockerState(6, 'item-present');
    await expect(feed).toContainTextish('Locker 6 at demo-1: an item was returned.');
    // Borrowed again, and lost: Charges shows the £10.00 charge, then it is waived.
    await press('Tom Reed (teacher)');
    await lockerState(6, 'item-out');
    await page.goto(`${harness.hub.httpUrl}/charges`);
    await page.getByLabel('Asset tag').fill('STK-D01');
    await page.getByLabel('Lost', { exact: true }).check();
    await page.getByRole('button', { name: 'Show what this will do' }).click();
    await expect(page.locator('.confirm')).toContainTextish('Tom Reed (DEMO-TR) is charged £10.00');
    await page.getByRole('button', { name: 'Confirm: report STK-D01 lost' }).click();
    await page.waitForURL('**/charges');
    const row = page.locator('table.ledger tbody tr', { hasText: 'Tom Reed' }).first();
    await expect(row).toContainTextish('£10.00');
    await shot(page, 'demo-02-charge');
    await row.getByRole('link', { name: 'Waive…' }).click();
    await page.getByLabel('Reason for the waiver').fill('Demo: found to be a faulty stick');
    await page.getByRole('button', { name: 'Confirm: waive £10.00' }).click();
    await page.waitForURL('**/charges');
    await expect(page.getByRole('status').first()).toContainTextish('£10.00 waived');
    await shot(page, 'demo-03-waived');

    // A confiscation: Chloe's phone goes in (Amira's is still in locker 1 from an earlier test); the
    // teacher's card, then hers, holds it.
    await page.goto(`${harness.hub.httpUrl}/lockers`);
    await page.waitForFunction(() => document.querySelector('[data-live-status]')?.textContent?.startsWith('Live'));
    const lockerOf = async (name: string) => {
      await page.waitForFunction((who) => [...document.querySelectorAll('[data-station="demo-1"][data-locker]')].some((item) => item.textContent?.includes(who)), name, { timeout: 30_000 });
      return page.evaluate((who) => Number([...document.querySelectorAll('[data-station="demo-1"][data-locker]')].find((item) => item.textContent?.includes(who))!.getAttribute('data-locker')) + 1, name);
    };
    await press('Chloe Martin');
    const chloes = await lockerOf('Chloe Martin');
    await lockerState(chloes, 'phone-in');
    await press('Tom Reed (teacher)');
    await press('Chloe Martin');
    await lockerState(chloes, 'held');
    await expect(feed).toContainTextish(`Locker ${chloes} at demo-1 is now held`);
    await page.goto(`${harness.hub.httpUrl}/holds`);
    await expect(page.locator('main')).toContainTextish('Chloe Martin');
    // Its release needs two staff cards, one the headteacher's: the teacher and Chloe, then the head.
    await page.goto(`${harness.hub.httpUrl}/lockers`);
    await page.waitForFunction(() => document.querySelector('[data-live-status]')?.textContent?.startsWith('Live'));
    await press('Tom Reed (teacher)');
    await press('Chloe Martin');
    await press('Helen Moss (headteacher)');
    await lockerState(chloes, 'free');
    await expect(feed).toContainTextish(`Locker ${chloes} at demo-1: its hold was released and the door opened.`);
    await shot(page, 'demo-04-released');

    // A safeguarding hold: Dylan's phone goes in; the DSL's card, then his.
    await press('Dylan Evans');
    const dylans = await lockerOf('Dylan Evans');
    await lockerState(dylans, 'phone-in');
    await press('Dara Singh (DSL)');
    await press('Dylan Evans');
    await lockerState(dylans, 'safeguarding-held');
    // A medical exemption: Ella's tap opens nothing, and the page says so.
    await press(/Ella Nowak/);
    await expect(feed).toContainTextish('A pupil with a medical exemption tapped at demo-1');
    await expect(page.locator('[data-live-status]')).toContainTextish('medical exemption');
    await shot(page, 'demo-05-safeguarding-and-exemption');

    // Open-all from Stations; the open doors show on Lockers now until someone shuts them.
    await page.goto(`${harness.hub.httpUrl}/stations`);
    const section = page.locator('section', { has: page.getByRole('heading', { name: 'Station demo-1: remote commands' }) });
    await section.getByRole('button', { name: /open every locker/ }).click();
    await page.getByLabel('I understand that every locker at demo-1 will open').check();
    await page.getByRole('button', { name: 'Confirm: open every locker at demo-1' }).click();
    await page.waitForURL('**/stations');
    await expect(page.getByRole('status').first()).toContainTextish('Station demo-1 is opening every locker.');
    await page.goto(`${harness.hub.httpUrl}/lockers`);
    await expect(feed).toContainTextish('Every locker at demo-1 was opened in an emergency.');
    await expect(page.locator('[data-doors-open]')).toContainTextish('locker 8 at demo-1');
    await shot(page, 'demo-06-open-all');
    // The station pulses one lock at a time (its power supply): a door can spring open after the
    // first shut (locker 8 was already open from the remote unlock above), so shut until none is open.
    for (const deadline = Date.now() + 60_000; await page.locator('[data-doors-open]').count(); ) {
      if (Date.now() > deadline) throw new Error(`doors still open after a minute of shutting: ${await page.locator('[data-doors-open]').textContent()}`);
      await demo.getByRole('button', { name: 'Shut every open door' }).click();
      await page.waitForFunction(() => !document.querySelector('[data-doors-open]'), undefined, { timeout: 3_000 }).catch(() => undefined);
    }
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    expect((page as Page & { problems: string[] }).problems).toEqual([]);
  }, 300_000);

  // Last: the import marks the demo's other pupils as leavers (their cards stop opening anything).
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

/** WCAG contrast ratio of two CSS rgb() colours. */
function contrast(a: string, b: string): number {
  const luminance = (colour: string) => {
    const [r, g, bl] = (colour.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((part) => {
      const c = Number(part) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

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
