// A subject access export (P16) lists the e-mails the hub sent to that person: their kind, state and
// when, not the text, which for office and ICT digests names other people.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectAccessExport } from '../../../hub/src/export/subject';
import { createRecords, type Records } from '../../../hub/src/records';
import { SYSTEM } from '../../../hub/src/records/actor';
import { openTestDatabase, type TestDatabase } from '../../support/test-database';

let test: TestDatabase;
let records: Records;

beforeAll(async () => {
  test = await openTestDatabase();
  records = createRecords(test.db);
});
afterAll(async () => {
  await test?.close();
});

describe('a subject access export', () => {
  it('lists the e-mails sent to the person, without their text, and none sent to anyone else', async () => {
    const olu = await records.people.add({ externalId: 'S-OFF', name: 'Olu Obi', role: 'office' });
    await records.people.add({ externalId: 'S-HEAD', name: 'Helen Moss', role: 'headteacher' });
    await test.db.run('UPDATE people SET email = ? WHERE external_id = ?', ['olu@school.example', 'S-OFF']);
    const insert = "INSERT INTO notifications (created_at, kind, dedupe, recipient, subject, body, state, attempts, sent_at) VALUES (?, ?, ?, ?, ?, ?, 'sent', 1, ?)";
    await test.db.run(insert, ['2026-12-07T15:31:00.000Z', 'uncollected-phones', 'u:1', 'olu@school.example', '1 phone not collected', 'Amira Khan, 7A: locker 3', '2026-12-07T15:31:05.000Z']);
    await test.db.run(insert, ['2026-12-07T15:32:00.000Z', 'loss', 'l:1', 'head@school.example', 'Lost: STK-001', 'Tom Reed lost STK-001', '2026-12-07T15:32:05.000Z']);
    const exported = await subjectAccessExport(records, (await records.people.get(olu))!, SYSTEM);
    expect(exported.emails).toMatchObject([{ kind: 'uncollected-phones', state: 'sent', sent_at: '2026-12-07T15:31:05.000Z' }]);
    expect(JSON.stringify(exported)).not.toMatch(/Amira|Tom Reed|Lost: STK/);
  });
});
