// The rest of `handover`'s record-keeping commands, each run as a child process against a real
// database (a SQLite file, or PostgreSQL when DATABASE_URL is set): lost property and disposal,
// loss, theft, damage, found and corrections with their evidence, leavers, medical exemptions,
// asset classes and price list, the holds report's safeguarding restriction, progress on a large
// import, and the audit record every report leaves. Station events go in through the same call
// the ingest makes (test/hub/ingest.test.ts covers the broker side).
import os from 'node:os';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../../protocol/wire';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import type { EventFrame } from '../../../hub/src/protocol/frames';
import { createRecords, type Records } from '../../../hub/src/records';
import { addDays, nextCutoff, termOf } from '../../../hub/src/records/time';
import { commandLine } from '../support/cli';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget;
let db: SqlDatabase;
let records: Records;
const seqs = new Map<string, number>();

const { handover, file } = commandLine(() => target);

/** A station event, applied as the ingest applies one, received at `at`. */
async function station(stationId: string, type: number, fields: Partial<EventFrame>, at: string): Promise<void> {
  const seq = (seqs.get(stationId) ?? 0) + 1;
  seqs.set(stationId, seq);
  await records.custody.applyEvent({ station: stationId, boot: 1, seq, uptimeMs: seq * 1000, type, ...fields }, at);
}

async function personId(ref: string): Promise<number> {
  return Number((await records.people.resolve(ref)).id);
}

beforeAll(async () => {
  target = await testDatabaseTarget();
  ({ db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl }));
  records = createRecords(db);
  const people = file(
    'people.csv',
    [
      'Staff ID,Forename,Surname,Staff Code,Role,Reg Group,Year Group,Card UID',
      'P1,Amira,Khan,,Pupil,7A,Year 7,04a1b2c3',
      'P2,Ben,Oduya,,Pupil,7A,Year 7,04a1b2c4',
      'P3,Chloe,Martin,,Pupil,7A,Year 7,04a1b2c5',
      'T1,Olu,Office,OOF,Office,,,04ee0001',
      'T2,Helen,Head,HHE,Headteacher,,,04ee0002',
      'T3,Terry,Teach,TTE,Teacher,,,04ee0003',
      'T4,Dina,Safe,DSA,DSL,,,04ee0004',
      'T5,Ian,Tech,ITE,ICT,,,04ee0005',
    ].join('\n'),
  );
  const imported = await handover('import', 'people', people);
  if (imported.code !== 0) throw new Error(`seed import failed: ${imported.stdout}${imported.stderr}`);
  for (const [id, lockers] of [['form-7a', '8'], ['loans-1', '4']]) {
    const run = await handover('station', 'add', id, '--lockers', lockers);
    if (run.code !== 0) throw new Error(`station add ${id} failed: ${run.stderr}`);
  }
  const assets = file('assets.csv', ['Asset Tag,Serial,Category,Encryption,Station,Locker,Tag UID,Last Health Check', 'USB-001,K1,USB Stick,AES-256,loans-1,1,04bb0001,', 'USB-002,K2,USB Stick,AES-256,loans-1,2,04bb0002,', 'LAP-001,L1,Laptop,BitLocker,loans-1,3,04bb0003,2026-01-05'].join('\n'));
  const run = await handover('import', 'assets', assets);
  if (run.code !== 0) throw new Error(`seed asset import failed: ${run.stdout}${run.stderr}`);
});

afterAll(async () => {
  await db?.close();
  await target?.drop();
});

describe(`handover's record commands (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 180_000 }, () => {
  it('marks a phone left in uncollected from the first cut-off after its deposit, lists it for disposal after the term, and records the disposal', async () => {
    const amira = await personId('P1');
    const deposited = new Date();
    deposited.setDate(deposited.getDate() - 100);
    deposited.setHours(8, 45, 0, 0);
    await station('form-7a', EVENT.DEPOSIT, { locker: 0, person: amira }, deposited.toISOString());
    await station('form-7a', EVENT.DEPOSIT, { locker: 1, person: await personId('P2') }, new Date().toISOString());

    const swept = await handover('uncollected');
    expect(swept).toMatchObject({ code: 0, stdout: '1 phone marked uncollected\n' });
    const uncollectedAt = nextCutoff(deposited, '16:00').toISOString();
    const listed = await handover('report', 'uncollected', '--csv', '-');
    expect(listed.stdout.split('\r\n')[0]).toBe('\uFEFFcustody,pupil,form,locker,deposited,uncollected,disposal due');
    expect(listed.stdout).toContain(`Amira Khan,7A,locker 1 at form-7a,${deposited.toISOString()},${uncollectedAt},${addDays(uncollectedAt, 91)}`);
    expect(listed.stdout).not.toContain('Ben Oduya');

    const due = await handover('report', 'disposal');
    expect(due.stdout).toMatch(/^lost property due for disposal \(1 row\)/);
    const custody = /\n(\d+)\s+Amira Khan/.exec(due.stdout)![1];
    const noNote = await handover('dispose', custody, '--by', 'OOF');
    expect(noNote.code).toBe(1);
    expect(noNote.stderr.trim()).toMatch(/^handover: record how the phone was disposed of/);
    const byPupil = await handover('dispose', custody, '--note', 'returned to parent', '--by', 'P3');
    expect(byPupil.code).toBe(1);
    expect(byPupil.stderr.trim()).toBe('handover: P3 is a pupil, not a member of staff');
    const disposed = await handover('dispose', custody, '--note', 'returned to parent', '--by', 'OOF');
    expect(disposed).toMatchObject({ code: 0, stdout: `phone ${custody} recorded as disposed of\n` });
    expect((await handover('report', 'disposal')).stdout).toMatch(/\(0 rows\)/);
    const row = await db.get<{ disposed_by: number; disposal_note: string }>('SELECT disposed_by, disposal_note FROM phone_custody WHERE id = ?', [Number(custody)]);
    expect({ by: Number(row!.disposed_by), note: row!.disposal_note }).toEqual({ by: await personId('OOF'), note: 'returned to parent' });
    expect((await records.audit.forSubject(`custody:${custody}`)).map((r) => r.action)).toEqual(['phone.uncollected', 'phone.disposed']);
  });

  it('reports theft with a crime number, damage from the price list, a found item and a reversal, each with its evidence', async () => {
    const terry = await personId('TTE');
    await station('loans-1', EVENT.LOAN, { locker: 0, person: terry, actor: terry }, '2026-03-02T09:00:00.000Z');
    await station('loans-1', EVENT.LOAN, { locker: 1, person: terry, actor: terry }, '2026-03-02T09:01:00.000Z');

    const stolen = await handover('charge', 'stolen', 'USB-001', '--crime-number', 'CR/123/26', '--by', 'OOF');
    expect(stolen).toMatchObject({ code: 0 });
    expect(stolen.stdout).toMatch(/reported stolen \(crime number CR\/123\/26\); nothing charged/);
    const found = await handover('charge', 'found', 'USB-001', '--by', 'OOF');
    expect(found.stdout.trim()).toBe('USB-001 found; no charge to reverse');

    const price = await handover('price', 'set', 'usb-stick', 'cap', '2.50', '--by', 'ITE');
    expect(price.stdout.trim()).toBe('usb-stick cap: £2.50');
    const damage = await handover('charge', 'damage', 'USB-002', 'cap', '--by', 'OOF');
    expect(damage.code).toBe(0);
    const damageId = /^charge (\d+): £2\.50 for cap/.exec(damage.stdout)![1];
    const noItem = await handover('charge', 'damage', 'USB-002', 'screen', '--by', 'OOF');
    expect(noItem.stderr.trim()).toBe('handover: no price for "screen" in the usb-stick price list (it has: cap, damaged)');

    const lost = await handover('charge', 'lost', 'USB-002', '--by', 'OOF');
    const lostId = /charge (\d+): £10\.00/.exec(lost.stdout)![1];
    const evidence = JSON.parse((await handover('charge', 'evidence', lostId)).stdout);
    expect(evidence.charge).toMatchObject({ entry: 'charge', reason: 'replacement of lost USB-002 (encrypted USB stick)' });
    expect(evidence.loan).toMatchObject({ outcome: 'lost', station_id: 'loans-1', locker: 1 });
    expect(evidence.stationEvents.map((e: { type: number }) => Number(e.type))).toContain(EVENT.LOAN);
    expect(evidence.auditRecords.map((r: { action: string }) => r.action)).toEqual(expect.arrayContaining(['loan.opened', 'loan.reported-lost', 'charge.raised']));
    expect((await records.audit.forSubject(`charge:${lostId}`)).at(-1)).toMatchObject({ action: 'charge.evidence-read', actor: expect.stringMatching(/^os-user:/), person_id: terry });

    const back = await handover('charge', 'found', 'USB-002', '--by', 'OOF');
    expect(back.stdout).toMatch(/^USB-002 found; reversal entry \d+/);
    const reversed = await handover('charge', 'reverse', damageId, '--reason', 'cap was missing when lent', '--by', 'HHE');
    expect(reversed.stdout).toMatch(new RegExp(`^reversal \\d+ recorded against charge ${damageId}`));
    const again = await handover('charge', 'reverse', damageId, '--reason', 'twice', '--by', 'HHE');
    expect(again.stderr.trim()).toBe(`handover: charge ${damageId} has nothing outstanding to reverse`);

    const ledger = await handover('charge', 'list', '--person', 'TTE');
    expect(ledger.stdout).toMatch(/reversal\s+-£10\.00\s+USB-002 was found/);
    expect(ledger.stdout).toMatch(/reversal\s+-£2\.50\s+cap was missing when lent/);
    const term = termOf(new Date().toISOString());
    const byTerm = await handover('report', 'charges', '--person', 'TTE', '--term', term, '--csv', '-');
    expect(byTerm.stdout).toBe(`\uFEFFperson,id,term,charged,corrected,balance,entries\r\nTerry Teach,T3,${term},£12.50,-£12.50,£0.00,4\r\n`);
    expect(await records.ledger.balance(terry)).toBe(0);
  });

  it('takes a leaver through their loans: the laptop must come back, a stick may be retained with a declaration', async () => {
    const terry = await personId('TTE');
    await station('loans-1', EVENT.LOAN, { locker: 0, person: terry, actor: terry }, '2026-03-05T09:00:00.000Z');
    await station('loans-1', EVENT.LOAN, { locker: 2, person: terry, actor: terry }, '2026-03-05T09:01:00.000Z');
    const list = await handover('leaver', 'TTE');
    expect(list.stdout).toContain('Terry Teach: USB-001 (Encrypted USB stick) lent 2026-03-05: return it, or retain it with --retain TAG --declaration TEXT');
    expect(list.stdout).toContain('Terry Teach: LAP-001 (Laptop) lent 2026-03-05: must be returned');
    expect((await records.audit.forPerson(terry)).at(-1)).toMatchObject({ action: 'person.read', actor: expect.stringMatching(/^os-user:/), subject: `person:${terry}` });
    const blocked = await handover('leaver', 'TTE', '--complete', '--left-on', '2026-07-20', '--by', 'OOF');
    expect(blocked.code).toBe(1);
    expect(blocked.stderr.trim()).toBe('handover: cannot complete the leaver: USB-001 (stick: return it or record a declaration), LAP-001 (laptop: must be returned)');
    const laptop = await handover('leaver', 'TTE', '--retain', 'LAP-001', '--declaration', 'I have deleted all school data', '--by', 'OOF');
    expect(laptop.stderr.trim()).toBe('handover: LAP-001 is a Laptop: it must be returned, it cannot be retained');
    const stick = await handover('leaver', 'TTE', '--retain', 'USB-001', '--declaration', 'I declare all school information on this stick has been deleted', '--by', 'OOF');
    expect(stick.stdout.split('\n')).toEqual(['USB-001 retained by Terry Teach with a declaration; written off without charge', 'Terry Teach: LAP-001 (Laptop) lent 2026-03-05: must be returned', '']);
    expect((await handover('report', 'leavers')).stdout).toMatch(/\(0 rows\)/);
    await station('loans-1', EVENT.RETURN, { locker: 2, person: terry, actor: terry }, '2026-03-10T09:00:00.000Z');
    const done = await handover('leaver', 'TTE', '--complete', '--left-on', '2026-07-20', '--by', 'OOF');
    expect(done.stdout.trim()).toBe('Terry Teach has left (2026-07-20); badges revoked');
    expect((await records.assets.byTag('USB-001')).status).toBe('written-off');
    expect(await records.ledger.balance(terry)).toBe(0);
    // The leaver can no longer act for the school.
    expect((await handover('charge', 'lost', 'USB-002', '--by', 'TTE')).stderr.trim()).toBe('handover: TTE has left (2026-07-20)');
  });

  it('records a medical exemption with its risk assessment and review date, and ends it', async () => {
    const review = `${new Date().getFullYear() + 1}-09-01`;
    const noRole = await handover('exemption', 'grant', 'P3', '--reference', 'RA-7', '--review', review, '--by', 'ITE');
    expect(noRole.stderr.trim()).toBe('handover: granting a medical exemption needs the office, headteacher, deputy head or designated safeguarding lead role; the acting account is ict');
    const granted = await handover('exemption', 'grant', 'P3', '--reference', 'RA-7', '--review', review, '--by', 'OOF');
    expect(granted.stdout.trim()).toBe(`medical exemption recorded for Chloe Martin (review ${review}); online stations get it within seconds (the hub sends the new badge list)`);
    expect((await handover('report', 'exemptions', '--all', '--csv', '-')).stdout).toContain(`\r\nChloe Martin,RA-7,${review},`);
    const ended = await handover('exemption', 'end', 'P3', '--by', 'OOF');
    expect(ended.stdout.trim()).toBe('medical exemption ended for Chloe Martin');
    expect((await records.people.resolve('P3')).medical_exempt).toBe(0);
  });

  it('lists and changes asset classes: the replacement price a lost stick is charged', async () => {
    const before = await handover('class', 'list');
    expect(before.stdout).toMatch(/usb-stick\s+Encrypted USB stick\s+required\s+£10\.00/);
    const set = await handover('class', 'set', 'usb-stick', '--replacement', '12', '--by', 'HHE');
    expect(set.stdout.trim()).toBe('asset class usb-stick updated');
    const bad = await handover('class', 'set', 'usb-stick', '--loan-days', 'soon', '--by', 'HHE');
    expect(bad.stderr.split('\n')[0]).toBe('handover: --loan-days must be a whole number of days');
    expect((await handover('class', 'list')).stdout).toMatch(/usb-stick\s+Encrypted USB stick\s+required\s+£12\.00/);
    const ian = await personId('ITE');
    await station('loans-1', EVENT.LOAN, { locker: 1, person: ian, actor: ian }, '2026-03-11T09:00:00.000Z');
    expect((await handover('charge', 'lost', 'USB-002', '--by', 'OOF')).stdout).toMatch(/: £12\.00$/m);
  });

  it('shows a safeguarding hold\'s pupil only to the DSL and headteacher, and logs every report read', async () => {
    const ben = await personId('P2');
    await station('form-7a', EVENT.HOLD_SET, { locker: 1, person: ben, actor: await personId('DSA') }, new Date().toISOString());
    const office = await handover('report', 'holds', '--by', 'OOF');
    expect(office.stdout).toMatch(/Safeguarding hold\s+locker 2 at form-7a\s+\(restricted: DSL or headteacher\)/);
    expect(office.stdout).not.toContain('Ben Oduya');
    const dsl = await handover('report', 'holds', '--by', 'DSA');
    expect(dsl.stdout).toMatch(/Safeguarding hold\s+locker 2 at form-7a\s+Ben Oduya/);
    const holdings = await handover('report', 'holdings', '--by', 'OOF', '--csv', '-');
    expect(holdings.stdout).toContain('locker 2 at form-7a,phone,(restricted: DSL or headteacher),,,');
    const reads = (await db.all<{ actor: string; subject: string }>("SELECT actor, subject FROM audit_log WHERE action = 'report.read' ORDER BY seq")).slice(-3);
    expect(reads).toEqual([
      { actor: `person:${await personId('OOF')}`, subject: 'report:holds' },
      { actor: `person:${await personId('DSA')}`, subject: 'report:holds' },
      { actor: `person:${await personId('OOF')}`, subject: 'report:holdings' },
    ]);
    const unknown = await handover('report', 'everything');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.split('\n')[0]).toBe('handover: report needs one of: holdings, overdue, uncollected, holds, charges, ledger, disposal, leavers, exemptions');
  });

  it('shows progress on a large import, and the audit trail verifies after everything above', async () => {
    const lines = ['UPN,Forename,Surname,Reg Group,Year Group'];
    for (let i = 0; i < 2500; i++) lines.push(`Q${i},First${i},Last${i},9C,Year 9`);
    lines.push('Q1,Again,Twice,9C,Year 9');
    const bigFile = file('big.csv', lines.join('\n'));
    const peopleBefore = Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM people'))!.n);
    const dry = await handover('import', 'people', bigFile, '--dry-run');
    expect(dry.code).toBe(2);
    expect(dry.stdout).toMatch(/warning: dry run: nothing was written/);
    expect(dry.stdout).toMatch(/line 2502: id Q1 already on line 3/);
    expect(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM people'))!.n)).toBe(peopleBefore);
    fs.writeFileSync(bigFile, lines.slice(0, -1).join('\n'));
    const big = await handover('import', 'people', bigFile);
    expect(big.code).toBe(0);
    expect(big.stdout).toMatch(/big\.csv: 2500 rows; 2500 added/);
    expect(big.stdout).toMatch(/warning: no card column/);
    // Off a terminal, one line per step: the file read, then each batch of 100 rows committed.
    expect(big.stderr).toMatch(/^reading: \d+%\n/);
    expect(big.stderr.split('\n').filter((line) => line.startsWith('importing: '))).toEqual(Array.from({ length: 25 }, (_, i) => `importing: ${(i + 1) * 4}%`));
    // Registering a station was recorded too, without its key.
    const [added] = await records.audit.forSubject('station:loans-1');
    expect(added).toMatchObject({ action: 'station.added', actor: `os-user:${os.userInfo().username}`, details: '{"lockers":4,"site":"demo","station":"loans-1"}' });
    expect(added.details).not.toContain((await records.stations.get('loans-1'))!.station_key);
    const verify = await handover('audit', 'verify');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^audit trail intact: \d+ records/);
  });
});
