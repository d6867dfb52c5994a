// The bundle check (tools/bundle-check.mjs) against (a) the 67 probes measured on the real Espruino
// interpreter, (b) small inputs for every construct it names plus near misses it must accept, and
// (c) the built dist/firmware.js.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import { describe, expect, it } from 'vitest';
import { stationConfigNames, stationTimingBounds } from '../protocol/station-config';
import { stationConfig } from '../hub/src/records/station-config';
import type { StationRow } from '../hub/src/records/stations';

/** Every property name in a parsed JSON value, at any depth (array indexes are not names). */
function propertyNames(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(propertyNames);
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([name, inner]) => [name, ...propertyNames(inner)]);
}

interface Violation {
  construct: string;
  line: number;
  column: number;
  snippet: string;
}
interface BundleChecker {
  checkBundle(source: string, options?: { extraModules?: string[]; ignore?: string[] }): Violation[];
  RULE_NAMES: { name: string; basis: string }[];
  BUILTIN_MODULES: string[];
}
interface Probe {
  feature: string;
  code: string;
  runs_on_espruino: boolean;
  espruino_error?: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const checkerFile = path.join(root, 'tools/bundle-check.mjs');
// Imported through a computed URL: the checker is plain JavaScript without type declarations.
const { checkBundle, RULE_NAMES, BUILTIN_MODULES } = (await import(pathToFileURL(checkerFile).href)) as BundleChecker;

// The project's own copy of the probes measured on Espruino 2v29 (tools/espruino-probe.mjs runs them again).
const corpusFile = path.join(root, 'test/golden/espruino-corpus.json');
const corpus = JSON.parse(fs.readFileSync(corpusFile, 'utf8')) as Probe[];

/** [construct, line, column] of each violation, in source order. */
const found = (source: string, options?: { extraModules?: string[]; ignore?: string[] }) =>
  checkBundle(source, options).map((v) => [v.construct, v.line, v.column] as const);
const describeViolations = (violations: Violation[]) =>
  violations.map((v) => `${v.line}:${v.column}  ${v.construct}  ${v.snippet}`).join('\n');

// ------------------------------------------------------------------------------------------------
// (a) The measured corpus
// ------------------------------------------------------------------------------------------------

/**
 * Probes that fail on Espruino for a reason no static check can see. Each must still be accepted
 * (if the checker learns to see one, move it into EXPECTED_FOR_FAILING_PROBES).
 */
const RUNTIME_ONLY: Record<string, string> = {
  'Error.name':
    '`e.name` is undefined on Espruino, but `.name` is an ordinary property (of functions, classes, records), '
    + 'so nothing static tells an error\'s `.name` from any other. Do not branch on error names.',
};

/** For every probe that fails on Espruino, the construct the checker must name first. */
const EXPECTED_FOR_FAILING_PROBES: Record<string, string> = {
  'default parameter': 'default parameter',
  'default parameter on arrow': 'default parameter',
  'let per-iteration binding in closures': 'for-loop let captured by closure',
  'object destructuring': 'destructuring',
  'array destructuring': 'destructuring',
  'parameter destructuring': 'destructuring',
  'object spread': 'spread',
  'call spread': 'spread',
  'array spread': 'spread',
  'rest parameter': 'rest parameter',
  Map: 'missing global Map',
  Set: 'missing global Set',
  WeakMap: 'missing global WeakMap',
  Symbol: 'missing global Symbol',
  'async/await': 'async function',
  generator: 'generator function',
  'Array.from': 'missing static Array.from',
  'Array.prototype.lastIndexOf': 'missing method .lastIndexOf',
  'optional chaining': 'optional chaining',
  'exponent operator': 'exponent operator **',
  'computed property key': 'computed key',
  'Math.imul': 'missing static Math.imul',
  'labelled break': 'label',
  'class extends Error': 'class extends Error',
  'TypeError class on null access': 'instanceof TypeError',
  'Number.isInteger': 'missing static Number.isInteger',
  'Object.freeze': 'missing static Object.freeze',
  'function declaration used before it (no hoisting)': 'function f used before its declaration',
  'inner function declaration used before it': 'function g used before its declaration',
  'super.m() through three class levels': 'super.method() in a class that is extended',
  'static method inherited by a subclass': 'inherited static method',
  'Array.prototype.slice via the prototype': 'Array.prototype.slice',
  'regex quantifier {n}': 'regex {n} quantifier',
  'regex word boundary \\b': 'regex \\b',
  'Promise.prototype.finally': 'missing method .finally',
  'JSON.stringify replacer': 'JSON.stringify replacer',
  'tagged template': 'tagged template',
};

describe('bundle check: the measured Espruino corpus', () => {
  it('holds the 67 probes, and every exemption and expectation names one of them', () => {
    expect(corpus).toHaveLength(67);
    const failing = new Set(corpus.filter((p) => !p.runs_on_espruino).map((p) => p.feature));
    for (const feature of [...Object.keys(RUNTIME_ONLY), ...Object.keys(EXPECTED_FOR_FAILING_PROBES)]) {
      expect(failing, feature).toContain(feature);
    }
    // Every failing probe is either expected to be rejected or exempted, never both.
    for (const feature of failing) {
      expect(Object.hasOwn(RUNTIME_ONLY, feature) !== Object.hasOwn(EXPECTED_FOR_FAILING_PROBES, feature), feature).toBe(true);
    }
  });

  for (const probe of corpus.filter((p) => p.runs_on_espruino)) {
    it(`accepts "${probe.feature}" (runs on Espruino)`, () => {
      const violations = checkBundle(probe.code);
      expect(violations, describeViolations(violations)).toEqual([]);
    });
  }

  for (const probe of corpus.filter((p) => !p.runs_on_espruino)) {
    const exemption = RUNTIME_ONLY[probe.feature];
    if (exemption) {
      it(`leaves "${probe.feature}" to runtime: ${exemption}`, () => {
        expect(checkBundle(probe.code)).toEqual([]);
      });
      continue;
    }
    it(`rejects "${probe.feature}" (${probe.espruino_error ?? 'fails on Espruino'})`, () => {
      const violations = checkBundle(probe.code);
      expect(violations.length, probe.code).toBeGreaterThan(0);
      expect(violations[0].construct).toBe(EXPECTED_FOR_FAILING_PROBES[probe.feature]);
    });
  }
});

// ------------------------------------------------------------------------------------------------
// (b) Hand-written inputs, per rule: what each rejects (construct, line, column), and near misses
// ------------------------------------------------------------------------------------------------

type Found = readonly [construct: string, line: number, column: number];
interface Case {
  rule: string;
  code: string;
  expected: Found[];
}

const REJECTED: Case[] = [
  { rule: 'destructuring', code: 'var {a, b} = o;\nvar [x] = y;', expected: [['destructuring', 1, 5], ['destructuring', 2, 5]] },
  { rule: 'destructuring', code: 'function f({a}) {}', expected: [['destructuring', 1, 12]] },
  { rule: 'destructuring', code: '[a, b] = [b, a];', expected: [['destructuring', 1, 1]] },
  { rule: 'destructuring', code: 'for (const [k, v] of pairs) use(k, v);', expected: [['destructuring', 1, 12]] },
  { rule: 'spread / rest', code: 'f(...args);', expected: [['spread', 1, 3]] },
  { rule: 'spread / rest', code: 'var o = {...p};\nvar a = [...q];', expected: [['spread', 1, 10], ['spread', 2, 10]] },
  { rule: 'spread / rest', code: 'function f(a, ...rest) {}', expected: [['rest parameter', 1, 15]] },
  { rule: 'spread / rest', code: 'var [h, ...t] = l;', expected: [['destructuring', 1, 5], ['rest element', 1, 9]] },
  { rule: 'default parameter', code: 'function f(a, b = 2) {}', expected: [['default parameter', 1, 15]] },
  { rule: 'default parameter', code: 'var g = (a = 1) => a;', expected: [['default parameter', 1, 10]] },
  {
    rule: 'optional chaining',
    code: 'x = a?.b;\ny = f?.();\nz = a?.[0];',
    expected: [['optional chaining', 1, 6], ['optional chaining', 2, 6], ['optional chaining', 3, 6]],
  },
  { rule: 'exponent operator', code: 'x = 2 ** 10;', expected: [['exponent operator **', 1, 7]] },
  { rule: 'exponent operator', code: 'x **= 2;', expected: [['exponent operator **=', 1, 3]] },
  {
    rule: 'label',
    code: 'outer: for (;;) {\n  for (;;) { break outer; }\n}',
    expected: [['label', 1, 1], ['labelled break', 2, 14]],
  },
  { rule: 'label', code: 'l: for (;;) { continue l; }', expected: [['label', 1, 1], ['labelled continue', 1, 15]] },
  { rule: 'computed key', code: 'var o = { [k]: 1 };', expected: [['computed key', 1, 11]] },
  { rule: 'computed key', code: 'class A { [k]() {} }', expected: [['computed key', 1, 11]] },
  { rule: 'computed key', code: 'class A { [k] = 1; }', expected: [['computed key', 1, 11]] },
  { rule: 'async/await', code: 'async function f() { await g(); }', expected: [['async function', 1, 1], ['await', 1, 22]] },
  { rule: 'async/await', code: 'var o = { async m() {} };\nvar h = async () => 1;', expected: [['async function', 1, 11], ['async function', 2, 9]] },
  { rule: 'generator', code: 'function* g() { yield 1; }', expected: [['generator function', 1, 1], ['yield', 1, 17]] },
  { rule: 'generator', code: 'class A { *m() {} }', expected: [['generator function', 1, 11]] },
  { rule: 'tagged template', code: 'x = tag`a${1}`;', expected: [['tagged template', 1, 5]] },
  { rule: 'class extends built-in', code: 'class E extends Error {}', expected: [['class extends Error', 1, 17]] },
  { rule: 'class extends built-in', code: 'const B = Promise;\nclass P extends B {}', expected: [['class extends Promise', 2, 17]] },
  { rule: 'class extends built-in', code: 'class M extends Map {}', expected: [['class extends Map', 1, 17]] },
  { rule: 'class extends built-in', code: 'class A extends ns.Base {}', expected: [['class extends a non-identifier', 1, 17]] },
  {
    rule: 'loop let captured by closure',
    code: 'for (let i = 0; i < 3; i++) {\n  fs.push(function () { return i; });\n}',
    expected: [['for-loop let captured by closure', 1, 10]],
  },
  { rule: 'loop let captured by closure', code: 'for (const k of keys) later(() => k);', expected: [['for-loop const captured by closure', 1, 12]] },
  {
    rule: 'instanceof error subclass',
    code: 'try { x(); } catch (e) { if (e instanceof TypeError) {} }',
    expected: [['instanceof TypeError', 1, 43]],
  },
  { rule: 'instanceof error subclass', code: 'ok = e instanceof RangeError;', expected: [['instanceof RangeError', 1, 19]] },
  {
    rule: 'missing global',
    code: 'var m = new Map();\nvar s = new Set();\nvar w = new WeakMap(), ws = new WeakSet();\nvar t = typeof Symbol;',
    expected: [
      ['missing global Map', 1, 13],
      ['missing global Set', 2, 13],
      ['missing global WeakMap', 3, 13],
      ['missing global WeakSet', 3, 33],
      ['missing global Symbol', 4, 16],
    ],
  },
  { rule: 'missing global', code: 'throw new RangeError("x");', expected: [['missing global RangeError', 1, 11]] },
  {
    rule: 'missing static member',
    code: 'Array.from(a); Math.imul(a, b);\nNumber.isInteger(n); Object.freeze(o);\nPromise.race(p); Promise.allSettled(p); Promise.any(p);',
    expected: [
      ['missing static Array.from', 1, 1],
      ['missing static Math.imul', 1, 16],
      ['missing static Number.isInteger', 2, 1],
      ['missing static Object.freeze', 2, 22],
      ['missing static Promise.race', 3, 1],
      ['missing static Promise.allSettled', 3, 18],
      ['missing static Promise.any', 3, 41],
    ],
  },
  { rule: 'missing static member', code: 'x = Array["from"](a) + Math.trunc(y);', expected: [['missing static Array.from', 1, 5], ['missing static Math.trunc', 1, 24]] },
  { rule: 'X.prototype.method', code: 'var s = Array.prototype.slice.call(arguments);', expected: [['Array.prototype.slice', 1, 9]] },
  { rule: 'missing method', code: 'i = list.lastIndexOf(x);', expected: [['missing method .lastIndexOf', 1, 10]] },
  { rule: 'missing method', code: 'p.then(a).finally(b);', expected: [['missing method .finally', 1, 11]] },
  { rule: 'missing method', code: 'x = a.reduceRight(f, 0);', expected: [['missing method .reduceRight', 1, 7]] },
  { rule: 'regex', code: 'var ok = 1;\nvar r = /x{3}/;', expected: [['regex {n} quantifier', 2, 11]] },
  { rule: 'regex', code: String.raw`r = /\bword/;`, expected: [['regex \\b', 1, 6]] },
  { rule: 'regex', code: 'r = /a+?/;', expected: [['regex lazy quantifier', 1, 7]] },
  { rule: 'regex', code: 'r = /^a$/m;', expected: [['regex flag m', 1, 5]] },
  { rule: 'regex', code: String.raw`r = /(a)\1/;`, expected: [['regex backreference', 1, 9]] },
  { rule: 'regex', code: String.raw`r = /(?<year>\d+)/;`, expected: [['regex named group', 1, 6]] },
  { rule: 'regex', code: 'r = /colou?r/;', expected: [['regex ? quantifier', 1, 11]] },
  { rule: 'regex', code: 'r = /(ab)+/;', expected: [['regex quantifier on a group', 1, 10]] },
  { rule: 'regex', code: 'r = /(?:ab)/;', expected: [['regex non-capturing group (?:', 1, 6]] },
  { rule: 'regex', code: 'r = /a(?=b)/;\ns = /(?<=a)b/;', expected: [['regex lookahead', 1, 7], ['regex lookbehind', 2, 6]] },
  { rule: 'regex', code: 'r = /(a|b)c/;', expected: [['regex | inside a group', 1, 8]] },
  { rule: 'regex', code: String.raw`r = /\Ba/; s = /\u00e9/;`, expected: [['regex \\B', 1, 6], ['regex escape \\u', 1, 17]] },
  { rule: 'regex', code: 'r = /(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)/;', expected: [['regex with more than 9 groups', 1, 6]] },
  { rule: 'regex', code: 'r = new RegExp("a{2}", "m");', expected: [['regex flag m', 1, 16], ['regex {n} quantifier', 1, 16]] },
  { rule: 'JSON replacer / reviver', code: 'JSON.stringify(o, ["a"]);', expected: [['JSON.stringify replacer', 1, 19]] },
  { rule: 'JSON replacer / reviver', code: 'JSON.parse(s, reviver);', expected: [['JSON.parse reviver', 1, 15]] },
  { rule: 'require', code: 'var m = require("mqtt");', expected: [['require("mqtt")', 1, 9]] },
  { rule: 'require', code: 'var m = require(name);', expected: [['require() of a computed name', 1, 9]] },
  {
    rule: 'function used before its declaration',
    code: 'r = f();\nfunction f() { return 1; }',
    expected: [['function f used before its declaration', 1, 5]],
  },
  {
    rule: 'function used before its declaration',
    code: 'function outer() {\n  return g();\n  function g() { return 2; }\n}',
    expected: [['function g used before its declaration', 2, 10]],
  },
  {
    // through a call: a() runs b's body before `function b` has run
    rule: 'function used before its declaration',
    code: 'function a() { return b(); }\na();\nfunction b() { return 1; }',
    expected: [['function b used before its declaration', 2, 1]],
  },
  {
    // TypeScript 5's ES5 class shape: __extends(D, _super) runs before the unhoisted function D
    rule: 'function used before its declaration',
    code: 'var D = (function (_super) {\n  __extends(D, _super);\n  function D() {}\n  return D;\n})(Base);',
    expected: [['function D used before its declaration', 2, 13]],
  },
  {
    // inside an immediately-invoked function the use still runs first
    rule: 'function used before its declaration',
    code: '(function () { init(); })();\nfunction init() {}',
    expected: [['function init used before its declaration', 1, 16]],
  },
  {
    // what terser's inlining wrote: the var after the return, so `i = …` set the outer hex decoder
    rule: 'var used before its declaration',
    code: 'function i(t) { return t; }\nfunction hw() {\n  return { net: (i = require("net"), i) };\n  var i;\n}',
    expected: [['var i used before its declaration', 3, 18], ['var i used before its declaration', 3, 38]],
  },
  {
    // also through an immediately-invoked function, and in a switch case before a later case's var
    rule: 'var used before its declaration',
    code: 'function f(k) {\n  (function () { n = 1; })();\n  switch (k) { case 1: h = 2; return h; case 2: var h, n; }\n}',
    expected: [['var n used before its declaration', 2, 18], ['var h used before its declaration', 3, 24], ['var h used before its declaration', 3, 38]],
  },
  {
    rule: 'super.method() in an extended class',
    code: 'class A { m() { return 1; } }\nclass B extends A { m() { return super.m() + 1; } }\nclass C extends B { m() { return super.m() + 1; } }',
    expected: [['super.method() in a class that is extended', 2, 34]],
  },
  {
    rule: 'inherited static',
    code: 'class A { static make() { return 1; } }\nclass B extends A {}\nB.make();',
    expected: [['inherited static method', 3, 1]],
  },
  {
    rule: 'logical assignment',
    code: 'a ??= 1; b ||= 2; c &&= 3;',
    expected: [['logical assignment ??=', 1, 3], ['logical assignment ||=', 1, 12], ['logical assignment &&=', 1, 21]],
  },
  {
    rule: 'private member',
    code: 'class P { #x = 1; read() { return this.#x; } }',
    expected: [['private class member', 1, 11], ['private class member', 1, 40]],
  },
  { rule: 'class body', code: 'class A { static {} }', expected: [['class static block', 1, 11]] },
  { rule: 'class body', code: 'class A {\n  x;\n}', expected: [['class field without initializer', 2, 3]] },
  { rule: 'class body', code: 'class A { delete() {} }', expected: [['class member named "delete" (keyword in Espruino)', 1, 11]] },
  { rule: 'class body', code: 'class A { "quoted"() {} }', expected: [['class member named by a literal', 1, 11]] },
  {
    rule: 'class field initializer',
    code: 'class Q {\n  items = [];\n  buf = new Uint8Array(4);\n}',
    expected: [['class field initializer creates an object shared by all instances', 2, 3], ['class field initializer creates an object shared by all instances', 3, 3]],
  },
  {
    rule: 'class field initializer',
    code: 'class Q { self = this; cb = () => this.run(); }',
    expected: [['class field initializer uses this', 1, 11], ['class field initializer uses this', 1, 24]],
  },
  { rule: 'Espruino keyword as identifier', code: 'var of = 1;', expected: [['identifier "of" (keyword in Espruino)', 1, 5]] },
  { rule: 'Espruino keyword as identifier', code: 'function f(undefined) {}', expected: [['identifier "undefined" (keyword in Espruino)', 1, 12]] },
  { rule: 'other syntax', code: 'x = 1n;', expected: [['BigInt literal', 1, 5]] },
  { rule: 'other syntax', code: 'function F() { return new.target; }', expected: [['new.target', 1, 23]] },
  { rule: 'other syntax', code: 'x = import("./m.js");', expected: [['dynamic import()', 1, 5]] },
];

/** Inputs that look close to a rejected construct and run fine on Espruino. */
const ACCEPTED: { name: string; code: string }[] = [
  { name: 'property and method names like banned globals', code: 'var m = xs.map(f); obj.from(1); o.Map; var k = {Set: 1, Map: 2, from: 3}; y.Symbol; z.imul;' },
  { name: 'a parameter named Map', code: 'function f(Map) { return new Map(); }' },
  { name: 'a var declared before its use, a parameter re-declared as var, a closure over a later var',
    code: 'function f(a) { a = 1; var a; for (var i = 0; i < 2; i++) a += i; var g = function () { return late; }; var late = 2; return g() + a; }' },
  { name: 'a local var Set shadowing the global', code: 'var Set = function () {};\nnew Set();' },
  { name: 'a block-scoped Symbol', code: 'function g() { let Symbol = 1; return Symbol; }' },
  { name: 'let in a for without closures', code: 'let s = 0;\nfor (let i = 0; i < 3; i++) { s += i; }' },
  { name: 'a closure in a let loop that does not use the loop variable', code: 'for (let i = 0; i < 3; i++) { run(function () { return 1; }); }' },
  { name: 'an immediately invoked function in a let loop', code: 'for (let i = 0; i < 3; i++) { (function () { use(i); })(); }' },
  { name: 'a let declared in the loop body, captured', code: 'for (var i = 0; i < 3; i++) { let x = i; fs.push(() => x); }' },
  { name: 'var loop variable captured (same result as Node)', code: 'for (var i = 0; i < 3; i++) { fs.push(function () { return i; }); }' },
  { name: 'regex with { inside a character class', code: 'var a = /[{}]/, b = /[a{2}]/, c = /a\\{2\\}/;' },
  { name: 'regexes within what Espruino matches', code: 'var a = /^[0-9a-f]+$/i, b = /(\\d+)-(\\d+)/g, c = /a|b/, d = /[\\b]/, e = /x*\\.\\s+$/, f = /\\x41/;' },
  { name: 'JSON.stringify without a replacer', code: 'JSON.stringify(o); JSON.stringify(o, null, 2); JSON.stringify(o, void 0, 2); JSON.stringify(o, undefined, 1); JSON.parse(s);' },
  { name: 'require of the built-in modules', code: ['Storage', 'Wifi', 'net', 'tls', 'crypto', 'ESP32', 'http', 'Flash', 'fs', 'dgram'].map((m) => `require("${m}");`).join('\n') },
  { name: 'a function declared before it is called', code: 'function f() { return 1; }\nf();' },
  { name: 'a later function used only from a function expression', code: 'var g = function () { h(); };\nfunction h() {}\ng();' },
  { name: 'a later function used only from a callback', code: 'function a() { setTimeout(function () { b(); }, 10); }\na();\nfunction b() {}' },
  { name: 'recursion', code: 'function fact(n) { return n < 2 ? 1 : n * fact(n - 1); }\nfact(5);' },
  { name: 'var read before its declaration', code: 'r = typeof vv; var vv = 1;' },
  { name: 'own statics on each class', code: 'class A { static make() { return new A(); } }\nclass B extends A { static make() { return new B(); } }\nB.make(); A.make();' },
  { name: 'a static assigned on the subclass', code: 'class A { static make() { return 1; } }\nclass B extends A {}\nB.make = A.make;\nB.make();' },
  { name: 'super.method() through two levels', code: 'class A2 { f() { return 1; } }\nclass B2 extends A2 { f() { return super.f() + 1; } }' },
  { name: 'super() constructor calls through three levels', code: 'class A { constructor(x) { this.x = x; } }\nclass B extends A { constructor() { super(1); } }\nclass C extends B { constructor() { super(); } }' },
  { name: 'instanceof Error and try/finally', code: 'try { a(); } catch (e) { if (e instanceof Error) {} } finally { b(); }' },
  { name: 'String lastIndexOf on a literal, [].slice, Object.prototype.hasOwnProperty', code: "var s = 'abc'.lastIndexOf('b');\nvar t = [].slice.call(arguments);\nvar u = Object.prototype.hasOwnProperty.call(o, k);" },
  { name: 'Espruino keywords as property names', code: 'o.of = 1; var x = { of: 2, static: 3, delete: 4 }; o.static; o.delete(1);' },
  { name: 'class fields Espruino handles', code: 'class A { x = 1; y = "a"; z = -1; w = null; f = () => 0; g = noop; h = () => []; static list = []; get v() { return 1; } static s() {} get() {} }' },
  { name: 'a polyfilled static', code: 'Math.hypot = function () { return 0; };\nMath.hypot(1, 2);' },
  { name: 'nullish coalescing, templates, multiplication', code: 'x = a ?? b; y = `t ${1}`; z = 2 * 3; w = Math.pow(2, 10);' },
  { name: 'Promise then/catch/all/resolve', code: 'Promise.resolve(1).then(f).catch(g); Promise.all([]); new Promise(function (r) { r(); });' },
  { name: 'classes, getters, statics, arrows', code: 'class A { constructor(x) { this.x = x; } get d() { return this.x * 2; } static make() { return new A(3); } }\nclass B extends A { constructor() { super(5); } m() { return [1].map((v) => this.d + v); } }' },
  { name: "an error's .name (runtime only, documented)", code: "r = String(new Error('m').name);" },
  { name: 'a hashbang and a top-level return', code: '#!/usr/bin/env espruino\nif (x) return;\ny = 1;' },
];

describe('bundle check: constructs it names', () => {
  for (const c of REJECTED) {
    it(`${c.rule}: rejects ${JSON.stringify(c.code)}`, () => {
      expect(found(c.code)).toEqual(c.expected);
    });
  }

  it('has a rejected example for every rule', () => {
    const covered = new Set(REJECTED.map((c) => c.rule));
    for (const { name } of RULE_NAMES) expect(covered, name).toContain(name);
    for (const rule of covered) expect(RULE_NAMES.map((r) => r.name)).toContain(rule);
  });

  it('reports a parse error as a violation with its position', () => {
    expect(found('var a = 1;\nvar x = ;')).toEqual([['parse error: Unexpected token', 2, 9]]);
  });

  it('gives each violation a one-line snippet of the offending source', () => {
    const [v] = checkBundle('var a = 1;\nvar m = new Map([[1, 2]]);\nvar b = 2;');
    expect(v).toMatchObject({ construct: 'missing global Map', line: 2, column: 13 });
    expect(v.snippet.startsWith('Map([[1, 2]])')).toBe(true);
    expect(v.snippet).not.toContain('\n');
  });

  it('accepts modules added with options.extraModules and leaves out ignored rules', () => {
    expect(found('require("neopixel");', { extraModules: ['neopixel'] })).toEqual([]);
    expect(found('class Q { items = []; }', { ignore: ['class field initializer'] })).toEqual([]);
    expect(BUILTIN_MODULES).toContain('Storage');
  });
});

describe('bundle check: near misses it accepts', () => {
  for (const c of ACCEPTED) {
    it(`accepts ${c.name}`, () => {
      const violations = checkBundle(c.code);
      expect(violations, describeViolations(violations)).toEqual([]);
    });
  }
});

// ------------------------------------------------------------------------------------------------
// The command line, and (c) the built bundle
// ------------------------------------------------------------------------------------------------

describe('bundle check: command line', () => {
  const runCli = (source: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-check-'));
    const file = path.join(dir, 'firmware.js');
    fs.writeFileSync(file, source);
    try {
      return { file, ...spawnSync(process.execPath, [checkerFile, file], { encoding: 'utf8' }) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it('prints OK with the size and exits 0 for a clean bundle', () => {
    const source = 'var a = [1, 2].map(function (x) { return x * 2; });\n';
    const result = runCli(source);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(`bundle check: OK (${Buffer.byteLength(source)} bytes)`);
  });

  it('prints file:line:col, the construct and a snippet per violation and exits 1', () => {
    const result = runCli('var a = 1;\nvar m = new Map();\nx = 2 ** 3;\n');
    expect(result.status).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${result.file}:2:13  missing global Map  Map();`);
    expect(lines[1]).toBe(`${result.file}:3:7  exponent operator **  ** 3;`);
  });
});

const distFile = path.join(root, 'dist/firmware.js');

describe('bundle check: the built firmware', () => {
  it.skipIf(!fs.existsSync(distFile))('dist/firmware.js contains nothing Espruino cannot run', () => {
    const violations = checkBundle(fs.readFileSync(distFile, 'utf8'));
    expect(violations, describeViolations(violations)).toEqual([]);
  });

  // The bundle's property names are mangled, except those that cross its edge: the configuration
  // file the hub writes is read by name, so a setting mangled away would be silently ignored. The
  // names come from a file as the hub writes it with every part filled in (TLS, Wi-Fi, a loan
  // locker) plus every timing setting the contract bounds: not from the list the build keeps
  // (stationConfigNames), so a setting missing from that list is mangled and shows up here.
  it.skipIf(!fs.existsSync(distFile))('reads every setting of handover.json under its own name', () => {
    // Names the code reads or writes as properties (strings, e.g. in error messages, do not count).
    const used = new Set<string>();
    walk.full(acorn.parse(fs.readFileSync(distFile, 'utf8'), { ecmaVersion: 'latest' }), (node) => {
      if (node.type === 'MemberExpression' && !node.computed && node.property.type === 'Identifier') used.add(node.property.name);
      if (node.type === 'Property' && !node.computed && node.key.type === 'Identifier') used.add(node.key.name);
    });
    const station = { id: 'room-1', site: 'school', lockers: 2, station_key: '11'.repeat(32) } as StationRow;
    const written = stationConfig(station, new Uint8Array(32), { host: 'hub', port: 8883, tls: { ca: 'PEM' } }, { ssid: 'school', password: 'secret' }, [{ tag: '00'.repeat(8), assetClass: 1, healthCheckDue: false }, null]);
    const names = new Set([...propertyNames(written), ...propertyNames(stationTimingBounds())]);
    expect([...names].filter((name) => !stationConfigNames().includes(name)), 'missing from stationConfigNames').toEqual([]);
    expect([...names].filter((name) => !used.has(name)), 'mangled in dist/firmware.js').toEqual([]);
  });
});
