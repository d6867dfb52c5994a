// Plain words on every page (issue 17): signed in as the office and as the headteacher, follows
// every link the pages offer (people, assets, holds, charges, leavers, stations…) and reads each
// page as a person would — its text, not its markup — for the project's internal codes: an asset
// class id ("usb-stick", "(laptop)"), a role id ("(dsl)", "ict"), or a school rule cited by its bare
// code ("P10") instead of its name linking to the rules page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETAIL, EVENT } from '../../protocol/wire';
import { SYSTEM } from '../../hub/src/records/access';
import { startHub, type HubHarness } from '../support/hub-harness';
import { WebClient } from './client';
import { seedOffice, type OfficeSchool } from './school';

let harness: HubHarness;
let school: OfficeSchool;

beforeAll(async () => {
  harness = await startHub({ demo: false });
  school = await seedOffice(harness.hub);
  const { records, db } = harness.hub;
  const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
  // Priya has had the laptop out for three weeks (overdue), and leaves at the end of the month; its
  // health check is long past. The stick she borrowed is reported lost (a charge and an alert).
  await records.custody.applyEvent({ station: 'loans-1', boot: 2, seq: 1, uptimeMs: 1000, type: EVENT.LOAN, locker: 1, person: school.staff.teacher, actor: school.staff.teacher }, daysAgo(21));
  await db.run('UPDATE assets SET last_health_check = ? WHERE tag = ?', [daysAgo(200).slice(0, 10), 'LAP-001']);
  await db.run('UPDATE people SET left_on = ? WHERE id = ?', [new Date(Date.now() + 20 * 86_400_000).toISOString().slice(0, 10), school.staff.teacher]);
  await records.loans.reportLost(school.stickTag, { personId: school.staff.headteacher, role: 'headteacher' });
  // A second laptop came back due its health check: held in its locker for ICT.
  await records.assets.upsert({ tag: 'LAP-002', classId: 'laptop', serial: 'LT-0002', homeStation: 'loans-1', homeLocker: 2, lastHealthCheck: daysAgo(200).slice(0, 10) }, SYSTEM);
  await records.custody.applyEvent({ station: 'loans-1', boot: 2, seq: 2, uptimeMs: 2000, type: EVENT.LOAN, locker: 2, person: school.staff.teacher, actor: school.staff.teacher }, daysAgo(3));
  await records.custody.applyEvent({ station: 'loans-1', boot: 2, seq: 3, uptimeMs: 3000, type: EVENT.RETURN, locker: 2, person: school.staff.teacher, actor: school.staff.teacher, detail: DETAIL.HEALTH_CHECK_DUE }, daysAgo(1));
}, 120_000);
afterAll(async () => {
  await harness?.stop();
});

/** What a person reads: the page's text without scripts, styles and markup, entities decoded. */
function readable(page: string): string {
  return page
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

/** Each internal code a page shows, with a little context: in its text, or alone in a cell or item. */
function internalCodes(page: string): string[] {
  const text = readable(page);
  const found: string[] = [];
  for (const pattern of [/\busb-stick\b/g, /\b(?:health-check|on-loan|written-off)\b/g, /\(laptop\)/g, /\bP\d{1,2}\b/g, /\((?:dsl|ict|deputy)[,)]/g]) {
    for (const match of text.matchAll(pattern)) found.push(`“${text.slice(Math.max(0, match.index - 40), match.index + match[0].length + 20).trim()}”`);
  }
  for (const match of page.matchAll(/<(td|dd|li|option)\b[^>]*>\s*(laptop|dsl|ict)\s*</g)) found.push(`“${match[0]}”`);
  return found;
}

/** Every page reachable from the menu by following links, as `client` (GET only, no sign-out). */
async function crawl(client: WebClient, limit = 250): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  const queue = ['/lockers', '/rules'];
  while (queue.length && seen.size < limit) {
    const route = queue.shift()!;
    if (seen.has(route)) continue;
    const response = await client.get(route);
    const body = await response.text();
    seen.set(route, response.status === 200 && (response.headers.get('content-type') ?? '').includes('text/html') ? body : '');
    for (const match of body.matchAll(/<a\b[^>]*\bhref="(\/[^"#]*)/g)) {
      const href = match[1].replace(/&amp;/g, '&');
      if (/^\/(logout|sign-?out|api\/|static\/|favicon)/.test(href) || /\.(csv|json|ico|css|js)(\?|$)/.test(href)) continue;
      if (!seen.has(href) && !queue.includes(href)) queue.push(href);
    }
  }
  return seen;
}

describe('plain words on every page', { timeout: 300_000 }, () => {
  for (const role of ['office', 'headteacher'] as const) {
    it(`shows ${role} no internal code on any page it can reach`, async () => {
      const client = await WebClient.as(harness.hub, role);
      const pages = await crawl(client);
      // The crawl reached the pages where codes used to show.
      for (const route of ['/loans', '/who/asset/STK-001', `/who/person/${school.staff.teacher}`, `/leavers/${school.staff.teacher}`, '/charges']) expect([...pages.keys()], route).toContain(route);
      const problems: string[] = [];
      for (const [route, page] of pages) {
        if (!page) continue;
        for (const code of internalCodes(page)) problems.push(`${route}: ${code}`);
      }
      expect(problems).toEqual([]);
      // Where a class is named, it is by its name; where a rule is cited, by its name linking to the rules page.
      expect(readable(pages.get('/loans')!)).toContain('LAP-001 (Laptop)');
      expect(readable(pages.get(`/leavers/${school.staff.teacher}`)!)).toContain('LAP-001 (Laptop)');
      expect(pages.get(`/leavers/${school.staff.teacher}`)!).toMatch(/<a class="rule-link" href="\/rules#laptops-come-back">Laptops come back<\/a>/);
      expect(readable(pages.get('/who/asset/STK-001')!)).toContain('Encrypted USB stick');
    });
  }

  it('finds the codes it looks for (the check can fail)', () => {
    expect(internalCodes('<td>STK-001 (usb-stick)</td><td>laptop</td><td>Priya (dsl, S-1)</td><h2>Health checks due (P10)</h2><li>Hold 3: health-check</li>')).toHaveLength(5);
    expect(internalCodes('<td>STK-001 (Encrypted USB stick)</td><td>Laptop</td><p>a laptop due its check (see: <a>Laptops come back</a>)</p><td>P-900</td>')).toEqual([]);
  });
});
