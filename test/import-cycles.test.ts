// No import circles in the hub, the firmware or the benchmarks (issue 18): a module that imports
// one that imports it back (even for a type) cannot be read, tested or moved on its own, and at
// run time one of the two sees the other half-loaded.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph } from './support/import-graph';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const relative = (file: string) => path.relative(root, file).split(path.sep).join('/');

describe('import cycles', () => {
  it('finds a circle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    expect(importCycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['e.ts']]);
  });

  it('reads type-only, re-exported and dynamic imports as imports', () => {
    const graph = importGraph([path.join(root, 'hub/src')]);
    const targets = (file: string) => (graph.get(path.join(root, file)) ?? []).map(relative);
    expect(targets('hub/src/records/access.ts')).toContain('hub/src/records/actor.ts'); // import type, export … from
    expect(targets('hub/src/records/people.ts')).toContain('hub/src/records/actor.ts');
    expect(targets('hub/src/cli.ts')).toContain('hub/src/hub.ts'); // await import('./hub')
  });

  it('hub/, firmware/ and bench/ (and whatever they import) have none', () => {
    const graph = importGraph(['hub', 'firmware', 'bench'].map((folder) => path.join(root, folder)));
    expect(graph.size).toBeGreaterThan(100);
    expect(importCycles(graph).map((cycle) => cycle.map(relative))).toEqual([]);
  }, 60_000);
});
