// Schools as tenants (issue 16), the doors a fresh-eyes review tried besides the crawl of
// tenancy.test.ts: a school's account types another school's card, staff code or station into a
// form, pauses the trust's firmware rollout, imports an asset into another school's locker, and a
// station of one school publishes (over MQTT, signed with its own key) an event naming another
// school's pupil. School A is the deployment's own ("demo"), school B is North Primary ("north");
// both use the staff code OFF for their office, as two schools of a trust well may.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT, FRAME } from '../../protocol/wire';
import { badgeHash, parseUid, schoolBadgeKey } from '../../hub/src/records/people';
import { SYSTEM } from '../../hub/src/records/access';
import { TRUST } from '../../hub/src/records/schools';
import { stationPassword } from '../../hub/src/broker/access';
import { seal } from '../../hub/src/protocol/sealed';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';
import { commandLine } from '../hub/support/cli';
import { WebClient } from './client';

/** What names school A's and school B's people anywhere. */
const A_NAMES = /Owen Office|S-A-OFF|Alice Ashdown|P-A01/;
const B_NAMES = /Beth Brook|S-B-OFF|Bertie Bramble|P-B01/;

let harness: HubHarness;
let cli: ReturnType<typeof commandLine>;
let clients: { a: WebClient; b: WebClient; aIct: WebClient; trustIct: WebClient };
const ids = { aPupil: 0, bPupil: 0 };
let formAKey = '';

beforeAll(async () => {
  harness = await startHub({ demo: false });
  const { records } = harness.hub;
  const target = { dataDir: harness.dataDir, databaseUrl: harness.hub.settings.databaseUrl ?? null, drop: async () => undefined };
  cli = commandLine(() => target, { inProcess: true });
  await records.schools.add('north', 'North Primary', 'test');
  const person = (externalId: string, name: string, role: string, school: string, staffCode: string | null = null) =>
    records.db.insert('INSERT INTO people (external_id, name, kind, role, staff_code, school) VALUES (?, ?, ?, ?, ?, ?)', [externalId, name, role === 'pupil' ? 'pupil' : 'staff', role, staffCode, school]);
  await person('S-A-OFF', 'Owen Office', 'office', '', 'OFF');
  ids.aPupil = await person('P-A01', 'Alice Ashdown', 'pupil', '');
  await person('S-B-OFF', 'Beth Brook', 'office', 'north', 'OFF');
  ids.bPupil = await person('P-B01', 'Bertie Bramble', 'pupil', 'north');
  const key = await schoolBadgeKey(records.db);
  await records.db.run('INSERT INTO badges (hash, person_id, enrolled_at) VALUES (?, ?, ?)', [badgeHash(key, parseUid('04B00001')), ids.bPupil, new Date().toISOString()]);
  formAKey = (await records.stations.add('demo', 'form-a', 8)).station_key;
  await records.stations.add('north', 'form-b', 8);
  await records.assets.upsert({ tag: 'STK-B1', classId: 'usb-stick', serial: 'KS-B1', encryption: 'AES-256 hardware', homeStation: 'form-b', homeLocker: 0, school: 'north' }, SYSTEM);
  await records.db.run("INSERT INTO firmware_bundles (version, version_number, hash, size, bytes, uploaded_by, uploaded_at) VALUES ('9.9.9', 90909, 'ab', 1, ?, 'test', ?)", [Buffer.from('x'), new Date().toISOString()]);

  const { hub } = harness;
  clients = {
    a: await WebClient.as(hub, 'office', 'office-a'),
    b: await WebClient.as(hub, 'office', 'office-b'),
    aIct: await WebClient.as(hub, 'ict', 'ict-a'),
    trustIct: await WebClient.as(hub, 'ict', 'trust-ict'),
  };
  const account = async (username: string) => Number((await hub.accounts.byUsername(username))!.id);
  await records.schools.setAccount(await account('office-a'), 'demo', 'test', 'account:office-a');
  await records.schools.setAccount(await account('ict-a'), 'demo', 'test', 'account:ict-a');
  await records.schools.setAccount(await account('office-b'), 'north', 'test', 'account:office-b');
  await records.schools.setAccount(await account('trust-ict'), TRUST, 'test', 'account:trust-ict');
}, 120_000);
afterAll(async () => {
  await harness?.stop();
});

describe(`schools as tenants: the doors beside the pages (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 120_000 }, () => {
  it("does not name B's pupil when A's desk offers B's pupil's card for A's pupil", async () => {
    for (const confirm of [false, true]) {
      const enrol = await clients.a.send('POST', '/api/desk/card', { json: { person: 'P-A01', uid: '04B00001', confirm } });
      expect(enrol.status).toBe(422);
      expect(await enrol.text()).not.toMatch(B_NAMES);
    }
    expect(await harness.hub.db.get('SELECT person_id FROM badges WHERE revoked_at IS NULL AND person_id = ?', [ids.bPupil])).toEqual({ person_id: ids.bPupil });
    // Nor B's item, when A registers one with its serial.
    const serial = await clients.a.send('POST', '/api/desk/asset', { json: { mode: 'add', tag: 'STK-A7', classId: 'usb-stick', serial: 'KS-B1', encryption: 'AES-256 hardware' } });
    expect(serial.status).toBe(422);
    expect(await serial.text()).not.toMatch(/STK-B1/);
    // Nor by their number, when it is offered as a spare card.
    const spare = await clients.a.send('POST', '/api/desk/spare-card', { json: { label: 'Spare 9', uid: '04B00001' } });
    expect(spare.status).toBe(422);
    expect(await spare.text()).not.toContain(`#${ids.bPupil}`);
  });

  it("keeps staff codes to each school: B corrects its own OFF without meeting A's, and a school's own clash is still refused", async () => {
    const correct = await clients.b.send('POST', '/api/desk/person', { json: { mode: 'correct', externalId: 'S-B-OFF', email: 'beth@north.example', confirm: true } });
    const text = await correct.text();
    expect(text).not.toMatch(A_NAMES);
    expect(correct.status, text).toBe(200);
    expect(await harness.hub.db.get("SELECT email FROM people WHERE external_id = 'S-B-OFF'")).toEqual({ email: 'beth@north.example' });
    const clash = await clients.a.send('POST', '/api/desk/person', { json: { mode: 'add', externalId: 'S-A-NEW', name: 'Olive Other', role: 'staff', staffCode: 'OFF' } });
    expect(clash.status).toBe(422);
    expect(await clash.text()).toMatch(/staff code OFF is already Owen Office/);
  });

  it('refuses a --by staff code two schools use, instead of acting as whichever was stored first', async () => {
    const report = await cli.handover('report', 'holdings', '--csv', '-', '--by', 'OFF');
    expect(report.code).not.toBe(0);
    expect(report.stderr).toMatch(/OFF.*more than one school.*MIS id/);
    const byMisId = await cli.handover('report', 'holdings', '--csv', '-', '--by', 'S-B-OFF');
    expect(byMisId.code, byMisId.stderr).toBe(0);
  });

  it("refuses an asset of A's import homed in a locker of B's station", async () => {
    const file = cli.file('a-assets.csv', ['Asset Tag,Class,Serial,Encryption,Station,Locker', 'STK-A9,USB stick,KS-A9,AES-256 hardware,form-b,2'].join('\n'));
    const run = await cli.handover('import', 'assets', file, '--school', 'demo');
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).toMatch(/station form-b is of another school/);
    expect(await harness.hub.db.get("SELECT id FROM assets WHERE tag = 'STK-A9'")).toBeUndefined();
  });

  it("counts a new person of A's import whose card is B's pupil's as not imported, not as added", async () => {
    const file = cli.file('a-people.csv', ['UPN,Forename,Surname,Form,Role,Card', 'P-A02,Card,Taker,7A,Pupil,04B00001'].join('\n'));
    const run = await cli.handover('import', 'people', file, '--school', 'demo');
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/0 added/);
    expect(run.stdout).toMatch(/1 rows? not imported/);
    expect(await harness.hub.db.get("SELECT id FROM people WHERE external_id = 'P-A02'")).toBeUndefined();
    // Nothing else of A's was touched by a file that holds one pupil: put A's pupil back on roll.
    await harness.hub.db.run("UPDATE people SET left_on = NULL WHERE external_id IN ('P-A01', 'S-A-OFF')");
  });

  it("finds A's own people and items on Who holds what however many of B's match first", async () => {
    const { records } = harness.hub;
    for (let n = 10; n < 70; n++) {
      await records.db.run("INSERT INTO people (external_id, name, kind, role, school) VALUES (?, ?, 'pupil', 'pupil', 'north')", [`P-BZ${n}`, `Aaron Zed ${n}`]);
      await records.assets.upsert({ tag: `STK-Z${n}`, classId: 'usb-stick', encryption: 'AES-256 hardware', school: 'north' }, SYSTEM);
    }
    await records.db.run("INSERT INTO people (external_id, name, kind, role, school) VALUES ('P-AZ', 'Zoe Zed', 'pupil', 'pupil', '')");
    await records.assets.upsert({ tag: 'STK-Z99', classId: 'usb-stick', encryption: 'AES-256 hardware' }, SYSTEM);
    const people = await (await clients.a.get('/who?q=zed')).text();
    expect(people).toContain('Zoe Zed');
    expect(people).not.toContain('Aaron Zed');
    const items = await (await clients.a.get('/who?q=stk-z')).text();
    expect(items).toContain('STK-Z99');
    expect(items).not.toContain('STK-Z10');
  });

  it("refuses A's office importing a file into B with --school", async () => {
    const people = cli.file('b-people.csv', ['UPN,Forename,Surname,Form,Role', 'P-B01,Bertie,Renamed,3N,Pupil'].join('\n'));
    const run = await cli.handover('import', 'people', people, '--school', 'north', '--by', 'S-A-OFF');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/their own school's files only/);
    const assets = cli.file('b-assets.csv', ['Asset Tag,Class,Serial,Encryption', 'STK-B1,USB stick,TAKEN,AES-256 hardware'].join('\n'));
    expect((await cli.handover('import', 'assets', assets, '--school', 'north', '--by', 'S-A-OFF')).code).toBe(1);
    expect(await harness.hub.db.get("SELECT name FROM people WHERE external_id = 'P-B01'")).toEqual({ name: 'Bertie Bramble' });
    expect(await harness.hub.db.get("SELECT serial FROM assets WHERE tag = 'STK-B1'")).toEqual({ serial: 'KS-B1' });
    const own = await cli.handover('import', 'people', people, '--school', 'north', '--by', 'S-B-OFF', '--dry-run');
    expect(own.code, own.stderr).toBe(0);
  });

  it("files a person a trust account adds at the Desk while it shows North under North", async () => {
    const client = clients.trustIct;
    const desk = await client.page('/desk?school=north');
    const action = /<form method="post" action="([^"]*\/desk\/person[^"]*)"/.exec(desk.html)![1];
    const fields = { mode: 'add', externalId: 'P-BNEW', name: 'Nina New', role: 'pupil', form: '3N', yearGroup: '', staffCode: '', email: '' };
    const check = await client.send('POST', action, { form: fields, accept: 'html' });
    const confirmPage = await check.text();
    expect(check.status, confirmPage).toBe(200);
    const confirmAction = /<form method="post" action="([^"]*\/desk\/person[^"]*)" class="actions"/.exec(confirmPage)![1];
    const done = await client.send('POST', confirmAction, { form: { ...fields, confirm: 'yes' }, accept: 'html' });
    expect(done.status).toBe(303);
    expect(await harness.hub.db.get("SELECT school FROM people WHERE external_id = 'P-BNEW'")).toEqual({ school: 'north' });
  });

  it("lets only a trust account pause the trust's firmware rollout", async () => {
    await clients.aIct.page('/stations');
    const pause = await clients.aIct.send('POST', '/stations/firmware/pause', { form: {} });
    expect(pause.status).toBe(403);
    expect(await harness.hub.db.get('SELECT paused FROM firmware_rollout WHERE id = 1')).toEqual({ paused: 0 });
    expect((await clients.aIct.page('/stations')).html).not.toMatch(/Pause the rollout/);
    await clients.trustIct.page('/stations');
    const trustPause = await clients.trustIct.send('POST', '/stations/firmware/pause', { form: {} });
    expect(trustPause.status).toBe(303);
    expect(await harness.hub.db.get('SELECT paused FROM firmware_rollout WHERE id = 1')).toEqual({ paused: 1 });
    await clients.trustIct.send('POST', '/stations/firmware/resume', { form: {} });
  });

  it("shows a loss at B only on B's Lockers now (its alert names a loan)", async () => {
    const lend = await clients.b.send('POST', '/api/desk/lend', { json: { tag: 'STK-B1', borrower: 'S-B-OFF', confirm: true } });
    expect(lend.status, await lend.text()).toBe(200);
    await clients.b.page('/charges');
    const lost = await clients.b.send('POST', '/charges/confirm', { form: { tag: 'STK-B1', action: 'lost' } });
    expect(lost.status).toBe(303);
    expect(await (await clients.b.get('/lockers')).text()).toMatch(/STK-B1/);
    expect(await (await clients.a.get('/lockers')).text()).not.toMatch(/STK-B1/);
    expect(await (await clients.a.get('/lockers/panel')).text()).not.toMatch(/STK-B1/);
  });

  it("does not let A's station put B's pupil in A's locker (an event over MQTT naming B's person)", async () => {
    const { hub } = harness;
    const frame = new Map<number, unknown>([
      [FRAME.STATION, 'form-a'],
      [FRAME.BOOT, 1],
      [FRAME.SEQ, 1],
      [FRAME.UPTIME_MS, 1000],
      [FRAME.TYPE, EVENT.DEPOSIT],
      [FRAME.LOCKER, 3],
      [FRAME.PERSON, ids.bPupil],
    ]);
    const station = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, { clientId: 'handover-form-a', username: 'form-a', password: stationPassword(formAKey) });
    try {
      await station.publishAsync('handover/demo/form-a/events', Buffer.from(seal(formAKey, frame)), { qos: 1 });
      await eventually(async () => Boolean(await hub.db.get("SELECT seq FROM station_events WHERE station_id = 'form-a' AND seq = 1")), 5000, "form-a's event stored");
    } finally {
      await station.endAsync();
    }
    const lockers = await (await clients.a.get('/lockers')).text();
    expect(lockers).not.toMatch(B_NAMES);
    expect(await hub.db.get('SELECT COUNT(*) AS n FROM phone_custody WHERE person_id = ?', [ids.bPupil])).toEqual({ n: 0 });
  });

  it("does not show or let A acknowledge an alert about B's hold (its subject names the hold, not a person or station)", async () => {
    const { records } = harness.hub;
    const bOffice = Number((await records.db.get<{ id: number }>("SELECT id FROM people WHERE external_id = 'S-B-OFF'"))!.id);
    // At B's station a pupil's phone is confiscated, then released by one member of staff alone (P4): the headteacher is alerted.
    const at = (seq: number) => new Date(Date.now() - (10 - seq) * 1000).toISOString();
    const event = (seq: number, type: number, fields: object) => records.custody.applyEvent({ station: 'form-b', boot: 7, seq, uptimeMs: seq * 1000, type, locker: 5, ...fields }, at(seq));
    await event(1, EVENT.DEPOSIT, { person: ids.bPupil });
    await event(2, EVENT.HOLD_SET, { person: ids.bPupil, actor: bOffice });
    await event(3, EVENT.HOLD_RELEASED, { person: ids.bPupil, actor: bOffice });
    const alert = await records.db.get<{ id: number }>("SELECT a.id FROM alerts a JOIN holds h ON a.subject = 'hold:' || h.id WHERE a.kind = 'release-without-two-staff' AND h.station_id = 'form-b'");
    expect(alert, "B's alert raised").toBeTruthy();
    const id = Number(alert!.id);
    expect(await (await clients.b.get('/lockers')).text()).toContain(`data-alert="${id}"`);
    for (const path of ['/lockers', '/lockers/panel']) {
      const text = await (await clients.a.get(path)).text();
      expect(text, path).not.toContain(`data-alert="${id}"`);
      expect(text, path).not.toMatch(/released without two staff/);
    }
    await clients.a.page('/lockers');
    const acknowledge = await clients.a.send('POST', `/alerts/${id}/acknowledge`, { form: { confirm: 'yes' } });
    expect(acknowledge.status).toBe(404);
    expect(await records.db.get('SELECT acknowledged_at FROM alerts WHERE id = ?', [id])).toEqual({ acknowledged_at: null });
  });

  it("answers a ?school= that names no school the account may see as not there, not with every school's or its own records", async () => {
    // A trust account's script asking school by school must not be given the whole trust under a misspelt or other-case name.
    for (const url of ['/api/lockers?school=North', '/api/custody?school=bogus', '/api/stations?school=NORTH', '/api/stream?school=nort', '/api/lockers?school=north&school=demo']) {
      const response = await clients.trustIct.get(url, 'json');
      expect(response.status, url).toBe(404);
      expect(await response.text(), url).not.toMatch(B_NAMES);
    }
    const page = await clients.trustIct.get('/lockers?school=North');
    expect(page.status).toBe(404);
    expect(await page.text()).toMatch(/no school North.*demo, north/s);
    const csv = await clients.trustIct.get('/who/phones-in.csv?school=bogus');
    expect(csv.status).toBe(404);
    // No filter (the menu's "Every school") and a known school still answer.
    for (const url of ['/lockers?school=', '/lockers?school=north', '/api/lockers?school=north']) expect((await clients.trustIct.get(url, url.startsWith('/api/') ? 'json' : 'html')).status, url).toBe(200);
    // A school's account: its own school, or nothing (not its own records as if they were B's), and B's name is not told.
    expect((await clients.a.get('/api/lockers?school=demo', 'json')).status).toBe(200);
    for (const url of ['/api/lockers?school=north', '/api/custody?school=north', '/lockers?school=north', '/who/phones-in.csv?school=north']) {
      const response = await clients.a.get(url, url.startsWith('/api/') ? 'json' : 'html');
      expect(response.status, url).toBe(404);
      expect(await response.text(), url).not.toMatch(/North Primary/);
    }
  });

  it("streams each account only its schools' station changes, and a trust account the school it filters to", async () => {
    const { hub } = harness;
    /** The stations named by the `change` events a stream gives while `act` runs. */
    const listen = async (client: WebClient, url: string) => {
      const response = await client.get(url, 'json');
      expect(response.status, url).toBe(200);
      const reader = response.body!.getReader();
      let text = '';
      const reading = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          text += new TextDecoder().decode(value);
        }
      })().catch(() => undefined);
      return {
        stations: async () => {
          await reader.cancel();
          await reading;
          return [...text.matchAll(/event: change\ndata: (.*)\n/g)].map((match) => (JSON.parse(match[1]) as { stationId: string }).stationId);
        },
      };
    };
    const streams = {
      a: await listen(clients.a, '/api/stream'),
      b: await listen(clients.b, '/api/stream'),
      trust: await listen(clients.trustIct, '/api/stream'),
      trustA: await listen(clients.trustIct, '/api/stream?school=demo'),
      trustB: await listen(clients.trustIct, '/api/stream?school=north'),
    };
    const key = (await hub.db.get<{ station_key: string }>("SELECT station_key FROM stations WHERE id = 'form-b'"))!.station_key;
    const station = await harness.mqtt({ station: 'form-b' });
    try {
      const frame = new Map<number, unknown>([[FRAME.STATION, 'form-b'], [FRAME.BOOT, 9], [FRAME.SEQ, 1], [FRAME.UPTIME_MS, 1000], [FRAME.TYPE, EVENT.DEPOSIT], [FRAME.LOCKER, 6], [FRAME.PERSON, ids.bPupil]]);
      await station.publishAsync('handover/north/form-b/events', Buffer.from(seal(key, frame)), { qos: 1 });
      await eventually(async () => Boolean(await hub.db.get("SELECT seq FROM station_events WHERE station_id = 'form-b' AND boot = 9 AND seq = 1")), 5000, "form-b's event stored");
    } finally {
      await station.endAsync();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await streams.b.stations()).toContain('form-b');
    expect(await streams.trust.stations()).toContain('form-b');
    expect(await streams.trustB.stations()).toContain('form-b');
    expect(await streams.a.stations()).not.toContain('form-b');
    expect(await streams.trustA.stations()).not.toContain('form-b');
  });

  it("lists a school's imports to that school's office, whoever ran them and however many other schools' came after", async () => {
    const { hub } = harness;
    const upload = async (client: WebClient, name: string, fields: Record<string, string>) => {
      await client.page('/imports');
      const body = new FormData();
      for (const [key, value] of Object.entries({ kind: 'people', dryRun: 'yes', ...fields })) body.set(key, value);
      body.set('file', new Blob(['UPN,Forename,Surname,Form,Role\nP-X01,Xena,Example,7A,Pupil\n'], { type: 'text/csv' }), name);
      const cookie = [...client.cookies].map(([key, value]) => `${key}=${value}`).join('; ');
      const response = await fetch(`${hub.httpUrl}/imports`, { method: 'POST', body, headers: { cookie, accept: 'application/json', 'x-csrf-token': client.csrfToken } });
      expect(response.status, name).toBe(202);
      const { job } = (await response.json()) as { job: { id: string } };
      await eventually(async () => !/running|queued/.test(JSON.stringify(((await (await client.get(`/api/imports/${job.id}`, 'json')).json()) as { job: { state: string } }).job.state)), 30_000, `${name} done`);
      return job.id;
    };
    // The trust's ICT checks North's roll for it.
    const north = await upload(clients.trustIct, 'north-roll.csv', { school: 'north' });
    // Then school A checks its own, more times than the list shows.
    for (let n = 0; n < 21; n++) await upload(clients.a, `a-roll-${n}.csv`, {});
    const listed = async (client: WebClient) => (await client.page('/imports')).html;
    expect(await listed(clients.b)).toContain('north-roll.csv');
    expect((await clients.b.get(`/imports/${north}`)).status).toBe(200);
    expect(await listed(clients.a)).not.toContain('north-roll.csv');
    expect((await clients.a.get(`/imports/${north}`)).status).toBe(404);
    expect(await listed(clients.b)).not.toContain('a-roll-');
  });
});
