// Schools as tenants (issue 16) in the e-mails: a trust of two schools, each with its office,
// headteacher and ICT (with addresses), a phone left past the cut-off, a laptop due its health
// check and a stick reported lost. A real hub sends through a real SMTP server started here, and
// each school's staff must get their own school's only: an e-mail is a door like any page.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../../protocol/wire';
import { createRecords } from '../../../hub/src/records';
import { SYSTEM } from '../../../hub/src/records/access';
import { eventually, startHub, type HubHarness } from '../../support/hub-harness';
import { USING_POSTGRES } from '../../support/test-database';

interface Arrived {
  to: string;
  text: string;
}

const MARKS = { a: /Alice Ashdown|form-a|LAP-A1|STK-A1/, b: /Bertie Bramble|form-b|LAP-B1|STK-B1/ };

describe(`e-mails kept to each school (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 120_000 }, () => {
  const arrived: Arrived[] = [];
  let smtp: SMTPServer;
  let harness: HubHarness;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const text = Buffer.concat(chunks).toString('latin1').replace(/=\r\n/g, '');
          for (const to of session.envelope.rcptTo) arrived.push({ to: to.address, text });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    harness = await startHub({
      demo: false,
      settings: { smtpHost: '127.0.0.1', smtpPort: port, smtpTls: 'none', smtpFrom: 'Handover <handover@trust.test>', smtpRetrySeconds: 1, dayCutoff: '00:00' },
      before: async (db, settings) => {
        const records = createRecords(db, settings);
        await records.schools.add('north', 'North Primary', 'test');
        const person = (externalId: string, name: string, role: string, school: string, email: string | null) =>
          db.insert('INSERT INTO people (external_id, name, kind, role, email, school) VALUES (?, ?, ?, ?, ?, ?)', [externalId, name, role === 'pupil' ? 'pupil' : 'staff', role, email, school]);
        const ids: Record<string, number> = {};
        for (const [school, x, site] of [['', 'a', settings.site], ['north', 'b', 'north']] as const) {
          for (const role of ['office', 'headteacher', 'ict'] as const) ids[`${role}-${x}`] = await person(`S-${x}-${role}`, `${role} ${x}`, role, school, `${role}@${x}.test`);
          ids[`borrower-${x}`] = await person(`S-${x}-T`, `Teacher ${x}`, 'staff', school, null);
          ids[`pupil-${x}`] = await person(`P-${x}`, x === 'a' ? 'Alice Ashdown' : 'Bertie Bramble', 'pupil', school, null);
          await records.stations.add(site, `form-${x}`, 8);
          const upper = x.toUpperCase();
          await records.assets.upsert({ tag: `LAP-${upper}1`, classId: 'laptop', homeStation: `form-${x}`, homeLocker: 6, healthCheckDays: 30, lastHealthCheck: daysAgo(200), school }, SYSTEM);
          await records.assets.upsert({ tag: `STK-${upper}1`, classId: 'usb-stick', encryption: 'AES-256 hardware', homeStation: `form-${x}`, homeLocker: 7, school }, SYSTEM);
          await records.custody.applyEvent({ station: `form-${x}`, boot: 1, seq: 1, uptimeMs: 1000, type: EVENT.DEPOSIT, locker: 0, person: ids[`pupil-${x}`] }, daysAgo(2));
          await records.custody.applyEvent({ station: `form-${x}`, boot: 1, seq: 2, uptimeMs: 2000, type: EVENT.LOAN, locker: 7, person: ids[`borrower-${x}`], actor: ids[`borrower-${x}`] }, daysAgo(1));
          await records.loans.reportLost(`STK-${upper}1`, { personId: ids[`office-${x}`], role: 'office' });
        }
      },
    });
  }, 120_000);
  afterAll(async () => {
    await harness?.stop();
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  });

  it("sends each school's office, headteacher and ICT their own school's phones, losses and health checks only", async () => {
    const roles = ['office', 'headteacher', 'ict'];
    const addresses = roles.flatMap((role) => [`${role}@a.test`, `${role}@b.test`]);
    await eventually(() => addresses.every((address) => arrived.some((mail) => mail.to === address)), 30_000, 'a mail to every member of staff');
    for (const mail of arrived) {
      const own = mail.to.endsWith('@a.test') ? 'a' : 'b';
      const other = own === 'a' ? 'b' : 'a';
      expect(mail.text, `a mail to ${mail.to}`).toMatch(MARKS[own]);
      expect(mail.text, `a mail to ${mail.to}`).not.toMatch(MARKS[other]);
    }
  });
});
