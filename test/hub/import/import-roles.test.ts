// An import is not a way round the Desk's rules (rules/permissions.ts `roles.assign`): only the
// headteacher gives or takes away a role with rights (office, ICT, headteacher, deputy, DSL), never
// their own, and only the headteacher sets up a card for someone with such a role. Otherwise the
// office could import a staff file that makes its own member of staff the DSL (who sees every
// safeguarding hold, and whose card opens them), or put a card of its own on the DSL's row.
// Through `handover import people --by`, on a real database (SQLite, or PostgreSQL with DATABASE_URL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import { commandLine } from '../support/cli';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget;
let db: SqlDatabase;
const { handover, file } = commandLine(() => target);

const HEADER = 'Staff ID,Name,Staff Code,Role,Card ID';
const SEED = ['T1,Olu Office,OOF,Office,04ee0001', 'T2,Terry Teach,TTE,Teacher,04ee0002', 'T3,Dara Singh,DSH,Designated Safeguarding Lead,04ee0003', 'T4,Helen Moss,HTA,Headteacher,04ee0004'];

const roles = async () => Object.fromEntries((await db.all<{ external_id: string; role: string }>('SELECT external_id, role FROM people ORDER BY external_id')).map((row) => [row.external_id, row.role]));
const cards = async (externalId: string) => Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM badges b JOIN people p ON p.id = b.person_id WHERE p.external_id = ? AND b.revoked_at IS NULL', [externalId]))!.n);

beforeAll(async () => {
  target = await testDatabaseTarget();
  ({ db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl }));
  // The first import, by the administrator's shell (no one to name yet): every role may be set.
  const run = await handover('import', 'people', file('staff.csv', [HEADER, ...SEED].join('\n')));
  if (run.code !== 0) throw new Error(`seed import failed: ${run.stdout}${run.stderr}`);
}, 120_000);
afterAll(async () => {
  await db?.close();
  await target?.drop();
});

describe(`an import and the roles with rights (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  it('refuses, for the office, the rows that give a role with rights or a card to someone with one; the rest import', async () => {
    const rows = [
      'T1,Olu Office,OOF,Designated Safeguarding Lead,04ee0001', // line 2: the office makes itself DSL
      'T2,Terry Teach,TTE,Teacher,04ee0092', // line 3: a new card for a teacher: the office may
      'T3,Dara Singh,DSH,Designated Safeguarding Lead,04ee0093', // line 4: a new card on the DSL's row
      'T4,Helen Moss,HTA,Headteacher,04ee0004', // line 5: unchanged
      'T5,New Head,NHE,Deputy Head,', // line 6: a new deputy head
    ];
    const staff = file('staff-office.csv', [HEADER, ...rows].join('\n'));
    for (const dryRun of [['--dry-run'], []]) {
      const run = await handover('import', 'people', staff, ...dryRun, '--by', 'OOF');
      expect(run.code, run.stdout + run.stderr).toBe(2);
      const refused = [...(run.stdout + run.stderr).matchAll(/line (\d+): [^\n]*headteacher/g)].map((match) => Number(match[1]));
      expect(refused, run.stdout + run.stderr).toEqual([2, 4, 6]);
    }
    expect(await roles()).toEqual({ T1: 'office', T2: 'staff', T3: 'dsl', T4: 'headteacher' });
    // The DSL's row kept its one card: none was added, none revoked.
    expect(Number((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM badges b JOIN people p ON p.id = b.person_id WHERE p.external_id = 'T3'"))!.n)).toBe(1);
    expect(await cards('T3')).toBe(1);
    expect(Number((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM badges b JOIN people p ON p.id = b.person_id WHERE p.external_id = 'T2'"))!.n)).toBe(2);
  });

  it('lets the headteacher give those roles and cards, but not change their own role', async () => {
    const rows = [
      'T1,Olu Office,OOF,Deputy Head,04ee0001',
      'T3,Dara Singh,DSH,Designated Safeguarding Lead,04ee0093',
      'T4,Helen Moss,HTA,Teacher,04ee0004',
    ];
    const run = await handover('import', 'people', file('staff-head.csv', [HEADER, ...rows].join('\n')), '--by', 'HTA');
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout + run.stderr).toMatch(/line 4: [^\n]*own role/);
    expect(await roles()).toMatchObject({ T1: 'deputy', T3: 'dsl', T4: 'headteacher' });
  });
});
