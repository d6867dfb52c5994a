// The scheduled sweep: after the cut-off, phones still in are uncollected; a failing sweep is
// logged, not thrown.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../hub/src/log';
import { LostProperty } from '../../hub/src/records/lost-property';
import { Housekeeping } from '../../hub/src/rules/housekeeping';
import { EVENT, openSchool, type School } from './support/school';

let school: School;
beforeEach(async () => {
  school = await openSchool();
});
afterEach(async () => {
  await school.close();
});

it('marks phones uncollected on its tick after the cut-off, and logs a failure instead of throwing', async () => {
  const logs: string[] = [];
  const lost = new LostProperty(school.test.db, school.records.audit, { dayCutoff: '16:00', lostPropertyDays: 91 });
  let now = new Date('2026-03-02T12:00:00');
  await school.apply(school.frame('form-7a', EVENT.DEPOSIT, { locker: 0, person: school.pupils[0] }), new Date('2026-03-02T08:45:00').toISOString());
  const housekeeping = new Housekeeping({ lostProperty: lost, log: createLogger('rules', (line) => logs.push(line)), intervalMs: 60_000, now: () => now });
  await housekeeping.start();
  expect(await lost.uncollected()).toEqual([]);
  now = new Date('2026-03-02T16:01:00');
  await housekeeping.tick();
  expect(await lost.uncollected()).toHaveLength(1);
  expect(logs.some((line) => line.includes('1 phone(s) left after the cut-off marked uncollected'))).toBe(true);
  await housekeeping.stop();

  const broken = new Housekeeping({ lostProperty: { markUncollected: async () => Promise.reject(new Error('disk full')) } as unknown as LostProperty, log: createLogger('rules', (line) => logs.push(line)) });
  await broken.tick();
  expect(logs.at(-1)).toMatch(/uncollected-phone sweep failed: disk full/);
});
