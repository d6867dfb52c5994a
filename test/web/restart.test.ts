// The office page across a hub restart and behind a reverse proxy: a real hub process object on a
// real database (SQLite file, or PostgreSQL when DATABASE_URL is set), stopped and started again on
// the same data; settings read from the environment as `handover serve` reads them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub } from '../../hub/src/hub';
import { generatePassword } from '../../hub/src/accounts/password';
import { loadSettings } from '../../hub/src/settings';
import { STOPPED_MESSAGE } from '../../hub/src/web/imports-runner';
import { eventually } from '../support/eventually';
import { testDatabaseTarget, type TestDatabaseTarget } from '../support/test-database';
import { WebClient } from './client';

async function startOn(target: TestDatabaseTarget, env: Record<string, string> = {}): Promise<Hub> {
  const settings = loadSettings({ HANDOVER_DATA_DIR: target.dataDir, HANDOVER_HTTP_PORT: '0', HANDOVER_MQTT_PORT: '0', ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}), ...env });
  const hub = new Hub({ settings, demo: false, logSink: () => {} });
  await hub.start();
  return hub;
}

describe('HANDOVER_TRUST_PROXY', () => {
  it('is off by default, true, or a list of proxy addresses; anything else is refused by name', () => {
    expect(loadSettings({}).trustProxy).toBe(false);
    expect(loadSettings({ HANDOVER_TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadSettings({ HANDOVER_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadSettings({ HANDOVER_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' }).trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8']);
    expect(() => loadSettings({ HANDOVER_TRUST_PROXY: 'yes please' })).toThrow(/HANDOVER_TRUST_PROXY \(trustProxy/);
  });

  describe('with the proxy at 127.0.0.1 trusted', () => {
    let target: TestDatabaseTarget;
    let hub: Hub;
    beforeAll(async () => {
      target = await testDatabaseTarget();
      hub = await startOn(target, { HANDOVER_TRUST_PROXY: '127.0.0.1' });
    });
    afterAll(async () => {
      await hub?.stop();
      await target?.drop();
    });

    it('marks the session cookie Secure when the client came over HTTPS, and counts sign-in attempts per client address', async () => {
      const password = generatePassword();
      await hub.accounts.add({ username: 'head', role: 'headteacher', password }, 'test');
      const viaHttps = new WebClient(hub.httpUrl);
      const https = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '192.0.2.10' };
      const session = await viaHttps.send('GET', '/api/session', { headers: https, accept: 'json' });
      viaHttps.csrfToken = ((await session.json()) as { csrfToken: string }).csrfToken;
      const login = await viaHttps.send('POST', '/api/login', { json: { username: 'head', password }, headers: https });
      expect(login.status).toBe(200);
      const cookie = viaHttps.lastSetCookie.find((header) => header.startsWith('handover_session='))!;
      expect(cookie).toMatch(/; Secure/);
      expect(cookie).toMatch(/; HttpOnly/);
      // The audit names the client's address, not the proxy's.
      const signedIn = (await hub.records.audit.forSubject('account:head')).find((record) => record.action === 'account.signed-in')!;
      expect(signedIn.details).toContain('192.0.2.10');

      // Ten wrong attempts from one pupil's laptop behind the proxy...
      const guesser = new WebClient(hub.httpUrl);
      const from = (address: string) => ({ 'x-forwarded-for': address });
      const first = await guesser.send('GET', '/api/session', { headers: from('192.0.2.66'), accept: 'json' });
      guesser.csrfToken = ((await first.json()) as { csrfToken: string }).csrfToken;
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 11; attempt++) statuses.push((await guesser.send('POST', '/api/login', { json: { username: 'nobody', password: `Guess-pass-${attempt}` }, headers: from('192.0.2.66') })).status);
      expect(statuses).toEqual([...Array(10).fill(401), 429]);
      // ...do not lock out the office computer, which reaches the hub through the same proxy.
      const office = new WebClient(hub.httpUrl);
      const officeSession = await office.send('GET', '/api/session', { headers: from('192.0.2.20'), accept: 'json' });
      office.csrfToken = ((await officeSession.json()) as { csrfToken: string }).csrfToken;
      expect((await office.send('POST', '/api/login', { json: { username: 'nobody', password: 'Guess-pass-1' }, headers: from('192.0.2.20') })).status).toBe(401);
    }, 60_000);
  });

  describe('left off', () => {
    let target: TestDatabaseTarget;
    let hub: Hub;
    beforeAll(async () => {
      target = await testDatabaseTarget();
      hub = await startOn(target);
    });
    afterAll(async () => {
      await hub?.stop();
      await target?.drop();
    });

    it('believes no forwarded header: a client cannot claim HTTPS or another address to dodge the limit', async () => {
      const password = generatePassword();
      await hub.accounts.add({ username: 'head', role: 'headteacher', password }, 'test');
      const client = new WebClient(hub.httpUrl);
      await client.startSession();
      const login = await client.send('POST', '/api/login', { json: { username: 'head', password }, headers: { 'x-forwarded-proto': 'https' } });
      expect(login.status).toBe(200);
      expect(client.lastSetCookie.find((header) => header.startsWith('handover_session='))).not.toMatch(/Secure/);

      const guesser = new WebClient(hub.httpUrl);
      await guesser.startSession();
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 11; attempt++) statuses.push((await guesser.send('POST', '/api/login', { json: { username: 'nobody', password: `Guess-pass-${attempt}` }, headers: { 'x-forwarded-for': `198.51.100.${attempt}` } })).status);
      expect(statuses).toEqual([...Array(10).fill(401), 429]);
    }, 60_000);
  });
});

describe('import reports across a restart', () => {
  let target: TestDatabaseTarget;
  let hub: Hub | null = null;
  beforeAll(async () => {
    target = await testDatabaseTarget();
  });
  afterAll(async () => {
    await hub?.stop();
    await target?.drop();
  });

  it('keeps each report in the database; an import the hub was running when it stopped is shown as stopped', async () => {
    hub = await startOn(target);
    const office = await WebClient.as(hub, 'office', 'office1');
    await office.page('/imports');
    const body = new FormData();
    body.set('kind', 'assets');
    body.set('file', new Blob(['Asset Tag,Class,Serial,Encryption\nSTK-020,USB stick,KS-20,AES-256\nSTK-021,USB stick,KS-21,\n'], { type: 'text/csv' }), 'sticks.csv');
    const cookie = () => [...office.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const started = await fetch(`${hub.httpUrl}/imports`, { method: 'POST', body, headers: { cookie: cookie(), accept: 'application/json', 'x-csrf-token': office.csrfToken } });
    expect(started.status).toBe(202);
    const { job } = (await started.json()) as { job: { id: string } };
    await eventually(async () => ((await (await office.get(`/api/imports/${job.id}`, 'json')).json()) as { job: { state: string } }).job.state === 'done', 10_000, 'the import to finish');
    // The audit trail has how it ended, under the account.
    await eventually(async () => (await hub!.db.all("SELECT 1 FROM audit_log WHERE action = 'web.import-finished' AND actor = 'account:office1'")).length === 1, 5_000, 'the import-finished audit record');
    // As if the hub had stopped in the middle of another import.
    await hub.db.run("INSERT INTO web_imports (id, kind, file_name, dry_run, account, started_at, state, progress) VALUES ('halfway', 'people', 'pupils.csv', 0, 'office1', ?, 'running', '{\"done\":40,\"total\":900}')", [new Date().toISOString()]);
    await hub.stop();

    hub = await startOn(target);
    const again = new WebClient(hub.httpUrl);
    expect((await again.signIn('office1', (office as WebClient & { password: string }).password)).status).toBe(200);
    const report = await again.page(`/imports/${job.id}`);
    expect(report.status).toBe(200);
    expect(report.html).toMatch(/<tr class="row-refused"><td>3<\/td><td>[^<]*encrypt/i);
    expect(report.html).toContain('2 rows, 1 added, 0 updated; 1 row refused.');
    const list = await again.page('/imports');
    expect(list.html).toContain(`href="/imports/${job.id}">sticks.csv</a>`);
    const stopped = await again.page('/imports/halfway');
    expect(stopped.html).toContain(`The file was not imported: ${STOPPED_MESSAGE}`);
  }, 60_000);
});
