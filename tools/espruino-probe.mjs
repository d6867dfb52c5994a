#!/usr/bin/env node
// Runs the project's Espruino probe corpus (test/golden/espruino-corpus.json: what the bundle check's
// rules rest on) through a real Espruino interpreter and says which recorded results still hold.
//
//   node tools/espruino-probe.mjs --espruino /path/to/espruino [--corpus FILE] [--write]
//
// Each probe is a snippet that sets `r`. It runs alone in a fresh interpreter; the result printed is
// String(r), or the error the interpreter reported. A probe "runs" when it gave the same value as
// Node. --write stores the new results in the corpus file. Nothing of Espruino's is in this
// repository: build the Linux interpreter from its public source (see the README's Performance
// section) outside it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const espruino = option('--espruino');
const corpusFile = path.resolve(option('--corpus') ?? path.join(root, 'test/golden/espruino-corpus.json'));
if (!espruino) {
  console.error('usage: node tools/espruino-probe.mjs --espruino /path/to/espruino [--corpus FILE] [--write]');
  process.exit(2);
}

const MARK = '@@probe ';
const corpus = JSON.parse(fs.readFileSync(corpusFile, 'utf8'));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'espruino-probe-'));

/** Runs one snippet; returns { value } or { error }. */
function runProbe(code) {
  const file = path.join(scratch, 'probe.js');
  // The snippet is evaluated, so a syntax error in it is caught and reported like any other error.
  const wrapped = `var r; try { eval(${JSON.stringify(code)}); print(${JSON.stringify(MARK)} + 'ok ' + String(r)); }`
    + ` catch (e) { print(${JSON.stringify(MARK)} + 'error ' + String(e)); }`;
  fs.writeFileSync(file, wrapped);
  const run = spawnSync(espruino, [file], { encoding: 'utf8', timeout: 10_000, cwd: scratch });
  const line = `${run.stdout ?? ''}`.split('\n').find((l) => l.startsWith(MARK));
  if (!line) return { error: `no result (exit ${run.status}): ${(run.stdout ?? '').slice(-200)}` };
  const text = line.slice(MARK.length).trim();
  return text.startsWith('ok ') ? { value: text.slice(3) } : { error: text.slice(6) };
}

let changed = 0;
for (const probe of corpus) {
  const got = runProbe(probe.code);
  const runs = got.value !== undefined && got.value === probe.node_result;
  const same = runs === probe.runs_on_espruino && (got.value ?? null) === (probe.espruino_result ?? null);
  if (!same) {
    changed++;
    console.log(`changed: ${probe.feature}: recorded ${probe.runs_on_espruino ? 'runs' : 'fails'} (${probe.espruino_result ?? probe.espruino_error}), now ${runs ? 'runs' : 'fails'} (${got.value ?? got.error})`);
  }
  probe.runs_on_espruino = runs;
  probe.espruino_result = got.value ?? null;
  if (runs) delete probe.espruino_error;
  else probe.espruino_error = got.error ?? `got ${got.value}`;
}
fs.rmSync(scratch, { recursive: true, force: true });
console.log(`${corpus.length} probes, ${corpus.filter((p) => p.runs_on_espruino).length} run, ${changed} differ from the recorded results`);
if (args.includes('--write')) fs.writeFileSync(corpusFile, JSON.stringify(corpus, null, 2) + '\n');
process.exitCode = changed > 0 ? 1 : 0;
