// CI's PostgreSQL pass runs only the test files that can reach a database
// (test/support/database-suites.ts). These hold that choice to what the suites really do, so a
// database suite cannot drop out of the second pass unnoticed.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import config from '../vitest.config';
import { BROWSER_ONLY, databaseReasons, databaseSuites, testFiles } from './support/database-suites';

const ROOT = path.resolve(__dirname, '..');
const code = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8').replace(/^\s*(\/\/|\/\*|\*).*$/gm, '');

/** The ways a test gets records: the harnesses, the hub itself, its settings, the command line, the rigs that start a hub process. */
const OPENS_RECORDS = /\b(startHub|openTestDatabase|testDatabaseTarget|openDatabase|new Hub\b|loadSettings|commandLine|FaultRig|HubProcess|runFlood|SqliteDatabase|PostgresDatabase)\b/;

describe('the PostgreSQL pass’s choice of test files', () => {
  it('looks at every file vitest runs', () => {
    expect(config.test?.include).toEqual(['test/**/*.test.ts']);
    expect(testFiles()).toContain('test/database-suites.test.ts');
  });

  it('still rests on where the setting is read', () => {
    expect(code('hub/src/settings.ts')).toMatch(/DATABASE_URL/);
    expect(code('test/support/test-database.ts')).toMatch(/process\.env\.DATABASE_URL/);
  });

  // esbuild reads every file's imports: a second or two, more on a loaded machine.
  it('takes every file that opens records itself, and leaves out the pure firmware and codec suites', { timeout: 120_000 }, async () => {
    const reasons = await databaseReasons();
    const opening = testFiles().filter((file) => OPENS_RECORDS.test(code(file)));
    expect(opening.length).toBeGreaterThan(20);
    for (const file of opening) expect(reasons.get(file), file).not.toBeNull();
    // Through a helper only: the rulebook's matrix gets its hub from the harness and its command line from test/hub/support.
    expect(reasons.get('test/faults/late-event-order.test.ts')).not.toBeNull();
    for (const file of ['test/firmware/codec/cbor.test.ts', 'test/fuzz/cbor.fuzz.test.ts', 'test/firmware/station-doors.test.ts']) expect(reasons.get(file), file).toBeNull();
  });

  it('leaves out of the PostgreSQL pass only the named Chromium suites among those that open records', { timeout: 120_000 }, async () => {
    const chosen = new Set(await databaseSuites());
    const opening = testFiles().filter((file) => OPENS_RECORDS.test(code(file)));
    expect(opening.filter((file) => !chosen.has(file)).sort()).toEqual([...BROWSER_ONLY].sort());
    for (const file of BROWSER_ONLY) expect(code(file), file).toMatch(/chromium/i);
  });
});
