// The throttled log the ingest, the station link and the broker use for refusals: the first of a
// kind in a minute is written, the rest counted and summed up in one line; invented keys beyond a
// bound share one key, so they cost no memory that stays.
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_KEYS, ThrottledLog } from '../../hub/src/log-throttle';

let log: ThrottledLog | null = null;
afterEach(() => log?.stop());

describe('refusals logged once per key a minute, with a count', () => {
  it('writes the first, counts the rest, and says how many when the minute is over', () => {
    const lines: string[] = [];
    log = new ThrottledLog((line) => lines.push(line), 60_000);
    const t0 = 1_000_000;
    for (let i = 0; i < 1000; i++) log.note('room-9|not CBOR', 'rejected frames from station room-9 (not CBOR)', () => `rejected frame #${i}`, t0 + i);
    log.note('room-9|bad signature', 'rejected frames from station room-9 (bad signature)', () => 'rejected frame: bad signature', t0 + 2000);
    expect(lines).toEqual(['rejected frame #0', 'rejected frame: bad signature']);
    log.note('room-9|not CBOR', 'rejected frames from station room-9 (not CBOR)', () => 'rejected frame #1000', t0 + 61_000);
    expect(lines.slice(2)).toEqual(['rejected frames from station room-9 (not CBOR): 999 more in the 60 s after the line above', 'rejected frame #1000']);
  });

  it('keeps at most MAX_KEYS keys: invented station ids beyond them share one line', () => {
    const lines: string[] = [];
    log = new ThrottledLog((line) => lines.push(line), 60_000);
    for (let i = 0; i < MAX_KEYS + 5000; i++) log.note(`ghost-${i}|unknown station`, `ghost-${i}`, () => `unknown station ghost-${i}`, 1000);
    expect(lines.length).toBe(MAX_KEYS + 1);
    log.stop();
    expect(lines.at(-1)).toBe(`other clients or stations (too many to list one by one): 4999 more in the 60 s after the line above`);
    log = null;
  });
});
