// The hub's rules (../shared/POLICY.md) on the records, driven by station events as the ingest
// applies them, on whichever database DATABASE_URL selects.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DETAIL } from '../../../protocol/wire';
import { AccessError, RuleError } from '../../../hub/src/records/access';
import { LeaverBlockedError } from '../../../hub/src/records/loans';
import { LostProperty } from '../../../hub/src/records/lost-property';
import { addDays } from '../../../hub/src/records/time';
import { EVENT, openSchool, type School } from '../support/school';

let school: School;
beforeEach(async () => {
  school = await openSchool();
});
afterEach(async () => {
  await school.close();
});

/** A local-time moment on a given day (the cut-off is in hub local time). */
function local(day: string, time: string): string {
  return new Date(`${day}T${time}:00`).toISOString();
}

describe('phones (P1, P2)', () => {
  it('deposit and collect keep custody and the locker state, each event once', async () => {
    const { records, pupils } = school;
    const deposit = school.frame('form-7a', EVENT.DEPOSIT, { locker: 2, person: pupils[0] });
    await school.apply(deposit, local('2026-03-02', '08:42'));
    expect(await records.custody.phonesIn()).toMatchObject([{ personId: pupils[0], stationId: 'form-7a', locker: 2 }]);
    // The same frame again (a retransmission) changes nothing and is not stored twice.
    const again = await records.custody.applyEvent(deposit, local('2026-03-02', '08:43'));
    expect(again).toEqual({ stored: false, committedSeq: 1 });
    expect(await records.custody.phonesIn()).toHaveLength(1);

    await school.apply(school.frame('form-7a', EVENT.COLLECT, { locker: 2, person: pupils[0] }), local('2026-03-02', '15:22'));
    expect(await records.custody.phonesIn()).toEqual([]);
    const lockers = await records.custody.lockers();
    expect(lockers.find((l) => l.stationId === 'form-7a' && l.locker === 2)!.state).toBe('free');
    // No charge is ever raised for a personal phone (P2).
    expect(await records.ledger.entries()).toEqual([]);
  });

  it('applies a batch in one go, duplicates inside it included, and acknowledges only up to a gap', async () => {
    const { records, pupils } = school;
    const f1 = school.frame('form-7a', EVENT.DEPOSIT, { locker: 0, person: pupils[0] });
    const f2 = school.frame('form-7a', EVENT.DEPOSIT, { locker: 1, person: pupils[1] });
    const f3 = school.frame('form-7a', EVENT.UNKNOWN_BADGE); // seq 3 comes later
    const f4 = school.frame('form-7a', EVENT.DEPOSIT, { locker: 3, person: pupils[2] });
    const at = local('2026-03-02', '08:41');
    const results = await records.custody.applyBatch([f1, f2, f1, f4].map((frame) => ({ frame, receivedAt: at })));
    expect(results.map((r) => r.stored)).toEqual([true, true, false, true]);
    expect(results.map((r) => r.committedSeq)).toEqual([2, 2, 2, 2]);
    // seq 4 is stored but waits behind the gap: effects follow the station's order.
    expect((await records.custody.phonesIn()).map((p) => p.locker)).toEqual([0, 1]);
    expect(await records.custody.applyEvent(f3, at)).toEqual({ stored: true, committedSeq: 4 });
    expect((await records.custody.phonesIn()).map((p) => p.locker)).toEqual([0, 1, 3]);
  });

  it('shows the custody chain of a phone: deposit, a forced door, collection', async () => {
    const { records, pupils, db } = { ...school, db: school.test.db };
    await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 4, person: pupils[3] }), local('2026-03-02', '08:40'));
    await school.apply(school.frame('form-7a', EVENT.DOOR_FORCED, { locker: 4 }), local('2026-03-02', '11:00'));
    await school.apply(school.frame('form-7a', EVENT.COLLECT, { locker: 4, person: pupils[3] }), local('2026-03-02', '15:25'));
    const custody = await db.get<{ id: number }>('SELECT id FROM phone_custody WHERE person_id = ?', [pupils[3]]);
    const chain = await records.custody.phoneChain(Number(custody!.id));
    expect(chain!.events.map((e) => e.event)).toEqual(['deposit', 'door-forced', 'collect']);
    expect((await records.alerts.open()).map((a) => a.kind)).toContain('door-forced');
  });
});

describe('lost property (P1, P13)', () => {
  it('marks phones in at the cut-off uncollected and due for disposal after the term, which staff record', async () => {
    const { records, pupils, test } = school;
    const lost = new LostProperty(test.db, records.audit, { dayCutoff: '16:00', lostPropertyDays: 91 });
    await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 0, person: pupils[0] }), local('2026-03-02', '08:45'));
    await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 1, person: pupils[1] }), local('2026-03-02', '08:46'));
    await school.apply(school.frame('form-7a', EVENT.COLLECT, { locker: 1, person: pupils[1] }), local('2026-03-02', '15:25'));

    expect(await lost.markUncollected(new Date(local('2026-03-02', '15:59')))).toBe(0);
    expect(await lost.markUncollected(new Date(local('2026-03-02', '16:01')))).toBe(1);
    expect(await lost.markUncollected(new Date(local('2026-03-02', '16:05')))).toBe(0);
    const [phone] = await lost.uncollected();
    expect(phone).toMatchObject({ person_id: pupils[0], locker: 0, uncollected_at: local('2026-03-02', '16:00') });
    expect(phone.disposal_due_at).toBe(addDays(local('2026-03-02', '16:00'), 91));

    expect(await lost.dueForDisposal(new Date(local('2026-04-01', '12:00')))).toEqual([]);
    await expect(lost.dispose(Number(phone.id), 'recycled', school.actor('office'), new Date(local('2026-04-01', '12:00')))).rejects.toThrow(/not due for disposal/);
    const later = new Date(Date.parse(phone.disposal_due_at) + 60_000);
    expect((await lost.dueForDisposal(later)).map((row) => Number(row.id))).toEqual([Number(phone.id)]);
    await expect(lost.dispose(Number(phone.id), '', school.actor('office'), later)).rejects.toThrow(RuleError);
    await expect(lost.dispose(Number(phone.id), 'recycled', { personId: pupils[2], role: 'pupil' }, later)).rejects.toThrow(AccessError);
    await lost.dispose(Number(phone.id), 'returned to parent', school.actor('office'), later);
    expect(await lost.uncollected()).toEqual([]);
    expect(await records.custody.phonesIn()).toEqual([]);
  });
});

async function registerLoanBank(s: School) {
  const { records } = s;
  const office = s.actor('office');
  await records.assets.upsert({ tag: 'USB-001', serial: 'SN1', classId: 'usb-stick', encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: 0, tagUid: '04aa0001' }, office);
  await records.assets.upsert({ tag: 'LAP-001', serial: 'SN2', classId: 'laptop', encryption: 'BitLocker', homeStation: 'loans-1', homeLocker: 1, tagUid: '04aa0002', lastHealthCheck: '2025-01-01T00:00:00.000Z' }, office);
}

describe('loans (P6, P10, P12)', () => {
  it('lends only registered encrypted sticks', async () => {
    await expect(school.records.assets.upsert({ tag: 'USB-BAD', classId: 'usb-stick', encryption: null }, school.actor('office'))).rejects.toThrow(/encryption/);
    await registerLoanBank(school);
    const config = await school.records.assets.lockerConfig('loans-1', 4, '2026-03-02T09:00:00.000Z');
    expect(config[0]).toMatchObject({ assetClass: 1, healthCheckDue: false });
    expect(config[1]).toMatchObject({ assetClass: 2, healthCheckDue: true });
    expect(config[2]).toBeNull();
  });

  it('opens a loan from the station with its due date, lists it overdue, and closes it on return', async () => {
    await registerLoanBank(school);
    const { records, staff } = school;
    await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 0, person: staff.staff, actor: staff.staff }), '2026-03-02T09:00:00.000Z');
    const [loan] = await records.loans.openLoansOf(staff.staff);
    expect(loan).toMatchObject({ station_id: 'loans-1', locker: 0, due_at: '2026-03-03T09:00:00.000Z' });
    expect((await records.assets.byTag('USB-001')).status).toBe('on-loan');
    expect(await records.loans.overdue('2026-03-03T08:00:00.000Z')).toEqual([]);
    expect((await records.loans.overdue('2026-03-03T10:00:00.000Z')).map((row) => row.tag)).toEqual(['USB-001']);

    await school.apply(school.frame('loans-1', EVENT.RETURN, { locker: 0, person: staff.staff, actor: staff.staff }), '2026-03-03T11:00:00.000Z');
    expect(await records.loans.openLoansOf(staff.staff)).toEqual([]);
    expect((await records.assets.byTag('USB-001')).status).toBe('available');
    expect((await records.custody.lockers()).find((l) => l.stationId === 'loans-1' && l.locker === 0)!.state).toBe('item-present');
  });

  it('flags a loan to a role that may not borrow the class (P12)', async () => {
    await registerLoanBank(school);
    await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 0, person: school.pupils[0], actor: school.pupils[0] }), '2026-03-02T09:00:00.000Z');
    expect((await school.records.alerts.open()).map((a) => a.kind)).toContain('loan-not-permitted');
  });

  it('holds a laptop due a health check on return until ICT clears it (P10)', async () => {
    await registerLoanBank(school);
    const { records, staff } = school;
    await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 1, person: staff.staff, actor: staff.staff }), '2026-03-02T09:00:00.000Z');
    expect((await records.loans.openLoansOf(staff.staff))[0].due_at).toBe('2026-03-16T09:00:00.000Z');
    await school.apply(school.frame('loans-1', EVENT.RETURN, { locker: 1, person: staff.staff, actor: staff.staff, detail: DETAIL.HEALTH_CHECK_DUE }), '2026-03-05T09:00:00.000Z');
    expect((await records.assets.byTag('LAP-001')).status).toBe('health-check');
    expect((await records.holds.list(school.actor('office'), { open: true })).map((h) => h.kind)).toEqual(['health-check']);
    expect((await records.custody.lockers()).find((l) => l.stationId === 'loans-1' && l.locker === 1)!.state).toBe('health-check-held');

    await school.apply(school.frame('loans-1', EVENT.HOLD_RELEASED, { locker: 1, actor: staff.ict, detail: DETAIL.HEALTH_CHECK_CLEARED }), '2026-03-05T10:00:00.000Z');
    const laptop = await records.assets.byTag('LAP-001');
    expect(laptop.status).toBe('available');
    expect(laptop.last_health_check).toBe('2026-03-05T10:00:00.000Z');
    expect(await records.assets.healthCheckDueAt(laptop)).toBe(addDays('2026-03-05T10:00:00.000Z', 90));
    expect(await records.holds.list(school.actor('office'), { open: true })).toEqual([]);
  });
});

describe('loss, theft, damage and the ledger (P7, P8, P11)', () => {
  async function lendStick() {
    await registerLoanBank(school);
    await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 0, person: school.staff.staff, actor: school.staff.staff }), '2026-03-02T09:00:00.000Z');
  }

  it('charges £10.00 for a lost stick, linked to its custody chain, alerts the headteacher first, and reverses it when found', async () => {
    await lendStick();
    const { records, staff } = school;
    const lost = await records.loans.reportLost('USB-001', school.actor('office'), '2026-03-04T09:00:00.000Z');
    expect(lost.amountPence).toBe(1000);
    expect(await records.ledger.balance(staff.staff)).toBe(1000);
    const evidence = await records.ledger.evidence(lost.chargeId!);
    expect(evidence.loan).toMatchObject({ id: lost.loanId, outcome: 'lost' });
    expect((evidence.stationEvents as Array<{ type: number }>).map((e) => Number(e.type))).toContain(EVENT.LOAN);
    expect(evidence.auditRecords.map((r) => r.action)).toEqual(expect.arrayContaining(['loan.opened', 'loan.reported-lost']));
    const alerts = await records.alerts.open();
    expect(alerts[0]).toMatchObject({ kind: 'asset-lost', role: 'headteacher' });

    const { reversals } = await records.loans.found('USB-001', school.actor('office'), '2026-03-05T09:00:00.000Z');
    expect(reversals).toHaveLength(1);
    expect(await records.ledger.balance(staff.staff)).toBe(0);
    const entries = await records.ledger.entries({ personId: staff.staff });
    expect(entries.map((e) => [e.entry, Number(e.amount_pence), e.corrects_id === null ? null : Number(e.corrects_id)])).toEqual([
      ['charge', 1000, null],
      ['reversal', -1000, lost.chargeId],
    ]);
    expect((await records.assets.byTag('USB-001')).status).toBe('available');
  });

  it('never edits or deletes a ledger entry: the database refuses', async () => {
    await lendStick();
    const { chargeId } = await school.records.loans.reportLost('USB-001', school.actor('office'));
    await expect(school.test.db.run('UPDATE charges SET amount_pence = 1 WHERE id = ?', [chargeId])).rejects.toThrow(/append-only/);
    await expect(school.test.db.run('DELETE FROM charges WHERE id = ?', [chargeId])).rejects.toThrow(/append-only/);
  });

  it('refuses a theft report without a crime number, and charges nothing for one with it', async () => {
    await lendStick();
    const { records } = school;
    await expect(records.loans.reportStolen('USB-001', '  ', school.actor('office'))).rejects.toThrow(/crime number/);
    const { loanId } = await records.loans.reportStolen('USB-001', 'CR/12345/26', school.actor('office'));
    expect(await records.loans.get(loanId)).toMatchObject({ outcome: 'stolen', crime_number: 'CR/12345/26' });
    expect(await records.ledger.entries()).toEqual([]);
    expect((await records.alerts.open())[0]).toMatchObject({ kind: 'asset-stolen', role: 'headteacher' });
  });

  it('charges damage from the price list', async () => {
    await lendStick();
    const { records, staff } = school;
    await expect(records.loans.reportDamage('USB-001', 'screen', school.actor('office'))).rejects.toThrow(/no price for "screen"/);
    const damage = await records.loans.reportDamage('USB-001', 'damaged', school.actor('office'));
    expect(damage.amountPence).toBe(1000);
    await records.assets.setPrice('usb-stick', 'damaged', 750, school.actor('office'));
    const again = await records.loans.reportDamage('USB-001', 'damaged', school.actor('office'));
    expect(again.amountPence).toBe(750);
    expect(await records.ledger.balance(staff.staff)).toBe(1750);
  });

  it('waives a charge only with a reason and a named office or senior member of staff', async () => {
    await lendStick();
    const { records, staff } = school;
    const { chargeId } = await records.loans.reportLost('USB-001', school.actor('office'));
    await expect(records.ledger.waive(chargeId!, 'goodwill', school.actor('staff'), '2026-03-06T09:00:00.000Z')).rejects.toThrow(AccessError);
    await expect(records.ledger.waive(chargeId!, ' ', school.actor('office'), '2026-03-06T09:00:00.000Z')).rejects.toThrow(/reason/);
    const waiver = await records.ledger.waive(chargeId!, 'stick was faulty', school.actor('headteacher'), '2026-03-06T09:00:00.000Z');
    const entry = await records.ledger.get(waiver);
    expect(entry).toMatchObject({ entry: 'waiver', reason: 'stick was faulty', created_by: staff.headteacher });
    expect(Number(entry!.amount_pence)).toBe(-1000);
    await expect(records.ledger.waive(chargeId!, 'again', school.actor('office'), '2026-03-06T09:00:00.000Z')).rejects.toThrow(/nothing outstanding/);
    expect(await records.ledger.balance(staff.staff)).toBe(0);
  });
});

describe('leavers (P9, P10)', () => {
  it('blocks on a laptop, lets a stick be retained with a declaration and written off without charge', async () => {
    await registerLoanBank(school);
    const { records, staff } = school;
    await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 0, person: staff.staff, actor: staff.staff }), '2026-03-02T09:00:00.000Z');
    await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 1, person: staff.staff, actor: staff.staff }), '2026-03-02T09:05:00.000Z');
    const leaver = (await records.people.get(staff.staff))!;
    expect((await records.loans.leaverLoans(staff.staff)).map((item) => [item.asset.tag, item.required])).toEqual([
      ['USB-001', 'return-or-declare'],
      ['LAP-001', 'return'],
    ]);
    await expect(records.loans.completeLeaver(leaver, '2026-07-20', school.actor('office'))).rejects.toThrow(LeaverBlockedError);
    await expect(records.loans.retainWithDeclaration(Number(leaver.id), 'LAP-001', 'I have deleted all school data', school.actor('office'))).rejects.toThrow(/must be returned/);
    await records.loans.retainWithDeclaration(Number(leaver.id), 'USB-001', 'I declare all school information on this stick has been deleted', school.actor('office'));
    expect((await records.assets.byTag('USB-001')).status).toBe('written-off');
    await expect(records.loans.completeLeaver(leaver, '2026-07-20', school.actor('office'))).rejects.toThrow(/LAP-001/);
    await school.apply(school.frame('loans-1', EVENT.RETURN, { locker: 1, person: staff.staff, actor: staff.staff }), '2026-03-10T09:00:00.000Z');
    await records.loans.completeLeaver(leaver, '2026-07-20', school.actor('office'));
    expect((await records.people.get(staff.staff))!.left_on).toBe('2026-07-20');
    expect(await records.ledger.entries()).toEqual([]);
  });
});

describe('holds (P4, P5)', () => {
  it('records a confiscation and its two-person release with both names', async () => {
    const { records, pupils, staff } = school;
    await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 0, person: pupils[0] }), '2026-03-02T08:45:00.000Z');
    await school.apply(school.frame('form-7a', EVENT.HOLD_SET, { locker: 0, person: pupils[0], actor: staff.staff }), '2026-03-02T10:00:00.000Z');
    let [hold] = await records.holds.list(school.actor('office'));
    expect(hold).toMatchObject({ kind: 'confiscation', personId: pupils[0], placedBy: 'Staff staff', releasedAt: null });
    await school.apply(school.frame('form-7a', EVENT.HOLD_RELEASED, { locker: 0, person: pupils[0], actor: staff.staff, witness: staff.headteacher }), '2026-03-02T15:30:00.000Z');
    [hold] = await records.holds.list(school.actor('office'));
    expect(hold).toMatchObject({ releasedBy: 'Staff staff', witness: 'Staff headteacher' });
    expect(await records.custody.phonesIn()).toEqual([]);
    expect(await records.alerts.open()).toEqual([]);
  });

  it('alerts when a confiscation is released without a senior member of staff', async () => {
    const { records, pupils, staff } = school;
    await school.apply(school.frame('form-7a', EVENT.HOLD_SET, { locker: 1, person: pupils[1], actor: staff.staff, detail: DETAIL.CONFISCATED }), '2026-03-02T10:00:00.000Z');
    expect(await records.custody.phonesIn()).toHaveLength(1);
    await school.apply(school.frame('form-7a', EVENT.HOLD_RELEASED, { locker: 1, person: pupils[1], actor: staff.staff, witness: staff.office }), '2026-03-02T15:30:00.000Z');
    expect((await records.alerts.open()).map((a) => a.kind)).toContain('release-without-two-staff');
  });

  it('keeps safeguarding details to DSL and headteacher, and logs every read', async () => {
    const { records, pupils, staff } = school;
    await school.apply(school.frame('form-7a', EVENT.HOLD_SET, { locker: 2, person: pupils[2], actor: staff.dsl, detail: DETAIL.CONFISCATED }), '2026-03-02T10:00:00.000Z');
    const [asOffice] = await records.holds.list(school.actor('office'));
    expect(asOffice).toMatchObject({ kind: 'safeguarding', restricted: true, personId: null, personName: null });
    const [asDsl] = await records.holds.list(school.actor('dsl'));
    expect(asDsl).toMatchObject({ kind: 'safeguarding', restricted: false, personId: pupils[2] });
    expect((await records.custody.lockers()).find((l) => l.locker === 2 && l.stationId === 'form-7a')).toMatchObject({ state: 'safeguarding-held', personName: null });

    await expect(records.holds.setSafeguardingDetails(asDsl.id, 'referral 2026/17', school.actor('office'))).rejects.toThrow(AccessError);
    await records.holds.setSafeguardingDetails(asDsl.id, 'referral 2026/17', school.actor('dsl'));
    await expect(records.holds.safeguardingDetails(asDsl.id, school.actor('deputy'))).rejects.toThrow(AccessError);
    await expect(records.holds.safeguardingDetails(asDsl.id, school.actor('office'))).rejects.toMatchObject({ code: 'forbidden' });
    expect((await records.holds.safeguardingDetails(asDsl.id, school.actor('headteacher'))).details).toBe('referral 2026/17');
    const reads = (await records.audit.forSubject(`hold:${asDsl.id}`)).filter((r) => r.action === 'hold.details-read');
    expect(reads.map((r) => r.actor)).toEqual([`person:${staff.headteacher}`]);

    await school.apply(school.frame('form-7a', EVENT.HOLD_RELEASED, { locker: 2, person: pupils[2], actor: staff.dsl }), '2026-03-03T09:00:00.000Z');
    const released = await records.holds.safeguardingDetails(asDsl.id, school.actor('dsl'));
    expect(released.receipt).toMatch(new RegExp(`designated safeguarding lead, person #${staff.dsl}`));
  });
});

describe('medical exemptions (P3)', () => {
  it('records the risk assessment and review date, and flags the badge', async () => {
    const { records, pupils } = school;
    const at = '2026-04-01T09:00:00.000Z';
    await expect(records.exemptions.grant(pupils[0], 'RA-2026-04', '2026-09-01', school.actor('staff'), at)).rejects.toThrow(AccessError);
    await expect(records.exemptions.grant(pupils[0], '', '2026-09-01', school.actor('office'), at)).rejects.toThrow(/risk assessment/);
    // Only a day that exists, not before the grant and within five years of it.
    for (const day of ['2026-02-30', '2027-02-29', '2026-13-01', '2026-03-31', '2031-04-02', '1.9.2026']) {
      await expect(records.exemptions.grant(pupils[0], 'RA-2026-04', day, school.actor('office'), at), day).rejects.toThrow(RuleError);
    }
    await records.exemptions.grant(pupils[0], 'RA-2026-04', '2026-09-01', school.actor('office'), at);
    expect((await records.people.get(pupils[0]))!.medical_exempt).toBe(1);
    expect((await records.exemptions.dueForReview('2026-09-01')).map((row) => row.reference)).toEqual(['RA-2026-04']);
    await records.exemptions.end(pupils[0], school.actor('office'));
    expect((await records.people.get(pupils[0]))!.medical_exempt).toBe(0);
  });
});
