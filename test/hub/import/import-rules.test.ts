// `handover import people` as a school runs it, on a real database (SQLite, or PostgreSQL with
// DATABASE_URL): a SIMS export of 1,500 rows with two pupils given one card and a pupil with no
// card; a dry run that must say exactly what the real run then does (leavers and the mass-leaver
// warning included); who the audit trail names when no --by is given; and the CSV a report writes
// (byte-order mark, cells a spreadsheet could run neutralised).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../../protocol/wire';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import { commandLine } from '../support/cli';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget;
let db: SqlDatabase;
const { handover, file } = commandLine(() => target);

const HEADER = 'UPN,Legal Forename,Legal Surname,Reg Group,Year Group,Card Chip ID';
const card = (n: number) => `04${n.toString(16).padStart(6, '0')}`;
function pupils(count: number, options: { from?: number; shared?: [number, number]; noCard?: number; names?: Record<number, [string, string]> } = {}): string[] {
  const rows: string[] = [];
  for (let i = options.from ?? 1; i < (options.from ?? 1) + count; i++) {
    const [first, last] = options.names?.[i] ?? ['Pupil', `Number${i}`];
    const chip = i === options.noCard ? '' : options.shared && i === options.shared[1] ? card(options.shared[0]) : card(i);
    rows.push(`U${String(i).padStart(5, '0')},${first},${last},7A,Year 7,${chip}`);
  }
  return rows;
}

beforeAll(async () => {
  target = await testDatabaseTarget();
  ({ db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl }));
  const staff = file('staff.csv', ['Staff ID,Name,Staff Code,Role,Card ID', 'T1,Olu Office,OOF,Office,04ee0001', 'T2,Terry Teach,TTE,Teacher,04ee0002'].join('\n'));
  const run = await handover('import', 'people', staff);
  if (run.code !== 0) throw new Error(`seed import failed: ${run.stdout}${run.stderr}`);
}, 120_000);
afterAll(async () => {
  await db?.close();
  await target?.drop();
});

describe(`importing people by the rules (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 300_000 }, () => {
  it('records who ran an import without --by, and refuses one by a role that may not import', async () => {
    const last = await db.get<{ actor: string }>("SELECT actor FROM audit_log WHERE action = 'import.people' ORDER BY seq DESC LIMIT 1");
    expect(last!.actor).toMatch(/^os-user:./);
    const byTeacher = await handover('import', 'people', file('one.csv', [HEADER, ...pupils(1)].join('\n')), '--by', 'TTE');
    expect(byTeacher.code).toBe(1);
    expect(byTeacher.stderr.trim()).toBe('handover: import people or assets needs the office, ICT lead, headteacher or deputy head role; the acting account is staff (read-only)');
  });

  it('reports every row of a card given twice in a 1,500-row SIMS export, and a row with no card', async () => {
    // Data rows are lines 2..1501: pupil i is on line i + 1.
    const csv = file('sims.csv', [HEADER, ...pupils(1500, { shared: [100, 1200], noCard: 700 })].join('\r\n'));
    const run = await handover('import', 'people', csv, '--by', 'OOF');
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('sims.csv: 1500 rows; 1498 added, 0 updated, 0 unchanged, 0 rejoined, 0 marked as leavers, 1497 cards enrolled, 2 rows not imported');
    expect(run.stdout).toContain('warning: line 701: U00700 has no card: they cannot use a station until one is enrolled');
    expect(run.stdout).toContain('  line 101: the same card as line 1201: a card belongs to one person, so none of these rows was imported');
    expect(run.stdout).toContain('  line 1201: the same card as line 101: a card belongs to one person, so none of these rows was imported');
    const holders = await db.all('SELECT p.external_id FROM badges b JOIN people p ON p.id = b.person_id WHERE p.external_id IN (?, ?)', ['U00100', 'U01200']);
    expect(holders).toEqual([]);
  });

  it('says in a dry run exactly what the import then does: leavers, refusals and warnings', async () => {
    // 1,490 of the 1,500 come back (pupils 11..1500, the shared card fixed): 10 leavers.
    const back = file('back.csv', [HEADER, ...pupils(1490, { from: 11 })].join('\n'));
    const dry = await handover('import', 'people', back, '--dry-run', '--by', 'OOF');
    const real = await handover('import', 'people', back, '--by', 'OOF');
    expect(dry.stdout).toContain('marked as leavers');
    expect(dry.stdout).toMatch(/\b10 marked as leavers\b/);
    expect(dry.stdout.replace('warning: dry run: nothing was written\n', '')).toBe(real.stdout);
    expect(dry.code).toBe(real.code);
    expect(Number((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM people WHERE kind = 'pupil' AND left_on IS NOT NULL"))!.n)).toBe(10);

    // A file with only 100 of them: more than half missing, so no one is marked, with the warning, in both.
    const partial = file('partial.csv', [HEADER, ...pupils(100, { from: 11 })].join('\n'));
    const dryPartial = await handover('import', 'people', partial, '--dry-run', '--by', 'OOF');
    expect(dryPartial.stdout).toContain('warning: 1390 of 1490 pupils are missing from the file: not marked as leavers');
    const realPartial = await handover('import', 'people', partial, '--by', 'OOF');
    expect(realPartial.stdout).toContain('warning: 1390 of 1490 pupils are missing from the file: not marked as leavers');
    expect(dryPartial.stdout.replace('warning: dry run: nothing was written\n', '')).toBe(realPartial.stdout);
  });

  it('writes report CSV with a byte-order mark and no cell a spreadsheet could run', async () => {
    const names = file('names.csv', [HEADER, ...pupils(1, { from: 5000, names: { 5000: ["-1+cmd|' /C calc'!A0", 'Smith'] } }), ...pupils(1, { from: 5001, names: { 5001: ['Zoë', "O'Neill"] } })].join('\n'));
    await handover('import', 'people', names, '--by', 'OOF', '--kind', 'pupil');
    const loanBank = await handover('station', 'add', 'form-7a', '--lockers', '4');
    expect(loanBank.code).toBe(0);
    const ids = await db.all<{ id: number }>("SELECT id FROM people WHERE external_id IN ('U05000', 'U05001') ORDER BY external_id");
    const { createRecords } = await import('../../../hub/src/records');
    const records = createRecords(db);
    let seq = 0;
    for (const [locker, { id }] of ids.entries()) await records.custody.applyEvent({ station: 'form-7a', boot: 1, seq: ++seq, uptimeMs: seq, type: EVENT.DEPOSIT, locker, person: Number(id) }, new Date().toISOString());
    const out = path.join(target.dataDir, 'holdings.csv');
    const run = await handover('report', 'holdings', '--csv', out, '--by', 'OOF');
    expect(run.code).toBe(0);
    const bytes = fs.readFileSync(out);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8');
    expect(text).toContain(",'-1+cmd|' /C calc'!A0 Smith,");
    expect(text).toContain(",Zoë O'Neill,");
  });
});
