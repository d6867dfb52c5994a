// What a station's state message costs the hub in badge-list work at a trust's size (issue 16):
// 50,000 pupils with a badge each (quick: 3,000). The list is built once per change (BadgeLists,
// stations/badge-lists.ts) and a state message only compares the station's version with it
// (BadgeSync): timed over 20,000 state messages from 2,500 stations all holding the current list,
// against the cost of one rebuild after a change (a badge revoked). The station link is stood in
// for by an emitter (nothing is pushed: every station is current).
import { EventEmitter } from 'node:events';
import { insertRows } from '../hub/src/db/bulk';
import { openDatabase } from '../hub/src/db/open';
import { createLogger } from '../hub/src/log';
import { createRecords } from '../hub/src/records';
import { BadgeLists } from '../hub/src/stations/badge-lists';
import { BadgeSync } from '../hub/src/stations/badge-sync';
import type { StationLink } from '../hub/src/stations/station-link';
import { prng } from '../test/support/prng';
import { testDatabaseTarget } from '../test/support/test-database';
import type { BenchOptions } from './options';
import { printTable } from './table';

export async function benchBadgeList({ quick }: BenchOptions): Promise<void> {
  const badges = Number(process.env.BENCH_BADGES ?? (quick ? 3000 : 50_000));
  const messages = quick ? 2000 : 20_000;
  const stations = 2500;
  const target = await testDatabaseTarget();
  const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  const log = createLogger('badges', () => {});
  const lists = new BadgeLists({ db, people: createRecords(db).people, log, checkEveryMs: 3_600_000 });
  try {
    const random = prng(50);
    await db.transaction(async (tx) => {
      await insertRows(tx, 'people', [['external_id', 'text'], ['name', 'text'], ['kind', 'text'], ['role', 'text']], Array.from({ length: badges }, (_, i) => [`L${i}`, `Badge Pupil ${i}`, 'pupil', 'pupil']));
      const ids = await tx.all<{ id: number }>("SELECT id FROM people WHERE external_id LIKE 'L%' ORDER BY id");
      await insertRows(tx, 'badges', [['hash', 'bytea'], ['person_id', 'bigint'], ['enrolled_at', 'text']], ids.map(({ id }) => [Uint8Array.from({ length: 8 }, () => Math.floor(random() * 256)), Number(id), '2026-09-01T08:00:00.000Z']));
    });
    let started = performance.now();
    await lists.start();
    const firstBuild = performance.now() - started;
    const version = lists.current()!.version;
    const link = Object.assign(new EventEmitter(), { states: new Map() }) as unknown as StationLink;
    const sync = new BadgeSync({ link, lists, log });
    sync.start();
    started = performance.now();
    for (let i = 0; i < messages; i++) link.emit('state', { stationId: `s-${i % stations}`, online: true, badgeListVersion: version });
    const perMessage = (performance.now() - started) / messages;
    await db.run('UPDATE badges SET revoked_at = ? WHERE person_id = (SELECT MIN(person_id) FROM badges)', ['2026-12-07T09:00:00.000Z']);
    // A rebuild is a build (the running one spaces slow rebuilds out: time a fresh one).
    const fresh = new BadgeLists({ db, people: createRecords(db).people, log });
    started = performance.now();
    await fresh.check();
    const rebuild = performance.now() - started;
    sync.stop();
    printTable(`Badge-list cost per station state message with ${badges.toLocaleString('en-GB')} badges (${db.kind}): built once per change, not per message`, [
      { badges, 'state messages': messages, 'µs per state message': (perMessage * 1000).toFixed(1), 'first build ms': firstBuild.toFixed(0), 'rebuild after a change ms': rebuild.toFixed(0), 'builds for the messages': lists.builds },
    ]);
  } finally {
    lists.stop();
    await db.close();
    await target.drop();
  }
}
