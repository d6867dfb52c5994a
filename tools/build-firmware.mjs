#!/usr/bin/env node
// npm run build: bundles the firmware with rollup.config.mjs into dist/firmware.js, checks the
// result against what Espruino can run (tools/bundle-check.mjs), and prints its size.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { rollup } from 'rollup';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const { default: config } = await import(pathToFileURL(path.join(root, 'rollup.config.mjs')).href);

const started = Date.now();
let bundle;
let code;
try {
  bundle = await rollup({ ...config, onwarn: (warning) => console.warn(`rollup: ${warning.message}`) });
  code = (await bundle.generate(config.output)).output[0].code;
} catch (error) {
  console.error(`firmware build failed: ${error.message}`);
  if (error.loc) console.error(`  at ${error.loc.file}:${error.loc.line}:${error.loc.column}`);
  process.exit(1);
} finally {
  await bundle?.close();
}

const output = config.output.file;
// The first line names the version (FIRMWARE_VERSION in firmware/src/main.ts), so the hub can tell
// which version a bundle is when it is uploaded for a network update (hub/src/firmware/bundle.ts).
const version = /const FIRMWARE_VERSION = '(\d+\.\d+\.\d+)'/.exec(fs.readFileSync(path.join(root, 'firmware/src/main.ts'), 'utf8'));
if (!version) {
  console.error('firmware build failed: no FIRMWARE_VERSION in firmware/src/main.ts');
  process.exit(1);
}
const source = `// handover-firmware ${version[1]}\n` + code;
const checkerPath = path.join(root, 'tools/bundle-check.mjs');
if (fs.existsSync(checkerPath)) {
  const { checkBundle } = await import(pathToFileURL(checkerPath).href);
  const violations = checkBundle(source);
  if (violations.length > 0) {
    for (const v of violations) console.error(`${output}:${v.line}:${v.column}  ${v.construct}  ${v.snippet}`);
    console.error(`firmware build failed: ${violations.length} construct(s) Espruino cannot run`);
    process.exit(1);
  }
}
// Written whole under another name, then renamed: a test reading the bundle while a build runs
// (CI runs its two passes side by side) sees the old file or the new one, never half of one.
fs.mkdirSync(path.dirname(output), { recursive: true });
const partial = `${output}.${process.pid}.partial`;
fs.writeFileSync(partial, source);
fs.renameSync(partial, output);
const bytes = Buffer.byteLength(source);
console.log(`${output}: ${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB) in ${Date.now() - started} ms`);
