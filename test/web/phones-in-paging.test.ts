// Who holds what and End of day a page at a time (issue 16), over HTTP: two schools with more
// phones in lockers than one page holds — the deployment's own (A, 230 pupils "Ashdown") and North
// (B, 130 "Bramble") — deposited through the custody records as the ingest does. An office account
// of A follows the page's own "Later" and "Earlier" links and the JSON API's `next` / `previous`
// through every page: each of A's phones once, in order, and nothing of B on any page; the form
// filter, the trust account's view and its school filter, the whole list as CSV, End of day's lists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../protocol/wire';
import { TRUST } from '../../hub/src/records/schools';
import { startHub, type HubHarness } from '../support/hub-harness';
import { WebClient } from './client';

const COUNTS = { a: 230, b: 130 };
let harness: HubHarness;
let clients: { a: WebClient; b: WebClient; trust: WebClient };

const decode = (text: string) => text.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");

/** The pupils a page lists (the links to their records, in order), and its rel=next / rel=prev links. */
function readPage(page: string) {
  const names = [...page.matchAll(/<a href="\/who\/person\/\d+">([^<]+)<\/a>/g)].map((match) => decode(match[1]));
  const next = /<a href="([^"]+)" rel="next">/.exec(page);
  const previous = /<a href="([^"]+)" rel="prev">/.exec(page);
  return { names, next: next ? decode(next[1]) : null, previous: previous ? decode(previous[1]) : null };
}

/** Follows rel=next from `start`; every page's names, in order. */
async function walk(client: WebClient, start: string): Promise<{ pages: string[][]; html: string[]; last: string }> {
  const pages: string[][] = [];
  const html: string[] = [];
  let url: string | null = start;
  let last = start;
  while (url) {
    const response = await client.page(url);
    expect(response.status, url).toBe(200);
    const page = readPage(response.html);
    pages.push(page.names);
    html.push(response.html);
    last = url;
    url = page.next;
    expect(pages.length, 'pages followed').toBeLessThan(20);
  }
  return { pages, html, last };
}

beforeAll(async () => {
  harness = await startHub({ demo: false });
  const { records, settings } = harness.hub;
  await records.schools.add('north', 'North Primary', 'test');
  const people: Record<'a' | 'b', number[]> = { a: [], b: [] };
  for (const [school, site, surname, forms] of [
    ['a', settings.site, 'Ashdown', ['7A', '7B']],
    ['b', 'north', 'Bramble', ['3N']],
  ] as const) {
    for (let s = 0; s * 32 < COUNTS[school]; s++) await records.stations.add(site, `${school}-${s}`, 32);
    for (let i = 0; i < COUNTS[school]; i++) {
      const id = await records.people.add({ externalId: `P${school.toUpperCase()}-${String(i).padStart(3, '0')}`, name: `${surname} ${String(i).padStart(3, '0')}`, role: 'pupil', form: forms[i % forms.length] });
      people[school].push(id);
    }
    if (school === 'b') await records.db.run("UPDATE people SET school = 'north' WHERE name LIKE 'Bramble %'");
  }
  // Deposits interleaved between the schools, a second apart, oldest first.
  const start = Date.now() - 3 * 3600_000;
  let n = 0;
  for (let i = 0; i < Math.max(COUNTS.a, COUNTS.b); i++) {
    for (const school of ['a', 'b'] as const) {
      if (i >= COUNTS[school]) continue;
      const station = `${school}-${Math.floor(i / 32)}`;
      n++;
      await records.custody.applyEvent({ station, boot: 1, seq: (i % 32) + 1, uptimeMs: ((i % 32) + 1) * 1000, type: EVENT.DEPOSIT, locker: i % 32, person: people[school][i] }, new Date(start + n * 1000).toISOString());
    }
  }
  clients = {
    a: await WebClient.as(harness.hub, 'office', 'office-a'),
    b: await WebClient.as(harness.hub, 'office', 'office-b'),
    trust: await WebClient.as(harness.hub, 'office', 'trust-office'),
  };
  const account = async (username: string) => Number((await harness.hub.accounts.byUsername(username))!.id);
  await records.schools.setAccount(await account('office-b'), 'north', 'test', 'account:office-b');
  await records.schools.setAccount(await account('trust-office'), TRUST, 'test', 'account:trust-office');
}, 180_000);
afterAll(async () => {
  await harness?.stop();
});

describe('who holds what, a page at a time', () => {
  it('walks every page of its own school forward and back, each phone once, oldest first, none of the other school', async () => {
    const { pages, html, last } = await walk(clients.a, '/who');
    expect(pages.length).toBe(3);
    expect(pages.map((page) => page.length)).toEqual([100, 100, 30]);
    const names = pages.flat();
    expect(new Set(names).size).toBe(COUNTS.a);
    expect(names).toEqual(Array.from({ length: COUNTS.a }, (_, i) => `Ashdown ${String(i).padStart(3, '0')}`));
    for (const page of html) {
      expect(page).not.toContain('Bramble');
      expect(page).toContain(`Showing`);
      expect(page).toContain(`of 230 phones, oldest first.`);
    }
    expect(html[0]).not.toContain('rel="prev"');
    // Back from the last page: the second, then the first.
    const lastPage = readPage((await clients.a.page(last)).html);
    const second = await clients.a.page(lastPage.previous!);
    expect(readPage(second.html).names).toEqual(pages[1]);
    const first = await clients.a.page(readPage(second.html).previous!);
    expect(readPage(first.html).names).toEqual(pages[0]);
    expect(readPage(first.html).previous).toBeNull();
  });

  it('filters by form and by name, and says so', async () => {
    const { pages, html } = await walk(clients.a, '/who?form=7B');
    expect(pages.flat().length).toBe(COUNTS.a / 2);
    expect(pages.flat().every((name) => Number(name.split(' ')[1]) % 2 === 1)).toBe(true);
    expect(html[0]).toContain('form 7B');
    const search = await clients.a.page('/who?q=Ashdown%2012');
    expect(readPage(search.html).names.filter((name) => name.startsWith('Ashdown 12'))).toContain('Ashdown 120');
    // B's account searching A's names finds nobody and no phone (the page repeats only the words searched for).
    const other = await clients.b.page('/who?q=Ashdown');
    expect(readPage(other.html).names).toEqual([]);
    expect(other.html).not.toMatch(/Ashdown \d{3}/);
    expect(other.html).toContain('Nobody matches');
    expect(other.html).toContain('No phone in a locker matches.');
  });

  it('serves the JSON API by pages with next and previous keys, scoped to the account', async () => {
    type Body = { phonesIn: Array<{ personName: string; depositedAt: string; custodyId: number }>; total: number; next: string | null; previous: string | null };
    const read = async (client: WebClient, url: string) => {
      const response = await client.get(url, 'json');
      expect(response.status, url).toBe(200);
      return (await response.json()) as Body;
    };
    const seen: string[] = [];
    let body = await read(clients.b, '/api/custody?limit=40');
    const bodies = [body];
    seen.push(...body.phonesIn.map((phone) => phone.personName));
    while (body.next) {
      body = await read(clients.b, `/api/custody?limit=40&after=${encodeURIComponent(body.next)}`);
      bodies.push(body);
      seen.push(...body.phonesIn.map((phone) => phone.personName));
    }
    expect(bodies.length).toBe(4);
    expect(bodies.every((page) => page.total === COUNTS.b)).toBe(true);
    expect(seen).toEqual(Array.from({ length: COUNTS.b }, (_, i) => `Bramble ${String(i).padStart(3, '0')}`));
    const back = await read(clients.b, `/api/custody?limit=40&before=${encodeURIComponent(body.previous!)}`);
    expect(back.phonesIn.map((phone) => phone.personName)).toEqual(bodies[2].phonesIn.map((phone) => phone.personName));

    const trust = await read(clients.trust, '/api/custody');
    expect(trust.total).toBe(COUNTS.a + COUNTS.b);
    expect(trust.phonesIn.length).toBe(100);
    expect(trust.phonesIn.map((phone) => phone.personName.split(' ')[0]).slice(0, 4)).toEqual(['Ashdown', 'Bramble', 'Ashdown', 'Bramble']);
    const north = await read(clients.trust, '/api/custody?school=north&limit=500');
    expect(north.total).toBe(COUNTS.b);
    expect(north.phonesIn.every((phone) => phone.personName.startsWith('Bramble'))).toBe(true);
    // A school account's ?school= names no other school's phones: that school is not there for it.
    const sneaky = await clients.a.get('/api/custody?school=north&limit=500', 'json');
    expect(sneaky.status).toBe(404);
    expect(await sneaky.text()).not.toMatch(/Bramble/);
  });

  it('keeps the trust filter in the page links', async () => {
    const { pages, html } = await walk(clients.trust, '/who?school=north');
    expect(pages.flat().length).toBe(COUNTS.b);
    expect(html.join('')).not.toContain('Ashdown');
  });

  it('downloads the whole list as CSV, of the account’s school only', async () => {
    const response = await clients.a.get('/who/phones-in.csv');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await response.text()).replace(/^\uFEFF/, '').trimEnd().split('\r\n');
    expect(lines[0]).toBe('custody,pupil,id,form,station,locker,deposited,uncollected');
    expect(lines.length).toBe(COUNTS.a + 1);
    expect(lines.some((line) => line.includes('Bramble'))).toBe(false);
    const form = await clients.a.get('/who/phones-in.csv?form=7A');
    expect((await form.text()).trimEnd().split('\r\n').length).toBe(COUNTS.a / 2 + 1);
  });
});

describe('end of day, a page at a time', () => {
  it('lists each of the school’s phones once across its pages, none of the other school’s', async () => {
    const names: string[] = [];
    // Today's list, then the uncollected one (which phones are uncollected depends on the hour the
    // test runs at, against the cut-off): each followed through its own links.
    for (const rel of ['after', 'uncollected-after']) {
      let url: string | null = '/end-of-day';
      while (url) {
        const page = await clients.b.page(url);
        expect(page.status).toBe(200);
        expect(page.html).not.toContain('Ashdown');
        const section = rel === 'after' ? page.html.slice(page.html.indexOf('id="today-title"'), page.html.indexOf('id="uncollected-title"')) : page.html.slice(page.html.indexOf('id="uncollected-title"'), page.html.indexOf('id="disposal-title"'));
        names.push(...readPage(section).names);
        const next = readPage(section).next;
        url = next && next.includes(`${rel}=`) ? next : null;
      }
    }
    expect(names.sort()).toEqual(Array.from({ length: COUNTS.b }, (_, i) => `Bramble ${String(i).padStart(3, '0')}`));
  });
});
