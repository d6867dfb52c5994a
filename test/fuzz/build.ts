// Builds test/fuzz/codec-entry.ts with the firmware's own rollup pipeline (rollup.config.mjs's
// firmwareConfig: Babel lowering and terser, exactly as dist/firmware.js) and loads it into the
// simulator's Espruino environment (hardware/sim/espruino-env.ts: no Map, Set, Symbol, ...).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { rollup } from 'rollup';
import { Board } from '../../hardware/sim/board';
import { EspruinoEnvironment } from '../../hardware/sim/espruino-env';
import { FlashStorage } from '../../hardware/sim/flash-storage';
export { prng } from '../support/prng';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function buildFuzzBundle(): Promise<string> {
  const { firmwareConfig } = await import(pathToFileURL(path.join(root, 'rollup.config.mjs')).href);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'handover-fuzz-')), 'codecs.js');
  // Property names stay: the test reads the codecs' results (ok, value, error, packet fields) from outside.
  const config = firmwareConfig(path.join(root, 'test/fuzz/codec-entry.ts'), file, { mangleProperties: false });
  const bundle = await rollup({ ...config, onwarn: () => {} });
  try {
    await bundle.write(config.output);
  } finally {
    await bundle.close();
  }
  return fs.readFileSync(file, 'utf8');
}

export interface FuzzContext {
  env: EspruinoEnvironment;
  context: vm.Context;
  /** Runs `expression` (with `INPUT` set to `input`) inside the context, under a time limit. */
  run<T>(expression: string, input: unknown, timeoutMs?: number): T;
  /** The context's own Uint8Array, so the firmware's `instanceof Uint8Array` holds. */
  bytes(data: Uint8Array): Uint8Array;
}

export function loadIntoEspruino(source: string): FuzzContext {
  const bootTimeMs = Date.now();
  const log: string[] = [];
  const env = new EspruinoEnvironment({
    board: new Board(() => (Date.now() - bootTimeMs) / 1000),
    storage: new FlashStorage(null),
    spiDevices: new Map(),
    log: (line) => log.push(line),
    onReset: () => {},
    bootTimeMs,
  });
  const context = env.context;
  vm.runInContext('var FUZZ = {}; var INPUT; var OUTPUT;', context);
  env.run(source, 'codecs.js');
  if (env.errors.length > 0) throw new Error(`fuzz bundle failed to load: ${env.errors.join('\n')}`);
  const ContextUint8Array = vm.runInContext('Uint8Array', context) as Uint8ArrayConstructor;
  const scripts = new Map<string, vm.Script>();
  return {
    env,
    context,
    run<T>(expression: string, input: unknown, timeoutMs = 10_000): T {
      let script = scripts.get(expression);
      if (!script) scripts.set(expression, (script = new vm.Script(`OUTPUT = ${expression}; INPUT = undefined; OUTPUT`)));
      context.INPUT = input;
      return script.runInContext(context, { timeout: timeoutMs }) as T;
    },
    bytes: (data) => new ContextUint8Array(data),
  };
}


/** The seed: FUZZ_SEED from the environment (decimal or 0x hex), else a fixed default. Printed. */
export function fuzzSeed(name: string, fallback: number): number {
  const given = process.env.FUZZ_SEED;
  const seed = given ? Number(given) >>> 0 : fallback;
  if (given && !Number.isFinite(Number(given))) throw new Error(`FUZZ_SEED must be a number, not ${given}`);
  console.log(`${name}: seed ${seed} (FUZZ_SEED=${seed} reproduces this run)`);
  return seed;
}
