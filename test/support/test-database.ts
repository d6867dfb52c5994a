// The database a test runs against: a fresh SQLite file by default, or, when DATABASE_URL is set
// (CI's second pass), a fresh PostgreSQL database created on that server for this test and
// dropped afterwards. Tests that touch records get theirs from here, so the same suite runs on both.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase } from '../../hub/src/db/open';
import type { SqlDatabase } from '../../hub/src/db/sql';

export interface TestDatabaseTarget {
  /** A temporary data directory (the SQLite file lives here unless databaseUrl is set). */
  dataDir: string;
  databaseUrl: string | null;
  /** Drops the PostgreSQL database and removes the data directory. */
  drop(): Promise<void>;
}

export const USING_POSTGRES = Boolean(process.env.DATABASE_URL);

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * DROP DATABASE ... WITH (FORCE) ends the test's own leftover connections, but a role without
 * pg_signal_backend (CI's `handover`) may not end an autovacuum worker that happens to be in the
 * database: PostgreSQL then refuses the drop. The worker is gone within moments, so try again.
 */
async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (error) {
      const message = (error as Error).message;
      if (attempt >= 600 || !/pg_signal_backend|being accessed by other users/.test(message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export async function testDatabaseTarget(): Promise<TestDatabaseTarget> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-test-'));
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    return { dataDir, databaseUrl: null, drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `handover_test_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    dataDir,
    databaseUrl: url.toString(),
    drop: async () => {
      await dropDatabase(serverUrl, name);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestDatabase {
  db: SqlDatabase;
  target: TestDatabaseTarget;
  close(): Promise<void>;
}

/** A migrated database of the kind DATABASE_URL selects. */
export async function openTestDatabase(): Promise<TestDatabase> {
  const target = await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  return {
    db,
    target,
    async close() {
      await db.close();
      await target.drop();
    },
  };
}
