// The repository's own import graph, read with Babel's TypeScript parser (TypeScript 7 has no
// JavaScript compiler API): every relative `import`, `export … from` and `import()` of each file,
// type-only imports included (they tie two modules together just the same), resolved to files.
// Packages (`node:fs`, `zod`) are not followed.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

interface AstNode {
  type: string;
  source?: AstNode | null;
  value?: string;
  callee?: AstNode;
  arguments?: AstNode[];
}
// @babel/core (a dev dependency, for the firmware build) ships no types of its own.
const { parseSync } = createRequire(import.meta.url)('@babel/core') as {
  parseSync(code: string, options: object): { program: AstNode } | null;
};

const SOURCE = /\.(ts|mts|mjs|js)$/;

/** Relative specifiers a file imports, in source order. */
export function importsOf(file: string): string[] {
  const ast = parseSync(fs.readFileSync(file, 'utf8'), { filename: file, presets: ['@babel/preset-typescript'], babelrc: false, configFile: false, sourceType: 'module' });
  const found: string[] = [];
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as AstNode;
    const literal = (value: AstNode | null | undefined) => (value?.type === 'StringLiteral' ? value.value! : null);
    if (n.type === 'ImportDeclaration' || n.type === 'ExportAllDeclaration' || n.type === 'ExportNamedDeclaration' || n.type === 'ImportExpression') {
      const specifier = literal(n.source);
      if (specifier !== null) found.push(specifier);
    } else if (n.type === 'CallExpression' && n.callee?.type === 'Import') {
      const specifier = literal(n.arguments?.[0]);
      if (specifier !== null) found.push(specifier);
    }
    for (const key of Object.keys(n)) if (key !== 'loc' && key !== 'leadingComments' && key !== 'trailingComments') visit((n as unknown as Record<string, unknown>)[key]);
  };
  visit(ast?.program);
  return found.filter((specifier) => specifier.startsWith('.'));
}

function resolve(from: string, specifier: string): string | null {
  const base = path.resolve(path.dirname(from), specifier);
  const candidates = [base, `${base}.ts`, `${base}.mts`, `${base}.mjs`, `${base}.js`, path.join(base, 'index.ts')];
  if (/\.js$/.test(base)) candidates.push(base.replace(/\.js$/, '.ts'));
  return candidates.find((candidate) => SOURCE.test(candidate) && fs.existsSync(candidate) && fs.statSync(candidate).isFile()) ?? null;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => !file.split(path.sep).includes('node_modules'));
}

/** Every file under `roots` and every file they reach, each with the files it imports. */
export function importGraph(roots: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const queue = roots.flatMap(sourceFiles);
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (graph.has(file)) continue;
    const targets = importsOf(file).map((specifier) => resolve(file, specifier)).filter((target): target is string => target !== null);
    graph.set(file, targets);
    queue.push(...targets);
  }
  return graph;
}

/** The graph's cycles, one per strongly connected component of more than one file (or a file importing itself). */
export function importCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iterative enough for a few hundred files.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (file: string): void => {
    index.set(file, counter);
    low.set(file, counter++);
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!index.has(target)) {
        connect(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) low.set(file, Math.min(low.get(file)!, index.get(target)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (graph.get(file) ?? []).includes(file)) components.push(component.sort());
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) connect(file);
  return components;
}
