#!/usr/bin/env node
// Bundle check: parses the built firmware bundle (dist/firmware.js) and rejects every construct,
// global and library call that the Espruino interpreter on the ESP32 cannot run, naming each one with
// its line:column.
//
//   import { checkBundle } from './bundle-check.mjs';
//   checkBundle(source) -> [{ construct, line, column, snippet }]   (line and column count from 1)
//
//   node tools/bundle-check.mjs dist/firmware.js
//     prints "dist/firmware.js:LINE:COL  construct  snippet" per violation and exits 1,
//     or prints "bundle check: OK (N bytes)" and exits 0.
//
// Where the rules come from. "measured": the 67 probes in test/golden/espruino-corpus.json, run
// through the real Espruino 2v29 interpreter (tools/espruino-probe.mjs runs them again). "source": read in
// Espruino's own source at tag RELEASE_2V29 (src/jslex.c, src/jsparse.c, src/jswrap_regexp.c and
// the /*JSON{...}*/ declarations of the src/jswrap_*.c files, which list every built-in that exists);
// these are things no probe measured but the interpreter plainly does not implement.
//
// Deliberately not checked (runtime behaviour a static check cannot see): reading `.name` of an
// error (undefined on Espruino), `sort` stability, `encodeURIComponent` of non-ASCII text,
// `String.fromCharCode.apply` with more than 256 arguments, number printing precision.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as acorn from 'acorn';
import * as walk from 'acorn-walk';

// ---------------------------------------------------------------------------------------------
// What Espruino has and lacks
// ---------------------------------------------------------------------------------------------

/** Modules built into Espruino's ESP32 firmware: the only `require()` calls a bundle may keep. */
export const BUILTIN_MODULES = ['Storage', 'Wifi', 'net', 'tls', 'crypto', 'ESP32', 'http', 'Flash', 'fs', 'dgram'];

/** Globals Node has and Espruino does not. */
const MISSING_GLOBALS = new Map([
  // measured: ReferenceError / typeof "undefined" on the interpreter
  ['Map', 'measured'], ['Set', 'measured'], ['WeakMap', 'measured'], ['Symbol', 'measured'],
  ['WeakSet', 'brief'],
  // source: no such class or function in any jswrap_*.c of 2v29
  ['Proxy', 'source'], ['Reflect', 'source'], ['WeakRef', 'source'], ['FinalizationRegistry', 'source'],
  ['BigInt', 'source'], ['BigInt64Array', 'source'], ['BigUint64Array', 'source'], ['Intl', 'source'],
  ['TextEncoder', 'source'], ['TextDecoder', 'source'], ['SharedArrayBuffer', 'source'], ['Atomics', 'source'],
  ['RangeError', 'source'], ['EvalError', 'source'], ['URIError', 'source'], ['AggregateError', 'source'],
  ['structuredClone', 'source'], ['queueMicrotask', 'source'], ['setImmediate', 'source'], ['Buffer', 'source'],
]);

/** Error classes whose `instanceof` test is always false there: every error is a plain Error. */
const ERROR_SUBCLASSES = new Set([
  'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'InternalError', 'AggregateError',
]);

/**
 * Static members that exist, per built-in object (source: the "staticmethod"/"staticproperty"
 * declarations of 2v29). Any other `Object.x`, `Math.x`, ... is undefined there. Measured among them:
 * Array.from, Math.imul, Number.isInteger, Object.freeze, Promise.race/allSettled.
 */
const STATICS = {
  Object: ['keys', 'getOwnPropertyNames', 'values', 'entries', 'fromEntries', 'create', 'getOwnPropertyDescriptor',
    'getOwnPropertyDescriptors', 'defineProperty', 'defineProperties', 'getPrototypeOf', 'setPrototypeOf', 'assign'],
  Array: ['isArray'],
  Math: ['abs', 'acos', 'asin', 'atan', 'atan2', 'cos', 'pow', 'random', 'randInt', 'round', 'sin', 'tan', 'sqrt',
    'ceil', 'floor', 'exp', 'log', 'clip', 'wrap', 'min', 'max', 'sign',
    'E', 'PI', 'LN2', 'LN10', 'LOG2E', 'LOG10E', 'SQRT2', 'SQRT1_2'],
  Number: ['NaN', 'MAX_VALUE', 'MIN_VALUE', 'NEGATIVE_INFINITY', 'POSITIVE_INFINITY'],
  Promise: ['all', 'resolve', 'reject'],
  JSON: ['stringify', 'parse'],
  String: ['fromCharCode'],
  Date: ['now', 'parse'],
};
/** Members every function object has; never reported as missing statics. */
const FUNCTION_MEMBERS = new Set(['prototype', 'name', 'length', 'call', 'apply', 'bind', 'toString', 'valueOf', 'hasOwnProperty', 'constructor']);

/** Built-in classes whose methods are not reachable through `X.prototype` (measured: Array.prototype.slice). */
const NATIVE_CLASSES = new Set(['Array', 'String', 'Number', 'Boolean', 'Function', 'Promise', 'Date', 'RegExp', 'Error',
  'ArrayBuffer', 'DataView', 'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Uint16Array', 'Int16Array', 'Uint32Array',
  'Int32Array', 'Float32Array', 'Float64Array']);
/** ...except the generic object methods, which Espruino finds on any object (source: build_jswrapper.py). */
const OBJECT_METHODS = new Set(['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'clone', 'on', 'addListener',
  'prependListener', 'emit', 'removeListener', 'removeAllListeners']);

/** Instance methods Espruino lacks, distinctive enough to flag by name on any receiver. */
const MISSING_METHODS = new Map([
  ['lastIndexOf', 'measured: Array.prototype.lastIndexOf is missing (String has one: string literals are let through)'],
  ['finally', 'measured: Promise.prototype.finally is missing'],
  // source: declared by no jswrap_*.c in 2v29
  ['reduceRight', 'source'], ['flatMap', 'source'], ['findLast', 'source'], ['findLastIndex', 'source'],
  ['copyWithin', 'source'], ['codePointAt', 'source'], ['trimStart', 'source'], ['trimEnd', 'source'],
  ['matchAll', 'source'], ['localeCompare', 'source'], ['toPrecision', 'source'], ['toExponential', 'source'],
]);

/**
 * Words Espruino's lexer (src/jslex.c) always reads as keywords although JavaScript allows them as
 * names. `of` matters most: terser can mangle a variable to `of`.
 */
const ESPRUINO_ONLY_KEYWORDS = new Set(['of', 'static', 'let']);
/** Every keyword of Espruino's lexer: a class member must be named by a plain identifier, not one of these. */
const ESPRUINO_KEYWORDS = new Set(['break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default',
  'delete', 'do', 'else', 'extends', 'false', 'finally', 'for', 'function', 'if', 'in', 'instanceof', 'let', 'new',
  'null', 'of', 'return', 'static', 'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'undefined', 'var',
  'void', 'while']);

// ---------------------------------------------------------------------------------------------
// Rules. Each: the construct it names, where the fact comes from, and visitors per node type
// (`finish` runs once after the walk, for rules that need the whole program).
// ---------------------------------------------------------------------------------------------

const RULES = [
  {
    // ESPRUINO.md: destructuring of any kind (object, array, nested, in parameters, with defaults).
    name: 'destructuring', basis: 'measured',
    visit: {
      ObjectPattern: (n, c) => c.report('destructuring', n),
      ArrayPattern: (n, c) => c.report('destructuring', n),
    },
  },
  {
    // ESPRUINO.md: spread and rest (`f(...a)`, `[...a]`, `{...o}`, `function f(...r)`) — syntax errors.
    name: 'spread / rest', basis: 'measured',
    visit: {
      SpreadElement: (n, c) => c.report('spread', n),
      RestElement: (n, c) => c.report(isFunction(c.parent(n)) ? 'rest parameter' : 'rest element', n),
    },
  },
  {
    // ESPRUINO.md: default parameters (`function f(a, b = 2)`, also on arrows) — syntax error.
    // Defaults inside a destructuring pattern are reported as destructuring.
    name: 'default parameter', basis: 'measured',
    visit: { AssignmentPattern: (n, c) => { if (isFunction(c.parent(n))) c.report('default parameter', n); } },
  },
  {
    // ESPRUINO.md: optional chaining `a?.b`, `f?.()` — syntax error.
    name: 'optional chaining', basis: 'measured',
    visit: {
      MemberExpression: (n, c) => { if (n.optional) c.report('optional chaining', c.find('?.', n.object.end, n.end)); },
      CallExpression: (n, c) => { if (n.optional) c.report('optional chaining', c.find('?.', n.callee.end, n.end)); },
    },
  },
  {
    // ESPRUINO.md: exponent operator `2 ** 3` (and `**=`) — syntax error; use Math.pow.
    name: 'exponent operator', basis: 'measured',
    visit: {
      BinaryExpression: (n, c) => { if (n.operator === '**') c.report('exponent operator **', c.find('**', n.left.end, n.right.start)); },
      AssignmentExpression: (n, c) => { if (n.operator === '**=') c.report('exponent operator **=', c.find('**=', n.left.end, n.right.start)); },
    },
  },
  {
    // ESPRUINO.md: labels (`outer: for …`, `break outer`) — ReferenceError.
    name: 'label', basis: 'measured',
    visit: {
      LabeledStatement: (n, c) => c.report('label', n),
      BreakStatement: (n, c) => { if (n.label) c.report('labelled break', n); },
      ContinueStatement: (n, c) => { if (n.label) c.report('labelled continue', n); },
    },
  },
  {
    // ESPRUINO.md: computed keys `{[k]: v}` — syntax error. Class members too (source: a class member
    // must start with an identifier in jspeClassDefinition).
    name: 'computed key', basis: 'measured',
    visit: {
      Property: (n, c) => { if (n.computed && c.parent(n).type === 'ObjectExpression') c.report('computed key', n); },
      MethodDefinition: (n, c) => { if (n.computed) c.report('computed key', n); },
      PropertyDefinition: (n, c) => { if (n.computed) c.report('computed key', n); },
    },
  },
  {
    // ESPRUINO.md: async/await — `async` is just an unknown name there.
    name: 'async/await', basis: 'measured',
    visit: {
      Function: (n, c) => { if (n.async) c.report('async function', functionHead(n, c)); },
      AwaitExpression: (n, c) => c.report('await', n),
      ForOfStatement: (n, c) => { if (n.await) c.report('for await', n); },
    },
  },
  {
    // ESPRUINO.md: generators (`function*`) — syntax error.
    name: 'generator', basis: 'measured',
    visit: {
      Function: (n, c) => { if (n.generator) c.report('generator function', functionHead(n, c)); },
      YieldExpression: (n, c) => c.report('yield', n),
    },
  },
  {
    // ESPRUINO.md: tagged templates — "Tagged template literals not supported".
    name: 'tagged template', basis: 'measured',
    visit: { TaggedTemplateExpression: (n, c) => c.report('tagged template', n) },
  },
  {
    // ESPRUINO.md: `class X extends Error` — "Calling 'super' outside of class"; subclassing built-ins
    // in general fails. A superclass the bundle does not define is a built-in (or missing).
    // source: `extends` must be followed by a single identifier (jspeClassDefinition matches LEX_ID).
    name: 'class extends built-in', basis: 'measured',
    visit: {
      Class: (n, c) => {
        const sup = n.superClass;
        if (!sup) return;
        if (sup.type !== 'Identifier') return c.report('class extends a non-identifier', sup);
        const builtin = c.builtinAlias(sup);
        if (builtin) c.report(`class extends ${builtin}`, sup);
      },
    },
  },
  {
    // ESPRUINO.md: `let` in a `for` does not get a fresh binding per iteration: closures made in the
    // loop all see the last value (3,3,3). Reported when a function created inside the loop refers to
    // a let/const declared in the loop head (for, for-in, for-of). A `let` inside the loop body is fine:
    // Espruino makes a new block scope each time the body block runs (source: jspeBlockStart).
    name: 'loop let captured by closure', basis: 'measured',
    finish(c) {
      const seen = new Set();
      for (const { id, binding } of c.references) {
        if (!binding || seen.has(binding) || (binding.kind !== 'let' && binding.kind !== 'const')) continue;
        if (!LOOP_TYPES.has(binding.scopeNode.type)) continue;
        if (!c.crossesFunction(id, binding.scopeNode, { iifeTransparent: true })) continue;
        seen.add(binding);
        c.report(`for-loop ${binding.kind} captured by closure`, binding.id, `${binding.name}: ${c.text(binding.scopeNode, 50)}`);
      }
    },
  },
  {
    // ESPRUINO.md: errors are plain — reading a property of null throws an Error that is not
    // `instanceof TypeError`; do not branch on error classes.
    name: 'instanceof error subclass', basis: 'measured',
    visit: {
      BinaryExpression: (n, c) => {
        if (n.operator === 'instanceof' && c.isGlobal(n.right) && ERROR_SUBCLASSES.has(n.right.name)) {
          c.report(`instanceof ${n.right.name}`, n.right, c.text(n, 60));
        }
      },
    },
  },
  {
    // ESPRUINO.md: Map, Set, WeakMap, Symbol are not defined (plus the source list in MISSING_GLOBALS).
    // `typeof Map` is reported too: the checker cannot tell a feature test from a use.
    name: 'missing global', basis: 'measured',
    finish(c) {
      for (const { id, binding } of c.references) {
        if (binding || !MISSING_GLOBALS.has(id.name) || isInstanceofRight(id, c) || c.parent(id).superClass === id) continue;
        c.report(`missing global ${id.name}`, id);
      }
    },
  },
  {
    // ESPRUINO.md: Array.from, Math.imul, Number.isInteger, Object.freeze, Promise.race/allSettled are
    // not defined; source: STATICS lists every static that does exist. A member the bundle assigns
    // itself (a polyfill) is accepted.
    name: 'missing static member', basis: 'measured',
    visit: {
      MemberExpression: (n, c) => {
        const name = memberName(n);
        if (!name || n.object.type !== 'Identifier' || !Object.hasOwn(STATICS, n.object.name)) return;
        if (STATICS[n.object.name].includes(name) || FUNCTION_MEMBERS.has(name) || !c.isGlobal(n.object)) return;
        if (isAssignmentTarget(n, c) || c.assignedMembers.has(`${n.object.name}.${name}`)) return;
        c.report(`missing static ${n.object.name}.${name}`, n);
      },
    },
  },
  {
    // ESPRUINO.md: `Array.prototype.slice` is undefined (`[].slice` works). source: built-in methods
    // are looked up on instances, never stored on `X.prototype`, so any `Array.prototype.push`,
    // `String.prototype.x`... reads undefined; only the generic Object methods resolve.
    name: 'X.prototype.method', basis: 'measured',
    visit: {
      MemberExpression: (n, c) => {
        const name = memberName(n);
        const proto = n.object;
        if (!name || OBJECT_METHODS.has(name) || MISSING_METHODS.has(name)) return;
        if (proto.type !== 'MemberExpression' || memberName(proto) !== 'prototype') return;
        if (proto.object.type !== 'Identifier' || !NATIVE_CLASSES.has(proto.object.name) || !c.isGlobal(proto.object)) return;
        if (isAssignmentTarget(n, c)) return;
        c.report(`${proto.object.name}.prototype.${name}`, n);
      },
    },
  },
  {
    // ESPRUINO.md: `Array.prototype.lastIndexOf`, `Promise.prototype.finally` are missing; source: the
    // other names in MISSING_METHODS exist on no built-in. The receiver's type is unknown statically,
    // so the name alone is reported (except `'literal'.lastIndexOf`, which String does have).
    name: 'missing method', basis: 'measured',
    visit: {
      MemberExpression: (n, c) => {
        const name = memberName(n);
        if (!name || !MISSING_METHODS.has(name) || isAssignmentTarget(n, c)) return;
        if (name === 'lastIndexOf' && isStringExpression(n.object)) return;
        c.report(`missing method .${name}`, n.property, c.text(n, 60));
      },
    },
  },
  {
    // ESPRUINO.md: regex `{n}` quantifiers, `\b`, lazy `+?` and the `m` flag silently fail; no
    // backreferences or named groups. source (src/jswrap_regexp.c, unchanged since 2v29): the matcher
    // knows only literal characters, `.`, `[...]`, the escapes \d\D\s\S\w\W\f\n\r\t\v\0\xHH, `*` and `+`
    // after one of those, `^`, `$`, capture groups (at most 9) and `|` outside groups; flags g and i.
    name: 'regex', basis: 'measured',
    visit: {
      Literal: (n, c) => {
        if (!n.regex) return;
        for (const p of regexProblems(n.regex.pattern, n.regex.flags)) {
          c.report(p.construct, p.at >= 0 ? n.start + 1 + p.at : n.start, c.text(n, 60));
        }
      },
      NewExpression: (n, c) => checkRegExpCall(n, c),
      CallExpression: (n, c) => checkRegExpCall(n, c),
    },
  },
  {
    // ESPRUINO.md: JSON.stringify's replacer and JSON.parse's reviver are ignored.
    name: 'JSON replacer / reviver', basis: 'measured',
    visit: {
      CallExpression: (n, c) => {
        const callee = n.callee;
        if (callee.type !== 'MemberExpression' || callee.object.type !== 'Identifier' || callee.object.name !== 'JSON') return;
        if (!c.isGlobal(callee.object) || n.arguments.length < 2 || isNullish(n.arguments[1], c)) return;
        const name = memberName(callee);
        if (name === 'stringify') c.report('JSON.stringify replacer', n.arguments[1], c.text(n, 60));
        if (name === 'parse') c.report('JSON.parse reviver', n.arguments[1], c.text(n, 60));
      },
    },
  },
  {
    // ESPRUINO.md: bundle everything — the only require() calls left may be modules built into the
    // ESP32 firmware (BUILTIN_MODULES, extendable with options.extraModules).
    name: 'require', basis: 'measured',
    visit: {
      CallExpression: (n, c) => {
        if (n.callee.type !== 'Identifier' || n.callee.name !== 'require' || !c.isGlobal(n.callee)) return;
        const name = stringValue(n.arguments[0]);
        if (name === undefined) return c.report('require() of a computed name', n);
        if (!c.modules.has(name)) c.report(`require("${name}")`, n);
      },
    },
  },
  {
    // ESPRUINO.md: no hoisting of function declarations — calling `f()` above `function f(){}` (at top
    // level or inside a function body) throws ReferenceError. Reported: a use of `f` that runs, in
    // the same body, before the declaration statement (not inside a nested function, but through
    // immediately-invoked ones), and a call made there to an earlier-declared function whose body
    // (transitively, through the calls it makes itself) uses `f`.
    name: 'function used before its declaration', basis: 'measured',
    finish: (c) => checkHoisting(c),
  },
  {
    // measured (2v29, host build, November 2026): a `var` exists in its function only once its
    // statement has run — there is no hoisting of `var` either. `function f(){ i = 1; return; var i }`
    // assigns the enclosing scope's `i`. Terser's inlining writes exactly that (`return {…}; var s,i`),
    // and on the interpreter it overwrote the bundle's hex decoder at boot. Reported: a use of a
    // function's own var, in code that runs with that body (not in a nested function, but through
    // immediately-invoked ones), placed before the name's first `var` in that function.
    name: 'var used before its declaration', basis: 'measured',
    finish: (c) => checkVarOrder(c),
  },
  {
    // ESPRUINO.md: `super.m()` through three or more class levels recurses until "Too much
    // recursion". source (jspeFactorFunctionCall): in a method `super` is this.__proto__.__proto__, so
    // in a class that is itself extended it resolves to the wrong class. Reported: `super.x` in an
    // instance method of a class that some other class in the bundle extends.
    name: 'super.method() in an extended class', basis: 'measured',
    finish(c) {
      for (const cls of c.classes.extendedClasses()) {
        if (!cls.superClass) continue;
        for (const member of cls.body.body) {
          if (member.type !== 'MethodDefinition' || member.static) continue;
          walk.full(member.value.body, (node) => {
            if (node.type === 'MemberExpression' && node.object.type === 'Super') {
              c.report('super.method() in a class that is extended', node, c.text(node, 40));
            }
          });
        }
      }
    },
  },
  {
    // ESPRUINO.md: static methods are not inherited by subclasses (`SB.make()` with make on SA is
    // "Function not found"). Reported: `X.m` where X is a class of the bundle without its own static m
    // and an ancestor class has one.
    name: 'inherited static', basis: 'measured',
    visit: {
      MemberExpression: (n, c) => {
        const name = memberName(n);
        if (!name || n.object.type !== 'Identifier' || isAssignmentTarget(n, c)) return;
        const cls = c.classes.byIdentifier(n.object);
        if (!cls || c.classes.statics(cls).has(name)) return;
        for (let up = c.classes.parentOf(cls), depth = 0; up && depth < 50; up = c.classes.parentOf(up), depth++) {
          if (c.classes.statics(up).has(name)) return c.report('inherited static method', n, `${c.text(n, 40)} (defined on ${up.id ? up.id.name : 'a parent class'})`);
        }
      },
    },
  },
  // ----- found in the 2v29 source, not in the measured corpus -----
  {
    // source: the lexer has no `??=`, `||=`, `&&=` tokens (Babel's preset in the build does not lower them).
    name: 'logical assignment', basis: 'source',
    visit: {
      AssignmentExpression: (n, c) => {
        if (['??=', '||=', '&&='].includes(n.operator)) c.report(`logical assignment ${n.operator}`, c.find(n.operator, n.left.end, n.right.start));
      },
    },
  },
  {
    // source: the lexer has no `#`: private class members cannot be parsed.
    name: 'private member', basis: 'source',
    visit: {
      MethodDefinition: (n, c) => { if (n.key.type === 'PrivateIdentifier') c.report('private class member', n.key); },
      PropertyDefinition: (n, c) => { if (n.key.type === 'PrivateIdentifier') c.report('private class member', n.key); },
      MemberExpression: (n, c) => { if (n.property.type === 'PrivateIdentifier') c.report('private class member', n.property); },
      BinaryExpression: (n, c) => { if (n.left.type === 'PrivateIdentifier') c.report('private class member', n.left); },
    },
  },
  {
    // source (jspeClassDefinition): a class body holds only `[static] name(...)`, `[static] get/set
    // name(...)` and `[static] name = value`. No static blocks, no string or numeric member names, no
    // member named like an Espruino keyword (`delete`, `catch`, `of`...), no field without `=`.
    name: 'class body', basis: 'source',
    visit: {
      StaticBlock: (n, c) => c.report('class static block', n),
      MethodDefinition: (n, c) => checkClassMemberName(n, c),
      PropertyDefinition: (n, c) => {
        checkClassMemberName(n, c);
        if (!n.value) c.report('class field without initializer', n);
      },
    },
  },
  {
    // source (jspeClassDefinition): an instance field's value is evaluated once, when the class is
    // defined, and stored on the prototype. So every instance shares one object made by the
    // initializer (`queue = []`, `buf = new Uint8Array(5)`), and `this` in it is not the instance.
    // Constants, names and functions that do not use `this` are fine (measured: `class CF { x = 1 }`).
    // Fix: assign such fields in the constructor.
    name: 'class field initializer', basis: 'source',
    visit: {
      PropertyDefinition: (n, c) => {
        if (n.static || !n.value) return;
        const problem = fieldInitializerProblem(n.value);
        if (problem) c.report(`class field initializer ${problem}`, n);
      },
    },
  },
  {
    // source (src/jslex.c): `of`, `static` and `let` are always keywords there, so they cannot name a
    // variable, parameter or function (terser may mangle a name to `of`: reserve it); `undefined`
    // cannot be declared.
    name: 'Espruino keyword as identifier', basis: 'source',
    finish(c) {
      for (const id of c.identifiers) {
        if (ESPRUINO_ONLY_KEYWORDS.has(id.name) || (id.name === 'undefined' && c.declared.has(id))) {
          c.report(`identifier "${id.name}" (keyword in Espruino)`, id, c.text(c.parent(id), 40));
        }
      }
    },
  },
  {
    // source: no BigInt (literal `10n` lexes as 10 followed by `n`), no `new.target` / `import.meta`,
    // no dynamic `import()`.
    name: 'other syntax', basis: 'source',
    visit: {
      Literal: (n, c) => { if (n.bigint !== undefined) c.report('BigInt literal', n); },
      MetaProperty: (n, c) => c.report(`${n.meta.name}.${n.property.name}`, n),
      ImportExpression: (n, c) => c.report('dynamic import()', n),
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Rule helpers
// ---------------------------------------------------------------------------------------------

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
const LOOP_TYPES = new Set(['ForStatement', 'ForInStatement', 'ForOfStatement']);
const CLASS_TYPES = new Set(['ClassDeclaration', 'ClassExpression']);
const isFunction = (node) => Boolean(node) && FUNCTION_TYPES.has(node.type);

/** Where a function starts in the source: a method's function value starts after its name. */
function functionHead(fn, c) {
  const p = c.parent(fn);
  const isMethod = p && (p.type === 'MethodDefinition' || (p.type === 'Property' && (p.method || p.kind !== 'init')));
  return isMethod && p.value === fn ? p : fn;
}

/** The name of `a.name` or `a["name"]`, else undefined. */
function memberName(node) {
  if (node.type !== 'MemberExpression') return undefined;
  if (!node.computed) return node.property.type === 'Identifier' ? node.property.name : undefined;
  return stringValue(node.property);
}

/** The value of a string literal or a template without substitutions, else undefined. */
function stringValue(node) {
  if (!node) return undefined;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0].value.cooked ?? undefined;
  return undefined;
}

function isStringExpression(node) {
  return stringValue(node) !== undefined || node.type === 'TemplateLiteral';
}

/** `x.m = …`, `x.m += …`, `x.m++`, `delete x.m`: defining or removing, not reading. */
function isAssignmentTarget(node, c) {
  const p = c.parent(node);
  return (p.type === 'AssignmentExpression' && p.left === node) || (p.type === 'UpdateExpression')
    || (p.type === 'UnaryExpression' && p.operator === 'delete');
}

function isInstanceofRight(id, c) {
  const p = c.parent(id);
  return p.type === 'BinaryExpression' && p.operator === 'instanceof' && p.right === id && ERROR_SUBCLASSES.has(id.name);
}

/** null, undefined, void 0. */
function isNullish(node, c) {
  return (node.type === 'Literal' && node.value === null && !node.regex)
    || (node.type === 'Identifier' && node.name === 'undefined' && c.isGlobal(node))
    || (node.type === 'UnaryExpression' && node.operator === 'void');
}

/**
 * Why an instance field initializer misbehaves when evaluated once at class definition, or null.
 * `this`/`super` anywhere outside a nested non-arrow function: it is not the instance then.
 * An object made by the initializer itself (not inside a function that runs later): all instances
 * share it.
 */
function fieldInitializerProblem(value) {
  let usesThis = false;
  let createsObject = false;
  const visit = (node, inArrow) => {
    if (!node || typeof node.type !== 'string') return;
    switch (node.type) {
      case 'ThisExpression': case 'Super': usesThis = true; return;
      case 'FunctionExpression': case 'ClassExpression': return;
      case 'ArrowFunctionExpression': visit(node.body, true); return;
      case 'ObjectExpression': case 'ArrayExpression': case 'NewExpression': case 'CallExpression':
        if (!inArrow) createsObject = true;
        break;
      case 'Literal': if (node.regex && !inArrow) createsObject = true; return;
      default: break;
    }
    for (const child of Object.values(node)) {
      if (Array.isArray(child)) for (const item of child) visit(item, inArrow);
      else if (child && typeof child.type === 'string') visit(child, inArrow);
    }
  };
  visit(value, false);
  if (usesThis) return 'uses this';
  return createsObject ? 'creates an object shared by all instances' : null;
}

function checkClassMemberName(n, c) {
  if (n.computed || n.key.type === 'PrivateIdentifier') return; // reported by their own rules
  if (n.key.type === 'Literal') return c.report('class member named by a literal', n.key, c.text(n, 40));
  if (n.key.type === 'Identifier' && ESPRUINO_KEYWORDS.has(n.key.name) && !(n.kind === 'constructor')) {
    c.report(`class member named "${n.key.name}" (keyword in Espruino)`, n.key, c.text(n, 40));
  }
}

/** `new RegExp("…", "…")` / `RegExp("…")` with literal arguments get the regex-literal checks. */
function checkRegExpCall(n, c) {
  if (n.callee.type !== 'Identifier' || n.callee.name !== 'RegExp' || !c.isGlobal(n.callee)) return;
  const pattern = stringValue(n.arguments[0]);
  if (pattern === undefined) return;
  const flags = n.arguments.length > 1 ? stringValue(n.arguments[1]) ?? '' : '';
  for (const p of regexProblems(pattern, flags)) c.report(p.construct, n.arguments[0], c.text(n, 60));
}

/**
 * What of a regex pattern Espruino's matcher does not implement (see the 'regex' rule).
 * Returns [{ construct, at }] with `at` the offset in the pattern, or -1 for a flag.
 */
export function regexProblems(pattern, flags = '') {
  const out = [];
  const add = (construct, at) => out.push({ construct, at });
  for (const f of flags) if (f !== 'g' && f !== 'i') add(`regex flag ${f}`, -1);
  let groups = 0;
  let depth = 0;
  let prev = null; // what a quantifier would apply to: 'atom', 'group' or null
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      const e = pattern[i + 1] ?? '';
      if (e === 'b') add('regex \\b', i);
      else if (e === 'B') add('regex \\B', i);
      else if (/[1-9]/.test(e)) add('regex backreference', i);
      else if (e === 'k') add('regex backreference', i);
      else if (e !== '' && 'upPc'.includes(e)) add(`regex escape \\${e}`, i);
      i += e === 'x' ? 3 : 1;
      prev = 'atom';
    } else if (ch === '[') {
      let j = i + 1;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      i = j;
      prev = 'atom';
    } else if (ch === '(') {
      if (pattern[i + 1] === '?') {
        const kind = pattern[i + 2];
        const next = pattern[i + 3];
        const at = i;
        if (kind === '<' && next !== '=' && next !== '!') {
          add('regex named group', at);
          i = Math.max(pattern.indexOf('>', i), i + 2);
        } else {
          if (kind === ':') add('regex non-capturing group (?:', at);
          else if (kind === '=' || kind === '!') add('regex lookahead', at);
          else if (kind === '<') add('regex lookbehind', at);
          else add('regex group modifier', at);
          i += kind === '<' ? 3 : 2;
        }
      } else {
        groups++;
      }
      depth++;
      prev = null;
    } else if (ch === ')') {
      depth = Math.max(0, depth - 1);
      prev = 'group';
    } else if (ch === '|') {
      if (depth > 0) add('regex | inside a group', i);
      prev = null;
    } else if (ch === '*' || ch === '+' || ch === '?' || (ch === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i)))) {
      const start = i;
      if (ch === '?') add('regex ? quantifier', i);
      if (ch === '{') {
        add('regex {n} quantifier', i);
        i = pattern.indexOf('}', i);
      }
      if (prev === 'group') add('regex quantifier on a group', start);
      if (pattern[i + 1] === '?') {
        add('regex lazy quantifier', start);
        i++;
      }
      prev = null;
    } else {
      prev = 'atom';
    }
  }
  if (groups > 9) add('regex with more than 9 groups', 0);
  return out;
}

/** The var-order rule (see RULES). */
function checkVarOrder(c) {
  const firstVar = new Map(); // scope node -> Map(name -> offset of its first var declarator)
  const params = new Map(); // function node -> Set of parameter names
  for (const n of c.nodes) {
    if (n.type === 'VariableDeclarator' && c.parent(n)?.kind === 'var') {
      for (const id of patternIdentifiers(n.id)) {
        const binding = c.bindingOf(id);
        if (!binding) continue;
        if (!firstVar.has(binding.scopeNode)) firstVar.set(binding.scopeNode, new Map());
        const names = firstVar.get(binding.scopeNode);
        if (!names.has(id.name)) names.set(id.name, n.start);
      }
    } else if (isFunction(n)) {
      params.set(n, new Set(n.params.flatMap((p) => patternIdentifiers(p).map((id) => id.name))));
    }
  }
  for (const { id, binding } of c.references) {
    if (!binding || binding.kind !== 'var' || !isFunction(binding.scopeNode)) continue;
    const first = firstVar.get(binding.scopeNode)?.get(id.name);
    if (first === undefined || id.start >= first || params.get(binding.scopeNode)?.has(id.name)) continue;
    if (c.crossesFunction(id, binding.scopeNode, { iifeTransparent: true })) continue;
    c.report(`var ${id.name} used before its declaration`, id, c.text(c.parent(id), 50));
  }
}

/** The hoisting rule (see RULES). */
function checkHoisting(c) {
  // 1. A direct use of f before `function f(){}` in the code that runs with the declaring body.
  const direct = new Set();
  for (const { id, binding } of c.references) {
    if (!binding || binding.kind !== 'function' || id.start >= binding.decl.start) continue;
    if (c.crossesFunction(id, binding.scopeNode, { iifeTransparent: true })) continue;
    direct.add(id);
    c.report(`function ${binding.name} used before its declaration`, id, c.text(c.parent(id), 50));
  }

  // 2. A call, made there, to an already declared function g whose body uses f on its way.
  // usesWhenRun(g): the function bindings that running g's body touches (directly, or through the
  // functions it calls), ignoring nested functions that are not invoked on the spot.
  const memo = new Map();
  const usesWhenRun = (fnBinding) => {
    if (memo.has(fnBinding)) return memo.get(fnBinding);
    const result = new Set();
    memo.set(fnBinding, result); // cycles stop here
    for (const { binding, id } of c.referencesInside(fnBinding.decl)) {
      if (!binding || binding.kind !== 'function') continue;
      if (c.crossesFunction(id, fnBinding.decl, { iifeTransparent: true })) continue;
      result.add(binding);
      if (isCallee(id, c)) for (const b of usesWhenRun(binding)) result.add(b);
    }
    return result;
  };
  for (const { id, binding } of c.references) {
    if (!binding || binding.kind !== 'function' || direct.has(id) || !isCallee(id, c)) continue;
    const runner = c.executionContext(id);
    for (const used of usesWhenRun(binding)) {
      if (used === binding || id.start >= used.decl.start) continue;
      if (c.executionContext(used.decl) !== runner) continue; // declared in another body: unknown order
      if (!c.contains(used.scopeNode, id)) continue; // not visible at the call
      c.report(`function ${used.name} used before its declaration`, id, `${c.text(c.parent(id), 40)} (${binding.name} uses ${used.name})`);
    }
  }
}

function isCallee(id, c) {
  const p = c.parent(id);
  return (p.type === 'CallExpression' || p.type === 'NewExpression') && p.callee === id;
}

// ---------------------------------------------------------------------------------------------
// Scope analysis: which declaration each identifier refers to (null for a global).
// ---------------------------------------------------------------------------------------------

/** The identifiers a declaration pattern binds. */
function patternIdentifiers(pattern, out = []) {
  if (!pattern) return out;
  switch (pattern.type) {
    case 'Identifier': out.push(pattern); break;
    case 'ObjectPattern':
      for (const p of pattern.properties) patternIdentifiers(p.type === 'RestElement' ? p.argument : p.value, out);
      break;
    case 'ArrayPattern': for (const e of pattern.elements) patternIdentifiers(e, out); break;
    case 'RestElement': patternIdentifiers(pattern.argument, out); break;
    case 'AssignmentPattern': patternIdentifiers(pattern.left, out); break;
    default: break;
  }
  return out;
}

function analyse(ast) {
  const parent = new Map();
  const nodes = [];
  walk.fullAncestor(ast, (node, _state, ancestors) => {
    parent.set(node, ancestors.length > 1 ? ancestors[ancestors.length - 2] : null);
    nodes.push(node);
  });
  nodes.sort((a, b) => a.start - b.start || b.end - a.end); // source order, outer before inner

  // --- declarations ---
  const scopes = new Map(); // scope node -> Map(name -> binding)
  const declared = new Set(); // identifiers that declare
  const declare = (scopeNode, id, kind, decl) => {
    if (!scopeNode || !id) return;
    let scope = scopes.get(scopeNode);
    if (!scope) scopes.set(scopeNode, (scope = new Map()));
    scope.set(id.name, { name: id.name, kind, id, decl, scopeNode });
    declared.add(id);
  };
  const varScope = (node) => {
    for (let n = parent.get(node); n; n = parent.get(n)) {
      if (isFunction(n) || n.type === 'Program' || n.type === 'StaticBlock') return n;
    }
    return null;
  };
  const blockScope = (node) => {
    let child = node;
    for (let n = parent.get(node); n; child = n, n = parent.get(n)) {
      if (n.type === 'BlockStatement') return isFunction(parent.get(n)) ? parent.get(n) : n;
      if (LOOP_TYPES.has(n.type) && child !== n.body) return n;
      if (n.type === 'SwitchStatement' || n.type === 'StaticBlock' || n.type === 'Program' || isFunction(n)) return n;
    }
    return null;
  };
  for (const node of nodes) {
    switch (node.type) {
      case 'VariableDeclaration': {
        const scope = node.kind === 'var' ? varScope(node) : blockScope(node);
        for (const d of node.declarations) for (const id of patternIdentifiers(d.id)) declare(scope, id, node.kind, d);
        break;
      }
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        if (node.type === 'FunctionDeclaration') declare(blockScope(node), node.id, 'function', node);
        if (node.type === 'FunctionExpression' && node.id) declare(node, node.id, 'function-name', node);
        for (const p of node.params) for (const id of patternIdentifiers(p)) declare(node, id, 'param', node);
        break;
      case 'ClassDeclaration': declare(blockScope(node), node.id, 'class', node); break;
      case 'ClassExpression': if (node.id) declare(node, node.id, 'class-name', node); break;
      case 'CatchClause': for (const id of patternIdentifiers(node.param)) declare(node, id, 'catch', node); break;
      default: break;
    }
  }

  // --- references ---
  const resolve = (id) => {
    for (let n = id; n; n = parent.get(n)) {
      const binding = scopes.get(n)?.get(id.name);
      if (binding) return binding;
    }
    return null;
  };
  const identifiers = nodes.filter((n) => n.type === 'Identifier');
  const references = identifiers.filter((id) => !declared.has(id)).map((id) => ({ id, binding: resolve(id) }));
  const bindingOf = new Map(references.map((r) => [r.id, r.binding]));

  return { parent, nodes, scopes, declared, identifiers, references, bindingOf, resolve, blockScope };
}

/** Classes of the bundle, by the binding that names them, with their resolved parent classes. */
function classIndex(a) {
  const byBinding = new Map();
  const classes = a.nodes.filter((n) => CLASS_TYPES.has(n.type));
  for (const cls of classes) {
    if (cls.type === 'ClassDeclaration') {
      byBinding.set(a.scopes.get(a.blockScope(cls))?.get(cls.id.name), cls);
      continue;
    }
    const p = a.parent.get(cls);
    if (p.type === 'VariableDeclarator' && p.init === cls && p.id.type === 'Identifier') byBinding.set(a.resolve(p.id), cls);
    if (p.type === 'AssignmentExpression' && p.right === cls && p.left.type === 'Identifier') byBinding.set(a.resolve(p.left), cls);
    if (cls.id) byBinding.set(a.scopes.get(cls)?.get(cls.id.name), cls);
  }
  byBinding.delete(undefined);
  byBinding.delete(null);
  const byIdentifier = (id) => {
    const binding = a.declared.has(id) ? null : a.bindingOf.get(id);
    return binding ? byBinding.get(binding) : undefined;
  };
  const parentOf = (cls) => (cls.superClass && cls.superClass.type === 'Identifier' ? byIdentifier(cls.superClass) : undefined);
  const staticCache = new Map();
  const statics = (cls) => {
    if (staticCache.has(cls)) return staticCache.get(cls);
    const names = new Set();
    for (const m of cls.body.body) {
      if (m.static && !m.computed && m.key.type === 'Identifier') names.add(m.key.name);
      if (m.static && !m.computed && m.key.type === 'Literal') names.add(String(m.key.value));
    }
    staticCache.set(cls, names);
    return names;
  };
  // Statics assigned after the class (`X.m = …`) count as its own.
  for (const n of a.nodes) {
    if (n.type !== 'AssignmentExpression' || n.left.type !== 'MemberExpression' || n.left.object.type !== 'Identifier') continue;
    const cls = byIdentifier(n.left.object);
    const name = memberName(n.left);
    if (cls && name) statics(cls).add(name);
  }
  const extended = new Set(classes.map(parentOf).filter(Boolean));
  return { byIdentifier, parentOf, statics, extendedClasses: () => extended };
}

// ---------------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------------

const PARSE_OPTIONS = { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: true, allowHashBang: true };

/**
 * Checks a bundle's source. Returns its violations in source order:
 * [{ construct, line, column, snippet }], line and column counted from 1.
 * options.extraModules: more module names `require()` may load besides BUILTIN_MODULES.
 * options.ignore: rule names (see RULE_NAMES) to leave out.
 */
export function checkBundle(source, options = {}) {
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const where = (offset) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo] + 1 };
  };
  const excerpt = (start, end, max) => {
    const stop = Math.min(source.length, start + Math.max(Math.min(end - start, max), 30));
    return source.slice(start, stop).split('\n')[0].replace(/\s+/g, ' ').trim();
  };

  let ast;
  try {
    ast = acorn.parse(source, PARSE_OPTIONS);
  } catch (error) {
    const pos = typeof error.pos === 'number' ? error.pos : 0;
    const message = String(error.message).replace(/\s*\(\d+:\d+\)$/, '');
    return [{ construct: `parse error: ${message}`, ...where(pos), snippet: excerpt(pos, pos + 40, 40) }];
  }

  const a = analyse(ast);
  const violations = [];
  const seen = new Set();
  const ctx = {
    source,
    modules: new Set([...BUILTIN_MODULES, ...(options.extraModules ?? [])]),
    parent: (node) => a.parent.get(node),
    declared: a.declared,
    identifiers: a.identifiers,
    references: a.references,
    nodes: a.nodes,
    /** The binding an identifier declares or refers to. */
    bindingOf: (id) => a.bindingOf.get(id) ?? a.resolve(id),
    /** An identifier that is not declared anywhere in the bundle: a global of the interpreter. */
    isGlobal: (node) => node.type === 'Identifier' && !a.declared.has(node) && !a.bindingOf.get(node),
    /** The global built-in a class's superclass identifier names, directly or through one alias. */
    builtinAlias(id) {
      const binding = a.bindingOf.get(id);
      if (!binding) return id.name;
      const init = binding.decl && binding.decl.type === 'VariableDeclarator' ? binding.decl.init : null;
      if (init && init.type === 'Identifier' && ctx.isGlobal(init)) return init.name;
      return null;
    },
    /** Members the bundle assigns on globals (`Math.trunc = …`): polyfills. */
    assignedMembers: new Set(a.nodes
      .filter((n) => n.type === 'AssignmentExpression' && n.left.type === 'MemberExpression' && n.left.object.type === 'Identifier')
      .map((n) => `${n.left.object.name}.${memberName(n.left)}`)),
    classes: classIndex(a),
    text: (node, max = 60) => excerpt(node.start, node.end, max),
    /** The offset of `token` between two offsets (for operators), or `from`. */
    find(token, from, to) {
      const at = source.indexOf(token, from);
      return at >= 0 && at < to ? at : from;
    },
    contains: (outer, node) => outer.start <= node.start && node.end <= outer.end,
    /** Whether the path from `node` up to `ancestor` leaves a function (optionally: one not invoked on the spot). */
    crossesFunction(node, ancestor, { iifeTransparent = false } = {}) {
      for (let n = a.parent.get(node); n && n !== ancestor; n = a.parent.get(n)) {
        if (isFunction(n) && !(iifeTransparent && isImmediatelyInvoked(n, a))) return true;
      }
      return false;
    },
    /** The function (or program) whose run executes `node`, looking through immediately-invoked functions. */
    executionContext(node) {
      for (let n = a.parent.get(node); n; n = a.parent.get(n)) {
        if ((isFunction(n) && !isImmediatelyInvoked(n, a)) || n.type === 'Program') return n;
      }
      return null;
    },
    /** The references within a node's source range (references are in source order). */
    referencesInside(node) {
      let lo = 0;
      let hi = a.references.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (a.references[mid].id.start < node.start) lo = mid + 1;
        else hi = mid;
      }
      const out = [];
      for (let i = lo; i < a.references.length && a.references[i].id.start < node.end; i++) out.push(a.references[i]);
      return out;
    },
    report(construct, at, snippet) {
      const start = typeof at === 'number' ? at : at.start;
      const end = typeof at === 'number' ? at + 40 : at.end;
      const key = `${construct}@${start}`;
      if (seen.has(key)) return;
      seen.add(key);
      violations.push({ construct, ...where(start), snippet: snippet ?? excerpt(start, end, 60), start });
    },
  };

  // Dispatch: node type -> visitors. 'Function' and 'Class' stand for all their node types.
  const visitors = new Map();
  const ignored = new Set(options.ignore ?? []);
  const rules = RULES.filter((rule) => !ignored.has(rule.name));
  for (const rule of rules) {
    for (const [type, fn] of Object.entries(rule.visit ?? {})) {
      const types = type === 'Function' ? [...FUNCTION_TYPES] : type === 'Class' ? [...CLASS_TYPES] : [type];
      for (const t of types) {
        if (!visitors.has(t)) visitors.set(t, []);
        visitors.get(t).push(fn);
      }
    }
  }
  for (const node of a.nodes) for (const fn of visitors.get(node.type) ?? []) fn(node, ctx);
  for (const rule of rules) rule.finish?.(ctx);

  violations.sort((x, y) => x.start - y.start);
  return violations.map(({ construct, line, column, snippet }) => ({ construct, line, column, snippet }));
}

/** `(function(){…})()`, `(() => …)()`, `!function(){…}()`, `(function(){…}).call(this)`. */
function isImmediatelyInvoked(fn, a) {
  const p = a.parent.get(fn);
  if (!p) return false;
  if (p.type === 'CallExpression' && p.callee === fn) return true;
  if (p.type === 'MemberExpression' && p.object === fn && ['call', 'apply'].includes(memberName(p))) {
    const pp = a.parent.get(p);
    return pp && pp.type === 'CallExpression' && pp.callee === p;
  }
  return false;
}

/** The rules, for documentation and tests: [{ name, basis }]. */
export const RULE_NAMES = RULES.map(({ name, basis }) => ({ name, basis }));

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

function main(argv) {
  const file = argv[0] ?? 'dist/firmware.js';
  let source;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch (error) {
    console.error(`bundle check: cannot read ${file}: ${error.message}`);
    return 2;
  }
  const violations = checkBundle(source);
  for (const v of violations) console.log(`${file}:${v.line}:${v.column}  ${v.construct}  ${v.snippet}`);
  if (violations.length > 0) {
    console.log(`bundle check: ${violations.length} construct(s) Espruino cannot run`);
    return 1;
  }
  console.log(`bundle check: OK (${Buffer.byteLength(source)} bytes)`);
  return 0;
}

const invokedAs = process.argv[1] ? path.resolve(process.argv[1]) : '';
const self = fileURLToPath(import.meta.url);
if (invokedAs && (invokedAs === self || (fs.existsSync(invokedAs) && fs.realpathSync(invokedAs) === fs.realpathSync(self)))) {
  process.exitCode = main(process.argv.slice(2));
}
