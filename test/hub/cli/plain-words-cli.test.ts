// Plain words in what the command line prints (issue 17): every report as a table and as CSV, a
// leaver's open loans, the asset classes and the accounts, read from the real `handover` binary run
// as a child process against a real database (SQLite, or PostgreSQL with DATABASE_URL). An item is
// named by its tag and its class's name ("USB-001 (Encrypted USB stick)"), a locker by its number on
// the door ("locker 4 at loans-1"), a role, a hold and a state in words, a count in the right
// number ("1 row") — never the records' codes ("usb-stick USB-001", "loans-1/3", "dsl", "on-loan").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../../protocol/wire';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import type { EventFrame } from '../../../hub/src/protocol/frames';
import { createRecords, type Records } from '../../../hub/src/records';
import { REPORTS } from '../../../hub/src/reports/reports';
import { commandLine } from '../support/cli';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget;
let db: SqlDatabase;
let records: Records;
const seqs = new Map<string, number>();

const { handover, file } = commandLine(() => target);
// The same entry point in this process (test/hub/support/cli.ts), for the many report runs: a child
// process each would take minutes on a loaded machine. The key outputs are read from the real binary too.
const inProcess = commandLine(() => target, { inProcess: true });

async function station(stationId: string, type: number, fields: Partial<EventFrame>, at: string): Promise<void> {
  // Each station's own sequence, without gaps (the records apply a station's events in order).
  const seq = (seqs.get(stationId) ?? 0) + 1;
  seqs.set(stationId, seq);
  await records.custody.applyEvent({ station: stationId, boot: 1, seq, uptimeMs: seq * 1000, type, ...fields }, at);
}

const personId = async (ref: string) => Number((await records.people.resolve(ref)).id);
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

/** The records' own codes, each with a little context, wherever they show in `text`. */
function internalCodes(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\busb-stick\b/g, // a class id
    /\blaptop [A-Z]+-\d/g, // "laptop LAP-001": the class id before the tag
    /\b(?:on-loan|phone-in|item-out|health-check|safeguarding-held|written-off)\b/g, // state and status codes
    /\b(?:form-7a|loans-1)\/\d\b/g, // a locker as the records count it, from 0
    /(?:^|,| {2})(?:dsl|ict|deputy|confiscation|safeguarding)(?=,| {2}|\r?$)/gm, // a role or hold kind by its code, as a cell
    /\((?:dsl|ict|deputy)[,)]/g, // a role by its code, beside a name
    /\b1 (?:rows|cards|phones|events)\b/g, // a count in the wrong number
    /\(\d+\)/g, // a bare count with nothing said of what
  ];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) found.push(`“${text.slice(Math.max(0, match.index - 30), match.index + match[0].length + 15).replace(/\s+/g, ' ').trim()}”`);
  }
  return found;
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
    ].join('\n'),
  );
  const imported = await handover('import', 'people', people);
  if (imported.code !== 0) throw new Error(`seed import failed: ${imported.stdout}${imported.stderr}`);
  for (const [id, lockers] of [['form-7a', '8'], ['loans-1', '4']]) {
    const run = await handover('station', 'add', id, '--lockers', lockers);
    if (run.code !== 0) throw new Error(`station add ${id} failed: ${run.stderr}`);
  }
  const assets = file('assets.csv', ['Asset Tag,Serial,Category,Encryption,Station,Locker,Tag UID', 'USB-001,K1,USB Stick,AES-256,loans-1,1,04bb0001', 'LAP-001,L1,Laptop,BitLocker,loans-1,3,04bb0003'].join('\n'));
  const run = await handover('import', 'assets', assets);
  if (run.code !== 0) throw new Error(`seed asset import failed: ${run.stdout}${run.stderr}`);
  // The DSL has had the stick for a week (overdue) and the teacher the laptop, and has left. Amira's
  // phone is in locker 4; the DSL holds Ben's in locker 3; the teacher confiscated Chloe's, in locker 5.
  const dsl = await personId('DSA');
  const teacher = await personId('TTE');
  await station('loans-1', EVENT.LOAN, { locker: 0, person: dsl, actor: dsl }, daysAgo(7));
  await station('loans-1', EVENT.LOAN, { locker: 2, person: teacher, actor: teacher }, daysAgo(2));
  await station('form-7a', EVENT.DEPOSIT, { locker: 3, person: await personId('P1') }, daysAgo(0));
  await station('form-7a', EVENT.DEPOSIT, { locker: 2, person: await personId('P2') }, daysAgo(0));
  await station('form-7a', EVENT.HOLD_SET, { locker: 2, person: await personId('P2'), actor: dsl }, daysAgo(0));
  await station('form-7a', EVENT.DEPOSIT, { locker: 4, person: await personId('P3') }, daysAgo(0));
  await station('form-7a', EVENT.HOLD_SET, { locker: 4, person: await personId('P3'), actor: teacher }, daysAgo(0));
  await db.run('UPDATE people SET left_on = ? WHERE id = ?', [daysAgo(1).slice(0, 10), teacher]);
}, 180_000);

afterAll(async () => {
  await db?.close();
  await target?.drop();
});

describe(`plain words on the command line (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 180_000 }, () => {
  it('prints every report, as a table and as CSV, with classes, lockers, roles, holds and states in words', async () => {
    const printed = new Map<string, string>();
    for (const report of Object.keys(REPORTS)) {
      for (const csv of [false, true]) {
        const run = await inProcess.handover('report', report, '--all', ...(csv ? ['--csv', '-'] : []), '--by', 'HHE');
        expect(run.code, `${report}: ${run.stderr}`).toBe(0);
        printed.set(`${report}${csv ? ' --csv' : ''}`, run.stdout);
      }
    }
    // The binary prints the same.
    for (const what of ['holdings', 'holdings --csv']) {
      const run = await handover('report', 'holdings', '--all', ...(what.endsWith('csv') ? ['--csv', '-'] : []), '--by', 'HHE');
      expect(run.stdout).toBe(printed.get(what));
    }
    const problems = [...printed].flatMap(([what, text]) => internalCodes(text).map((code) => `report ${what}: ${code}`));
    expect(problems).toEqual([]);
    const holdings = printed.get('holdings')!;
    expect(holdings).toMatch(/^who holds what: .* \(\d+ rows\)$/m);
    expect(holdings).toMatch(/Dina Safe\s+USB-001 \(Encrypted USB stick\)\s+school\s+T4\s+safeguarding lead \(DSL\)/);
    expect(holdings).toMatch(/locker 4 at form-7a\s+phone\s+Amira Khan/);
    expect(printed.get('holdings --csv')).toContain('Terry Teach,LAP-001 (Laptop),school,T3,staff,');
    expect(printed.get('holdings --csv')).toMatch(/,On loan\r\n/);
    expect(printed.get('holdings --csv')).toMatch(/^locker 4 at form-7a,phone,Amira Khan,P1,7A,[^\r]*,Phone in\r$/m);
    expect(printed.get('overdue --csv')).toMatch(/,Dina Safe,T4,USB-001 \(Encrypted USB stick\),/);
    expect(printed.get('holds')).toMatch(/Safeguarding hold\s+locker 3 at form-7a\s+Ben Oduya/);
    expect(printed.get('holds --csv')).toMatch(/,Confiscation,locker 5 at form-7a,Chloe Martin,/);
    expect(printed.get('leavers --csv')).toContain('Terry Teach,T3,');
    expect(printed.get('leavers --csv')).toContain(',LAP-001 (Laptop),');
  });

  it('names a leaver\'s items by their class, and the classes\' borrowers and the accounts\' roles in words', async () => {
    const leaver = await handover('leaver', 'TTE', '--by', 'OOF');
    expect(leaver.code, leaver.stderr).toBe(0);
    expect(leaver.stdout).toMatch(/^Terry Teach: LAP-001 \(Laptop\) lent \d{4}-\d{2}-\d{2}: must be returned$/m);
    const classes = await handover('class', 'list');
    expect(classes.stdout).toMatch(/Encrypted USB stick\s+required\s+£10\.00\s+1\s+staff, headteacher, deputy head, /);
    // The password is read from the environment the child inherits, as a script gives it.
    process.env.HANDOVER_PASSWORD = 'Plain-words-2026';
    const account = await handover('account', 'add', 'dina', '--role', 'dsl');
    delete process.env.HANDOVER_PASSWORD;
    expect(account.code, account.stderr).toBe(0);
    const accounts = await handover('account', 'list');
    expect(accounts.stdout).toMatch(/^dina\tDesignated safeguarding lead\tnever signed in$/m);
    const swept = await handover('uncollected');
    expect(swept.stdout).toMatch(/^\d+ phones? marked uncollected$/m);
    const problems = [leaver, classes, accounts, swept].flatMap((run) => internalCodes(run.stdout.replace(/^class\b.*$/m, '').replace(/^usb-stick\s|^laptop\s/gm, '')));
    expect(problems).toEqual([]);
  });

  it('finds the codes it looks for (the check can fail)', () => {
    expect(internalCodes('Terry Teach  usb-stick USB-001  staff  on-loan\nlocker form-7a/3  phone\nsafeguarding  form-7a/1\nPriya (dsl, T1)\n1 rows written\nwho holds what (3)')).toHaveLength(8);
    expect(internalCodes('Terry Teach  USB-001 (Encrypted USB stick)  On loan\nlocker 4 at form-7a\nSafeguarding hold\nsafeguarding lead (DSL)\n1 row written\nwho holds what (3 rows)')).toEqual([]);
  });
});
