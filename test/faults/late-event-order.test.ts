// Found by the fault runs (broker-restart, hub-sigkill): an event the hub missed comes again from
// the station's journal only after later events were stored. The hub applies effects in the
// station's sequence, not in arrival order, so a deposit resent after its own collection still
// leaves the phone collected.
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT, openSchool, type School } from '../hub/support/school';

let school: School | null = null;
afterEach(async () => {
  await school?.close();
  school = null;
});

describe('an event resent late, after later events were stored', () => {
  it('leaves the phone collected when its deposit arrives after its collection', async () => {
    school = await openSchool();
    const { records, pupils } = school;
    const deposit = school.frame('form-7a', EVENT.DEPOSIT, { locker: 2, person: pupils[0] }); // seq 1
    const collect = school.frame('form-7a', EVENT.COLLECT, { locker: 2, person: pupils[0] }); // seq 2
    await school.apply(collect, '2026-03-02T15:22:00.000Z');
    await school.apply(deposit, '2026-03-02T15:22:10.000Z'); // the station's resend
    expect(await records.custody.phonesIn()).toEqual([]);
    expect((await records.custody.lockers()).find((l) => l.stationId === 'form-7a' && l.locker === 2)!.state).toBe('free');
  });
});
