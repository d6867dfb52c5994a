// Schools as tenants (issue 16), from the outside: a deployment of two schools, the deployment's
// own ("demo", school A) and North Primary ("north", school B) added on the command line, each with
// its pupils, staff, a station, an asset on loan and a phone in a locker. An office account of A
// crawls every page and the JSON API and must meet nothing of B (and the reverse); a trust account
// sees both and can filter by school (Lockers now and Stations count each school, the counts those
// of the school's own drawing, until it does); each school's office sees its own stations' broker
// refusals and refused frames only; the command line's reports and exports run --by a member of
// A's staff cover A only; an import with --school B lands in B, and without --school is refused.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../protocol/wire';
import { readU32 } from '../../protocol/bytes';
import { BADGE_HEADER_BYTES, BADGE_RECORD_BYTES } from '../../protocol/badge-list';
import { badgeHash, parseUid, schoolBadgeKey } from '../../hub/src/records/people';
import { SYSTEM } from '../../hub/src/records/access';
import { TRUST } from '../../hub/src/records/schools';
import { REPORTS } from '../../hub/src/reports/reports';
import type { EventFrame } from '../../hub/src/protocol/frames';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';
import { commandLine } from '../hub/support/cli';
import { WebClient } from './client';

/** What names school A's and school B's records anywhere. */
const MARKS = {
  a: ['Alice Ashdown', 'P-A01', 'Owen Office', 'form-a', 'STK-A1'],
  b: ['Bertie Bramble', 'P-B01', 'Beth Brook', 'form-b', 'STK-B1', 'Nell North'],
};

let harness: HubHarness;
let cli: ReturnType<typeof commandLine>;
let clients: { a: WebClient; b: WebClient; trust: WebClient };
const ids = { a: [] as number[], b: [] as number[] };

function found(text: string, school: 'a' | 'b'): string[] {
  const decoded = text.replace(/&#39;|&#x27;|&rsquo;/g, '’').replace(/&amp;/g, '&');
  return MARKS[school].filter((mark) => decoded.includes(mark));
}

function pages(): string[] {
  const list = ['/lockers', '/lockers/panel', '/today', '/who?q=a', '/who?q=b', '/who?q=STK', '/who?q=P-', '/loans', '/end-of-day', '/holds', '/charges', '/leavers', '/stations', '/stations/panel', '/imports', '/notifications', '/desk'];
  for (const id of [...ids.a, ...ids.b]) list.push(`/who/person/${id}`, `/leavers/${id}`);
  for (const tag of ['STK-A1', 'STK-B1']) list.push(`/who/asset/${tag}`);
  return list;
}
const API = ['/api/session', '/api/lockers', '/api/custody', '/api/stations', '/api/rejections'];

/** The stations whose lockers a Lockers now page or panel draws. */
function drawnStations(text: string): string[] {
  return [...new Set([...text.matchAll(/data-station="([^"]+)" data-locker=/g)].map((match) => match[1]))];
}

/** The drawn lockers counted by state, as a school's row in the trust's table counts them. */
function drawnStates(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/data-locker="\d+" data-state="([^"]+)"/g)) counts[match[1]] = (counts[match[1]] ?? 0) + 1;
  return counts;
}

/** A school's row of the trust's summary table (Lockers now or Stations): its link and counts. */
function summaryRow(text: string, school: string): { link: string | undefined; counts: Record<string, number> } {
  const row = new RegExp(`<tr data-school="${school}">([\\s\\S]*?)</tr>`).exec(text)?.[1] ?? '';
  const counts: Record<string, number> = {};
  for (const match of row.matchAll(/data-(?:state|count)="([^"]+)">(\d+)</g)) if (match[2] !== '0' && match[1] !== 'online' && match[1] !== 'doors-open' && match[1] !== 'alarms') counts[match[1]] = Number(match[2]);
  return { link: /<a href="([^"]+)">/.exec(row)?.[1]?.replace(/&amp;/g, '&'), counts };
}

async function crawl(client: WebClient, query = ''): Promise<{ a: string[]; b: string[] }> {
  const seen = { a: [] as string[], b: [] as string[] };
  for (const route of [...pages(), ...API]) {
    const url = query ? `${route}${route.includes('?') ? '&' : '?'}${query}` : route;
    const response = await client.get(url, route.startsWith('/api/') ? 'json' : 'html');
    expect(response.status, url).toBeLessThan(500);
    const text = await response.text();
    for (const school of ['a', 'b'] as const) {
      // A 404 repeats the asset tag asked for ("There is no asset with tag …"): that is not a leak.
      const marks = found(text, school).filter((mark) => !url.includes(mark));
      if (marks.length) seen[school].push(`${url}: ${marks.join(', ')}`);
    }
  }
  return seen;
}

beforeAll(async () => {
  harness = await startHub({ demo: false });
  const { hub } = harness;
  const { records } = hub;
  const target = { dataDir: harness.dataDir, databaseUrl: hub.settings.databaseUrl ?? null, drop: async () => undefined };
  cli = commandLine(() => target, { inProcess: true });

  // School A: the deployment's own, as a single school has always been set up.
  const aOffice = await records.db.insert("INSERT INTO people (external_id, name, kind, role, staff_code) VALUES ('S-A-OFF', 'Owen Office', 'staff', 'office', 'OAO')");
  const aPupil = await records.people.add({ externalId: 'P-A01', name: 'Alice Ashdown', role: 'pupil', form: '7A' });
  await records.stations.add(hub.settings.site, 'form-a', 8);
  await records.assets.upsert({ tag: 'STK-A1', classId: 'usb-stick', serial: 'KS-A1', encryption: 'AES-256 hardware', homeStation: 'form-a', homeLocker: 6 }, SYSTEM);
  ids.a.push(Number(aOffice), aPupil);
  await records.db.run('INSERT INTO badges (hash, person_id, enrolled_at) VALUES (?, ?, ?)', [badgeHash(await schoolBadgeKey(records.db), parseUid('04A00001')), aPupil, new Date().toISOString()]);

  // School B, added on the command line; its people and assets imported with --school.
  const added = await cli.handover('school', 'add', 'north', '--name', 'North Primary');
  expect(added.code, added.stderr).toBe(0);
  const people = cli.file('north-people.csv', ['UPN,Forename,Surname,Form,Role,Staff Code,Email,Card', 'P-B01,Bertie,Bramble,3N,Pupil,,,04B00001', 'S-B-OFF,Beth,Brook,,Office,BBO,beth@north.example,', 'S-B-TCH,Nell,North,,Teacher,NNO,,04B00002'].join('\n'));
  const refused = await cli.handover('import', 'people', people);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/--school/);
  const imported = await cli.handover('import', 'people', people, '--school', 'north');
  expect(imported.code, imported.stderr).toBe(0);
  await records.stations.add('north', 'form-b', 8);
  const assets = cli.file('north-assets.csv', ['Asset Tag,Class,Serial,Encryption,Home Station,Locker', 'STK-B1,USB stick,KS-B1,AES-256 hardware,form-b,1'].join('\n'));
  const assetRun = await cli.handover('import', 'assets', assets, '--school', 'north');
  expect(assetRun.code, assetRun.stdout + assetRun.stderr).toBe(0);
  const bPeople = await records.db.all<{ id: number; external_id: string }>("SELECT id, external_id FROM people WHERE external_id LIKE '%B%' ORDER BY id");
  ids.b.push(...bPeople.map((row) => Number(row.id)));
  const bPupil = Number(bPeople.find((row) => row.external_id === 'P-B01')!.id);
  const bStaff = Number(bPeople.find((row) => row.external_id === 'S-B-TCH')!.id);

  // A phone in a locker at each school, and each school's stick out on loan.
  const seqs = new Map<string, number>();
  const apply = (station: string, type: number, fields: Partial<EventFrame>) => {
    const seq = (seqs.get(station) ?? 0) + 1;
    seqs.set(station, seq);
    return records.custody.applyEvent({ station, boot: 1, seq, uptimeMs: seq * 1000, type, ...fields }, new Date(Date.now() - (60 - seq) * 60_000).toISOString());
  };
  await apply('form-a', EVENT.DEPOSIT, { locker: 1, person: aPupil });
  await apply('form-b', EVENT.DEPOSIT, { locker: 2, person: bPupil });
  await apply('form-a', EVENT.LOAN, { locker: 6, person: Number(aOffice), actor: Number(aOffice) });
  await apply('form-b', EVENT.LOAN, { locker: 0, person: bStaff, actor: bStaff });

  clients = {
    a: await WebClient.as(hub, 'office', 'office-a'),
    b: await WebClient.as(hub, 'office', 'office-b'),
    trust: await WebClient.as(hub, 'office', 'trust-office'),
  };
  const account = async (username: string) => Number((await hub.accounts.byUsername(username))!.id);
  await records.schools.setAccount(await account('office-b'), 'north', 'test', 'account:office-b');
  await records.schools.setAccount(await account('trust-office'), TRUST, 'test', 'account:trust-office');
}, 120_000);
afterAll(async () => {
  await harness?.stop();
});

describe(`schools as tenants (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 600_000 }, () => {
  it('imports with --school land in that school', async () => {
    const rows = await harness.hub.db.all<{ external_id: string; school: string }>("SELECT external_id, school FROM people WHERE external_id IN ('P-B01', 'P-A01') ORDER BY external_id");
    expect(rows).toEqual([
      { external_id: 'P-A01', school: '' },
      { external_id: 'P-B01', school: 'north' },
    ]);
    expect(await harness.hub.db.get("SELECT school FROM assets WHERE tag = 'STK-B1'")).toEqual({ school: 'north' });
    // B's file does not hold A's pupils: they are not B's leavers.
    expect(await harness.hub.db.get("SELECT left_on FROM people WHERE external_id = 'P-A01'")).toEqual({ left_on: null });
  });

  it("gives each school's stations a badge list of that school's people only", async () => {
    const lists = harness.hub.badgeLists;
    await lists.check();
    const people = (site: string) => {
      const { file } = lists.current(site)!;
      const found: number[] = [];
      for (let offset = BADGE_HEADER_BYTES; offset < file.length; offset += BADGE_RECORD_BYTES) found.push(readU32(file, offset + 8));
      return found.sort((x, y) => x - y);
    };
    const cards = await harness.hub.db.all<{ person_id: number; school: string }>('SELECT b.person_id, p.school FROM badges b JOIN people p ON p.id = b.person_id WHERE b.revoked_at IS NULL');
    const of = (school: string) => cards.filter((card) => card.school === school).map((card) => Number(card.person_id)).sort((x, y) => x - y);
    expect(of('north').length).toBe(2);
    expect(people('north')).toEqual(of('north'));
    expect(people('demo')).toEqual(of(''));
    expect(lists.current('north')!.version).toBe(lists.current('demo')!.version);
  });

  it("shows an office account of A nothing of B on any page or API, and B's nothing of A", async () => {
    const a = await crawl(clients.a);
    expect(a.b, 'office-a sees B').toEqual([]);
    expect(a.a.some((line) => line.startsWith('/lockers:')), `office-a should see A: ${a.a.join('; ')}`).toBe(true);
    const b = await crawl(clients.b);
    expect(b.a, 'office-b sees A').toEqual([]);
    expect(b.b.some((line) => line.startsWith('/lockers:')), `office-b should see B: ${b.b.join('; ')}`).toBe(true);
    // Another school's person, asset or station is not there at all.
    expect((await clients.a.get(`/who/person/${ids.b[0]}`)).status).toBe(404);
    expect((await clients.a.get('/who/asset/STK-B1')).status).toBe(404);
    // A school account's filter cannot reach another school.
    expect((await crawl(clients.a, 'school=north')).b).toEqual([]);
    // Nor the Desk's API, however the tag is written (the register upper-cases tags).
    const model = await harness.hub.db.get("SELECT model FROM assets WHERE tag = 'STK-B1'");
    for (const tag of ['STK-B1', 'stk-b1']) {
      const correct = await clients.a.send('POST', '/api/desk/asset', { json: { mode: 'correct', tag, model: 'Taken', confirm: true } });
      expect(correct.status, tag).toBe(404);
      expect(await correct.text()).not.toMatch(/North|Bramble/);
    }
    expect(await harness.hub.db.get("SELECT model FROM assets WHERE tag = 'STK-B1'")).toEqual(model);
  });

  it('shows a trust account both schools, and one when it filters', async () => {
    for (const page of ['/loans', '/who?q=STK']) {
      const text = await (await clients.trust.get(page)).text();
      expect(found(text, 'a').length, `trust ${page} A`).toBeGreaterThan(0);
      expect(found(text, 'b').length, `trust ${page} B`).toBeGreaterThan(0);
    }
    const lockers = await (await clients.trust.get('/lockers')).text();
    expect(lockers).toContain('North Primary');
    const north = await crawl(clients.trust, 'school=north');
    expect(north.a, 'trust filtered to north sees A').toEqual([]);
    expect(north.b.length).toBeGreaterThan(0);
  });

  it("shows a trust account each school's lockers and stations counted, and one school's drawn when it chooses", async () => {
    // A's lockers in every way the drawing works a state out: a phone in, an item out from the
    // station, an item at home that no event has touched (no row: item in), one lent at the desk.
    await harness.hub.records.assets.upsert({ tag: 'STK-A2', classId: 'usb-stick', serial: 'KS-A2', encryption: 'AES-256 hardware', homeStation: 'form-a', homeLocker: 4 }, SYSTEM);
    await harness.hub.records.assets.upsert({ tag: 'STK-A3', classId: 'usb-stick', serial: 'KS-A3', encryption: 'AES-256 hardware', homeStation: 'form-a', homeLocker: 5 }, SYSTEM);
    const lent = await clients.a.send('POST', '/api/desk/lend', { json: { tag: 'STK-A3', borrower: 'S-A-OFF', confirm: true } });
    expect(lent.status, await lent.text()).toBe(200);
    for (const path of ['/lockers', '/lockers/panel']) {
      const text = await (await clients.trust.get(path)).text();
      // Counted, not drawn: no locker and no pupil of either school on it.
      expect(drawnStations(text), path).toEqual([]);
      expect(found(text, 'a').filter((mark) => mark !== 'form-a'), path).toEqual([]);
      for (const [school, station] of [['demo', 'form-a'], ['north', 'form-b']]) {
        const row = summaryRow(text, school);
        expect(row.link, `${path} ${school}`).toBe(`/lockers?school=${school}`);
        // The school's own drawing (as the trust filters to it, and as its own office sees it) says the same.
        for (const client of [clients.trust, school === 'demo' ? clients.a : clients.b]) {
          const drawn = await (await client.get(client === clients.trust ? `${path}?school=${school}` : path)).text();
          expect(drawnStations(drawn)).toEqual([station]);
          expect(row.counts, `${path} ${school}`).toEqual({ lockers: 8, ...drawnStates(drawn) });
        }
        expect(row.counts['phone-in']).toBe(1);
      }
      expect(summaryRow(text, 'demo').counts).toEqual({ lockers: 8, 'phone-in': 1, 'item-out': 2, 'item-present': 1, free: 4 });
    }
    for (const path of ['/stations', '/stations/panel']) {
      const text = await (await clients.trust.get(path)).text();
      expect(text).not.toMatch(/data-station-row=/);
      for (const [school, station] of [['demo', 'form-a'], ['north', 'form-b']]) {
        expect(summaryRow(text, school).counts.stations, `${path} ${school}`).toBe(1);
        expect(summaryRow(text, school).link).toBe(`/stations?school=${school}`);
        const drawn = await (await clients.trust.get(`${path}?school=${school}`)).text();
        expect([...drawn.matchAll(/data-station-row="([^"]+)"/g)].map((match) => match[1])).toEqual([station]);
      }
    }
  });

  it("shows a school's office its own stations' lockers, stations and refusals only, on the page, the panel and the API", async () => {
    // School B's station publishes garbage on its own topic (a frame the hub refuses) and a frame on A's (the broker refuses it).
    const b = await harness.mqtt({ station: 'form-b' });
    const rejectedBefore = harness.hub.ingest.rejectedTotal;
    await b.publishAsync('handover/north/form-b/events', Buffer.from('not a frame'), { qos: 1 });
    await b.publishAsync('handover/demo/form-a/events', Buffer.from('not a frame'), { qos: 1 });
    await b.endAsync();
    await eventually(() => harness.hub.ingest.rejectedTotal > rejectedBefore && (harness.hub.broker?.guard?.refusals() ?? []).some((refusal) => refusal.station === 'form-b'), 10_000, "B's refusals");
    const rejected = (text: string) => Number(/data-rejected-frames>(\d+)</.exec(text)?.[1]);
    const refusedStations = (text: string) => [...text.matchAll(/<tr data-refusal="[^"]*"><td>station ([^<]+)<\/td>/g)].map((match) => match[1]);

    for (const [client, own, other] of [[clients.a, 'form-a', 'form-b'], [clients.b, 'form-b', 'form-a']] as const) {
      for (const path of ['/lockers', '/lockers/panel']) expect(drawnStations(await (await client.get(path)).text()), path).toEqual([own]);
      for (const path of ['/stations', '/stations/panel']) {
        const text = await (await client.get(path)).text();
        expect([...text.matchAll(/data-station-row="([^"]+)"/g)].map((match) => match[1]), path).toEqual([own]);
        expect(text).not.toContain(other);
      }
      const stations = await (await client.get('/stations')).text();
      expect(refusedStations(stations)).not.toContain(other);
      const api = (await (await client.get('/api/lockers', 'json')).json()) as { lockers: Array<{ stationId: string }> };
      expect([...new Set(api.lockers.map((locker) => locker.stationId))]).toEqual([own]);
      const apiStations = (await (await client.get('/api/stations', 'json')).json()) as { stations: Array<{ id: string }> };
      expect(apiStations.stations.map((station) => station.id)).toEqual([own]);
    }
    const asA = await (await clients.a.get('/stations')).text();
    const asB = await (await clients.b.get('/stations')).text();
    const asTrust = await (await clients.trust.get('/stations')).text();
    expect(rejected(asA)).toBe(0);
    expect(rejected(asB)).toBeGreaterThanOrEqual(1);
    expect(rejected(asTrust)).toBe(harness.hub.ingest.rejectedTotal);
    expect(refusedStations(asB)).toContain('form-b');
    expect(refusedStations(asTrust)).toContain('form-b');
  });

  it("covers only the acting person's school in every report and export on the command line", async () => {
    for (const report of Object.keys(REPORTS)) {
      const asA = await cli.handover('report', report, '--all', '--csv', '-', '--by', 'OAO');
      expect(asA.code, `${report}: ${asA.stderr}`).toBe(0);
      expect(found(asA.stdout, 'b'), `report ${report} --by A`).toEqual([]);
      const asB = await cli.handover('report', report, '--all', '--csv', '-', '--by', 'BBO');
      expect(asB.code, `${report}: ${asB.stderr}`).toBe(0);
      expect(found(asB.stdout, 'a'), `report ${report} --by B`).toEqual([]);
    }
    const holdings = await cli.handover('report', 'holdings', '--csv', '-');
    expect(found(holdings.stdout, 'a').length && found(holdings.stdout, 'b').length, 'the operator sees both').toBeTruthy();
    const filtered = await cli.handover('report', 'holdings', '--csv', '-', '--school', 'north');
    expect(found(filtered.stdout, 'a')).toEqual([]);
    const out = path.join(harness.dataDir, 'export-b.json');
    const refused = await cli.handover('export', 'subject', 'P-B01', '--out', out, '--by', 'OAO');
    expect(refused.code).not.toBe(0);
    expect(fs.existsSync(out)).toBe(false);
    // Nor may A's office act on B's asset or B's leaver.
    const lost = await cli.handover('charge', 'lost', 'STK-B1', '--by', 'OAO');
    expect(lost.code).not.toBe(0);
    expect(await harness.hub.db.get("SELECT status FROM assets WHERE tag = 'STK-B1'")).toEqual({ status: 'on-loan' });
    expect((await cli.handover('leaver', 'P-B01', '--by', 'OAO')).code).not.toBe(0);
    const own = await cli.handover('export', 'subject', 'P-B01', '--out', out, '--by', 'BBO');
    expect(own.code, own.stderr).toBe(0);
    expect(found(fs.readFileSync(out, 'utf8'), 'a')).toEqual([]);
  });
  it("lists a school's own e-mails on Notifications when another school's are many and newer", async () => {
    const { db } = harness.hub;
    await db.run("UPDATE people SET email = 'owen@demo.example' WHERE external_id = 'S-A-OFF'");
    const mail = (at: number, recipient: string, subject: string) =>
      db.run("INSERT INTO notifications (created_at, kind, dedupe, recipient, subject, body, state) VALUES (?, 'overdue-loans', ?, ?, ?, 'body', 'sent')", [new Date(Date.now() - at * 1000).toISOString(), `${recipient}-${at}`, recipient, subject]);
    await mail(500, 'owen@demo.example', 'Owen’s own digest');
    for (let i = 0; i < 120; i++) await mail(i, 'beth@north.example', 'North digest');
    const asA = await (await clients.a.get('/notifications', 'html')).text();
    expect(asA).toContain('Owen');
    expect(asA).not.toContain('North digest');
    const asB = await (await clients.b.get('/notifications', 'html')).text();
    expect(asB).toContain('North digest');
    expect(asB).not.toContain('Owen');
  });
});
