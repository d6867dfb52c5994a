// Adding or correcting a person at the desk must not hand out the rulebook's rights: on the command
// line a member of staff's rights follow their MIS role, so an ICT lead who could set their own
// role to `dsl` would then see safeguarding holds (P5), and an office account could make a pupil
// (or anyone) a headteacher. Only the headteacher gives or takes away a role with rights beyond
// plain staff, and nobody changes their own role. Run through the `handover` command on a real database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import { commandLine } from '../support/cli';
import { testDatabaseTarget, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget;
let db: SqlDatabase;
const { handover, file } = commandLine(() => target, { inProcess: true });

const roleOf = async (externalId: string) => (await db.get<{ role: string }>('SELECT role FROM people WHERE external_id = ?', [externalId]))!.role;

beforeAll(async () => {
  target = await testDatabaseTarget();
  ({ db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl }));
  const people = file(
    'people.csv',
    [
      'Staff ID,Forename,Surname,Staff Code,Role,Reg Group,Year Group,Card UID',
      'P1,Amira,Khan,,Pupil,7A,Year 7,04a1b2c3',
      'T1,Olu,Office,OOF,Office,,,04ee0001',
      'T2,Helen,Head,HHE,Headteacher,,,04ee0002',
      'T3,Terry,Teach,TTE,Teacher,,,04ee0003',
      'T5,Ian,Tech,ITE,ICT,,,04ee0005',
    ].join('\n'),
  );
  const imported = await handover('import', 'people', people);
  if (imported.code !== 0) throw new Error(`seed import failed: ${imported.stdout}${imported.stderr}`);
  const assets = file('assets.csv', ['Asset Tag,Serial,Category,Encryption,Station,Locker,Tag UID,Last Health Check', 'USB-001,K1,USB Stick,AES-256,,,04bb0001,', 'USB-002,K2,USB Stick,AES-256,,,04bb0002,'].join('\n'));
  const registered = await handover('import', 'assets', assets, '--by', 'HHE');
  if (registered.code !== 0) throw new Error(`asset import failed: ${registered.stdout}${registered.stderr}`);
}, 60_000);
afterAll(async () => {
  await db?.close();
});

describe('roles given at the desk', () => {
  it('an ICT lead cannot make themselves the designated safeguarding lead', async () => {
    const run = await handover('person', 'correct', 'T5', '--role', 'dsl', '--by', 'ITE');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/headteacher/);
    expect(await roleOf('T5')).toBe('ict');
  });

  it('office cannot make a teacher or a pupil a headteacher, nor add a new DSL', async () => {
    expect((await handover('person', 'correct', 'T3', '--role', 'headteacher', '--by', 'OOF')).code).toBe(1);
    expect((await handover('person', 'correct', 'P1', '--role', 'office', '--by', 'OOF')).code).toBe(1);
    expect((await handover('person', 'add', 'T9', '--name', 'New Safe', '--role', 'dsl', '--by', 'OOF')).code).toBe(1);
    expect(await roleOf('T3')).toBe('staff');
    expect(await roleOf('P1')).toBe('pupil');
  });

  it('office still corrects names and plain roles; the headteacher gives a role, but not to themselves', async () => {
    expect((await handover('person', 'correct', 'T3', '--form', '7A', '--by', 'OOF')).code).toBe(0);
    expect((await handover('person', 'add', 'T8', '--name', 'New Teacher', '--role', 'staff', '--by', 'OOF')).code).toBe(0);
    expect((await handover('person', 'correct', 'T3', '--role', 'dsl', '--by', 'HHE')).code).toBe(0);
    expect(await roleOf('T3')).toBe('dsl');
    expect((await handover('person', 'correct', 'T2', '--role', 'dsl', '--by', 'HHE')).code).toBe(1);
  });
});

describe('one’s own loan at the desk', () => {
  it('nobody takes back their own loan at the desk, nor sets its due date; another member of staff does', async () => {
    expect((await handover('lend', 'USB-001', 'T1', '--by', 'OOF')).code).toBe(0);
    const own = await handover('return', 'USB-001', '--by', 'OOF');
    expect(own.code).toBe(1);
    expect(own.stderr).toMatch(/on loan to you/);
    expect((await handover('return', 'USB-001', '--dry-run', '--by', 'OOF')).code).toBe(1);
    expect((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM loans WHERE closed_at IS NULL'))!.n).toEqual(expect.anything());
    expect(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM loans WHERE closed_at IS NULL'))!.n)).toBe(1);
    expect((await handover('return', 'USB-001', '--by', 'ITE')).code).toBe(0);
    const due = new Date(Date.now() + 200 * 86_400_000).toISOString().slice(0, 10);
    const longLoan = await handover('lend', 'USB-002', 'T1', '--due', due, '--by', 'OOF');
    expect(longLoan.code).toBe(1);
    expect(longLoan.stderr).toMatch(/your own loan/);
  });
});

describe('cards for people with rights', () => {
  // A card lets whoever holds it act as its person at a station: an office worker who enrolled a
  // card they carry as the DSL's, or lent the headteacher a day card, could release safeguarding
  // holds or complete two-person releases alone.
  it('office cannot enrol a card as the headteacher’s or give the DSL a day card; the headteacher can, but not for themselves', async () => {
    const enrol = await handover('card', 'enrol', 'T2', '04ee0099', '--by', 'OOF');
    expect(enrol.code).toBe(1);
    expect(enrol.stderr).toMatch(/headteacher/);
    expect((await handover('card', 'enrol', 'T2', '04ee0099', '--dry-run', '--by', 'OOF')).code).toBe(1);
    expect((await handover('daycard', 'spare', 'Spare 9', '04ee0098', '--by', 'OOF')).code).toBe(0);
    const dayCard = await handover('daycard', 'give', 'Spare 9', 'T3', '--by', 'OOF'); // T3 is the DSL now
    expect(dayCard.code).toBe(1);
    expect(dayCard.stderr).toMatch(/headteacher/);
    const holders = await db.all<{ role: string }>("SELECT p.role FROM badges b JOIN people p ON p.id = b.person_id WHERE b.revoked_at IS NULL AND p.role IN ('headteacher', 'dsl')");
    expect(holders.length).toBe(2); // their own imported cards only
    expect((await handover('card', 'enrol', 'T2', '04ee0099', '--by', 'HHE')).code).toBe(1);
    expect((await handover('daycard', 'give', 'Spare 9', 'T3', '--by', 'HHE')).code).toBe(0);
    // A pupil's or plain member of staff's card is still the office's to set up.
    expect((await handover('card', 'enrol', 'P1', '04ee0097', '--by', 'OOF')).code).toBe(0);
  });
});

describe('who holds the spare cards', () => {
  it('is listed only for who may give day cards, named with --by, and the listing is recorded', async () => {
    const anonymous = await handover('daycard', 'list');
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stdout).not.toMatch(/Terry/);
    const teacher = await handover('daycard', 'list', '--by', 'T8');
    expect(teacher.code).not.toBe(0);
    expect(teacher.stdout).not.toMatch(/Terry/);
    const office = await handover('daycard', 'list', '--by', 'OOF');
    expect(office.code).toBe(0);
    expect(office.stdout).toMatch(/Spare 9\tTerry Teach \(T3\) until/);
    expect(Number((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'day-cards.listed'"))!.n)).toBe(1);
  });
});
