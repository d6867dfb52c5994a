// PostgreSQL with two roles (README "Databases"): the owner migrates (DATABASE_OWNER_URL) and the
// hub works as a role that owns no records table (DATABASE_URL). The hub's role makes its own
// office-page tables (accounts, sessions) the first time it needs them; every later start and
// command migrates as the owner again, and must still open the database.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

const BIN = path.resolve(__dirname, '../../../bin/handover.mjs');
const HUB_ROLE_URL = process.env.DATABASE_HUB_URL;

function handover(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe.skipIf(!USING_POSTGRES || !HUB_ROLE_URL)('the owner and the hub’s role', () => {
  let target: TestDatabaseTarget | null = null;
  afterAll(async () => target?.drop());

  it('open the database again after the hub’s role has made its own tables', async () => {
    target = await testDatabaseTarget();
    const hubUrl = new URL(HUB_ROLE_URL!);
    hubUrl.pathname = new URL(target.databaseUrl!).pathname;
    const env = { ...process.env, DATABASE_URL: hubUrl.toString(), DATABASE_OWNER_URL: target.databaseUrl!, HANDOVER_DATA_DIR: target.dataDir, HANDOVER_PASSWORD: 'Reopen-the-records-2026' };
    const made = await handover(['account', 'add', 'office1', '--role', 'office'], env);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const listed = await handover(['account', 'list'], env);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/office1/);
  }, 120_000);
});
