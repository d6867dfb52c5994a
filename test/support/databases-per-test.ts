// A database per test for the upgrade tests, closed and dropped after each (its own module: the
// benchmarks import test-database.ts outside vitest).
import { afterEach } from 'vitest';
import { openDatabase } from '../../hub/src/db/open';
import type { SqlDatabase } from '../../hub/src/db/sql';
import type { TestDatabaseTarget } from './test-database';

/**
 * For tests that build a database before an upgrade and then open it: what `track` and `open` are
 * given is closed and dropped after each test, whether it passed or not.
 */
export function databasesPerTest(): { track(target: TestDatabaseTarget): TestDatabaseTarget; open(target: TestDatabaseTarget): Promise<SqlDatabase> } {
  const targets: TestDatabaseTarget[] = [];
  const opened: SqlDatabase[] = [];
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
    for (const target of targets.splice(0)) await target.drop();
  });
  return {
    track(target) {
      targets.push(target);
      return target;
    },
    async open(target) {
      const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
      opened.push(db);
      return db;
    },
  };
}
