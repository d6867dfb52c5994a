// Data at rest (issue 15): the data directory and the database file are the hub user's only;
// a purge leaves no personal text in the SQLite file; no session is stored for an anonymous
// visit; a failed sign-in keeps no text of an unknown username (often a password typed in the
// wrong box).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, sqliteFile } from '../../../hub/src/db/open';
import { startHub, type HubHarness } from '../../support/hub-harness';
import { testDatabaseTarget, USING_POSTGRES } from '../../support/test-database';
import { commandLine } from '../support/cli';
import { EVENT, openSchool } from '../support/school';
import { WebClient } from '../../web/client';

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('the data directory and the database file', () => {
  it.skipIf(USING_POSTGRES)('are made 0700 and 0600, and narrowed when they were made wider', async () => {
    const target = await testDatabaseTarget();
    try {
      const dataDir = path.join(target.dataDir, 'data');
      fs.mkdirSync(dataDir, { mode: 0o755 });
      fs.chmodSync(dataDir, 0o755);
      const { db } = await openDatabase({ dataDir, databaseUrl: null });
      await db.run("INSERT INTO hub_secrets (name, value) VALUES ('x', 'y')");
      expect(mode(dataDir)).toBe(0o700);
      expect(mode(sqliteFile({ dataDir }))).toBe(0o600);
      expect(mode(`${sqliteFile({ dataDir })}-wal`)).toBe(0o600);
      await db.close();
      fs.chmodSync(sqliteFile({ dataDir }), 0o644);
      const again = await openDatabase({ dataDir, databaseUrl: null });
      expect(mode(sqliteFile({ dataDir }))).toBe(0o600);
      await again.db.close();
    } finally {
      await target.drop();
    }
  });
});

describe.skipIf(USING_POSTGRES)('purge (SQLite)', () => {
  it('leaves no trace of a purged pupils’ names or MIS ids anywhere in the file, and the trail still verifies', async () => {
    const school = await openSchool();
    const { records, test } = school;
    // A year group that left, among pupils who stay.
    const mis = 'MISQX77310';
    for (let i = 0; i < 12; i++) {
      const leaver = await records.people.add({ externalId: `${mis}${i}`, name: `Zebediah Quillfeather-Marchbanks ${i}`, role: 'pupil', form: '9Q' });
      await records.people.add({ externalId: `STAY${i}`, name: `Staying Pupil ${i}`, role: 'pupil', form: '8S' });
      await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 4, person: leaver }), '2023-03-02T08:40:00.000Z');
      await school.apply(school.frame('form-7a', EVENT.COLLECT, { locker: 4, person: leaver }), '2023-03-02T15:20:00.000Z');
      await test.db.run("UPDATE people SET left_on = '2023-07-20' WHERE id = ?", [leaver]);
    }
    // The e-mail the office was sent that day (as notify/outbox.ts records it) names one of them.
    await test.db.run(
      "INSERT INTO notifications (created_at, kind, dedupe, recipient, subject, body, state, attempts, sent_at) VALUES (?, 'uncollected-phones', 'uncollected-phones:2023-03-02:office@school.example', 'office@school.example', '1 phone not collected by 15:30', ?, 'sent', 1, ?)",
      ['2023-03-02T15:30:00.000Z', `- form-7a, locker 5: Zebediah Quillfeather-Marchbanks 0 (9Q), in since 08:40`, '2023-03-02T15:30:05.000Z'],
    );
    await test.db.close();
    const { handover } = commandLine(() => test.target);
    try {
      const purge = await handover('purge', '--by', 'S-office');
      expect(purge.code, purge.stderr).toBe(0);
      expect(purge.stdout).toMatch(/12 people pseudonymised/);
      const file = sqliteFile(test.target);
      for (const part of [file, `${file}-wal`, `${file}-journal`]) {
        if (!fs.existsSync(part)) continue;
        const bytes = fs.readFileSync(part);
        expect(bytes.includes(Buffer.from('Quillfeather')), `${path.basename(part)} still holds the name`).toBe(false);
        expect(bytes.includes(Buffer.from(mis)), `${path.basename(part)} still holds the MIS id`).toBe(false);
      }
      const verified = await handover('audit', 'verify');
      expect(verified.code, verified.stderr).toBe(0);
    } finally {
      await test.target.drop();
    }
  });
});

describe('the office page keeps nothing for an anonymous visitor', () => {
  let harness: HubHarness;
  beforeAll(async () => {
    harness = await startHub({ demo: false });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  const sessions = async () => Number((await harness.hub.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM web_sessions'))!.n);

  it('stores no session row for anonymous GETs of /login and /api/session, and one at sign-in', async () => {
    const before = await sessions();
    for (let i = 0; i < 5; i++) {
      const visitor = new WebClient(harness.hub.httpUrl);
      expect((await visitor.get('/login', 'html')).status).toBe(200);
      expect((await visitor.get('/api/session', 'json')).status).toBe(200);
    }
    expect(await sessions()).toBe(before);

    // The sign-in form still carries a CSRF token that works, and one without it is refused.
    const office = await WebClient.as(harness.hub, 'office');
    const browser = new WebClient(harness.hub.httpUrl);
    const form = await browser.get('/login', 'html');
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
    const refused = await browser.send('POST', '/login', { form: { _csrf: 'x'.repeat(token.length), username: office.username, password: office.password }, accept: 'html', noCsrf: true });
    expect(refused.status).toBe(403);
    const stranger = new WebClient(harness.hub.httpUrl);
    const forged = await stranger.send('POST', '/login', { form: { _csrf: token, username: office.username, password: office.password }, accept: 'html', noCsrf: true });
    expect(forged.status).toBe(403);
    expect(await sessions()).toBe(before + 1); // the office client's own
    const signedIn = await browser.send('POST', '/login', { form: { _csrf: token, username: office.username, password: office.password }, accept: 'html', noCsrf: true });
    expect(signedIn.status).toBe(303);
    expect(await sessions()).toBe(before + 2);
  });

  it('records a failed sign-in with an unknown name without the text typed', async () => {
    const typed = 'Tr0ub4dor-and-3';
    const visitor = new WebClient(harness.hub.httpUrl);
    expect((await visitor.signIn(typed, 'whatever-else-1A')).status).toBe(401);
    const rows = await harness.hub.db.all<{ actor: string; action: string; subject: string | null; details: string }>("SELECT actor, action, subject, details FROM audit_log WHERE action = 'account.sign-in-failed'");
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(JSON.stringify(row).toLowerCase()).not.toContain(typed.toLowerCase());
    expect(rows.at(-1)).toMatchObject({ actor: 'anonymous', subject: null });
    expect(JSON.parse(rows.at(-1)!.details)).toMatchObject({ reason: 'unknown account' });
    // A known account's failure still names the account.
    const ict = await WebClient.as(harness.hub, 'ict');
    expect((await new WebClient(harness.hub.httpUrl).signIn(ict.username, 'Wrong-password-9')).status).toBe(401);
    const last = await harness.hub.db.get<{ actor: string }>("SELECT actor FROM audit_log WHERE action = 'account.sign-in-failed' ORDER BY seq DESC LIMIT 1");
    expect(last!.actor).toBe(`account:${ict.username}`);
  });
});
