// The importer's heap budget (hub/src/import/heap-budget.ts): between batches it asks V8 for a full
// collection once the heap has grown past the budget, and not before. Run without --expose-gc, as
// the hub runs: the collection is reached through a new context.
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { HeapBudget } from '../../../hub/src/import/heap-budget';

const used = () => v8.getHeapStatistics().used_heap_size;

describe('the import heap budget', () => {
  it('collects the garbage once the heap has grown past the budget, and not before', () => {
    const budget = new HeapBudget(16 * 1024 * 1024);
    budget.check();
    expect(budget.collections).toBe(0);
    // Garbage the size of a few batches' rows, left for the collector.
    let rows: Array<{ line: number; fields: string[] }> | null = [];
    for (let i = 0; i < 200_000; i++) rows.push({ line: i, fields: [`id-${i}`, `Name ${i}`, `7${i % 6}`] });
    rows = null;
    const before = used();
    budget.check();
    expect(budget.collections).toBe(1);
    expect(used()).toBeLessThan(before - 16 * 1024 * 1024);
    // Right after a collection the heap is within the budget again: nothing more to do.
    budget.check();
    expect(budget.collections).toBe(1);
  });
});
