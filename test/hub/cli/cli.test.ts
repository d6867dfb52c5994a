// The `handover` command, run as a child process the way an office would run it, against the
// database DATABASE_URL selects (a fresh SQLite data directory otherwise).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../../protocol/wire';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import { createRecords, type Records } from '../../../hub/src/records';
import { termOf } from '../../../hub/src/records/time';
import { commandLine } from '../support/cli';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget;
let db: SqlDatabase;
let records: Records;

const { handover, file } = commandLine(() => target);

beforeAll(async () => {
  target = await testDatabaseTarget();
  // The test reads and writes the same database the commands use.
  ({ db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl }));
  records = createRecords(db);
});

afterAll(async () => {
  await db?.close();
  await target?.drop();
});

describe(`handover on the command line (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 180_000 }, () => {
  it('imports people, reporting bad rows by line without their card ids, and exits 2', async () => {
    const people = file(
      'people.csv',
      [
        'Adno,Forename,Surname,Reg Group,Year Group,Card Chip ID',
        '1001,Amira,Khan,7A,7,04a1b2c3',
        '1002,Ben,Oduya,7A,7,zz-not-hex',
        '1003,Chloe,Martin,7B,7,0411223344a580',
      ].join('\n'),
    );
    const staff = file('staff.csv', ['Staff ID,Name,Staff Code,Role,Card ID', 'T1,Olu Office,OOF,Office,04ee0001', 'T2,Helen Head,HHE,Headteacher,04ee0002', 'T3,Terry Teach,TTE,Teacher,04ee0003', 'T4,Ian Tech,ITE,ICT,04ee0004'].join('\n'));
    const run = await handover('import', 'people', people);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/people\.csv: 3 rows; 2 added, .* 1 row not imported/);
    expect(run.stdout).toMatch(/line 3: card id is not hex bytes/);
    expect(run.stdout + run.stderr).not.toMatch(/zz-not-hex|04a1b2c3/);
    const staffRun = await handover('import', 'people', staff);
    expect(staffRun.code).toBe(0);
    expect(staffRun.stdout).toMatch(/4 added/);
  });

  it('fails with one clear line and a non-zero exit', async () => {
    const unknown = await handover('frobnicate');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.split('\n')[0]).toBe('handover: unknown command "frobnicate"');
    const missing = await handover('import', 'people', 'no-such.csv');
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('handover: no file no-such.csv');
    const noBy = await handover('charge', 'waive', '1', '--reason', 'x');
    expect(noBy.code).toBe(1);
    expect(noBy.stderr.split('\n')[0]).toMatch(/^handover: name the member of staff acting with --by/);
  });

  it('registers a loan bank and its assets, and reports who holds what as a table and as CSV', async () => {
    const station = await handover('station', 'add', 'loans-1', '--lockers', '4');
    expect(station.code).toBe(0);
    const assets = file('assets.csv', ['Asset Tag,Serial,Category,Encryption,Station,Locker,Tag UID', 'USB-001,K1,USB Stick,AES-256,loans-1,1,04bb0001', 'USB-002,K2,USB Stick,,loans-1,2,04bb0002', 'LAP-001,L1,Laptop,BitLocker,loans-1,3,04bb0003'].join('\n'));
    const run = await handover('import', 'assets', assets);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/3 rows; 2 added/);
    expect(run.stdout).toMatch(/line 3: .*USB-002 has no encryption type/);
    // The station's configuration now names the items in its lockers.
    const config = await handover('station', 'add', 'loans-2', '--lockers', '2');
    expect(JSON.parse(config.stdout).assets).toEqual([null, null]);

    // A loan arrives from the station, as the ingest applies it.
    const terry = await records.people.resolve('TTE');
    await records.custody.applyEvent({ station: 'loans-1', boot: 1, seq: 1, uptimeMs: 1, type: EVENT.LOAN, locker: 0, person: Number(terry.id), actor: Number(terry.id) }, '2026-03-02T09:00:00.000Z');
    const amira = await records.people.resolve('1001');
    await records.custody.applyEvent({ station: 'loans-1', boot: 1, seq: 2, uptimeMs: 2, type: EVENT.DEPOSIT, locker: 3, person: Number(amira.id) }, '2026-03-02T08:45:00.000Z');

    const table = await handover('report', 'holdings');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/Terry Teach\s+USB-001 \(Encrypted USB stick\)/);
    expect(table.stdout).toMatch(/locker 4 at loans-1\s+phone\s+Amira Khan/);
    const csv = await handover('report', 'holdings', '--csv', '-');
    expect(csv.stdout.split('\r\n')[0]).toBe('\uFEFFholder,item,owner,id,group,since,due,state');
    expect(csv.stdout).toContain('Terry Teach,USB-001 (Encrypted USB stick),school,T3,staff,2026-03-02T09:00:00.000Z,2026-03-03T09:00:00.000Z,On loan');
    const out = path.join(target.dataDir, 'overdue.csv');
    const overdue = await handover('report', 'overdue', '--csv', out);
    expect(overdue.stdout).toMatch(/^1 row written/m);
    expect(fs.readFileSync(out, 'utf8')).toMatch(/USB-001/);
  });

  it('charges a lost stick, refuses a waiver from a teacher, accepts one from the office, and lists the ledger', async () => {
    // A teacher has the read-only rights: reporting a loss is the office's (README, Roles).
    const byTeacher = await handover('charge', 'lost', 'USB-001', '--by', 'TTE');
    expect(byTeacher.stderr.trim()).toBe('handover: reporting a loss needs the office, ICT lead, headteacher or deputy head role; the acting account is staff (read-only)');
    const lost = await handover('charge', 'lost', 'USB-001', '--by', 'OOF');
    expect(lost.code).toBe(0);
    expect(lost.stdout).toMatch(/charge 1: £10\.00/);
    const teacher = await handover('charge', 'waive', '1', '--reason', 'faulty', '--by', 'TTE');
    expect(teacher.code).toBe(1);
    expect(teacher.stderr.trim()).toBe('handover: waiving a charge needs the office, headteacher or deputy head role; the acting account is staff (read-only)');
    const noReason = await handover('charge', 'waive', '1', '--by', 'OOF');
    expect(noReason.stderr.trim()).toBe('handover: a waiver needs a reason');
    const waived = await handover('charge', 'waive', '1', '--reason', 'stick was faulty', '--by', 'OOF');
    expect(waived.code).toBe(0);
    const stolen = await handover('charge', 'stolen', 'LAP-001', '--by', 'OOF');
    expect(stolen.code).toBe(1);
    expect(stolen.stderr.trim()).toBe('handover: a theft must be reported with the police crime number');
    const ledger = await handover('charge', 'list');
    expect(ledger.stdout).toMatch(/charge\s+£10\.00\s+replacement of lost USB-001 \(encrypted/);
    expect(ledger.stdout).toMatch(/waiver\s+-£10\.00\s+stick was faulty/);
    const byTerm = await handover('report', 'charges', '--csv', '-');
    expect(byTerm.stdout).toContain(`Terry Teach,T3,${termOf(new Date().toISOString())},£10.00,-£10.00,£0.00,2`);
  });

  it('verifies the audit trail, and names the record someone altered', async () => {
    const ok = await handover('audit', 'verify');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^audit trail intact: \d+ records/);
    if (USING_POSTGRES) await db.exec('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    else await db.exec('DROP TRIGGER audit_log_no_update');
    const original = (await db.get<{ actor: string }>('SELECT actor FROM audit_log WHERE seq = 5'))!.actor;
    await db.run("UPDATE audit_log SET actor = 'person:999' WHERE seq = 5");
    const broken = await handover('audit', 'verify');
    expect(broken.code).toBe(1);
    // Progress lines (stderr is not a terminal here) come before the verdict.
    expect(broken.stderr.trim()).toMatch(/^handover: audit trail broken: record 5 was altered: its contents do not match its hash/m);
    await db.run('UPDATE audit_log SET actor = ? WHERE seq = 5', [original]);
    expect((await handover('audit', 'verify')).code).toBe(0);
  });

  it('exports everything about one person to a file, and logs that it did', async () => {
    const out = path.join(target.dataDir, 'sar.json');
    const run = await handover('export', 'subject', '1001', '--out', out, '--by', 'OOF');
    expect(run.code).toBe(0);
    const document = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(document.person).toMatchObject({ name: 'Amira Khan', external_id: '1001' });
    expect(document.phoneCustody).toHaveLength(1);
    expect(document.badges[0].hash).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(document)).not.toMatch(/04a1b2c3/i);
    expect(document.auditRecords.map((r: { action: string }) => r.action)).toContain('person.added');
    const reads = await records.audit.forPerson(Number(document.person.id));
    expect(reads.at(-1)!.action).toBe('person.exported');
  });

  it('purges a long-gone leaver, keeping the ledger, and the audit trail still verifies', async () => {
    const terry = await records.people.resolve('TTE');
    // In a transaction, as the hub writes: people rows are anchored in the audit chain at commit.
    await db.transaction((tx) => tx.run("UPDATE people SET left_on = '2019-07-20' WHERE id = ?", [terry.id]));
    const dry = await handover('purge', '--dry-run', '--by', 'HHE');
    expect(dry.stdout).toMatch(/^would purge .* 1 people pseudonymised/);
    expect((await records.people.get(Number(terry.id)))!.name).toBe('Terry Teach');
    const run = await handover('purge', '--by', 'HHE');
    expect(run.code).toBe(0);
    const purged = (await records.people.get(Number(terry.id)))!;
    expect(purged).toMatchObject({ name: `purged person #${terry.id}`, external_id: `purged:${terry.id}`, staff_code: null });
    expect(await records.ledger.entries({ personId: Number(terry.id) })).toHaveLength(2);
    const verify = await handover('audit', 'verify');
    expect(verify.code).toBe(0);
  });
});

