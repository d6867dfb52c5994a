// Safeguarding (P5) as a property of the data: signs in as each role, visits every page, every
// person and asset, every hold, the JSON API, and on the command line (its entry point run in this
// process, on the same database) every report (table and CSV) and the subject access export of
// everyone, and checks that the pupil in a safeguarding hold
// (name, MIS id, form, hub number, held locker on her own page) appears to no role without P5
// rights — and does appear to the DSL and the headteacher, so the crawl can fail.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_ROLES, type WebRole } from '../../hub/src/accounts/roles';
import { allows, tableRoleOf } from '../../hub/src/rules/permissions';
import { REPORTS } from '../../hub/src/reports/reports';
import { startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';
import { commandLine } from '../hub/support/cli';
import { HELD, seedRulesSchool, STAFF, type RulesSchool, type StaffRole } from './rules-school';

let harness: HubHarness;
let school: RulesSchool;
let cli: ReturnType<typeof commandLine>;
let people: Array<{ id: number; external_id: string }>;
let tags: string[];
let holds: number[];
let custody: number[];

beforeAll(async () => {
  harness = await startHub({ demo: false });
  school = await seedRulesSchool(harness);
  cli = commandLine(() => school.target, { inProcess: true });
  people = await harness.hub.db.all('SELECT id, external_id FROM people ORDER BY id');
  tags = (await harness.hub.db.all<{ tag: string }>('SELECT tag FROM assets ORDER BY tag')).map((row) => row.tag);
  holds = (await harness.hub.db.all<{ id: number }>('SELECT id FROM holds ORDER BY id')).map((row) => Number(row.id));
  custody = (await harness.hub.db.all<{ id: number }>('SELECT id FROM phone_custody ORDER BY id')).map((row) => Number(row.id));
}, 120_000);
afterAll(async () => {
  await harness?.stop();
});

/** What identifies the held pupil in a page, a JSON answer, a CSV or an export. */
function identifies(text: string): string[] {
  const found: string[] = [];
  const decoded = text.replace(/&#39;|&#x27;|&rsquo;/g, '’').replace(/&amp;/g, '&');
  if (decoded.includes(HELD.name) || decoded.includes('O’Neill') || decoded.includes('Zoë')) found.push('name');
  if (decoded.includes(HELD.externalId)) found.push('MIS id');
  if (new RegExp(`\\b${HELD.form}\\b`).test(decoded)) found.push('form');
  if (decoded.includes(`/who/person/${school.held}"`) || decoded.includes(`/leavers/${school.held}"`)) found.push('link');
  if (new RegExp(`"(person_?[iI]d|person)":\\s*${school.held}\\b`).test(decoded)) found.push('number');
  return found;
}

/** On the held pupil's own page: the held locker, which would tie her to the hold on the Holds page. */
function showsHeldLocker(text: string): boolean {
  return text.includes(`${HELD.station}, ${HELD.locker + 1}`) || text.includes(`${HELD.station}, locker ${HELD.locker + 1}`) || text.includes(`/holds/${school.safeguardingHold}"`);
}

function pagesFor(): string[] {
  const pages = ['/lockers', '/lockers/panel', '/today', '/who', '/who?q=form-9', '/who?q=STK', '/who?q=7A', '/loans', '/end-of-day', '/holds', '/charges', '/charges?owed=yes', '/leavers', '/stations', '/stations/panel', '/imports'];
  for (const person of people) if (Number(person.id) !== school.held) pages.push(`/who/person/${person.id}`, `/leavers/${person.id}`);
  for (const tag of tags) pages.push(`/who/asset/${encodeURIComponent(tag)}`);
  for (const hold of holds) pages.push(`/holds/${hold}`);
  for (const id of custody) pages.push(`/end-of-day/dispose/${id}`);
  return pages;
}
const API = ['/api/session', '/api/lockers', '/api/custody', '/api/stations', '/api/rejections'];

describe(`safeguarding everywhere (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 900_000 }, () => {
  it('never shows the held pupil on a page or in the API to a role without P5 rights, and does to the DSL and headteacher', async () => {
    for (const role of WEB_ROLES) {
      const client = school.clients[role];
      const may = allows(role, 'holds.safeguarding');
      const seen: string[] = [];
      for (const route of [...pagesFor(), ...API]) {
        const response = await client.get(route, route.startsWith('/api/') ? 'json' : 'html');
        expect(response.status, `${role} ${route}`).toBeLessThan(500);
        const found = identifies(await response.text());
        if (found.length) seen.push(`${route}: ${found.join(', ')}`);
      }
      // Her own page: she is named there, but not the locker the hold keeps.
      const own = await client.get(`/who/person/${school.held}`);
      const ownPage = await own.text();
      expect(own.status).toBe(200);
      expect(showsHeldLocker(ownPage), `${role}: her own page shows the held locker`).toBe(may);
      if (may) {
        expect(seen.some((line) => line.startsWith('/holds:')), `${role} should see her on Holds: ${seen.join('; ')}`).toBe(true);
        expect(seen.some((line) => line.startsWith('/end-of-day:')), `${role} should see her at End of day: ${seen.join('; ')}`).toBe(true);
      } else {
        expect(seen, role).toEqual([]);
      }
    }
  });

  it('never names her in a report or a subject access export run by a role without P5 rights', async () => {
    const roles = Object.keys(STAFF) as StaffRole[];
    const runs: Array<{ role: StaffRole; what: string; text: () => string; may: boolean }> = [];
    const jobs: Array<() => Promise<void>> = [];
    for (const role of roles) {
      const may = allows(tableRoleOf(role), 'holds.safeguarding');
      for (const report of Object.keys(REPORTS)) {
        // The reports that list phones, as a table too; the rest as CSV (the same rows).
        for (const csv of ['holds', 'holdings', 'uncollected', 'disposal'].includes(report) ? [false, true] : [true]) {
          jobs.push(async () => {
            const run = await cli.handover('report', report, '--all', ...(csv ? ['--csv', '-'] : []), '--by', STAFF[role]);
            runs.push({ role, what: `report ${report}${csv ? ' --csv' : ''} (${run.code} ${run.stderr.trim()})`, text: () => run.stdout, may });
          });
        }
      }
      // Her own export; the DSL's, who placed her hold; the teacher's, who confiscated another pupil's phone; a pupil's.
      const exported = [school.held, school.people.dsl, school.people.staff, school.leftIn];
      for (const person of people.filter((candidate) => exported.includes(Number(candidate.id)))) {
        jobs.push(async () => {
          const out = path.join(school.target.dataDir, `export-${role}-${person.id}.json`);
          const run = await cli.handover('export', 'subject', `#${person.id}`, '--out', out, '--by', STAFF[role]);
          expect(run.code, run.stderr).toBe(0);
          const text = fs.readFileSync(out, 'utf8');
          if (Number(person.id) === school.held) {
            const document = JSON.parse(text);
            const heldCustody = document.phoneCustody.filter((row: { station_id: string; locker: number }) => row.station_id === HELD.station && Number(row.locker) === HELD.locker);
            expect(heldCustody.length > 0, `${role}: her export has the held phone`).toBe(may);
            expect(document.holds.length > 0, `${role}: her export has the hold`).toBe(may);
            expect(document.stationEvents.some((event: { locker: number }) => Number(event.locker) === HELD.locker), `${role}: her export has the held locker's events`).toBe(may);
            expect(document.auditRecords.some((record: { subject: string }) => record.subject === `hold:${school.safeguardingHold}`), `${role}: her export has the hold's audit records`).toBe(may);
            expect(Boolean(document.withheld), `${role}: the export says what is withheld`).toBe(!may);
          } else {
            runs.push({ role, what: `export subject ${person.external_id}`, text: () => text, may: false });
          }
        });
      }
    }
    for (const job of jobs) await job();
    for (const run of runs) {
      const found = identifies(run.text());
      // Another person's export never names her, whoever runs it (she is not their data).
      if (!run.may) expect(found, `${run.role} ${run.what}`).toEqual([]);
    }
    // The DSL's and headteacher's reports do name her: the crawl can fail.
    for (const role of ['dsl', 'headteacher'] as const) {
      for (const report of ['holds', 'holdings', 'uncollected', 'disposal']) {
        const run = runs.find((candidate) => candidate.role === role && candidate.what.startsWith(`report ${report} (`))!;
        expect(identifies(run.text()), `${role} report ${report}`).toContain('name');
      }
    }
    // Other roles see that the locker is held, without her.
    const office = runs.find((candidate) => candidate.role === 'office' && candidate.what.startsWith('report uncollected (')) !;
    expect(office.text()).toMatch(new RegExp(`\\(restricted: DSL or headteacher\\)\\s+locker ${HELD.locker + 1} at ${HELD.station}`));
  });
});

export type { WebRole };
