// How a benchmark is run: `quick` (npm run bench -- --quick, or BENCH_QUICK=1) at small sizes, to
// prove every scenario still runs and yields its figures (CI); otherwise at the sizes the README quotes.
export interface BenchOptions {
  quick: boolean;
}
