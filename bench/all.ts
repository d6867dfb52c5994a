// Runs the benchmarks in turn and prints one table per topic. `npm run bench -- tap` runs one.
import { benchBundle } from './bundle.bench';
import { benchBadgeLookup } from './badge-lookup.bench';
import { benchTapPath } from './tap-path.bench';
import { benchIngest } from './ingest.bench';
import { benchCustody } from './custody.bench';
import { benchReplay } from './replay.bench';
import { benchFrameSizes } from './frame-sizes.bench';
import { benchAuditVerify } from './audit-verify.bench';

export type Row = Record<string, string | number>;

export function printTable(title: string, rows: Row[]): void {
  console.log(`\n## ${title}\n`);
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]);
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => String(row[column]).length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(columns));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(line(columns.map((column) => String(row[column]))));
}

const BENCHES: Record<string, () => Promise<void>> = {
  bundle: benchBundle,
  lookup: benchBadgeLookup,
  tap: benchTapPath,
  ingest: benchIngest,
  custody: benchCustody,
  replay: benchReplay,
  frames: benchFrameSizes,
  verify: benchAuditVerify,
};

export async function runAll(only: string[]): Promise<void> {
  const names = only.length > 0 ? only : Object.keys(BENCHES);
  for (const name of names) {
    const bench = BENCHES[name];
    if (!bench) throw new Error(`no benchmark ${name}; there are: ${Object.keys(BENCHES).join(', ')}`);
    await bench();
  }
}
