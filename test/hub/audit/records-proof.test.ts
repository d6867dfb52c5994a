// Records that prove themselves (issue 15): someone with the database (the SQLite file, or the
// tables' owner on PostgreSQL) drops the append-only triggers and edits, deletes or inserts rows
// of the ledger, phone custody, loans and station events with the database's own client
// (sqlite3, psql), or rewrites the audit chain, or cuts its tail. `handover audit verify`, run
// as a school runs it, must name what was changed.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordHash, type AuditRecord } from '../../../hub/src/audit/trail';
import { sqliteFile } from '../../../hub/src/db/open';
import { EVENT, openSchool, type School } from '../support/school';
import { commandLine } from '../support/cli';
import { USING_POSTGRES } from '../../support/test-database';

const run = promisify(execFile);
let school: School;
const { handover } = commandLine(() => school.test.target);

/** SQL through the database's own command-line client, as someone holding the database would. */
async function tamper(sql: string): Promise<void> {
  const target = school.test.target;
  if (USING_POSTGRES) await run('psql', [target.databaseUrl!, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql]);
  else await run('sqlite3', [sqliteFile(target), sql]);
}

/** The append-only triggers, dropped (anyone with the file, or the tables' owner, can). */
const DROP_GUARDS = USING_POSTGRES
  ? 'DROP TRIGGER charges_append_only ON charges; DROP TRIGGER audit_log_append_only ON audit_log;'
  : 'DROP TRIGGER charges_no_update; DROP TRIGGER charges_no_delete; DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;';

/** The database's own client counting the alerts. */
function countAlerts(): [string, string[]] {
  const target = school.test.target;
  return USING_POSTGRES ? ['psql', [target.databaseUrl!, '-tA', '-c', 'SELECT count(*) FROM alerts']] : ['sqlite3', [sqliteFile(target), 'SELECT count(*) FROM alerts']];
}

async function verify(...extra: string[]) {
  const result = await handover('audit', 'verify', ...extra);
  return { ...result, said: `${result.stdout}${result.stderr}` };
}

let ids: {
  charge: number;
  waiver: number;
  custody: number;
  loan: number;
  heldCustody: number;
  safeguarding: number;
  confiscation: number;
  alert: number;
  /** Pupil 1's own card's badge hash, and the spare card's, in hex. */
  badge: string;
  spareBadge: string;
  spare: number;
  dayCard: number;
};

/** A morning: phones in and out, a stick lent and lost, the charge waived in part of the story. */
async function day(): Promise<void> {
  const { records, pupils, staff } = school;
  const office = school.actor('office');
  await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 1, person: pupils[0] }), '2026-03-02T08:40:00.000Z');
  await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 2, person: pupils[1] }), '2026-03-02T08:41:00.000Z');
  await school.apply(school.frame('form-7a', EVENT.COLLECT, { locker: 1, person: pupils[0] }), '2026-03-02T15:20:00.000Z');
  await records.assets.upsert({ tag: 'USB-001', serial: 'SN1', classId: 'usb-stick', encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: 0, tagUid: '04aa0001' }, office);
  await records.assets.upsert({ tag: 'USB-002', serial: 'SN2', classId: 'usb-stick', encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: 1, tagUid: '04aa0002' }, office);
  await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 0, person: staff.staff, actor: staff.staff }), '2026-03-02T09:00:00.000Z');
  await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 1, person: staff.dsl, actor: staff.dsl }), '2026-03-02T09:05:00.000Z');
  const lost = await records.loans.reportLost('USB-001', office, '2026-03-03T09:00:00.000Z');
  const lostToo = await records.loans.reportLost('USB-002', office, '2026-03-03T09:10:00.000Z');
  const waiver = await records.ledger.waive(lostToo.chargeId!, 'lost in the fire drill', school.actor('headteacher'), '2026-03-04T09:00:00.000Z');
  // A DSL's safeguarding hold (P5) and a teacher's confiscation (P4).
  await school.apply(school.frame('form-7a', EVENT.HOLD_SET, { locker: 5, person: pupils[2], actor: staff.dsl }), '2026-03-02T10:00:00.000Z');
  await school.apply(school.frame('form-7a', EVENT.HOLD_SET, { locker: 6, person: pupils[3], actor: staff.staff }), '2026-03-02T11:00:00.000Z');
  const custody = await school.test.db.get<{ id: number }>('SELECT id FROM phone_custody WHERE person_id = ? ORDER BY id LIMIT 1', [pupils[0]]);
  const held = await school.test.db.get<{ id: number }>('SELECT id FROM phone_custody WHERE person_id = ? ORDER BY id LIMIT 1', [pupils[1]]);
  const holdOf = async (kind: string) => Number((await school.test.db.get<{ id: number }>('SELECT id FROM holds WHERE kind = ?', [kind]))!.id);
  const alert = await school.test.db.get<{ id: number }>("SELECT id FROM alerts WHERE kind = 'asset-lost' ORDER BY id LIMIT 1");
  // Pupil 1's own card, and a spare card given to pupil 2 for the day.
  const badge = Buffer.from(await records.people.enrolBadge(pupils[0], Uint8Array.from([0x04, 0xa1, 0xb2, 0xc3]))).toString('hex');
  const spare = await records.dayCards.addSpare('Spare 1', '04D1E2F3', office, '2026-03-02T07:00:00.000Z');
  const given = await records.dayCards.give('Spare 1', 'P002', office, '2026-03-02T08:00:00.000Z');
  const spareHash = await school.test.db.get<{ hash: Uint8Array }>('SELECT hash FROM spare_cards WHERE id = ?', [spare]);
  ids = {
    badge,
    spareBadge: Buffer.from(spareHash!.hash).toString('hex'),
    spare,
    dayCard: given.dayCardId,
    charge: lost.chargeId!,
    waiver,
    custody: Number(custody!.id),
    loan: lost.loanId,
    heldCustody: Number(held!.id),
    safeguarding: await holdOf('safeguarding'),
    confiscation: await holdOf('confiscation'),
    alert: Number(alert!.id),
  };
}

beforeEach(async () => {
  school = await openSchool();
  await day();
  // The hub is stopped; the records are tampered with from outside.
  await school.test.db.close();
});
afterEach(async () => {
  await school.test.target.drop();
});

describe(`records that prove themselves (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 180_000 }, () => {
  it('verifies an untouched day: every anchored row matches', async () => {
    const result = await verify();
    expect(result.code, result.said).toBe(0);
    expect(result.stdout).toMatch(/audit trail intact: \d+ records, .* (\d+) anchored rows match; .*\(full verify, [\d.]+ s\)/);
    // Not a terminal: progress as plain lines on stderr.
    expect(result.stderr).toMatch(/^audit records checked: [\d,]+ of [\d,]+ \(\d+ %\)$/m);
    expect(result.stderr).toMatch(/^anchored rows compared: [\d,]+$/m);
    // Station events, phone custody, loans, charges, holds and alerts; 10 people, 2 badges, a spare card and a day card.
    const alerts = Number(/(\d+)/.exec((await run(...countAlerts())).stdout)![1]);
    expect(alerts).toBeGreaterThan(0);
    expect(Number(/(\d+) anchored rows/.exec(result.stdout)![1])).toBe(7 + 2 + 2 + 3 + 2 + alerts + 10 + 2 + 1 + 1);
  });

  it('names a ledger amount changed from £10.00 to £500.00', async () => {
    await tamper(`${DROP_GUARDS} UPDATE charges SET amount_pence = 50000 WHERE id = ${ids.charge};`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`charges ${ids.charge} was altered: it no longer matches audit record \\d+`));
  });

  it('names a deleted waiver', async () => {
    await tamper(`${DROP_GUARDS} DELETE FROM charges WHERE id = ${ids.waiver};`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`charges ${ids.waiver} was deleted outside the hub: audit record \\d+ holds it`));
  });

  it('names a ledger entry inserted directly', async () => {
    await tamper(
      `INSERT INTO charges (id, person_id, entry, amount_pence, reason, asset_id, loan_id, corrects_id, term, created_at, created_by) VALUES (900, ${school.pupils[2]}, 'charge', 550, 'made up', NULL, NULL, NULL, '2025-26 spring', '2026-03-05T09:00:00.000Z', NULL);`,
    );
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/charges 900 was inserted outside the hub: no audit record holds it/);
  });

  it('names phone custody edited, then deleted', async () => {
    await tamper(`UPDATE phone_custody SET collected_at = '2026-03-02T11:00:00.000Z' WHERE id = ${ids.custody};`);
    expect((await verify()).said).toMatch(new RegExp(`phone_custody ${ids.custody} was (altered|changed outside the hub)`));
    await tamper(`DELETE FROM phone_custody WHERE id = ${ids.custody};`);
    expect((await verify()).said).toMatch(new RegExp(`phone_custody ${ids.custody} was (deleted|changed) outside the hub`));
  });

  it('names phone custody inserted', async () => {
    await tamper(`INSERT INTO phone_custody (id, person_id, station_id, locker, deposited_at, deposit_boot, deposit_seq) VALUES (77, ${school.pupils[3]}, 'form-7a', 5, '2026-03-02T08:00:00.000Z', 1, 99);`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/phone_custody 77 was (inserted|changed) outside the hub/);
  });

  it('names the phones in lockers now (derived from custody) emptied or given a phone that is not in', async () => {
    await tamper('DELETE FROM phones_in;');
    let result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/phones_in \d+ was deleted outside the hub: phone custody \d+ is still in a locker/);
    await tamper(`INSERT INTO phones_in (custody_id, person_id, station_id, locker, deposited_at) SELECT id, person_id, station_id, locker, deposited_at FROM phone_custody WHERE collected_at IS NULL;
      INSERT INTO phones_in (custody_id, person_id, station_id, locker, deposited_at) VALUES (${ids.custody}, ${school.pupils[0]}, 'form-7a', 1, '2026-03-02T08:40:00.000Z');`);
    result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`phones_in ${ids.custody} was inserted outside the hub`));
  });

  it('names a loan edited', async () => {
    await tamper(`UPDATE loans SET outcome = 'returned' WHERE id = ${ids.loan};`);
    expect((await verify()).said).toMatch(new RegExp(`loans ${ids.loan} was (altered|changed outside the hub)`));
  });

  it('names a loan deleted', async () => {
    await tamper(`${DROP_GUARDS} DELETE FROM charges WHERE loan_id = ${ids.loan}; DELETE FROM loans WHERE id = ${ids.loan};`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/(charges|loans) \d+ was (deleted|changed) outside the hub/);
  });

  it('names a loan inserted', async () => {
    await tamper(`INSERT INTO loans (id, asset_id, person_id, lent_at, due_at) VALUES (55, 1, ${school.staff.office}, '2026-03-01T09:00:00.000Z', '2026-03-02T09:00:00.000Z');`);
    expect((await verify()).said).toMatch(/loans 55 was (inserted|changed) outside the hub/);
  });

  it('names a station event edited', async () => {
    await tamper(`UPDATE station_events SET person_id = ${school.pupils[3]} WHERE station_id = 'form-7a' AND boot = 1 AND seq = 2;`);
    expect((await verify()).said).toMatch(/station_events form-7a\/0\/1\/2 was (altered|changed outside the hub)/);
  });

  it('names a station event deleted', async () => {
    await tamper(`DELETE FROM station_events WHERE station_id = 'form-7a' AND boot = 1 AND seq = 3;`);
    expect((await verify()).said).toMatch(/station_events form-7a\/0\/1\/3 was (deleted|changed) outside the hub/);
  });

  it('names a station event inserted', async () => {
    await tamper(`INSERT INTO station_events (station_id, boot, seq, type, locker, person_id, uptime_ms, received_at) VALUES ('form-7a', 1, 40, ${EVENT.DEPOSIT}, 6, ${school.pupils[3]}, 1000, '2026-03-02T08:00:00.000Z');`);
    expect((await verify()).said).toMatch(/station_events form-7a\/0\/1\/40 was (inserted|changed) outside the hub/);
  });

  it('names a safeguarding hold turned into a confiscation (so the office could release it)', async () => {
    await tamper(`UPDATE holds SET kind = 'confiscation' WHERE id = ${ids.safeguarding};`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`holds ${ids.safeguarding} was (altered: it no longer matches audit record \\d+|changed outside the hub)`));
  });

  it('names a confiscation deleted', async () => {
    await tamper(`DELETE FROM holds WHERE id = ${ids.confiscation};`);
    expect((await verify()).said).toMatch(new RegExp(`holds ${ids.confiscation} was (deleted|changed) outside the hub`));
  });

  it('names a hold inserted', async () => {
    await tamper(`INSERT INTO holds (id, kind, person_id, station_id, locker, placed_at) VALUES (70, 'confiscation', ${school.pupils[0]}, 'form-7a', 7, '2026-03-02T12:00:00.000Z');`);
    expect((await verify()).said).toMatch(/holds 70 was (inserted|changed) outside the hub/);
  });

  it('names an alert acknowledged, deleted or inserted outside the hub', async () => {
    await tamper(`UPDATE alerts SET acknowledged_at = '2026-03-03T09:30:00.000Z', acknowledged_by = ${school.staff.office} WHERE id = ${ids.alert};`);
    expect((await verify()).said).toMatch(new RegExp(`alerts ${ids.alert} was (altered|changed outside the hub)`));
    await tamper(`DELETE FROM alerts WHERE id = ${ids.alert};`);
    expect((await verify()).said).toMatch(new RegExp(`alerts ${ids.alert} was (deleted|changed) outside the hub`));
  });

  it('names an alert inserted', async () => {
    await tamper(`INSERT INTO alerts (id, at, kind, role, subject, message) VALUES (90, '2026-03-02T12:00:00.000Z', 'door-forced', 'headteacher', 'locker:form-7a/1', 'made up');`);
    expect((await verify()).said).toMatch(/alerts 90 was (inserted|changed) outside the hub/);
  });

  // People, their badges, the spare cards and the day cards (migration 18): for each, an edit,
  // a deletion and an insertion made with the database's own client.
  const hex = (text: string) => (USING_POSTGRES ? `'\\x${text}'::bytea` : `X'${text}'`);

  it('names a person renamed, deleted or inserted outside the hub', async () => {
    // The ICT lead: no other row refers to them, so the owner can delete the row outright.
    const ict = school.staff.ict;
    await tamper(`UPDATE people SET name = 'Someone Else', role = 'headteacher' WHERE id = ${ict};`);
    let result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`people ${ict} was (altered: it no longer matches audit record \\d+|changed outside the hub)`));
    await tamper(`DELETE FROM people WHERE id = ${ict};`);
    result = await verify();
    expect(result.said).toMatch(new RegExp(`people ${ict} was (deleted|changed) outside the hub`));
  });

  it('names a person inserted outside the hub', async () => {
    await tamper(`INSERT INTO people (id, external_id, name, kind, role) VALUES (400, 'S-ghost', 'Ghost Head', 'staff', 'headteacher');`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/people 400 was (inserted|changed) outside the hub/);
  });

  it('names a badge moved to another person, or deleted, outside the hub', async () => {
    await tamper(`UPDATE badges SET person_id = ${school.staff.headteacher} WHERE hash = ${hex(ids.badge)};`);
    let result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`badges ${ids.badge} was (altered: it no longer matches audit record \\d+|changed outside the hub)`));
    await tamper(`DELETE FROM badges WHERE hash = ${hex(ids.badge)};`);
    result = await verify();
    expect(result.said).toMatch(new RegExp(`badges ${ids.badge} was (deleted|changed) outside the hub`));
  });

  it('names a badge inserted outside the hub', async () => {
    const forged = 'ab'.repeat(16);
    await tamper(`INSERT INTO badges (hash, person_id, enrolled_at) VALUES (${hex(forged)}, ${school.staff.headteacher}, '2026-03-02T08:00:00.000Z');`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`badges ${forged} was (inserted|changed) outside the hub`));
  });

  it('names a spare card edited, deleted or inserted outside the hub', async () => {
    await tamper(`UPDATE spare_cards SET retired_at = '2026-03-02T09:00:00.000Z' WHERE id = ${ids.spare};`);
    let result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`spare_cards ${ids.spare} was (altered: it no longer matches audit record \\d+|changed outside the hub)`));
    // Its day card goes first (it refers to the card); spare cards are compared before day cards.
    await tamper(`DELETE FROM day_cards WHERE spare_card_id = ${ids.spare}; DELETE FROM spare_cards WHERE id = ${ids.spare};`);
    result = await verify();
    expect(result.said).toMatch(new RegExp(`spare_cards ${ids.spare} was (deleted|changed) outside the hub`));
  });

  it('names a spare card inserted outside the hub', async () => {
    await tamper(`INSERT INTO spare_cards (id, label, hash, added_at) VALUES (60, 'Spare 9', ${hex('cd'.repeat(16))}, '2026-03-02T07:00:00.000Z');`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/spare_cards 60 was (inserted|changed) outside the hub/);
  });

  it('names a day card edited, deleted or inserted outside the hub', async () => {
    // Who had the spare card that day, changed: their taps would be blamed on someone else.
    await tamper(`UPDATE day_cards SET person_id = ${school.pupils[2]} WHERE id = ${ids.dayCard};`);
    let result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`day_cards ${ids.dayCard} was (altered: it no longer matches audit record \\d+|changed outside the hub)`));
    await tamper(`DELETE FROM day_cards WHERE id = ${ids.dayCard};`);
    result = await verify();
    expect(result.said).toMatch(new RegExp(`day_cards ${ids.dayCard} was (deleted|changed) outside the hub`));
  });

  it('names a day card inserted outside the hub', async () => {
    await tamper(`INSERT INTO day_cards (id, spare_card_id, person_id, issued_at, expires_at) VALUES (50, ${ids.spare}, ${school.pupils[3]}, '2026-03-01T08:00:00.000Z', '2026-03-01T16:00:00.000Z');`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/day_cards 50 was (inserted|changed) outside the hub/);
  });

  it('verifies after a purge: the purged people, their badges and their custody changed by the hub', async () => {
    // Two pupils left long ago (one with their own card, one with a day card): the hub records it.
    const db = await openRaw();
    try {
      await db.transaction((tx) => tx.run("UPDATE people SET left_on = '2023-07-20' WHERE id IN (?, ?)", [school.pupils[0], school.pupils[1]]));
    } finally {
      await db.close();
    }
    const purged = await handover('purge', '--by', 'S-office');
    expect(purged.code, purged.stderr).toBe(0);
    expect(purged.stdout).toMatch(/2 people pseudonymised, 2 badges/);
    const result = await verify();
    expect(result.code, result.said).toBe(0);
    // ...and a purged row changed afterwards outside the hub is still named.
    await tamper(`UPDATE people SET name = 'Pupil 1' WHERE id = ${school.pupils[0]};`);
    expect((await verify()).said).toMatch(new RegExp(`people ${school.pupils[0]} was (altered|changed outside the hub)`));
  });

  it('still names phone custody edited outside the hub after the hub has marked it uncollected', async () => {
    // Blame another pupil for the phone left in, then let the hub's own sweep change the row.
    await tamper(`UPDATE phone_custody SET person_id = ${school.pupils[3]} WHERE id = ${ids.heldCustody};`);
    const swept = await handover('uncollected');
    expect(swept.code, swept.stderr).toBe(0);
    expect(swept.stdout).toMatch(/[1-9]\d* phones? marked uncollected/);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`phone_custody ${ids.heldCustody} was altered outside the hub before audit record \\d+ changed it: it no longer matched audit record \\d+`));
  });

  it('still names a loan edited outside the hub after the hub has recorded it found', async () => {
    await tamper(`UPDATE loans SET person_id = ${school.staff.office} WHERE id = ${ids.loan};`);
    const found = await handover('charge', 'found', 'USB-001', '--by', 'S-office');
    expect(found.code, found.stderr).toBe(0);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`loans ${ids.loan} was altered outside the hub before audit record \\d+ changed it`));
  });

  it('still names a row inserted outside the hub and then changed by it', async () => {
    await tamper(`INSERT INTO phone_custody (id, person_id, station_id, locker, deposited_at, deposit_boot, deposit_seq) VALUES (78, ${school.pupils[3]}, 'form-7a', 7, '2026-03-02T08:00:00.000Z', 1, 98);`);
    expect((await handover('uncollected')).code).toBe(0);
    expect((await verify()).said).toMatch(/phone_custody 78 was inserted outside the hub before audit record \d+ changed it/);
  });

  it('verifies incrementally from where the last full verify passed: a later change is checked, an older row is left to the full verify', async () => {
    const first = await verify('--incremental');
    expect(first.code, first.said).toBe(0);
    expect(first.stdout).toMatch(/audit trail intact: .*\(full verify \(full, not incremental: no full verify has passed yet\)/);
    const marked = await headSeq();
    // The hub goes on: the phone left in is marked uncollected (a record after the mark).
    expect((await handover('uncollected')).code).toBe(0);
    const clean = await verify('--incremental');
    expect(clean.code, clean.said).toBe(0);
    expect(clean.stdout).toMatch(new RegExp(`audit trail intact since record ${marked} \\(incremental verify, from the full verify of .*\\): records ${marked + 1}\\.\\.\\d+ checked .*the [1-9]\\d* rows they anchor match`));
    // The row the hub changed after the mark, edited: the incremental verify names it.
    await tamper(`UPDATE phone_custody SET locker = 3 WHERE id = ${ids.heldCustody};`);
    const later = await verify('--incremental');
    expect(later.code).not.toBe(0);
    expect(later.said).toMatch(new RegExp(`phone_custody ${ids.heldCustody} was altered: it no longer matches audit record \\d+ .*incremental from record ${marked}`));
    // Put back (on PostgreSQL the owner's triggers listed the edits as unanchored: a careful
    // attacker who owns the tables empties that list too).
    const unlist = USING_POSTGRES ? ' DELETE FROM anchor_pending;' : '';
    await tamper(`UPDATE phone_custody SET locker = 2 WHERE id = ${ids.heldCustody};${unlist}`);
    expect((await verify('--incremental')).code).toBe(0);
    // A row last changed before the mark is not re-read by an incremental verify; a full one names it.
    await tamper(`UPDATE loans SET outcome = 'returned' WHERE id = ${ids.loan};${unlist}`);
    expect((await verify('--incremental')).code).toBe(0);
    const full = await verify();
    expect(full.code).not.toBe(0);
    expect(full.said).toMatch(new RegExp(`loans ${ids.loan} was altered`));
  });

  it('starts an incremental verify only from a mark carrying the audit key, and only if the chain still has that record', async () => {
    expect((await verify()).code).toBe(0);
    const marked = await headSeq();
    await tamper(`UPDATE hub_secrets SET value = replace(value, '"seq":${marked}', '"seq":${marked - 1}') WHERE name = 'audit-verified-through';`);
    const forged = await verify('--incremental');
    expect(forged.code, forged.said).toBe(0);
    expect(forged.stdout).toMatch(/\(full verify \(full, not incremental: the mark of the last full verify does not carry the audit key's MAC/);
    // The full verify above marked the head again; now the record at the mark is rewritten.
    await tamper(`${DROP_GUARDS} UPDATE audit_log SET hash = '${'ee'.repeat(32)}' WHERE seq = ${marked};`);
    const rewritten = await verify('--incremental');
    expect(rewritten.code).not.toBe(0);
    expect(rewritten.said).toMatch(new RegExp(`the chain was rewritten: record ${marked} is not the one the full verify of .* saw`));
  });

  it('blames an inserted record with a bad hash on itself, not on the record before it', async () => {
    const head = await headSeq();
    await tamper(`${DROP_GUARDS} UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 5; UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1005;
      INSERT INTO audit_log (seq, at, actor, action, subject, person_id, details, prev_hash, hash) VALUES (5, '2026-03-02T10:00:00.000Z', 'person:1', 'charge.waiver', 'charge:1', NULL, '{}', '${'ab'.repeat(32)}', '${'cd'.repeat(32)}');
      UPDATE audit_head SET seq = ${head + 1};`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/record 5 was inserted: record 6 is chained to record 4/);
  });

  it('detects a whole chain rewritten after a checkpoint, against the checkpoint file kept elsewhere', async () => {
    const checkpoint = await handover('audit', 'checkpoint');
    expect(checkpoint.code, checkpoint.stderr).toBe(0);
    // The office's copy of the export, kept elsewhere.
    const kept = path.join(school.test.target.dataDir, 'usb-stick-copy.jsonl');
    fs.copyFileSync(path.join(school.test.target.dataDir, 'audit-checkpoints.jsonl'), kept);
    // Rewrite: change one record's details (not an anchor record's, which would show in the rows) and re-chain everything after it, head included; the
    // checkpoints in the database and the file beside it are removed too.
    await tamper(`${DROP_GUARDS} UPDATE audit_log SET details = '{"amountPence":1}' WHERE seq = (SELECT MIN(seq) FROM audit_log WHERE action <> 'records.anchored');`);
    await rechain();
    await tamper('DELETE FROM audit_checkpoints;');
    fs.rmSync(path.join(school.test.target.dataDir, 'audit-checkpoints.jsonl'));
    // Without the copy the rewritten chain fits together...
    expect((await verify()).code).toBe(0);
    // ...with it, the rewrite shows.
    const result = await verify('--checkpoints', kept);
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/the chain was rewritten: record \d+ is not the one the checkpoint of .* in usb-stick-copy.jsonl saw/);
  });

  it('detects the tail and the head cut back to an earlier record, against a checkpoint', async () => {
    expect((await handover('audit', 'checkpoint')).code).toBe(0);
    const head = await headSeq();
    const cut = head - 3;
    const last = await auditRow(cut);
    await tamper(`${DROP_GUARDS} DELETE FROM audit_log WHERE seq > ${cut}; UPDATE audit_head SET seq = ${cut}, hash = '${last.hash}';`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(new RegExp(`record ${cut + 1}\\.\\.${head} removed: the trail ends at record ${cut} but the checkpoint of .* saw record ${head}`));
  });

  it('reports a checkpoint forged without the key', async () => {
    expect((await handover('audit', 'checkpoint')).code).toBe(0);
    await tamper(`UPDATE audit_checkpoints SET mac = '${'00'.repeat(32)}';`);
    const result = await verify();
    expect(result.code).not.toBe(0);
    expect(result.said).toMatch(/checkpoint of record \d+ .* in the database does not carry the audit key's MAC/);
  });

  it('keeps the checkpoint key in a file only its owner can read', async () => {
    expect((await handover('audit', 'checkpoint')).code).toBe(0);
    expect(fs.statSync(path.join(school.test.target.dataDir, 'audit.key')).mode & 0o777).toBe(0o600);
  });
});

async function openRaw() {
  const { openDatabase } = await import('../../../hub/src/db/open');
  return (await openDatabase({ dataDir: school.test.target.dataDir, databaseUrl: school.test.target.databaseUrl })).db;
}

async function headSeq(): Promise<number> {
  const db = await openRaw();
  try {
    return Number((await db.get<{ seq: number }>('SELECT seq FROM audit_head WHERE id = 1'))!.seq);
  } finally {
    await db.close();
  }
}

async function auditRow(seq: number): Promise<AuditRecord> {
  const db = await openRaw();
  try {
    return (await db.get<AuditRecord>('SELECT * FROM audit_log WHERE seq = ?', [seq]))!;
  } finally {
    await db.close();
  }
}

/** What a forger would script: every record's hash recomputed in order, and the head. */
async function rechain(): Promise<void> {
  const db = await openRaw();
  try {
    const rows = await db.all<AuditRecord>('SELECT * FROM audit_log ORDER BY seq');
    let prev = '0'.repeat(64);
    const statements: string[] = [];
    for (const row of rows) {
      const record = { ...row, seq: Number(row.seq), person_id: row.person_id === null ? null : Number(row.person_id) };
      const hash = recordHash(prev, record);
      statements.push(`UPDATE audit_log SET prev_hash = '${prev}', hash = '${hash}' WHERE seq = ${record.seq};`);
      prev = hash;
    }
    statements.push(`UPDATE audit_head SET hash = '${prev}';`);
    await db.close();
    await tamper(statements.join('\n'));
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}

// On PostgreSQL the hub works as a role that owns none of the tables (README "PostgreSQL"): CI
// makes one and names it in DATABASE_HUB_URL; the tables' owner migrates (DATABASE_OWNER_URL).
const HUB_ROLE_URL = process.env.DATABASE_HUB_URL;

describe.skipIf(!USING_POSTGRES || !HUB_ROLE_URL)('the hub’s PostgreSQL role owns no table', () => {
  it('works, but cannot disable or drop the triggers, nor edit the ledger or the trail', async () => {
    const { openDatabase } = await import('../../../hub/src/db/open');
    const target = school.test.target;
    const hubUrl = new URL(HUB_ROLE_URL!);
    hubUrl.pathname = new URL(target.databaseUrl!).pathname;
    const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: hubUrl.toString(), databaseOwnerUrl: target.databaseUrl });
    try {
      expect((await db.get<{ name: string }>('SELECT current_user AS name'))!.name).not.toBe(new URL(target.databaseUrl!).username);
      // Its ordinary work goes on: an event applied, the ledger added to, anchored as before.
      const { createRecords } = await import('../../../hub/src/records');
      const records = createRecords(db);
      await records.custody.applyEvent({ station: 'form-7a', boot: 1, seq: 4, uptimeMs: 4000, type: EVENT.DEPOSIT, locker: 6, person: school.pupils[3] }, '2026-03-05T08:40:00.000Z');
      await records.ledger.reverse(ids.charge, 'found in the library', school.actor('office'), '2026-03-05T09:00:00.000Z');
      for (const attempt of [
        'ALTER TABLE charges DISABLE TRIGGER ALL',
        'ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only',
        'DROP TRIGGER charges_append_only ON charges',
        'DROP TRIGGER station_events_anchor_ins ON station_events',
        'DROP TABLE anchor_pending',
      ]) {
        await expect(db.exec(attempt), attempt).rejects.toThrow(/must be owner/);
      }
      await expect(db.run('UPDATE charges SET amount_pence = 50000 WHERE id = ?', [ids.charge])).rejects.toThrow(/permission denied/);
      await expect(db.run('DELETE FROM audit_log WHERE seq = 1')).rejects.toThrow(/permission denied/);
      await expect(db.exec('SET session_replication_role = replica')).rejects.toThrow(/permission denied/);
    } finally {
      await db.close();
    }
    const result = await verify();
    expect(result.code, result.said).toBe(0);
  });
});
