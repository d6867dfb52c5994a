// The administrator's commands that run without --by (schools, accounts, broker accounts) name who
// ran them in the audit trail: the server's operating-system account, as the records commands do
// (issue 15: every changing command records who ran it), never a bare "cli".
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Accounts } from '../../../hub/src/accounts/accounts';
import { AuditTrail } from '../../../hub/src/audit/trail';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import { commandLine } from '../support/cli';
import { testDatabaseTarget, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget;
let db: SqlDatabase;
const { handover } = commandLine(() => target);

beforeAll(async () => {
  target = await testDatabaseTarget();
  ({ db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl }));
  const accounts = new Accounts(db, new AuditTrail(db));
  await accounts.prepare();
  await accounts.add({ username: 'office-x', role: 'office', password: 'Lockers2026!' }, 'test');
}, 60_000);

afterAll(async () => {
  await db?.close();
  await target?.drop();
});

describe('commands without --by', () => {
  it('are audited as the operating-system account that ran them', async () => {
    const me = `os-user:${os.userInfo().username}`;
    for (const argv of [['school', 'add', 'north', '--name', 'North Primary'], ['account', 'disable', 'office-x'], ['broker', 'account', 'add', 'ha-reader'], ['station', 'add', 'room-12', '--lockers', '8', '--school', 'north']]) {
      const before = Number((await db.get<{ n: number }>('SELECT MAX(seq) AS n FROM audit_log'))!.n);
      const run = await handover(...argv);
      expect(run.code, `${argv.join(' ')}: ${run.stderr}`).toBe(0);
      const actors = await db.all<{ actor: string; action: string }>('SELECT actor, action FROM audit_log WHERE seq > ? ORDER BY seq', [before]);
      expect(actors.length, argv.join(' ')).toBeGreaterThan(0);
      for (const row of actors) expect(row.actor, `${argv.join(' ')}: ${row.action}`).toBe(me);
    }
  });
});
