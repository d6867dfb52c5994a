// The audit trail (P14, P17): chained records, and a verifier that names the first record that
// was altered, removed or inserted — here by someone with direct access to the database, who
// first drops the append-only triggers.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail, GENESIS_HASH, recordHash } from '../../../hub/src/audit/trail';
import { openTestDatabase, USING_POSTGRES, type TestDatabase } from '../../support/test-database';

let test: TestDatabase;
let audit: AuditTrail;

beforeEach(async () => {
  test = await openTestDatabase();
  audit = new AuditTrail(test.db);
  for (let i = 1; i <= 10; i++) await audit.append({ actor: 'system', action: 'test.step', subject: `thing:${i}`, personId: i % 3 === 0 ? 1 : null, details: { i } });
});
afterEach(async () => {
  await test.close();
});

async function dropGuards() {
  if (USING_POSTGRES) await test.db.exec('DROP TRIGGER audit_log_append_only ON audit_log');
  else await test.db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete');
}

describe('the audit trail', () => {
  it('chains each record to the one before and verifies end to end', async () => {
    const first = await test.db.get<{ prev_hash: string; hash: string; seq: number; at: string; actor: string; action: string; subject: string; person_id: number | null; details: string }>('SELECT * FROM audit_log WHERE seq = 1');
    expect(first!.prev_hash).toBe(GENESIS_HASH);
    expect(recordHash(GENESIS_HASH, { ...first!, seq: Number(first!.seq) })).toBe(first!.hash);
    const result = await audit.verify();
    expect(result).toMatchObject({ ok: true, records: 10, headSeq: 10, problem: null });
  });

  it('refuses updates and deletes while its guards stand', async () => {
    await expect(test.db.run("UPDATE audit_log SET action = 'x' WHERE seq = 2")).rejects.toThrow(/append-only/);
    await expect(test.db.run('DELETE FROM audit_log WHERE seq = 2')).rejects.toThrow(/append-only/);
  });

  it('names an altered record', async () => {
    await dropGuards();
    await test.db.run(`UPDATE audit_log SET details = '{"i":99}' WHERE seq = 4`);
    const result = await audit.verify();
    expect(result.ok).toBe(false);
    expect(result.problem).toMatchObject({ kind: 'altered', seq: 4 });
  });

  it('names an altered record whose hash was recomputed to match', async () => {
    await dropGuards();
    const row = await test.db.get<{ seq: number; at: string; actor: string; action: string; subject: string; person_id: number | null; details: string; prev_hash: string }>('SELECT * FROM audit_log WHERE seq = 6');
    const forged = { ...row!, seq: 6, details: '{"i":600}' };
    await test.db.run('UPDATE audit_log SET details = ?, hash = ? WHERE seq = 6', [forged.details, recordHash(forged.prev_hash, forged)]);
    expect((await audit.verify()).problem).toMatchObject({ kind: 'altered', seq: 6 });
  });

  it('names a removed record, in the middle or at the end', async () => {
    await dropGuards();
    await test.db.run('DELETE FROM audit_log WHERE seq = 7');
    expect((await audit.verify()).problem).toMatchObject({ kind: 'removed', seq: 7 });
    await test.db.run('DELETE FROM audit_log WHERE seq >= 8');
    await test.db.run('DELETE FROM audit_log WHERE seq = 7');
    expect((await audit.verify()).problem).toMatchObject({ kind: 'removed', seq: 7 });
  });

  it('names an inserted record, even one chained correctly to the record before it', async () => {
    await dropGuards();
    // Make room after record 5 and insert a well-formed record 6 chained to record 5.
    for (let seq = 10; seq >= 6; seq--) await test.db.run('UPDATE audit_log SET seq = ? WHERE seq = ?', [seq + 1, seq]);
    const five = await test.db.get<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 5');
    const inserted = { seq: 6, at: new Date().toISOString(), actor: 'person:1', action: 'charge.waiver', subject: 'charge:1', person_id: null, details: '{}' };
    await test.db.run('INSERT INTO audit_log (seq, at, actor, action, subject, person_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      6, inserted.at, inserted.actor, inserted.action, inserted.subject, null, inserted.details, five!.hash, recordHash(five!.hash, inserted),
    ]);
    expect((await audit.verify()).problem).toMatchObject({ kind: 'inserted', seq: 6 });
  });

  it('keeps one order with concurrent writers', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => audit.append({ actor: 'system', action: 'test.concurrent', details: { i } })));
    expect(await audit.verify()).toMatchObject({ ok: true, records: 30 });
  });
});
