// A subject access export run by someone who may not see safeguarding details (P5) leaves out the
// custody a safeguarding hold kept, the hold, and every record about them — the station events at
// that locker and the audit records those events wrote (a deposit and a hold-set at the held
// locker, the latter naming the DSL who placed it) — and keeps them for the DSL. Through the
// command line (`export subject … --by`), on the test's real database.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../../protocol/wire';
import { createRecords, type Records } from '../../../hub/src/records';
import { openTestDatabase, USING_POSTGRES, type TestDatabase } from '../../support/test-database';
import { commandLine } from '../support/cli';

let test: TestDatabase;
let records: Records;
let cli: ReturnType<typeof commandLine>;
let pupil: number;

beforeAll(async () => {
  test = await openTestDatabase();
  records = createRecords(test.db);
  cli = commandLine(() => test.target);
  const add = (externalId: string, name: string, role: 'office' | 'dsl', code: string) =>
    test.db.insert("INSERT INTO people (external_id, name, kind, role, staff_code) VALUES (?, ?, 'staff', ?, ?)", [externalId, name, role, code]);
  await add('S-OFF', 'Olu Office', 'office', 'OOF');
  const dsl = await add('S-DSL', 'Dan Shaw', 'dsl', 'DSH');
  pupil = await records.people.add({ externalId: 'P-1', name: 'Zoe Held', role: 'pupil', form: '9Q' });
  await records.stations.add('demo', 'form-9', 8);
  const at = (minutes: number) => new Date(Date.now() - 3_600_000 + minutes * 60_000).toISOString();
  // A morning deposit she collected (hers to see), then one the DSL held.
  await records.custody.applyEvent({ station: 'form-9', boot: 1, seq: 1, uptimeMs: 1000, type: EVENT.DEPOSIT, locker: 1, person: pupil }, at(0));
  await records.custody.applyEvent({ station: 'form-9', boot: 1, seq: 2, uptimeMs: 2000, type: EVENT.COLLECT, locker: 1, person: pupil }, at(5));
  await records.custody.applyEvent({ station: 'form-9', boot: 1, seq: 3, uptimeMs: 3000, type: EVENT.DEPOSIT, locker: 3, person: pupil }, at(10));
  await records.custody.applyEvent({ station: 'form-9', boot: 1, seq: 4, uptimeMs: 4000, type: EVENT.HOLD_SET, locker: 3, person: pupil, actor: dsl }, at(15));
}, 60_000);
afterAll(async () => {
  await test?.close();
});

async function exported(by: string) {
  const out = path.join(test.target.dataDir, `export-${by}.json`);
  const run = await cli.handover('export', 'subject', 'P-1', '--out', out, '--by', by);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as { auditRecords: Array<{ subject: string; action: string }>; stationEvents: Array<{ locker: number }>; phoneCustody: Array<{ locker: number }> };
}

describe(`a held pupil's subject access export (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  it('has no record about the held locker for the office, and has them for the DSL', async () => {
    const office = await exported('OOF');
    const heldLocker = (document: typeof office) => document.auditRecords.filter((record) => record.subject === 'locker:form-9/3').map((record) => record.action);
    expect(office.phoneCustody.map((row) => Number(row.locker))).toEqual([1]);
    expect(office.stationEvents.map((event) => Number(event.locker))).toEqual([1, 1]);
    expect(heldLocker(office)).toEqual([]);
    // Her own collected phone's records stay in.
    expect(office.auditRecords.filter((record) => record.subject === 'locker:form-9/1').map((record) => record.action)).toEqual(['event.deposit', 'event.collect']);

    const dsl = await exported('DSH');
    expect(dsl.phoneCustody.map((row) => Number(row.locker))).toEqual([1, 3]);
    expect(heldLocker(dsl)).toEqual(['event.deposit', 'event.hold-set']);
  }, 60_000);
});
