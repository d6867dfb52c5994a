// A garbage flood of 10,000 messages a second from a client holding a station's credential, kept
// short here (FLOOD_SECONDS, default 5; `npm run bench -- flood` runs the full 60 s): the hub's
// memory and log stay bounded, its page answers, and a real station's deposits are committed
// meanwhile. The figures are printed.
import { describe, expect, it } from 'vitest';
import { runFlood } from '../support/flood-rig';

const SECONDS = Number(process.env.FLOOD_SECONDS ?? 5);

describe('a garbage flood against the hub', () => {
  it(`keeps the hub bounded for ${SECONDS} s at 10,000 messages/s, serving the page and committing valid frames`, async () => {
    const result = await runFlood({ seconds: SECONDS, rate: 10_000 });
    console.log(`flood: ${JSON.stringify(result)}`);
    expect(result.sent).toBeGreaterThan(SECONDS * 10_000 * 0.5);
    // The broker let the attacker's own topics through at a station's rate (the hub refused each of
    // those), and dropped the rest: other stations' topics, and everything over the rate.
    expect(result.refusedByHub).toBeGreaterThan(0);
    expect(result.refusedByBroker).toBeGreaterThan(result.sent * 0.5);
    expect(result.refusedByHub + result.refusedByBroker).toBeGreaterThan(result.sent * 0.6);
    expect(result.rssPeakMb - result.rssStartMb).toBeLessThan(20);
    expect(result.logGrowthBytes).toBeLessThan(1024 * 1024);
    expect(result.pageFailures).toBe(0);
    expect(result.pageReads).toBeGreaterThan(0);
    expect(result.depositsMade).toBeGreaterThan(0);
    expect(result.depositsCommitted).toBe(result.depositsMade);
  }, 180_000);
});
