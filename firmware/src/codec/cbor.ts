// A small CBOR (RFC 8949) encoder and decoder for the station's frames and the hub's commands.
// Written for the Espruino interpreter (see /work/shared/ESPRUINO.md): no Map, no BigInt, no
// TextEncoder, no Math.pow (inexact there): integers are split into 32-bit halves by hand.
//
// Data model, both directions:
//   unsigned / negative integers  <-> number, within ±(2^53 − 1); wider integers are rejected on decode
//   byte string                   <-> Uint8Array (decoded values are copies, never views of the input)
//   text string                   <-> string (UTF-8 written and checked by hand; lone surrogates are
//                                     written as U+FFFD, ill-formed UTF-8 is rejected on decode)
//   array                         <-> array
//   map                           <-> plain object. CBOR allows any key type; this codec takes integer
//                                     and text keys only. An integer key becomes the property name of
//                                     its decimal form ("1", "-2"), and on encode a property name that
//                                     is such a canonical integer ("0", "17", "-3"; no "+", no leading
//                                     zeros, no "-0", within ±(2^53 − 1)) is written as an integer key,
//                                     so the frame {1: "st-1"} goes out with the integer key 1 the hub
//                                     expects. So a text key "1" comes back as the integer key 1.
//                                     Keys are written as: non-negative integer keys in ascending order,
//                                     then the rest in Object.keys order (the same bytes on V8 and on
//                                     Espruino, whose property order differs).
//   false / true / null / undefined <-> simple values 20 / 21 / 22 / 23
//   float                         <-> number: decodes half, single and double precision; encodes every
//                                     number that is not a safe integer (fractions, NaN, ±Infinity,
//                                     |n| > 2^53 − 1) as a double (0xfb). −0 is an integer: written as 0.
//   tag 64 (uint8 typed array)    --> Uint8Array, as cbor-x writes typed arrays by default; other tags
//                                     are rejected with an error naming the tag.
// Encoding is always definite-length with the shortest argument ("preferred serialization"). The
// decoder also reads indefinite-length strings, arrays and maps, and arguments longer than needed.
//
// Decoding never throws: any byte sequence gives { ok: true, value } or { ok: false, error }. Every
// loop consumes input, lengths are checked against the bytes that remain before anything is
// allocated, and nesting is bounded (CBOR_MAX_DEPTH), so time and memory are linear in the input.
// Duplicate map keys, a "__proto__" key, trailing bytes and unassigned simple values are errors.
//
// Memory: the encoder's and the decoder's helpers are inner functions of cborEncode and cborDecode,
// not classes or module-level functions. The bundle runs at the interpreter's top level, where every
// function and method is kept in RAM for good (about 4 variables each); inner ones exist only while
// their outer call runs. The price is creating them again on each call: about 1 ms a call on the
// host build, against about 12 ms to encode an event frame; neither runs on the tap path (two encodes
// per message sent, two decodes per message received).
//
// Neither recurses: nested arrays and maps are walked with explicit lists, in a loop. The interpreter
// locks a running function's code, and its scope, once for each call of it in progress (more for each
// loop in progress in it), and a lock count stops at 15 and then never comes down (Espruino issue
// 2616), so the variable is never freed. Recursive inner functions leaked their code string, or their
// whole shared scope (about 90 variables), for every message nested deep enough; the classes before
// them leaked their reader or writer the same way (16 variables for each state report). Measured on 2v29.

import { utf8Decode, utf8Length, utf8Write } from './bytes';

export type CborValue = number | string | boolean | null | undefined | Uint8Array | CborValue[] | CborObject;

export interface CborObject {
  [key: string]: CborValue;
}

export type CborDecoded = { ok: true; value: CborValue } | { ok: false; error: string };

/** Most arrays, maps and tags one item may sit inside, on encode and on decode. */
export const CBOR_MAX_DEPTH = 16;

// Constants the minifier writes in place (small numbers), so they cost nothing at rest. The two wide
// ones, 2^53 − 1 and 2^32, are written out where they are used, for the same reason.

// Major types (RFC 8949 §3.1).
const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_SIMPLE = 7;

// Additional information values (RFC 8949 §3).
const INFO_ONE_BYTE = 24;
const INFO_TWO_BYTES = 25;
const INFO_FOUR_BYTES = 26;
const INFO_EIGHT_BYTES = 27;
const INFO_INDEFINITE = 31;

// Simple values and floats under major type 7 (RFC 8949 §3.3).
const SIMPLE_FALSE = 20;
const SIMPLE_TRUE = 21;
const SIMPLE_NULL = 22;
const SIMPLE_UNDEFINED = 23;
const BREAK = 0xff;
const FLOAT64_HEAD = 0xfb;

/** RFC 8746 §2: tag 64 is a uint8 typed array carried as a byte string. */
const TAG_UINT8_ARRAY = 64;

// ---------------------------------------------------------------------------------------------
// Encoder

/**
 * CBOR bytes of `value` (see the data model above). Throws an Error only for what it cannot
 * represent: functions, symbols, bigints, or nesting deeper than CBOR_MAX_DEPTH (which is also how
 * a cycle shows).
 */
export function cborEncode(value: unknown): Uint8Array {
  let bytes = new Uint8Array(64);
  let length = 0;

  function reserve(count: number): void {
    const needed = length + count;
    if (needed <= bytes.length) return;
    let size = bytes.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(bytes.subarray(0, length), 0);
    bytes = grown;
  }

  function uint32(word: number): void {
    bytes[length++] = (word >>> 24) & 0xff;
    bytes[length++] = (word >>> 16) & 0xff;
    bytes[length++] = (word >>> 8) & 0xff;
    bytes[length++] = word & 0xff;
  }

  /** Initial byte and argument in the shortest form (RFC 8949 §4.2.1). `argument` is a safe integer ≥ 0. */
  function head(major: number, argument: number): void {
    const initial = major << 5;
    reserve(9);
    if (argument < 24) {
      bytes[length++] = initial | argument;
    } else if (argument < 0x100) {
      bytes[length++] = initial | INFO_ONE_BYTE;
      bytes[length++] = argument;
    } else if (argument < 0x10000) {
      bytes[length++] = initial | INFO_TWO_BYTES;
      bytes[length++] = argument >> 8;
      bytes[length++] = argument & 0xff;
    } else if (argument < 4294967296) {
      bytes[length++] = initial | INFO_FOUR_BYTES;
      uint32(argument);
    } else {
      const high = Math.floor(argument / 4294967296);
      bytes[length++] = initial | INFO_EIGHT_BYTES;
      uint32(high);
      uint32(argument - high * 4294967296);
    }
  }

  function number(value: number): void {
    if (Math.floor(value) === value && value <= 9007199254740991 && value >= -9007199254740991) {
      if (value >= 0) head(MAJOR_UNSIGNED, value);
      else head(MAJOR_NEGATIVE, -1 - value);
      return;
    }
    reserve(9);
    bytes[length++] = FLOAT64_HEAD;
    const scratch = new DataView(new ArrayBuffer(8)); // big-endian, as CBOR writes it
    scratch.setFloat64(0, value);
    for (let index = 0; index < 8; index++) bytes[length++] = scratch.getUint8(index);
  }

  function text(value: string): void {
    const size = utf8Length(value);
    head(MAJOR_TEXT, size);
    reserve(size);
    length = utf8Write(value, bytes, length);
  }

  /** The integer a property name stands for if it is a canonical decimal integer, else undefined. */
  function integerKey(key: string): number | undefined {
    const keyLength = key.length;
    let index = key.charCodeAt(0) === 45 ? 1 : 0; // '-'
    const digits = keyLength - index;
    if (digits < 1 || digits > 16) return undefined;
    if (key.charCodeAt(index) === 48 && (digits > 1 || index === 1)) return undefined; // "01", "-0"
    let result = 0;
    for (; index < keyLength; index++) {
      const digit = key.charCodeAt(index) - 48;
      if (digit < 0 || digit > 9) return undefined;
      result = result * 10 + digit;
    }
    if (result > 9007199254740991) return undefined;
    return key.charCodeAt(0) === 45 ? -result : result;
  }

  // The array or map being written out: the array itself or the map's keys in the order they are
  // written, the map (null for an array), the index of its next element, and how many arrays and maps
  // its elements sit inside. The ones it sits inside wait in `outer`, three entries each. Nesting is
  // walked in a loop, never by recursion (see the note on locks at the top).
  let list: unknown[] | undefined;
  let map: { [key: string]: unknown } | null = null;
  let next = 0;
  let depth = 0;
  const outer: unknown[] = [];

  function enter(elements: unknown[], keyed: { [key: string]: unknown } | null): void {
    if (list !== undefined) outer.push(list, map, next);
    list = elements;
    map = keyed;
    next = 0;
    depth++;
  }

  /** Writes an item whole, or the head of an array or map whose contents the loop below writes. */
  function begin(current: unknown): void {
    if (depth > CBOR_MAX_DEPTH) throw new Error('cbor: nested deeper than ' + CBOR_MAX_DEPTH + ' (or a cycle)');
    switch (typeof current) {
      case 'number':
        number(current);
        return;
      case 'string':
        text(current);
        return;
      case 'boolean':
        reserve(1);
        bytes[length++] = (MAJOR_SIMPLE << 5) | (current ? SIMPLE_TRUE : SIMPLE_FALSE);
        return;
      case 'undefined':
        reserve(1);
        bytes[length++] = (MAJOR_SIMPLE << 5) | SIMPLE_UNDEFINED;
        return;
      case 'object':
        if (current === null) {
          reserve(1);
          bytes[length++] = (MAJOR_SIMPLE << 5) | SIMPLE_NULL;
        } else if (current instanceof Uint8Array) {
          head(MAJOR_BYTES, current.length);
          reserve(current.length);
          bytes.set(current, length);
          length += current.length;
        } else if (Array.isArray(current)) {
          head(MAJOR_ARRAY, current.length);
          enter(current, null);
        } else {
          // A map: non-negative integer keys in ascending order, then the rest in Object.keys order.
          // The integer keys are canonical decimals, so sorting them by length and then as text is
          // numeric order. They usually come in order already, so the sort (a call per comparison
          // on the interpreter) runs only when they do not.
          const keyed = current as { [key: string]: unknown };
          const keys = Object.keys(keyed);
          const ordered: string[] = [];
          const others: string[] = [];
          let inOrder = true;
          for (let index = 0; index < keys.length; index++) {
            const key = keys[index];
            const asInteger = integerKey(key);
            if (asInteger !== undefined && asInteger >= 0) {
              const previous = ordered.length > 0 ? ordered[ordered.length - 1] : '';
              if (previous.length > key.length || (previous.length === key.length && previous > key)) inOrder = false;
              ordered.push(key);
            } else others.push(key);
          }
          if (!inOrder) ordered.sort((first, second) => first.length - second.length || (first < second ? -1 : 1));
          for (let index = 0; index < others.length; index++) ordered.push(others[index]);
          head(MAJOR_MAP, ordered.length);
          enter(ordered, keyed);
        }
        return;
      default:
        throw new Error('cbor: cannot encode a ' + typeof current);
    }
  }

  begin(value);
  while (list !== undefined) {
    if (next >= list.length) {
      // This array or map is complete: back to the one it sits in.
      depth--;
      if (outer.length === 0) list = undefined;
      else {
        next = outer.pop() as number;
        map = outer.pop() as { [key: string]: unknown } | null;
        list = outer.pop() as unknown[];
      }
      continue;
    }
    const element = list[next++];
    if (map === null) begin(element);
    else {
      const asInteger = integerKey(element as string);
      if (asInteger === undefined) text(element as string);
      else number(asInteger);
      begin(map[element as string]);
    }
  }
  // A copy, not bytes.slice(): on Espruino 2v29 a typed array's slice() returns a plain Array.
  const result = new Uint8Array(length);
  result.set(bytes.subarray(0, length), 0);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Decoder

/** Thrown inside the decoder only, and always caught by cborDecode. */
interface DecodeFailure {
  cborError: string;
}

/**
 * Decodes exactly one CBOR item filling all of `bytes`. Never throws; `maxDepth` (default
 * CBOR_MAX_DEPTH) bounds how many arrays, maps and tags an item may sit inside.
 */
export function cborDecode(bytes: Uint8Array, maxDepth?: number): CborDecoded {
  const depthLimit = maxDepth === undefined ? CBOR_MAX_DEPTH : maxDepth;
  let position = 0;

  function fail(message: string): never {
    const failure: DecodeFailure = { cborError: message };
    throw failure;
  }

  function need(count: number): void {
    const remaining = bytes.length - position;
    if (count > remaining) fail('truncated: needs ' + count + ' more bytes at offset ' + position + ', has ' + remaining);
  }

  function uint32(): number {
    const at = position;
    position += 4;
    return bytes[at] * 0x1000000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
  }

  /** The argument after an initial byte whose additional information is `info` (not 31). */
  function argument(info: number): number {
    if (info < 24) return info;
    switch (info) {
      case INFO_ONE_BYTE:
        need(1);
        return bytes[position++];
      case INFO_TWO_BYTES:
        need(2);
        position += 2;
        return (bytes[position - 2] << 8) | bytes[position - 1];
      case INFO_FOUR_BYTES:
        need(4);
        return uint32();
      case INFO_EIGHT_BYTES: {
        need(8);
        const high = uint32();
        const low = uint32();
        if (high > 0x1fffff) fail('integer or length above 2^53 - 1 at offset ' + (position - 9));
        return high * 4294967296 + low;
      }
      default:
        return fail('reserved additional information ' + info + ' at offset ' + (position - 1));
    }
  }

  /** Copies `length` bytes (already checked to be there) and steps over them. */
  function take(length: number): Uint8Array {
    const start = position;
    position += length;
    // Not bytes.slice(): on Espruino 2v29 a typed array's slice() returns a plain Array.
    const copy = new Uint8Array(length);
    copy.set(bytes.subarray(start, start + length), 0);
    return copy;
  }

  function text(length: number): string {
    const start = position;
    const decoded = utf8Decode(bytes, start, start + length);
    if (decoded === undefined) fail('text string is not valid UTF-8 at offset ' + start);
    position += length;
    return decoded as string;
  }

  /** True (and steps over it) if the next byte is the break that ends an indefinite-length item. */
  function atBreak(): boolean {
    need(1);
    if (bytes[position] !== BREAK) return false;
    position++;
    return true;
  }

  /** Exact decimal form of a safe integer (Espruino prints large numbers to about 12 digits). */
  function decimalString(value: number): string {
    let rest = value < 0 ? -value : value;
    let digits = '';
    do {
      const digit = rest % 10;
      digits = String.fromCharCode(48 + digit) + digits;
      rest = (rest - digit) / 10;
    } while (rest > 0);
    return value < 0 ? '-' + digits : digits;
  }

  /** Major type 7 with a definite `info`: simple values and floats. */
  function simple(info: number): CborValue {
    switch (info) {
      case SIMPLE_FALSE:
        return false;
      case SIMPLE_TRUE:
        return true;
      case SIMPLE_NULL:
        return null;
      case SIMPLE_UNDEFINED:
        return undefined;
      case INFO_ONE_BYTE: {
        need(1);
        const value = bytes[position++];
        // RFC 8949 §3.3: values below 32 in the two-byte form are not well-formed.
        return fail(value < 32 ? 'malformed simple value ' + value : 'unsupported simple value ' + value);
      }
      case INFO_TWO_BYTES: {
        // IEEE 754 half precision (RFC 8949 Appendix D), with exact powers of two.
        need(2);
        const half = (bytes[position] << 8) | bytes[position + 1];
        position += 2;
        const exponent = (half >> 10) & 0x1f;
        const mantissa = half & 0x3ff;
        let magnitude: number;
        if (exponent === 0) magnitude = mantissa / 16777216; // subnormal: mantissa × 2^−24
        else if (exponent === 31) magnitude = mantissa === 0 ? Infinity : NaN;
        else if (exponent >= 25) magnitude = (mantissa + 1024) * (1 << (exponent - 25));
        else magnitude = (mantissa + 1024) / (1 << (25 - exponent));
        return half & 0x8000 ? -magnitude : magnitude;
      }
      case INFO_FOUR_BYTES:
      case INFO_EIGHT_BYTES: {
        const size = info === INFO_FOUR_BYTES ? 4 : 8;
        need(size);
        const scratch = new DataView(new ArrayBuffer(8)); // big-endian, as CBOR writes it
        for (let index = 0; index < size; index++) scratch.setUint8(index, bytes[position++]);
        return size === 4 ? scratch.getFloat32(0) : scratch.getFloat64(0);
      }
      default:
        return fail(info < 20 ? 'unsupported simple value ' + info : 'reserved additional information ' + info);
    }
  }

  /** The rest of an indefinite-length byte or text string (RFC 8949 §3.2.3): chunks, then a break. */
  function chunkedString(major: number): Uint8Array | string {
    const chunks: Uint8Array[] = [];
    let joinedText = '';
    let total = 0;
    while (!atBreak()) {
      const chunkAt = position;
      const initial = bytes[position++];
      if (initial >> 5 !== major || (initial & 0x1f) === INFO_INDEFINITE) fail('bad chunk in indefinite-length string at offset ' + chunkAt);
      const length = argument(initial & 0x1f);
      need(length);
      if (major === MAJOR_TEXT) joinedText += text(length);
      else {
        chunks.push(take(length));
        total += length;
      }
    }
    if (major === MAJOR_TEXT) return joinedText;
    const joined = new Uint8Array(total);
    let offset = 0;
    for (let index = 0; index < chunks.length; index++) {
      joined.set(chunks[index], offset);
      offset += chunks[index].length;
    }
    return joined;
  }

  // Arrays, maps and tags begun and not yet complete, innermost last: the array or map being
  // filled (null for tag 64, which takes one item), how many items or pairs it still takes (-1: until
  // a break), and for a map the key whose value comes next. Nesting is walked in a loop with these
  // lists, never by recursion (see the note on locks at the top).
  const open: Array<CborValue[] | CborObject | null> = [];
  const left: number[] = [];
  const names: string[] = [];
  /** Set by begin() when the item it read is an array, map or tag whose contents follow. */
  let opened = false;

  function openItem(container: CborValue[] | CborObject | null, count: number): undefined {
    open.push(container);
    left.push(count);
    names.push('');
    opened = true;
    return undefined;
  }

  /**
   * Reads the item at `position`, which sits inside the `open.length` items now open: returns it
   * whole, or (for an array, map or tag) opens it and sets `opened`.
   */
  function begin(): CborValue {
    const depth = open.length;
    if (depth > depthLimit) fail('nested deeper than ' + depthLimit + ' at offset ' + position);
    need(1);
    const itemAt = position;
    const initial = bytes[position++];
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (info === INFO_INDEFINITE) {
      switch (major) {
        case MAJOR_BYTES:
        case MAJOR_TEXT:
          return chunkedString(major);
        case MAJOR_ARRAY:
          return openItem([], -1);
        case MAJOR_MAP:
          return openItem({}, -1);
        case MAJOR_SIMPLE:
          return fail('unexpected break at offset ' + (position - 1));
        default:
          return fail('indefinite length not allowed for major type ' + major + ' at offset ' + (position - 1));
      }
    }
    if (major === MAJOR_SIMPLE) return simple(info);
    const value = argument(info);
    switch (major) {
      case MAJOR_UNSIGNED:
        return value;
      case MAJOR_NEGATIVE:
        if (value >= 9007199254740991) fail('negative integer below -(2^53 - 1) at offset ' + itemAt);
        return -1 - value;
      case MAJOR_BYTES:
        need(value);
        return take(value);
      case MAJOR_TEXT:
        need(value);
        return text(value);
      case MAJOR_ARRAY:
        // Every element takes at least one byte: a count beyond the input is malformed, and this
        // bound keeps a forged count from allocating anything.
        if (value > bytes.length - position) fail('array of ' + value + ' items exceeds the input');
        return openItem([], value);
      case MAJOR_MAP:
        if (value * 2 > bytes.length - position) fail('map of ' + value + ' pairs exceeds the input');
        return openItem({}, value);
      default:
        // major type 6, a tag
        if (value !== TAG_UINT8_ARRAY) fail('unsupported tag ' + value);
        return openItem(null, 1);
    }
  }

  /** Reads the key of the next pair of the innermost open map, and checks it. */
  function key(object: CborObject): string {
    need(1);
    const keyAt = position;
    const major = bytes[keyAt] >> 5;
    if (major !== MAJOR_UNSIGNED && major !== MAJOR_NEGATIVE && major !== MAJOR_TEXT) {
      fail('map key at offset ' + keyAt + ' is neither an integer nor text');
    }
    const read = begin(); // an integer or a string: never opens anything
    const name = typeof read === 'number' ? decimalString(read) : (read as string);
    if (name === '__proto__') fail('map key "__proto__" refused at offset ' + keyAt);
    if (Object.prototype.hasOwnProperty.call(object, name)) fail('duplicate map key "' + name + '" at offset ' + keyAt);
    return name;
  }

  /** The whole item at offset 0. */
  function decodeItem(): CborValue {
    let value = begin();
    for (;;) {
      if (opened) opened = false;
      else {
        // `value` is complete: it is the result, or goes into the innermost open item.
        const last = open.length - 1;
        if (last < 0) return value;
        const container = open[last];
        if (container === null) {
          if (!(value instanceof Uint8Array)) fail('tag 64 must hold a byte string');
          open.pop();
          left.pop();
          names.pop();
          continue;
        }
        if (Array.isArray(container)) container.push(value);
        else container[names[last]] = value;
        if (left[last] > 0) left[last]--;
      }
      // The innermost open item: complete, or read what comes next in it.
      const last = open.length - 1;
      const container = open[last];
      if (container !== null && (left[last] === 0 || (left[last] < 0 && atBreak()))) {
        value = container;
        open.pop();
        left.pop();
        names.pop();
        continue;
      }
      if (container !== null && !Array.isArray(container)) names[last] = key(container);
      value = begin();
    }
  }

  try {
    const value = decodeItem();
    if (position !== bytes.length) {
      return { ok: false, error: 'cbor: ' + (bytes.length - position) + ' trailing bytes after the item at offset ' + position };
    }
    return { ok: true, value };
  } catch (caught) {
    const failure = caught as DecodeFailure | null;
    const message = failure && typeof failure.cborError === 'string' ? failure.cborError : 'internal error: ' + String(caught);
    return { ok: false, error: 'cbor: ' + message };
  }
}
