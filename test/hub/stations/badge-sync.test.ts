// BadgeSync starts each push without awaiting it: a push that rejects (here its retry timing
// throws, as a broken logger or clock would) must be logged, not left as an unhandled rejection,
// which stops Node. The station link is the hub's own, not started (every command is refused).
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../hub/src/log';
import type { BadgeListFile, BadgeLists } from '../../../hub/src/stations/badge-lists';
import { BadgeSync } from '../../../hub/src/stations/badge-sync';
import { StationLink, type StationState } from '../../../hub/src/stations/station-link';
import { eventually } from '../../support/eventually';

/** The hub's badge lists as BadgeSync reads them: one list, version 5. */
class OneList extends EventEmitter {
  current(): BadgeListFile {
    return { version: 5, file: new Uint8Array(16), badges: 0 };
  }
  firstAfter(): number {
    return 5;
  }
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('badge-list pushes', () => {
  it('logs a push that rejects instead of leaving the rejection unhandled', async () => {
    process.on('unhandledRejection', onUnhandled);
    const lines: string[] = [];
    const log = createLogger('badges', (line) => lines.push(line));
    const link = new StationLink({ brokerUrl: 'mqtt://127.0.0.1:1', clientId: 'unused', site: 'school', log, keyOf: async () => '00'.repeat(32) });
    const sync = new BadgeSync({
      link,
      lists: new OneList() as unknown as BadgeLists,
      log,
      random: () => {
        throw new Error('clock broken');
      },
    });
    sync.start();
    const state: StationState = { stationId: 'st-1', online: true, badgeListVersion: 1, updatedAt: new Date().toISOString() };
    link.emit('state', state);
    await eventually(() => lines.some((line) => line.includes('badge list 5 to st-1: clock broken')), 5000, 'the logged rejection');
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
    sync.stop();
  });
});
