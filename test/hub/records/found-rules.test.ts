// A lost stick comes back (P7): put back in its own locker, the station's RETURN is the proof and
// the loss charge is reversed, whoever taps it in (the borrower too); reported found on the
// command line, the roles table's "report lost, stolen, damaged, found" row decides (ICT lead
// included), and nobody reports their own lost item found to clear their own charge.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandLine } from '../support/cli';
import { EVENT, openSchool, type School } from '../support/school';

let school: School;
const { handover } = commandLine(() => school.test.target);

beforeEach(async () => {
  school = await openSchool();
  const { records, staff } = school;
  await records.assets.upsert({ tag: 'USB-001', serial: 'SN1', classId: 'usb-stick', encryption: 'AES-256 hardware', homeStation: 'loans-1', homeLocker: 0 }, school.actor('office'));
  await school.apply(school.frame('loans-1', EVENT.LOAN, { locker: 0, person: staff.office, actor: staff.office }), '2026-03-02T09:00:00.000Z');
  await records.loans.reportLost('USB-001', school.actor('headteacher'), '2026-03-03T09:00:00.000Z');
});
afterEach(async () => {
  await school?.close();
});

describe('a lost item found (P7)', () => {
  it('reverses the loss charge when the borrower puts the stick back in its locker', async () => {
    const { records, staff } = school;
    expect(await records.ledger.balance(staff.office)).toBe(1000);
    await school.apply(school.frame('loans-1', EVENT.RETURN, { locker: 0, person: staff.office, actor: staff.office }), '2026-03-04T09:00:00.000Z');
    expect(await records.ledger.balance(staff.office)).toBe(0);
    expect((await records.assets.byTag('USB-001')).status).toBe('available');
  });

  it('lets the ICT lead report it found, as the roles table says, but not the borrower themselves', async () => {
    const { records, staff } = school;
    const own = await handover('charge', 'found', 'USB-001', '--by', 'S-office');
    expect(own.code, own.stdout).toBe(1);
    expect(own.stderr).toMatch(/against themselves/);
    const ict = await handover('charge', 'found', 'USB-001', '--by', 'S-ict');
    expect(ict.code, ict.stderr).toBe(0);
    expect(await records.ledger.balance(staff.office)).toBe(0);
  });
});
