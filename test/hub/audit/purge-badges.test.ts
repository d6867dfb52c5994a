// A purged person's badge hash (issue 15, "purge leaves no personal text in the file"): a badge
// is anchored in the audit chain under a random key, not its hash, and what the key stands for is
// deleted with the badge. After `handover purge`, neither the card's UID nor its hash (as bytes,
// or as hex text in upper or lower case) is anywhere in the database — the SQLite file and its
// WAL read byte by byte, or on PostgreSQL everything pg_dump writes out — while a badge of
// someone who stays still is (so the search finds what is there), and `audit verify` passes.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteFile } from '../../../hub/src/db/open';
import { commandLine } from '../support/cli';
import { EVENT, openSchool, type School } from '../support/school';
import { USING_POSTGRES } from '../../support/test-database';

const run = promisify(execFile);
let school: School;
const { handover } = commandLine(() => school.test.target);

/** Every byte the database holds, as someone with it reads them. */
async function databaseBytes(): Promise<Buffer> {
  const target = school.test.target;
  if (USING_POSTGRES) return Buffer.from((await run('pg_dump', ['--data-only', target.databaseUrl!], { maxBuffer: 256 * 1024 * 1024 })).stdout);
  const file = sqliteFile(target);
  return Buffer.concat([file, `${file}-wal`, `${file}-journal`].filter((part) => fs.existsSync(part)).map((part) => fs.readFileSync(part)));
}

/** Where `bytes` holds the badge: its hash as bytes or hex, or the card's UID (bytes or hex). */
function traces(bytes: Buffer, hash: Buffer, uid: Buffer): string[] {
  const found: string[] = [];
  const text = bytes.toString('latin1').toLowerCase();
  // pg_dump writes bytea as \x followed by hex: the hex search covers it.
  if (bytes.includes(hash)) found.push('hash bytes');
  if (text.includes(hash.toString('hex'))) found.push('hash hex');
  if (bytes.includes(uid)) found.push('uid bytes');
  if (text.includes(uid.toString('hex'))) found.push('uid hex');
  return found;
}

beforeEach(async () => {
  school = await openSchool();
});
afterEach(async () => {
  await school.test.target.drop();
});

describe(`a purged pupil's badge (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 120_000 }, () => {
  it('leaves neither the card nor its hash in the database, and the trail still verifies', async () => {
    const { records, pupils } = school;
    const leaverUid = Buffer.from('04c7e19a5b3d2f', 'hex');
    const stayerUid = Buffer.from('04a8f26b4c1e3d', 'hex');
    const leaverHash = Buffer.from(await records.people.enrolBadge(pupils[0], leaverUid));
    const stayerHash = Buffer.from(await records.people.enrolBadge(pupils[1], stayerUid));
    // Taps with each card (the events hold the badge hash too), long ago.
    await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 1, person: pupils[0], badge: leaverHash }), '2023-03-02T08:40:00.000Z');
    await school.apply(school.frame('form-7a', EVENT.COLLECT, { locker: 1, person: pupils[0], badge: leaverHash }), '2023-03-02T15:20:00.000Z');
    await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 2, person: pupils[1], badge: stayerHash }), '2026-03-02T08:41:00.000Z');
    await school.test.db.transaction((tx) => tx.run("UPDATE people SET left_on = '2023-07-20' WHERE id = ?", [pupils[0]]));
    await school.test.db.close();

    // (pg_dump writes a bytea as hex: there the hash is found as hex; in the SQLite file, as bytes.)
    const held = USING_POSTGRES ? 'hash hex' : 'hash bytes';
    expect(traces(await databaseBytes(), leaverHash, leaverUid), 'the hash is in the database before the purge').toContain(held);
    const verifiedBefore = await handover('audit', 'verify');
    expect(verifiedBefore.code, verifiedBefore.stderr).toBe(0);

    const purged = await handover('purge', '--by', 'S-office');
    expect(purged.code, purged.stderr).toBe(0);
    expect(purged.stdout).toMatch(/1 people pseudonymised, 1 badges/);

    const after = await databaseBytes();
    expect(traces(after, leaverHash, leaverUid), 'the purged badge is still in the database').toEqual([]);
    // The search finds a badge that is still there.
    expect(traces(after, stayerHash, stayerUid)).toContain(held);

    const full = await handover('audit', 'verify');
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(/^audit trail intact: \d+ records/);
    const incremental = await handover('audit', 'verify', '--incremental');
    expect(incremental.code, incremental.stderr).toBe(0);
  });

  it('still names the badges of people who stay, by their hash, when they are changed outside the hub', async () => {
    const hash = Buffer.from(await school.records.people.enrolBadge(school.pupils[1], Buffer.from('04b1c2d3e4f506', 'hex'))).toString('hex');
    await school.test.db.close();
    expect((await handover('audit', 'verify')).code).toBe(0);
    const target = school.test.target;
    const sql = `UPDATE badges SET revoked_at = '2026-03-02T09:00:00.000Z' WHERE hash = ${USING_POSTGRES ? `'\\x${hash}'::bytea` : `X'${hash}'`};`;
    if (USING_POSTGRES) await run('psql', [target.databaseUrl!, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql]);
    else await run('sqlite3', [sqliteFile(target), sql]);
    const broken = await handover('audit', 'verify');
    expect(broken.code).toBe(1);
    expect(`${broken.stdout}${broken.stderr}`).toMatch(new RegExp(`badges ${hash} was (altered: it no longer matches audit record \\d+|changed outside the hub)`));
    // The chain itself holds a random key for it, not the hash.
    const chain = USING_POSTGRES
      ? (await run('psql', [target.databaseUrl!, '-tA', '-c', 'SELECT details FROM audit_log'])).stdout
      : (await run('sqlite3', [sqliteFile(target), 'SELECT details FROM audit_log'])).stdout;
    expect(chain).toContain('"badges":"k');
    expect(chain.toLowerCase()).not.toContain(hash);
  });
});
