// Runs the benchmarks in turn and prints one table per topic. `npm run bench -- tap` runs one;
// `--quick` (or BENCH_QUICK=1) runs them at small sizes. A benchmark that throws or prints no
// figure is reported and the others still run; the run then fails (non-zero exit).
import { benchBundle } from './bundle.bench';
import { benchBadgeLookup } from './badge-lookup.bench';
import { benchTapPath } from './tap-path.bench';
import { benchIngest, benchIngestHistory } from './ingest.bench';
import { benchCustody } from './custody.bench';
import { benchReplay } from './replay.bench';
import { benchFrameSizes } from './frame-sizes.bench';
import { benchBadgePush } from './badge-push.bench';
import type { BenchOptions } from './options';
import { missingFigures, printedTables } from './table';
import { benchFlood } from './flood.bench';
import { benchAuditVerify } from './audit-verify.bench';
import { benchImport } from './import.bench';
import { benchTrust } from './trust.bench';
import { benchBadgeList } from './badge-list.bench';
import { benchPages } from './pages.bench';

const BENCHES: Record<string, (options: BenchOptions) => Promise<void>> = {
  bundle: benchBundle,
  lookup: benchBadgeLookup,
  tap: benchTapPath,
  ingest: benchIngest,
  'ingest-history': benchIngestHistory,
  custody: benchCustody,
  replay: benchReplay,
  frames: benchFrameSizes,
  'badge-push': benchBadgePush,
  flood: benchFlood,
  verify: benchAuditVerify,
  import: benchImport,
  trust: benchTrust,
  'badge-list': benchBadgeList,
  pages: benchPages,
};

/** Runs the named benchmarks (all when none is named); returns the number that broke. */
export async function runAll(args: string[]): Promise<number> {
  const flags = args.filter((arg) => arg.startsWith('-'));
  const unknownFlag = flags.find((flag) => flag !== '--quick');
  if (unknownFlag) throw new Error(`unknown option ${unknownFlag}; the only option is --quick`);
  const quick = flags.includes('--quick') || ['1', 'true', 'yes'].includes(process.env.BENCH_QUICK ?? '');
  const only = args.filter((arg) => !arg.startsWith('-'));
  const names = only.length > 0 ? only : Object.keys(BENCHES);
  const unknown = names.filter((name) => !BENCHES[name]);
  if (unknown.length > 0) throw new Error(`no benchmark ${unknown.join(', ')}; there are: ${Object.keys(BENCHES).join(', ')}`);

  const started = performance.now();
  const broken: string[] = [];
  for (const name of names) {
    const before = printedTables().length;
    const benchStarted = performance.now();
    let problem: string | null;
    try {
      await BENCHES[name]({ quick });
      problem = missingFigures(printedTables().slice(before));
    } catch (error) {
      problem = error instanceof Error ? (error.stack ?? error.message) : String(error);
    }
    const seconds = ((performance.now() - benchStarted) / 1000).toFixed(1);
    if (problem) {
      broken.push(name);
      console.error(`\nbenchmark ${name} BROKEN after ${seconds} s: ${problem}`);
    } else {
      console.log(`\n(${name}: ${seconds} s)`);
    }
  }
  const total = ((performance.now() - started) / 1000).toFixed(1);
  const mode = quick ? 'quick' : 'full';
  if (broken.length > 0) console.error(`\n${broken.length} of ${names.length} benchmarks broken (${mode} run, ${total} s): ${broken.join(', ')}`);
  else console.log(`\nevery benchmark ran and printed its figures: ${names.join(', ')} (${mode} run, ${total} s)`);
  return broken.length;
}
