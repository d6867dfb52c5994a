// Keeps a large import's memory bounded (issue 17: a 20 MB file under +100 MB). The import itself
// holds little (the ids the file names), but it makes garbage that outlives V8's young generation —
// each batch's rows and statements, the badge list rebuilt while cards change — and V8 lets that
// pile up in the old generation until it reaches a limit it sets at the last full collection, up to
// four times the live heap: +180 to +300 MB of garbage between collections during a 20 MB import
// (`node --trace-gc`, bench/import.bench.ts). So the importer asks for a full collection itself
// whenever the heap has grown by BUDGET since the last one: with the hub's live heap near 60 MB
// that is one collection of some 50–100 ms every few thousand rows, between batches.
import v8 from 'node:v8';
import vm from 'node:vm';

/** Heap growth (bytes) tolerated before a full collection is asked for. */
export const HEAP_BUDGET_BYTES = 48 * 1024 * 1024;

let collector: (() => void) | null | undefined;

/**
 * V8's full collection, without starting Node with --expose-gc: the flag is set now and takes
 * effect in a new context, whose global `gc` collects the whole isolate's heap. Null if refused.
 */
function fullCollection(): (() => void) | null {
  if (collector !== undefined) return collector;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return (collector = exposed);
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    collector = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    collector = null;
  }
  return collector;
}

const heapUsed = () => v8.getHeapStatistics().used_heap_size;

/** Checks, between an import's batches, that the heap stays within the budget of where it started. */
export class HeapBudget {
  private base = heapUsed();
  /** Full collections asked for so far (the bench prints it). */
  collections = 0;

  constructor(private budget = HEAP_BUDGET_BYTES) {}

  /** Collects if the heap has grown past the budget since the start or the last collection. */
  check(): void {
    if (heapUsed() - this.base < this.budget) return;
    const gc = fullCollection();
    if (!gc) return;
    gc();
    this.collections++;
    this.base = heapUsed();
  }
}
