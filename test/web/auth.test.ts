// Accounts and sign-in rules (P14, P15): the password rule and hash, sessions in HTTP-only
// SameSite cookies, CSRF on every state-changing request, rate-limited and locked-out sign-in,
// 403 for a role that may not, and every sign-in and view in the audit trail.
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUsername, LOCK_MINUTES, MAX_FAILED_SIGN_INS } from '../../hub/src/accounts/accounts';
import { generatePassword, hashPassword, passwordProblems, verifyPassword } from '../../hub/src/accounts/password';
import { startHub, type HubHarness } from '../support/hub-harness';
import { openTestDatabase, testDatabaseTarget } from '../support/test-database';
import { EventEmitter } from 'node:events';
import { Accounts } from '../../hub/src/accounts/accounts';
import { createLogger } from '../../hub/src/log';
import { createRecords } from '../../hub/src/records';
import { buildWebServer } from '../../hub/src/web/server';
import { WebClient } from './client';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

describe('the password rule (P15) and its hash', () => {
  it('needs at least 10 characters, a number and a capital letter', () => {
    expect(passwordProblems('Lockers2026')).toEqual([]);
    expect(passwordProblems('Short1A')).toEqual(['it must be at least 10 characters long (it has 7)']);
    expect(passwordProblems('nocapitals123')).toEqual(['it must contain a capital letter']);
    expect(passwordProblems('NoNumbersHere')).toEqual(['it must contain a number']);
    expect(passwordProblems('')).toHaveLength(3);
    expect(passwordProblems('Ünïcode-caps-9')).toEqual([]);
    for (let i = 0; i < 20; i++) expect(passwordProblems(generatePassword())).toEqual([]);
  });

  it('stores a salted scrypt hash with strong parameters, and verifies only the right password', async () => {
    const stored = await hashPassword('Lockers2026');
    expect(stored).toMatch(/^scrypt\$131072\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(stored).not.toContain('Lockers2026');
    expect(await hashPassword('Lockers2026')).not.toBe(stored); // a new salt each time
    expect(await verifyPassword('Lockers2026', stored)).toBe(true);
    expect(await verifyPassword('lockers2026', stored)).toBe(false);
    expect(await verifyPassword('Lockers2026', 'plain-text')).toBe(false);
  });

  it('accepts only tidy usernames', () => {
    expect(checkUsername(' JSmith ')).toBe('jsmith');
    expect(() => checkUsername('j')).toThrow(/2 to 40/);
    expect(() => checkUsername('bad name')).toThrow(/2 to 40/);
  });
});

describe('signing in and out of the office page', () => {
  let harness: HubHarness;
  beforeAll(async () => {
    harness = await startHub({ demo: false });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it('ships no account: only the one this test made exists', async () => {
    const accounts = await harness.hub.accounts.list();
    expect(accounts.map((account) => account.created_by)).toEqual(['test harness']);
    const fresh = new WebClient(harness.hub.httpUrl);
    for (const guess of ['admin', 'demo', 'handover']) {
      await fresh.startSession();
      expect((await fresh.signIn(guess, 'Password123')).status).toBe(401);
    }
  });

  it('sends a signed-out visitor to the sign-in page, and answers the API with 401', async () => {
    const visitor = new WebClient(harness.hub.httpUrl);
    const page = await visitor.get('/lockers', 'html');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login?next=%2Flockers');
    const api = await visitor.get('/api/lockers', 'json');
    expect(api.status).toBe(401);
    expect(await api.json()).toEqual({ error: 'Please sign in to use the office page.' });
    const login = await visitor.page('/login');
    expect(login.status).toBe(200);
    expect(login.html).toContain('<label for="username">Username</label>');
    expect(login.html).toContain('<label for="password">Password</label>');
  });

  it('signs in with the form into an HTTP-only SameSite session cookie, and out again', async () => {
    const client = await WebClient.as(harness.hub, 'office');
    const browser = new WebClient(harness.hub.httpUrl);
    const form = await browser.get('/login?next=/loans', 'html');
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
    const response = await browser.send('POST', '/login', { form: { _csrf: token, username: client.username, password: client.password, next: '/loans' }, accept: 'html', noCsrf: true });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/loans');
    const cookie = browser.lastSetCookie.find((header) => header.startsWith('handover_session='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=(Lax|Strict)/i);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP here; Secure is set when served over HTTPS

    const lockers = await browser.page('/lockers');
    expect(lockers.status).toBe(200);
    expect(lockers.html).toContain(`Signed in as <strong>${client.username}</strong>`);

    // The session id changes at sign-in (no fixation): the pre-sign-in cookie is not the session.
    const out = await browser.send('POST', '/logout', { form: { _csrf: browser.csrfToken }, accept: 'html', noCsrf: true });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login');
    expect((await browser.get('/api/lockers', 'json')).status).toBe(401);
  });

  it('refuses a wrong password with a readable message and locks the account after five in a row', async () => {
    const client = await WebClient.as(harness.hub, 'ict');
    const attacker = new WebClient(harness.hub.httpUrl);
    const first = await attacker.signIn(client.username, 'Wrong-password-1');
    expect(first.status).toBe(401);
    expect(await first.json()).toEqual({ error: 'Wrong username or password.' });
    for (let attempt = 2; attempt < MAX_FAILED_SIGN_INS; attempt++) expect((await attacker.signIn(client.username, `Wrong-password-${attempt}`)).status).toBe(401);
    const locking = await attacker.signIn(client.username, 'Wrong-password-5');
    expect(locking.status).toBe(429);
    expect((await locking.json()).error).toBe(`Too many wrong passwords: this account is locked for ${LOCK_MINUTES} minutes.`);
    // Even the right password is refused while it is locked.
    const right = await new WebClient(harness.hub.httpUrl).signIn(client.username, client.password);
    expect(right.status).toBe(429);

    const failures = await harness.hub.records.audit.forSubject(`account:${client.username}`);
    expect(failures.filter((record) => record.action === 'account.sign-in-failed')).toHaveLength(MAX_FAILED_SIGN_INS + 1);
    for (const record of failures) expect(record.details).not.toContain('Wrong-password');
  });

  it('refuses every state-changing request without the session’s CSRF token', async () => {
    const client = await WebClient.as(harness.hub, 'headteacher');
    const other = await WebClient.as(harness.hub, 'headteacher');

    const missing = await client.send('POST', '/api/demo/tap', { json: { uid: '04a1b2c3' }, noCsrf: true });
    expect(missing.status).toBe(403);
    expect((await missing.json()).error).toMatch(/form has expired or did not come from the office page/);

    const foreign = await client.send('POST', '/api/demo/tap', { json: { uid: '04a1b2c3' }, headers: { 'x-csrf-token': other.csrfToken }, noCsrf: true });
    expect(foreign.status).toBe(403);

    // With its own token the request gets through to the route (no simulated station here: 404).
    const own = await client.send('POST', '/api/demo/tap', { json: { uid: '04a1b2c3' } });
    expect(own.status).toBe(404);

    const logout = await client.send('POST', '/logout', { accept: 'html', noCsrf: true });
    expect(logout.status).toBe(403);
    expect(await logout.text()).toContain('Form expired');

    const signInWithoutToken = await new WebClient(harness.hub.httpUrl).send('POST', '/login', { form: { username: client.username, password: client.password }, accept: 'html' });
    expect(signInWithoutToken.status).toBe(403);
  });

  it('answers 403, with the roles that may, when a role may not see a page', async () => {
    const dsl = await WebClient.as(harness.hub, 'dsl');
    const page = await dsl.page('/charges');
    expect(page.status).toBe(403);
    expect(page.html).toContain('Not for your role');
    expect(page.html).toContain('Your role (Designated safeguarding lead) may not see the charges ledger. Only these roles may: office, ICT lead, headteacher, deputy head or read-only.');
    expect(page.html).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    // The navigation still lists it: the answer is a 403, not a hidden link.
    expect(page.html).toContain('<a href="/charges">Charges</a>');
    const all = await harness.hub.db.all<{ actor: string; action: string; details: string }>("SELECT actor, action, details FROM audit_log WHERE action = 'web.refused'");
    expect(all.some((record) => record.actor === `account:${dsl.username}` && record.details.includes('charges.view'))).toBe(true);
  });

  it('writes each page view to the audit trail under the account', async () => {
    const office = await WebClient.as(harness.hub, 'office');
    await office.page('/lockers');
    const views = await harness.hub.db.all<{ actor: string; details: string }>("SELECT actor, details FROM audit_log WHERE action = 'web.viewed'");
    expect(views.some((record) => record.actor === `account:${office.username}` && record.details.includes('/lockers'))).toBe(true);
    const signIns = await harness.hub.records.audit.forSubject(`account:${office.username}`);
    expect(signIns.map((record) => record.action)).toEqual(['account.created', 'account.signed-in']);
  });

  it('ends every session of an account that is disabled or given a new password', async () => {
    const office = await WebClient.as(harness.hub, 'office');
    expect((await office.get('/api/lockers', 'json')).status).toBe(200);
    await harness.hub.accounts.setPassword(office.username, 'Another-pass-42', 'test');
    expect((await office.get('/api/lockers', 'json')).status).toBe(401);
    await office.startSession(); // as the sign-in page does
    expect((await office.signIn(office.username, 'Another-pass-42')).status).toBe(200);
    await harness.hub.accounts.setDisabled(office.username, true, 'test');
    expect((await office.get('/api/lockers', 'json')).status).toBe(401);
    const again = await new WebClient(harness.hub.httpUrl).signIn(office.username, 'Another-pass-42');
    expect(again.status).toBe(403);
  });
});

describe('the session cookie over HTTPS', () => {
  it('is Secure, HTTP-only and SameSite=Strict when the request came over HTTPS (through a trusted proxy)', async () => {
    const database = await openTestDatabase();
    const records = createRecords(database.db);
    const accounts = new Accounts(database.db, records.audit);
    await accounts.prepare();
    await accounts.add({ username: 'head', role: 'headteacher', password: 'Lockers2026' }, 'test');
    const app = await buildWebServer({ records, accounts, ingest: new EventEmitter() as never, link: null, demo: null, settings: { dayCutoff: '16:00', lostPropertyDays: 91 }, log: createLogger('web', () => {}), trustProxy: true });
    try {
      const https = { 'x-forwarded-proto': 'https' };
      const session = await app.inject({ method: 'GET', url: '/api/session', headers: https });
      // No session before sign-in: the sign-in form's token comes with a cookie of its own.
      expect(session.cookies.find((cookie) => cookie.name === 'handover_session')).toBeUndefined();
      const first = session.cookies.find((cookie) => cookie.name === 'handover_sign_in')!;
      expect(first).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict' });
      const login = await app.inject({
        method: 'POST',
        url: '/api/login',
        headers: { ...https, cookie: `handover_sign_in=${first.value}`, 'x-csrf-token': session.json().csrfToken },
        payload: { username: 'head', password: 'Lockers2026' },
      });
      expect(login.statusCode).toBe(200);
      const header = ([] as string[]).concat(login.headers['set-cookie'] as string | string[]).find((cookie) => cookie.startsWith('handover_session='))!;
      expect(header).toMatch(/; Secure/);
      expect(header).toMatch(/; HttpOnly/);
      expect(header).toMatch(/; SameSite=Strict/);
    } finally {
      await app.close();
      await database.close();
    }
  });
});

describe('sign-in rate limit', () => {
  let harness: HubHarness;
  beforeAll(async () => {
    harness = await startHub({ demo: false });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  // Every attempt runs scrypt at the production cost (an unknown name too, so timing names no one):
  // about 1.5 s each on a loaded 2-core machine. The limit is a hang guard, not a speed goal.
  it('allows 10 attempts per username and 30 in all from one address in five minutes, then answers 429', async () => {
    const guesser = new WebClient(harness.hub.httpUrl);
    await guesser.startSession();
    const sameName: number[] = [];
    for (let attempt = 0; attempt < 11; attempt++) sameName.push((await guesser.signIn('nobody', `Guess-pass-${attempt}`)).status);
    expect(sameName).toEqual([...Array(10).fill(401), 429]);
    const limited = await guesser.signIn('nobody', 'Guess-pass-1');
    expect((await limited.json()).error).toMatch(/^Too many sign-in attempts from this computer\. Wait 5 minutes and try again\.$/);

    // Spraying other names from the same address: 30 attempts in all (the harness signed in once,
    // the 12 above were counted), then refused whatever the name.
    const spray: number[] = [];
    for (let attempt = 0; attempt < 18; attempt++) spray.push((await guesser.signIn(`someone${attempt}`, 'Guess-pass-1')).status);
    expect(spray).toEqual([...Array(17).fill(401), 429]);
  }, 180_000);
});

describe('handover account (command line)', () => {
  it('makes the first account from HANDOVER_PASSWORD, refuses a weak one in one line, and lists them', async () => {
    const target = await testDatabaseTarget();
    const env = { ...process.env, HANDOVER_DATA_DIR: target.dataDir, ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}) };
    const cli = (args: string[], password?: string) =>
      run(process.execPath, [path.join(ROOT, 'bin/handover.mjs'), ...args], { env: { ...env, ...(password === undefined ? {} : { HANDOVER_PASSWORD: password }) }, cwd: ROOT }).then(
        (result) => ({ code: 0, ...result }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
      );
    try {
      const weak = await cli(['account', 'add', 'head', '--role', 'headteacher'], 'password');
      expect(weak.code).toBe(1);
      expect(weak.stderr.trim()).toBe('handover: password not accepted: it must be at least 10 characters long (it has 8); it must contain a number; it must contain a capital letter (P15)');
      const badRole = await cli(['account', 'add', 'head', '--role', 'admin'], 'Lockers2026');
      expect(badRole.code).toBe(1);
      expect(badRole.stderr).toContain('choose one of office, ict, headteacher, dsl, read-only');
      const made = await cli(['account', 'add', 'Head', '--role', 'headteacher'], 'Lockers2026');
      expect(made.code).toBe(0);
      expect(made.stdout).toContain('account head made (Headteacher)');
      const twice = await cli(['account', 'add', 'head', '--role', 'office'], 'Lockers2026');
      expect(twice.code).toBe(1);
      expect(twice.stderr.trim()).toBe('handover: there is already an account head');
      // Linking to a member of staff needs one the records know (none are imported here).
      const link = await cli(['account', 'link', 'head', '--person', 'S-NOBODY']);
      expect(link.code).toBe(1);
      expect(link.stderr).toMatch(/^handover: .*S-NOBODY/m);
      const linkWithout = await cli(['account', 'link', 'head']);
      expect(linkWithout.code).toBe(1);
      expect(linkWithout.stderr).toContain('account link needs --person');
      const list = await cli(['account', 'list']);
      expect(list.stdout).toMatch(/^head\tHeadteacher\tnever signed in$/m);
      // Piped: the first line of standard input is the password.
      const pipedEnv: NodeJS.ProcessEnv = { ...env };
      delete pipedEnv.HANDOVER_PASSWORD;
      const piped = spawnSync(process.execPath, [path.join(ROOT, 'bin/handover.mjs'), 'account', 'password', 'head'], { env: pipedEnv, cwd: ROOT, input: 'Changed-2026\nignored\n', encoding: 'utf8' });
      expect(piped.status).toBe(0);
      expect(piped.stdout).toContain('password of head changed');
    } finally {
      await target.drop();
    }
  }, 180_000);
});
