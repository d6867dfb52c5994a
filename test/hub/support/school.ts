// A small school for the hub's record tests: a station for phones, a staff loan bank with a stick
// and a laptop, pupils and staff in every role, and a helper that builds station event frames.
import { EVENT } from '../../../protocol/wire';
import type { EventFrame } from '../../../hub/src/protocol/frames';
import { createRecords, type Records } from '../../../hub/src/records';
import type { Actor } from '../../../hub/src/records/access';
import type { Role } from '../../../hub/src/records/people';
import { openTestDatabase, type TestDatabase } from '../../support/test-database';

export interface School {
  test: TestDatabase;
  records: Records;
  pupils: number[];
  staff: Record<Role, number>;
  actor(role: Role): Actor;
  /** Frames as a station sends them, numbered per station in boot 1. */
  frame(station: string, type: number, fields?: Partial<EventFrame>): EventFrame;
  apply(frame: EventFrame, at: string): Promise<void>;
  close(): Promise<void>;
}

export async function openSchool(): Promise<School> {
  const test = await openTestDatabase();
  const records = createRecords(test.db);
  await records.stations.add('demo', 'form-7a', 8);
  await records.stations.add('demo', 'loans-1', 4);
  const pupils: number[] = [];
  for (let i = 1; i <= 4; i++) pupils.push(await records.people.add({ externalId: `P00${i}`, name: `Pupil ${i}`, role: 'pupil', form: '7A' }));
  const staff = {} as Record<Role, number>;
  for (const role of ['staff', 'headteacher', 'deputy', 'dsl', 'ict', 'office'] as Role[]) {
    staff[role] = await records.people.add({ externalId: `S-${role}`, name: `Staff ${role}`, role });
  }
  const seqs = new Map<string, number>();
  return {
    test,
    records,
    pupils,
    staff,
    actor: (role) => ({ personId: staff[role], role }),
    frame(station, type, fields = {}) {
      const seq = (seqs.get(station) ?? 0) + 1;
      seqs.set(station, seq);
      return { station, boot: 1, seq, uptimeMs: seq * 1000, type, ...fields };
    },
    async apply(frame, at) {
      await records.custody.applyEvent(frame, at);
    },
    close: () => test.close(),
  };
}

export { EVENT };
