// The office page's import reports keep the school their file is of (issue 16). A hub from before
// made web_imports without that column: the next start adds it, and the reports it held stay.
import { afterAll, expect, it } from 'vitest';
import { PostgresDatabase } from '../../../hub/src/db/postgres';
import { SqliteDatabase, type SqlDatabase } from '../../../hub/src/db/sql';
import { sqliteFile } from '../../../hub/src/db/open';
import { Imports } from '../../../hub/src/web/imports-runner';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget | undefined;
let db: SqlDatabase | undefined;
afterAll(async () => {
  await db?.close();
  await target?.drop();
});

it(`adds the school to an older hub's import reports and keeps them (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, async () => {
  target = await testDatabaseTarget();
  db = target.databaseUrl ? new PostgresDatabase(target.databaseUrl) : new SqliteDatabase(sqliteFile(target));
  await db.exec(`CREATE TABLE web_imports (id TEXT PRIMARY KEY, kind TEXT NOT NULL, file_name TEXT NOT NULL, dry_run INTEGER NOT NULL, account TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, state TEXT NOT NULL, progress TEXT NOT NULL, outcome TEXT, error TEXT)`);
  await db.run("INSERT INTO web_imports (id, kind, file_name, dry_run, account, started_at, finished_at, state, progress) VALUES ('old', 'people', 'roll.csv', 1, 'office', '2026-12-01T08:00:00.000Z', '2026-12-01T08:00:01.000Z', 'done', '{\"done\":1,\"total\":1}')");
  const imports = new Imports(db);
  await imports.whenReady();
  expect((await imports.get('old'))?.school).toBeNull();
  const job = await imports.start({ kind: 'people', fileName: 'north.csv', dryRun: true, account: 'trust', school: 'north' }, async () => ({ kind: 'people' }) as never, () => 'failed');
  expect((await imports.recent(20, 'north')).map((each) => [each.fileName, each.school])).toEqual([
    ['north.csv', 'north'],
    ['roll.csv', null],
  ]);
  expect((await imports.recent(20, 'demo')).map((each) => each.id)).toEqual(['old']);
  // A second start (another hub, a restart) finds the column there.
  await new Imports(db).whenReady();
  expect((await imports.get(job.id))?.school).toBe('north');
});
