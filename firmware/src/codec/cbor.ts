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
import { utf8Decode, utf8Length, utf8Write } from './bytes';

export type CborValue = number | string | boolean | null | undefined | Uint8Array | CborValue[] | CborObject;

export interface CborObject {
  [key: string]: CborValue;
}

export type CborDecoded = { ok: true; value: CborValue } | { ok: false; error: string };

/** Most arrays, maps and tags one item may sit inside, on encode and on decode. */
export const CBOR_MAX_DEPTH = 16;

const MAX_SAFE = 9007199254740991; // 2^53 − 1
const TWO_TO_32 = 4294967296;

// Major types (RFC 8949 §3.1).
const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
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

/** Shared 8-byte scratch for float conversions (big-endian, as CBOR writes them). */
const scratch = new DataView(new ArrayBuffer(8));

// ---------------------------------------------------------------------------------------------
// Shared key helpers

/** The integer a property name stands for if it is a canonical decimal integer, else undefined. */
function integerKey(key: string): number | undefined {
  const length = key.length;
  let index = key.charCodeAt(0) === 45 ? 1 : 0; // '-'
  const digits = length - index;
  if (digits < 1 || digits > 16) return undefined;
  if (key.charCodeAt(index) === 48 && (digits > 1 || index === 1)) return undefined; // "01", "-0"
  let value = 0;
  for (; index < length; index++) {
    const digit = key.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  if (value > MAX_SAFE) return undefined;
  return key.charCodeAt(0) === 45 ? -value : value;
}

/** Exact decimal form of a safe integer (Espruino prints large numbers to about 12 digits). */
function decimalString(value: number): string {
  let rest = value < 0 ? -value : value;
  let text = '';
  do {
    const digit = rest % 10;
    text = String.fromCharCode(48 + digit) + text;
    rest = (rest - digit) / 10;
  } while (rest > 0);
  return value < 0 ? '-' + text : text;
}

// ---------------------------------------------------------------------------------------------
// Encoder

class CborWriter {
  bytes = new Uint8Array(64);
  length = 0;

  reserve(count: number): void {
    const needed = this.length + count;
    if (needed <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length), 0);
    this.bytes = grown;
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  uint32(value: number): void {
    const bytes = this.bytes;
    bytes[this.length++] = (value >>> 24) & 0xff;
    bytes[this.length++] = (value >>> 16) & 0xff;
    bytes[this.length++] = (value >>> 8) & 0xff;
    bytes[this.length++] = value & 0xff;
  }

  /** Initial byte and argument in the shortest form (RFC 8949 §4.2.1). `argument` is a safe integer ≥ 0. */
  head(major: number, argument: number): void {
    const initial = major << 5;
    this.reserve(9);
    const bytes = this.bytes;
    if (argument < 24) {
      bytes[this.length++] = initial | argument;
    } else if (argument < 0x100) {
      bytes[this.length++] = initial | INFO_ONE_BYTE;
      bytes[this.length++] = argument;
    } else if (argument < 0x10000) {
      bytes[this.length++] = initial | INFO_TWO_BYTES;
      bytes[this.length++] = argument >> 8;
      bytes[this.length++] = argument & 0xff;
    } else if (argument < TWO_TO_32) {
      bytes[this.length++] = initial | INFO_FOUR_BYTES;
      this.uint32(argument);
    } else {
      const high = Math.floor(argument / TWO_TO_32);
      bytes[this.length++] = initial | INFO_EIGHT_BYTES;
      this.uint32(high);
      this.uint32(argument - high * TWO_TO_32);
    }
  }

  number(value: number): void {
    if (Math.floor(value) === value && value <= MAX_SAFE && value >= -MAX_SAFE) {
      if (value >= 0) this.head(MAJOR_UNSIGNED, value);
      else this.head(MAJOR_NEGATIVE, -1 - value);
      return;
    }
    this.reserve(9);
    this.bytes[this.length++] = FLOAT64_HEAD;
    scratch.setFloat64(0, value);
    for (let index = 0; index < 8; index++) this.bytes[this.length++] = scratch.getUint8(index);
  }

  text(value: string): void {
    const length = utf8Length(value);
    this.head(MAJOR_TEXT, length);
    this.reserve(length);
    this.length = utf8Write(value, this.bytes, this.length);
  }

  key(key: string): void {
    const asInteger = integerKey(key);
    if (asInteger === undefined) this.text(key);
    else this.number(asInteger);
  }

  item(value: unknown, depth: number): void {
    if (depth > CBOR_MAX_DEPTH) throw new Error('cbor: nested deeper than ' + CBOR_MAX_DEPTH + ' (or a cycle)');
    switch (typeof value) {
      case 'number':
        this.number(value);
        return;
      case 'string':
        this.text(value);
        return;
      case 'boolean':
        this.byte((MAJOR_SIMPLE << 5) | (value ? SIMPLE_TRUE : SIMPLE_FALSE));
        return;
      case 'undefined':
        this.byte((MAJOR_SIMPLE << 5) | SIMPLE_UNDEFINED);
        return;
      case 'object':
        if (value === null) this.byte((MAJOR_SIMPLE << 5) | SIMPLE_NULL);
        else if (value instanceof Uint8Array) {
          this.head(MAJOR_BYTES, value.length);
          this.reserve(value.length);
          this.bytes.set(value, this.length);
          this.length += value.length;
        } else if (Array.isArray(value)) {
          this.head(MAJOR_ARRAY, value.length);
          for (let index = 0; index < value.length; index++) this.item(value[index], depth + 1);
        } else this.object(value as { [key: string]: unknown }, depth);
        return;
      default:
        throw new Error('cbor: cannot encode a ' + typeof value);
    }
  }

  object(value: { [key: string]: unknown }, depth: number): void {
    const keys = Object.keys(value);
    const unsignedKeys: number[] = [];
    const otherKeys: string[] = [];
    for (let index = 0; index < keys.length; index++) {
      const asInteger = integerKey(keys[index]);
      if (asInteger !== undefined && asInteger >= 0) unsignedKeys.push(asInteger);
      else otherKeys.push(keys[index]);
    }
    unsignedKeys.sort((first, second) => first - second);
    this.head(MAJOR_MAP, keys.length);
    for (let index = 0; index < unsignedKeys.length; index++) {
      this.head(MAJOR_UNSIGNED, unsignedKeys[index]);
      this.item(value[decimalString(unsignedKeys[index])], depth + 1);
    }
    for (let index = 0; index < otherKeys.length; index++) {
      this.key(otherKeys[index]);
      this.item(value[otherKeys[index]], depth + 1);
    }
  }
}

/**
 * CBOR bytes of `value` (see the data model above). Throws an Error only for what it cannot
 * represent: functions, symbols, bigints, or nesting deeper than CBOR_MAX_DEPTH (which is also how
 * a cycle shows).
 */
export function cborEncode(value: unknown): Uint8Array {
  const writer = new CborWriter();
  writer.item(value, 0);
  return writer.bytes.slice(0, writer.length);
}

// ---------------------------------------------------------------------------------------------
// Decoder

/** Thrown inside the decoder only, and always caught by cborDecode. */
interface DecodeFailure {
  cborError: string;
}

function fail(message: string): never {
  const failure: DecodeFailure = { cborError: message };
  throw failure;
}

/** IEEE 754 half precision (RFC 8949 Appendix D), with exact powers of two. */
function halfToNumber(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  let magnitude: number;
  if (exponent === 0) magnitude = mantissa / 16777216; // subnormal: mantissa × 2^−24
  else if (exponent === 31) magnitude = mantissa === 0 ? Infinity : NaN;
  else if (exponent >= 25) magnitude = (mantissa + 1024) * (1 << (exponent - 25));
  else magnitude = (mantissa + 1024) / (1 << (25 - exponent));
  return half & 0x8000 ? -magnitude : magnitude;
}

class CborReader {
  bytes: Uint8Array;
  position = 0;
  maxDepth: number;

  constructor(bytes: Uint8Array, maxDepth: number) {
    this.bytes = bytes;
    this.maxDepth = maxDepth;
  }

  remaining(): number {
    return this.bytes.length - this.position;
  }

  need(count: number): void {
    if (count > this.remaining()) fail('truncated: needs ' + count + ' more bytes at offset ' + this.position + ', has ' + this.remaining());
  }

  uint32(): number {
    const bytes = this.bytes;
    const at = this.position;
    this.position += 4;
    return bytes[at] * 0x1000000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
  }

  /** The argument after an initial byte whose additional information is `info` (not 31). */
  argument(info: number): number {
    if (info < 24) return info;
    switch (info) {
      case INFO_ONE_BYTE:
        this.need(1);
        return this.bytes[this.position++];
      case INFO_TWO_BYTES:
        this.need(2);
        this.position += 2;
        return (this.bytes[this.position - 2] << 8) | this.bytes[this.position - 1];
      case INFO_FOUR_BYTES:
        this.need(4);
        return this.uint32();
      case INFO_EIGHT_BYTES: {
        this.need(8);
        const high = this.uint32();
        const low = this.uint32();
        if (high > 0x1fffff) fail('integer or length above 2^53 - 1 at offset ' + (this.position - 9));
        return high * TWO_TO_32 + low;
      }
      default:
        return fail('reserved additional information ' + info + ' at offset ' + (this.position - 1));
    }
  }

  /** Copies `length` bytes (already checked to be there) and steps over them. */
  take(length: number): Uint8Array {
    const start = this.position;
    this.position += length;
    return this.bytes.slice(start, start + length);
  }

  text(length: number): string {
    const start = this.position;
    const text = utf8Decode(this.bytes, start, start + length);
    if (text === undefined) fail('text string is not valid UTF-8 at offset ' + start);
    this.position += length;
    return text as string;
  }

  /** True (and steps over it) if the next byte is the break that ends an indefinite-length item. */
  atBreak(): boolean {
    this.need(1);
    if (this.bytes[this.position] !== BREAK) return false;
    this.position++;
    return true;
  }

  item(depth: number): CborValue {
    if (depth > this.maxDepth) fail('nested deeper than ' + this.maxDepth + ' at offset ' + this.position);
    this.need(1);
    const itemAt = this.position;
    const initial = this.bytes[this.position++];
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (info === INFO_INDEFINITE) return this.indefinite(major, depth);
    if (major === MAJOR_SIMPLE) return this.simple(info);
    const argument = this.argument(info);
    switch (major) {
      case MAJOR_UNSIGNED:
        return argument;
      case MAJOR_NEGATIVE:
        if (argument >= MAX_SAFE) fail('negative integer below -(2^53 - 1) at offset ' + itemAt);
        return -1 - argument;
      case MAJOR_BYTES:
        this.need(argument);
        return this.take(argument);
      case MAJOR_TEXT:
        this.need(argument);
        return this.text(argument);
      case MAJOR_ARRAY: {
        // Every element takes at least one byte: a count beyond the input is malformed, and this
        // bound keeps a forged count from allocating anything.
        if (argument > this.remaining()) fail('array of ' + argument + ' items exceeds the input');
        const array: CborValue[] = [];
        for (let index = 0; index < argument; index++) array.push(this.item(depth + 1));
        return array;
      }
      case MAJOR_MAP: {
        if (argument * 2 > this.remaining()) fail('map of ' + argument + ' pairs exceeds the input');
        const object: CborObject = {};
        for (let index = 0; index < argument; index++) this.entry(object, depth);
        return object;
      }
      default: {
        // MAJOR_TAG
        if (argument !== TAG_UINT8_ARRAY) fail('unsupported tag ' + argument);
        const content = this.item(depth + 1);
        if (!(content instanceof Uint8Array)) fail('tag 64 must hold a byte string');
        return content;
      }
    }
  }

  /** One key/value pair into `object`. */
  entry(object: CborObject, depth: number): void {
    this.need(1);
    const keyAt = this.position;
    const major = this.bytes[keyAt] >> 5;
    if (major !== MAJOR_UNSIGNED && major !== MAJOR_NEGATIVE && major !== MAJOR_TEXT) {
      fail('map key at offset ' + keyAt + ' is neither an integer nor text');
    }
    const key = this.item(depth + 1);
    const name = typeof key === 'number' ? decimalString(key) : (key as string);
    if (name === '__proto__') fail('map key "__proto__" refused at offset ' + keyAt);
    if (Object.prototype.hasOwnProperty.call(object, name)) fail('duplicate map key "' + name + '" at offset ' + keyAt);
    object[name] = this.item(depth + 1);
  }

  simple(info: number): CborValue {
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
        this.need(1);
        const value = this.bytes[this.position++];
        // RFC 8949 §3.3: values below 32 in the two-byte form are not well-formed.
        return fail(value < 32 ? 'malformed simple value ' + value : 'unsupported simple value ' + value);
      }
      case INFO_TWO_BYTES:
        this.need(2);
        this.position += 2;
        return halfToNumber((this.bytes[this.position - 2] << 8) | this.bytes[this.position - 1]);
      case INFO_FOUR_BYTES:
      case INFO_EIGHT_BYTES: {
        const size = info === INFO_FOUR_BYTES ? 4 : 8;
        this.need(size);
        for (let index = 0; index < size; index++) scratch.setUint8(index, this.bytes[this.position++]);
        return size === 4 ? scratch.getFloat32(0) : scratch.getFloat64(0);
      }
      default:
        return fail(info < 20 ? 'unsupported simple value ' + info : 'reserved additional information ' + info);
    }
  }

  indefinite(major: number, depth: number): CborValue {
    switch (major) {
      case MAJOR_BYTES:
      case MAJOR_TEXT: {
        // RFC 8949 §3.2.3: definite-length chunks of the same major type, then a break.
        const chunks: Uint8Array[] = [];
        let text = '';
        let total = 0;
        while (!this.atBreak()) {
          const chunkAt = this.position;
          const initial = this.bytes[this.position++];
          if (initial >> 5 !== major || (initial & 0x1f) === INFO_INDEFINITE) fail('bad chunk in indefinite-length string at offset ' + chunkAt);
          const length = this.argument(initial & 0x1f);
          this.need(length);
          if (major === MAJOR_TEXT) text += this.text(length);
          else {
            chunks.push(this.take(length));
            total += length;
          }
        }
        if (major === MAJOR_TEXT) return text;
        const joined = new Uint8Array(total);
        let offset = 0;
        for (let index = 0; index < chunks.length; index++) {
          joined.set(chunks[index], offset);
          offset += chunks[index].length;
        }
        return joined;
      }
      case MAJOR_ARRAY: {
        const array: CborValue[] = [];
        while (!this.atBreak()) array.push(this.item(depth + 1));
        return array;
      }
      case MAJOR_MAP: {
        const object: CborObject = {};
        while (!this.atBreak()) this.entry(object, depth);
        return object;
      }
      case MAJOR_SIMPLE:
        return fail('unexpected break at offset ' + (this.position - 1));
      default:
        return fail('indefinite length not allowed for major type ' + major + ' at offset ' + (this.position - 1));
    }
  }
}

/**
 * Decodes exactly one CBOR item filling all of `bytes`. Never throws; `maxDepth` (default
 * CBOR_MAX_DEPTH) bounds how many arrays, maps and tags an item may sit inside.
 */
export function cborDecode(bytes: Uint8Array, maxDepth?: number): CborDecoded {
  const reader = new CborReader(bytes, maxDepth === undefined ? CBOR_MAX_DEPTH : maxDepth);
  try {
    const value = reader.item(0);
    if (reader.position !== bytes.length) {
      return { ok: false, error: 'cbor: ' + (bytes.length - reader.position) + ' trailing bytes after the item at offset ' + reader.position };
    }
    return { ok: true, value };
  } catch (caught) {
    const failure = caught as DecodeFailure | null;
    const message = failure && typeof failure.cborError === 'string' ? failure.cborError : 'internal error: ' + String(caught);
    return { ok: false, error: 'cbor: ' + message };
  }
}
