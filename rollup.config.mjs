// Firmware build: TypeScript sources -> one minified script that Espruino on an ESP32 runs.
// Babel strips the types and lowers exactly the syntax Espruino lacks (see ../shared/ESPRUINO.md);
// native classes, arrows, let/const and template literals stay, because Espruino runs them and
// they are smaller and faster there than ES5 helpers. `tools/bundle-check.mjs` then proves the
// output is free of everything the interpreter cannot run.
import { babel } from '@rollup/plugin-babel';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import fs from 'node:fs';
import { tsImport } from 'tsx/esm/api';

const extensions = ['.ts', '.js'];

// The bundle runs at the interpreter's top level, not inside an IIFE: on Espruino every function
// created inside another function's scope carries a link to that scope (one variable each), and
// functions at the top level do not (measured on the 2v29 host build: 4,530 -> 4,052 variables at
// rest). Its top-level names then live in the global object, so the mangler must not pick a name
// the interpreter or the board already has. Names the bundle itself reads as globals terser avoids
// on its own; these are the ones it does not read.
const PIN_NAMES = ['A', 'D'].flatMap((port) => Array.from({ length: 100 }, (_, n) => port + n));
const ESPRUINO_GLOBALS = [
  ...PIN_NAMES,
  ...['SPI1', 'SPI2', 'SPI3', 'I2C1', 'I2C2', 'I2C3', 'Serial1', 'Serial2', 'Serial3', 'USB', 'LoopbackA', 'LoopbackB', 'Telnet'],
  ...['LED', 'LED1', 'LED2', 'LED3', 'BTN', 'BTN1', 'BTN2', 'ESP32', 'ESP8266', 'HIGH', 'LOW', 'E', 'Pin', 'Modules', 'Flash'],
  ...['AES', 'DataView', 'File', 'Graphics', 'I2C', 'SPI', 'Serial', 'OneWire', 'Server', 'Socket', 'Stepper', 'Waveform', 'Wifi'],
  ...['dump', 'echo', 'edit', 'load', 'peek8', 'peek16', 'peek32', 'poke8', 'poke16', 'poke32', 'reset', 'save', 'trace', 'url', 'tls'],
  // the measuring harness (tools/espruino-host-measure.mjs) keeps its state in this global
  'HX',
];

/**
 * The firmware pipeline for any entry point: `firmwareConfig('firmware/src/main.ts', 'dist/firmware.js')`
 * is the station's bundle; test/fuzz builds a small bundle of the codecs through the very same plugins.
 */
// Property names are mangled too: on Espruino a property name longer than 8 characters takes a
// second variable, in every object that has it (measured: 3,889 -> 3,718 variables at rest). Names that
// cross the bundle's edge keep their spelling: JavaScript's own (terser's built-in list), the
// interpreter's APIs the firmware calls (typed by hand in espruino.d.ts) and every name the
// configuration file may hold, as the contract lists them (stationConfigNames, checked by the
// compiler against the file's interfaces).
function declaredNames(file) {
  const text = fs.readFileSync(new URL(file, import.meta.url), 'utf8');
  const names = new Set();
  for (const match of text.matchAll(/([A-Za-z_$][\w$]*)\??\s*[:(]/g)) names.add(match[1]);
  return [...names];
}
const { stationConfigNames } = await tsImport('./protocol/station-config.ts', import.meta.url);
const BOUNDARY_PROPERTIES = [...declaredNames('./firmware/src/espruino/espruino.d.ts'), ...stationConfigNames()];

/**
 * A build-time substitution for variants of the bundle (bench/replay.bench.ts builds one with the
 * replay cap lifted): every `name: <number>` property in an object literal of the sources gets the
 * number given for `name`. What was replaced is added to `found` (name, number in the source, file);
 * the build fails if a name matches no such property, so a variant never silently equals the station's.
 */
function replaceNumbers(replacements, found) {
  const names = Object.keys(replacements);
  const babelPlugin = ({ types }) => ({
    visitor: {
      ObjectProperty(path, state) {
        const { key, value, computed } = path.node;
        if (computed || key.type !== 'Identifier' || !names.includes(key.name)) return;
        if (value.type !== 'NumericLiteral') return;
        found.push({ name: key.name, source: value.value, file: state.filename });
        path.node.value = types.numericLiteral(replacements[key.name]);
      },
    },
  });
  const rollupPlugin = {
    name: 'replace-numbers',
    buildEnd(error) {
      if (error) return;
      const missing = names.filter((name) => !found.some((hit) => hit.name === name));
      if (missing.length > 0) this.error(`replaceNumbers: no property ${missing.join(', ')} with a number in the firmware sources`);
    },
  };
  return { babelPlugin, rollupPlugin };
}

/**
 * `mangleProperties: false` keeps property names, for a bundle whose objects a test reads from
 * outside (test/fuzz's codec bundle). `replace: { name: number }` with `found: []` builds a variant
 * (see replaceNumbers).
 */
export function firmwareConfig(input, file, { mangleProperties = true, replace = null, found = [] } = {}) {
  const replacing = replace ? replaceNumbers(replace, found) : null;
  return {
    input,
    output: {
      file,
      format: 'es',
      strict: false,
      generatedCode: { arrowFunctions: true, constBindings: false, objectShorthand: true },
    },
    treeshake: { moduleSideEffects: false },
    plugins: [
      nodeResolve({ extensions }),
      babel({
        extensions,
        babelHelpers: 'bundled',
        babelrc: false,
        configFile: false,
        // Arrays are the only iterables the firmware spreads or destructures: this keeps Babel from
        // emitting helpers that need Symbol.iterator or Array.from, which Espruino does not have.
        assumptions: { iterableIsArray: true, arrayLikeIsIterable: false, noDocumentAll: true, setPublicClassFields: true },
        presets: [['@babel/preset-typescript', { onlyRemoveTypeImports: false }]],
        plugins: [
          ...(replacing ? [replacing.babelPlugin] : []),
          // Field initialisers move into the constructor (this.queue = []): Espruino evaluates a
          // class field's initialiser once, so every instance would share one array.
          '@babel/plugin-transform-class-properties',
          '@babel/plugin-transform-destructuring',
          '@babel/plugin-transform-spread',
          '@babel/plugin-transform-parameters',
          '@babel/plugin-transform-optional-chaining',
          '@babel/plugin-transform-exponentiation-operator',
          '@babel/plugin-transform-computed-properties',
          '@babel/plugin-transform-block-scoping',
        ],
      }),
      terser({
        ecma: 2015,
        module: false,
        toplevel: true,
        // inline: 1 — Espruino declares a `var` only when its statement runs, so a var that terser
        // appends after a `return` (what inlining a function with arguments or variables does) makes
        // earlier assignments write the enclosing scope's binding: on the interpreter the hex decoder
        // was overwritten by require("net") at boot. Measured: inline 3 and 2 leave such vars, 1 none.
        compress: { passes: 2, hoist_funs: false, reduce_funcs: false, unsafe: false, arrows: false, inline: 1 },
        // Espruino always reads `of` as a keyword: never let the mangler name a variable that.
        mangle: {
          reserved: ['of', ...ESPRUINO_GLOBALS],
          properties: mangleProperties ? { reserved: BOUNDARY_PROPERTIES, keep_quoted: true } : false,
        },
        format: { comments: false, max_line_len: 1000 },
      }),
      ...(replacing ? [replacing.rollupPlugin] : []),
    ],
  };
}

export default firmwareConfig('firmware/src/main.ts', 'dist/firmware.js');
