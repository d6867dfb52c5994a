// A long name without a space (a double-barrelled surname typed without spaces, a pasted e-mail-like
// id) on a phone (390 px): the pages that show it as a heading or in a sentence wrap it instead of
// scrolling the whole page sideways. Found by a fresh-eyes review of issue 17. One hub, no station.
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePassword } from '../../hub/src/accounts/password';
import { SYSTEM } from '../../hub/src/records/access';
import { startHub, type HubHarness } from '../support/hub-harness';

const CHROMIUM = process.env.HANDOVER_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const LONG_NAME = 'Wolfeschlegelsteinhausenbergerdorff-Featherstonehaugh-Cholmondeley-Marjoribanks';

if (!HAVE_CHROMIUM) console.warn(`long-name browser test SKIPPED: ${CHROMIUM} is absent`);

describe.skipIf(!HAVE_CHROMIUM)('a long name on a phone', { timeout: 180_000 }, () => {
  let harness: HubHarness;
  let browser: Browser;

  beforeAll(async () => {
    harness = await startHub({ demo: false });
    const { records } = harness.hub;
    await records.people.add({ externalId: 'S-LONG', name: LONG_NAME, role: 'staff' });
    await records.assets.upsert({ tag: 'STK-030', classId: 'usb-stick', serial: 'KS-0030', encryption: 'AES-256 hardware' }, SYSTEM);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await harness?.stop();
  });

  it('wraps it on the person’s page and the desk’s check-and-confirm page instead of scrolling sideways', async () => {
    const password = generatePassword();
    await harness.hub.accounts.add({ username: 'office.long', role: 'office', password }, 'long-name test');
    const page = await (await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-GB' })).newPage();
    await page.goto(`${harness.hub.httpUrl}/login`);
    await page.getByLabel('Username').fill('office.long');
    await page.getByLabel('Password').fill(password);
    await page.getByLabel('Password').press('Enter');
    await page.waitForURL('**/lockers');
    const tooWide = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

    const person = (await harness.hub.records.people.resolve('S-LONG')).id;
    await page.goto(`${harness.hub.httpUrl}/who/person/${person}`);
    await expect.poll(() => page.locator('h1').textContent()).toContain('Featherstonehaugh');
    expect(await tooWide()).toBeLessThanOrEqual(0);

    await page.goto(`${harness.hub.httpUrl}/desk`);
    await page.getByLabel('Asset tag').first().fill('STK-030');
    await page.getByLabel(/^Borrower/).fill('S-LONG');
    await page.getByRole('button', { name: 'Check the loan' }).click();
    await page.getByRole('heading', { name: 'This will happen when you confirm' }).waitFor();
    expect(await tooWide()).toBeLessThanOrEqual(0);
  });
});
