// The README's guided tour ("Try it in five minutes"), steps 5 to 7, walked in Chromium exactly as
// written, by an office worker signed in to the demo: a confiscation and its two-person release
// with the demo's staff cards, a safeguarding hold only the DSL's card opens, the emergency
// open-all; then ICT recording a laptop's health check at the Desk. Every sentence the page says
// on the way is read for internal codes. One browser and one hub for the file (browser tests are
// the slow part of CI); test/web/browser.test.ts walks steps 1 to 4 on a phone.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePassword } from '../../hub/src/accounts/password';
import type { WebRole } from '../../hub/src/accounts/roles';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';

const CHROMIUM = process.env.HANDOVER_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const SCREENSHOTS = path.resolve(__dirname, '../../test-output/screenshots');
/** Internal codes a person should never read: class and role ids, rules by their bare code. */
const INTERNAL = /\busb-stick\b|\(laptop\)|\bP\d{1,2}\b|\((?:dsl|ict)[,)]|\b(?:not-now|door-open|door-closed|item-out|item-present|health-check-held|safeguarding-held)\b/;

if (!HAVE_CHROMIUM) console.warn(`guided tour browser tests SKIPPED: ${CHROMIUM} is absent (install Debian's chromium: apt-get install -y chromium)`);

describe.skipIf(!HAVE_CHROMIUM)('the README guided tour in Chromium', { timeout: 240_000 }, () => {
  let harness: HubHarness;
  let browser: Browser;

  beforeAll(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    harness = await startHub({ demo: true });
    await eventually(() => harness.hub.badgeSync.status('demo-1').state === 'current', 20_000, 'the demo station to hold the badge list');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await harness?.stop();
  });

  async function signedIn(role: WebRole): Promise<Page> {
    const username = `${role.replace(/[^a-z]/g, '')}.tour`;
    const password = generatePassword();
    await harness.hub.accounts.add({ username, role, password }, 'guided tour test');
    const page = await (await browser.newContext({ viewport: { width: 1180, height: 820 }, locale: 'en-GB' })).newPage();
    await page.goto(`${harness.hub.httpUrl}/login`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByLabel('Password').press('Enter');
    await page.waitForURL('**/lockers');
    return page;
  }

  const words = async (page: Page, selector = 'main') => ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ');

  it('walks steps 5 to 7 as the office: confiscation and two-person release, a safeguarding hold, open-all', async () => {
    const page = await signedIn('office');
    const demo = page.getByRole('region', { name: /Try it: the simulated station demo-1/ });
    const feed = page.getByRole('region', { name: 'At the stations just now' });
    const press = async (name: string | RegExp) => {
      await demo.getByRole('button', { name, exact: typeof name === 'string' }).click();
      await page.waitForTimeout(150); // a person's pace; the demo queues taps
    };
    const lockerOf = async (name: string) => {
      await page.waitForFunction((who) => [...document.querySelectorAll('[data-station="demo-1"][data-locker]')].some((item) => item.textContent?.includes(who)), name, { timeout: 30_000 });
      return page.evaluate((who) => Number([...document.querySelectorAll('[data-station="demo-1"][data-locker]')].find((item) => item.textContent?.includes(who))!.getAttribute('data-locker')) + 1, name);
    };
    const lockerState = (locker: number, state: string) =>
      page.waitForFunction(([n, s]) => document.querySelector(`[data-station="demo-1"][data-locker="${n}"]`)?.getAttribute('data-state') === s, [locker - 1, state] as const, { timeout: 30_000 });
    const feedSays = (text: string) => eventually(async () => ((await feed.textContent()) ?? '').replace(/\s+/g, ' ').includes(text), 30_000, `the page to say “${text}”`);
    await page.waitForFunction(() => document.querySelector('[data-live-status]')?.textContent?.startsWith('Live'));

    // Step 5: Amira's phone goes in; Tom Reed's card, then hers: her locker is held.
    await press('Amira Khan');
    const amiras = await lockerOf('Amira Khan');
    await lockerState(amiras, 'phone-in');
    await press('Tom Reed (teacher)');
    await press('Amira Khan');
    await lockerState(amiras, 'held');
    await feedSays(`Locker ${amiras} at demo-1 is now held`);
    // Her card no longer opens it.
    await press('Amira Khan');
    await feedSays(`A card was refused at demo-1: locker ${amiras} at demo-1 is held, and only staff can release it.`);
    expect(await page.locator(`[data-station="demo-1"][data-locker="${amiras - 1}"]`).getAttribute('data-state')).toBe('held');
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Holds', exact: true }).click();
    expect(await words(page)).toContain('Amira Khan');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'tour-05-held.png'), fullPage: true });
    // The release: Tom Reed, Amira Khan, then Helen Moss (headteacher) within 30 seconds.
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Lockers now', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('[data-live-status]')?.textContent?.startsWith('Live'));
    await press('Tom Reed (teacher)');
    await press('Amira Khan');
    await press('Helen Moss (headteacher)');
    await lockerState(amiras, 'free');
    await feedSays(`Locker ${amiras} at demo-1: its hold was released and the door opened.`);

    // Step 6: Ben's phone goes in; Dara Singh (DSL), then Ben: a safeguarding hold.
    await press('Ben Oduya');
    const bens = await lockerOf('Ben Oduya');
    await lockerState(bens, 'phone-in');
    await press('Dara Singh (DSL)');
    await press('Ben Oduya');
    await lockerState(bens, 'safeguarding-held');
    // The office's Holds page lists the hold but does not name Ben.
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Holds', exact: true }).click();
    const holds = await words(page);
    expect(holds).toMatch(/safeguarding/i);
    expect(holds).not.toContain('Ben Oduya');
    expect(holds).not.toMatch(INTERNAL);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'tour-06-safeguarding-office.png'), fullPage: true });
    // A teacher's card does not open it; the DSL's card, then Ben's, does.
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Lockers now', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('[data-live-status]')?.textContent?.startsWith('Live'));
    await press('Tom Reed (teacher)');
    await press('Ben Oduya');
    await page.waitForTimeout(4000); // longer than a staff session: nothing happened
    expect(await page.locator(`[data-station="demo-1"][data-locker="${bens - 1}"]`).getAttribute('data-state')).toBe('safeguarding-held');
    await press('Dara Singh (DSL)');
    await press('Ben Oduya');
    await lockerState(bens, 'free');

    // Step 7: open-all from Stations, then every door shut from Try it.
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Stations', exact: true }).click();
    const emergency = page.locator('section', { has: page.getByRole('heading', { name: 'Emergency at demo-1' }) }).last();
    await emergency.getByRole('button', { name: /open every locker/ }).click();
    await page.getByLabel('I understand that every locker at demo-1 will open').check();
    await page.getByRole('button', { name: 'Confirm: open every locker at demo-1' }).click();
    await page.waitForURL('**/stations');
    expect(await words(page, '[role="status"]')).toContain('Station demo-1 is opening every locker.');
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Lockers now', exact: true }).click();
    await feedSays('Every locker at demo-1 was opened in an emergency.');
    await page.waitForFunction(() => document.querySelector('[data-doors-open]')?.textContent?.includes('locker 8 at demo-1'), undefined, { timeout: 30_000 });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'tour-07-open-all.png'), fullPage: true });
    const said = await words(page);
    expect(said).not.toMatch(INTERNAL);
    await demo.getByRole('button', { name: 'Shut every open door' }).click();
    await page.waitForFunction(() => !document.querySelector('[data-doors-open]'), undefined, { timeout: 20_000 });
  });

  it('ICT records a laptop’s health check at the Desk, and Loans stops listing it as due', async () => {
    // Time passes: the demo laptop's last check was 200 days ago (it is due every 90).
    await harness.hub.db.run('UPDATE assets SET last_health_check = ? WHERE tag = ?', [new Date(Date.now() - 200 * 86_400_000).toISOString().slice(0, 10), 'LAP-D01']);
    const page = await signedIn('ict');
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Loans', exact: true }).click();
    const checks = page.locator('section', { has: page.getByRole('heading', { name: /Health checks due/ }) });
    expect(await words(page, 'section:has(#checks-title)')).toMatch(/LAP-D01.*due now/);
    expect(await checks.getByRole('link', { name: 'Laptops come back' }).getAttribute('href')).toBe('/rules#laptops-come-back');

    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Desk', exact: true }).click();
    const form = page.locator('#health-check');
    await form.getByLabel('Asset tag').fill('LAP-D01');
    await form.getByLabel('Note').fill('battery and disk fine');
    await form.getByRole('button', { name: 'Check the health check' }).click();
    const confirm = await words(page, '.confirm');
    expect(confirm).toContain('LAP-D01');
    expect(confirm).not.toMatch(INTERNAL);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'tour-08-health-check-confirm.png'), fullPage: true });
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL('**/desk');
    expect(await words(page, '[role="status"]')).toContain('Health check of LAP-D01 recorded');
    expect((await harness.hub.db.get<{ last_health_check: string }>('SELECT last_health_check FROM assets WHERE tag = ?', ['LAP-D01']))!.last_health_check.slice(0, 10)).toBe(new Date().toISOString().slice(0, 10));

    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Loans', exact: true }).click();
    expect(await words(page, 'section:has(#checks-title)')).not.toContain('LAP-D01');
    // Its page says when the next one is due, and the audit trail names who recorded this one.
    await page.goto(`${harness.hub.httpUrl}/who/asset/LAP-D01`);
    expect(await words(page)).toContain('Laptop');
    expect(await words(page)).not.toMatch(INTERNAL);
    expect(await harness.hub.db.get("SELECT seq FROM audit_log WHERE action = 'asset.health-checked'")).toBeDefined();
  });
});
