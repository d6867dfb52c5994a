// Bounded under abuse: a garbage flood of 10,000 messages/s for 60 s (BENCH_FLOOD_SECONDS) from a
// client holding one station's credential, against the hub as its own process (embedded broker),
// while a real station takes deposits and the office page is read every half second. The goals:
// RSS within +20 MB of where it started, log within +1 MB, the page answering, every deposit
// committed. test/faults/flood.test.ts runs the same for a few seconds and checks the bounds.
import { runFlood } from '../test/support/flood-rig';
import type { BenchOptions } from './options';
import { printTable } from './table';

export async function benchFlood(options: BenchOptions): Promise<void> {
  const seconds = Number(process.env.BENCH_FLOOD_SECONDS ?? (options.quick ? 5 : 60));
  const r = await runFlood({ seconds, rate: 10_000 });
  printTable(`Garbage flood, ${seconds} s at 10,000 messages/s (goals: RSS +20 MB, log +1 MB, page answering, deposits committed)`, [
    {
      'sent': r.sent,
      'refused by the hub': r.refusedByHub,
      'refused by the broker': r.refusedByBroker,
      'RSS start / peak / end (MB)': `${r.rssStartMb} / ${r.rssPeakMb} / ${r.rssEndMb}`,
      'RSS growth (MB)': Math.round((r.rssPeakMb - r.rssStartMb) * 10) / 10,
      'log growth (bytes)': r.logGrowthBytes,
      'page reads (failed), slowest': `${r.pageReads} (${r.pageFailures}), ${r.pageSlowestMs} ms`,
      'deposits made / committed': `${r.depositsMade} / ${r.depositsCommitted}`,
    },
  ]);
}
