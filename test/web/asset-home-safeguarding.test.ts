// An asset's page lists the station events at its home locker, with who tapped. The office may
// register an asset at any locker (the Desk), a phone locker included: then the events of a phone a
// safeguarding hold keeps there (its deposit, the hold) would name the pupil to every role (P5).
// Signed in as each role over HTTP, after the office registers an asset at the held locker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_ROLES } from '../../hub/src/accounts/roles';
import { allows } from '../../hub/src/rules/permissions';
import { startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';
import { HELD, seedRulesSchool, type RulesSchool } from './rules-school';

let harness: HubHarness;
let school: RulesSchool;

beforeAll(async () => {
  harness = await startHub({ demo: false });
  school = await seedRulesSchool(harness);
}, 120_000);
afterAll(async () => {
  await harness?.stop();
});

describe(`an asset at a safeguarding-held locker (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  it("does not name the held pupil in its locker's events to a role without P5 rights", async () => {
    const office = school.clients.office;
    const added = await office.send('POST', '/api/desk/asset', {
      json: { mode: 'add', tag: 'STK-AT-HELD', classId: 'usb-stick', encryption: 'AES-256 hardware', homeStation: HELD.station, homeLocker: String(HELD.locker + 1), confirm: true },
    });
    expect(added.status, await added.clone().text()).toBe(200);
    for (const role of WEB_ROLES) {
      const page = await school.clients[role].get('/who/asset/STK-AT-HELD');
      expect(page.status).toBe(200);
      const text = (await page.text()).replace(/&rsquo;|&#39;|&#x27;/g, '’');
      expect(text.includes(HELD.name), `${role} sees her name on the asset page`).toBe(allows(role, 'holds.safeguarding'));
    }
  }, 60_000);
});
