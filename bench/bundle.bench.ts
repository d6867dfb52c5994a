// The firmware bundle: bytes on flash, and what it is made of.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import type { BenchOptions } from './options';
import { printTable } from './table';

export async function benchBundle(_options: BenchOptions): Promise<void> {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/firmware.js');
  const source = fs.readFileSync(file);
  let functions = 0;
  walk.full(acorn.parse(source.toString('utf8'), { ecmaVersion: 'latest' }), (node) => {
    if (node.type === 'FunctionExpression' || node.type === 'FunctionDeclaration' || node.type === 'ArrowFunctionExpression') functions++;
  });
  printTable('Firmware bundle (dist/firmware.js)', [
    { bytes: source.length, KiB: (source.length / 1024).toFixed(1), 'gzip bytes': zlib.gzipSync(source).length, functions },
  ]);
}
