// What the command line writes out of the records — a report as CSV, a subject access export
// (which, run by the DSL, holds a safeguarding matter) — is as private as the database: mode 0600
// whatever the umask, also over a file of that name that was there before with a wider mode.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandLine } from '../support/cli';
import { EVENT, openSchool, type School } from '../support/school';

let school: School;
const { handover } = commandLine(() => school.test.target);
const mode = (file: string) => fs.statSync(file).mode & 0o777;

beforeEach(async () => {
  school = await openSchool();
  await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 1, person: school.pupils[0] }), '2026-03-02T08:40:00.000Z');
});
afterEach(async () => {
  await school?.close();
});

describe('files the command line writes', () => {
  it('are 0600: report CSVs and subject access exports', async () => {
    const dir = school.test.target.dataDir;
    const csv = path.join(dir, 'holdings.csv');
    const exported = path.join(dir, 'export.json');
    fs.writeFileSync(exported, 'old', { mode: 0o644 });
    fs.chmodSync(exported, 0o644);
    const report = await handover('report', 'holdings', '--csv', csv, '--by', 'S-office');
    expect(report.code, report.stderr).toBe(0);
    expect(fs.readFileSync(csv, 'utf8')).toContain('Pupil 1');
    expect(mode(csv)).toBe(0o600);
    const run = await handover('export', 'subject', 'P001', '--out', exported, '--by', 'S-dsl');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(exported, 'utf8')).phoneCustody).toHaveLength(1);
    expect(mode(exported)).toBe(0o600);
  });
});
