// Small byte helpers shared by the codecs: hex, concatenation, comparison and UTF-8.
// Written for the Espruino interpreter (see /work/shared/ESPRUINO.md): no TextEncoder, no Buffer,
// no spread; String.fromCharCode.apply takes at most 256 arguments there, so text is built in chunks.

const HEX_DIGITS = '0123456789abcdef';

/** A byte as 0x and two hex digits, for messages. */
export function hex(value: number): string {
  return (value < 16 ? '0x0' : '0x') + value.toString(16);
}

/**
 * The `index`th of the space-separated `names`, for status and fault messages. A table of names as
 * one string literal stays in flash with the code; an array of strings would be kept in RAM for good
 * (about two interpreter variables a name).
 */
export function nameAt(names: string, index: number): string {
  return names.split(' ')[index] || '#' + index;
}

/** Lower-case hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  let hex = '';
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    hex += HEX_DIGITS.charAt(byte >> 4) + HEX_DIGITS.charAt(byte & 15);
  }
  return hex;
}

/**
 * Bytes of a hex string (either case, no separators). Throws an Error on odd length or a character
 * that is not a hex digit: callers pass validated configuration, so a bad string is a programming error.
 */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new Error('hex string has odd length ' + hex.length);
  // Made at each call (boot and commands only): a top-level function would cost variables for good.
  const hexDigitValue = (code: number): number => {
    if (code >= 48 && code <= 57) return code - 48; // 0-9
    if (code >= 97 && code <= 102) return code - 87; // a-f
    if (code >= 65 && code <= 70) return code - 55; // A-F
    return -1;
  };
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index++) {
    const high = hexDigitValue(hex.charCodeAt(2 * index));
    const low = hexDigitValue(hex.charCodeAt(2 * index + 1));
    if (high < 0 || low < 0) throw new Error('not a hex digit at ' + 2 * index);
    bytes[index] = (high << 4) | low;
  }
  return bytes;
}

/** A new array holding `first` then `second`. */
export function concatBytes(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first, 0);
  joined.set(second, first.length);
  return joined;
}

/**
 * True if both arrays hold the same bytes. Compares every byte whatever it finds (time depends only
 * on the lengths), so it is fit for checking a MAC.
 */
export function bytesEqual(first: Uint8Array, second: Uint8Array): boolean {
  if (first.length !== second.length) return false;
  let difference = 0;
  for (let index = 0; index < first.length; index++) difference |= first[index] ^ second[index];
  return difference === 0;
}

/**
 * Number of UTF-8 bytes `text` takes. A lone surrogate counts as U+FFFD (3 bytes), as utf8Write writes it.
 * Also accepts code points above 0xFFFF from charCodeAt, which Espruino's Unicode builds may return.
 */
export function utf8Length(text: string): number {
  let length = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0x10000) length += 4;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length && text.charCodeAt(index + 1) >= 0xdc00 && text.charCodeAt(index + 1) <= 0xdfff) {
      length += 4;
      index++;
    } else length += 3;
  }
  return length;
}

/**
 * Writes `text` as UTF-8 into `target` from `offset` (which must have utf8Length(text) bytes free) and
 * returns the offset after it. Lone surrogates become U+FFFD so the output is always valid UTF-8.
 */
export function utf8Write(text: string, target: Uint8Array, offset: number): number {
  let position = offset;
  for (let index = 0; index < text.length; index++) {
    let code = text.charCodeAt(index);
    if (code < 0x80) {
      target[position++] = code;
      continue;
    }
    if (code < 0x800) {
      target[position++] = 0xc0 | (code >> 6);
      target[position++] = 0x80 | (code & 0x3f);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = index + 1 < text.length ? text.charCodeAt(index + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        index++;
      } else code = 0xfffd;
    }
    if (code >= 0x10000) {
      target[position++] = 0xf0 | (code >> 18);
      target[position++] = 0x80 | ((code >> 12) & 0x3f);
      target[position++] = 0x80 | ((code >> 6) & 0x3f);
      target[position++] = 0x80 | (code & 0x3f);
    } else {
      target[position++] = 0xe0 | (code >> 12);
      target[position++] = 0x80 | ((code >> 6) & 0x3f);
      target[position++] = 0x80 | (code & 0x3f);
    }
  }
  return position;
}

/** `text` as UTF-8 bytes. */
export function utf8Encode(text: string): Uint8Array {
  const bytes = new Uint8Array(utf8Length(text));
  utf8Write(text, bytes, 0);
  return bytes;
}

/** Largest argument count Espruino's String.fromCharCode.apply accepts. */
const CHAR_CHUNK = 256;

/**
 * Text of well-formed UTF-8 `bytes[start, end)`, or undefined if they are not well-formed (overlong
 * forms, surrogates, code points above U+10FFFF, truncated sequences, stray continuation bytes).
 */
export function utf8Decode(bytes: Uint8Array, start: number, end: number): string | undefined {
  let text = '';
  let codes: number[] = [];
  let position = start;
  while (position < end) {
    const first = bytes[position];
    let code: number;
    let extra: number;
    let minimum: number;
    if (first < 0x80) {
      code = first;
      extra = 0;
      minimum = 0;
    } else if (first >= 0xc2 && first <= 0xdf) {
      code = first & 0x1f;
      extra = 1;
      minimum = 0x80;
    } else if (first >= 0xe0 && first <= 0xef) {
      code = first & 0x0f;
      extra = 2;
      minimum = 0x800;
    } else if (first >= 0xf0 && first <= 0xf4) {
      code = first & 0x07;
      extra = 3;
      minimum = 0x10000;
    } else return undefined;
    if (position + extra >= end) return undefined; // truncated sequence
    for (let index = 1; index <= extra; index++) {
      const next = bytes[position + index];
      if ((next & 0xc0) !== 0x80) return undefined;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
    position += extra + 1;
    if (code >= 0x10000) {
      code -= 0x10000;
      codes.push(0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff));
    } else codes.push(code);
    if (codes.length >= CHAR_CHUNK - 1) {
      text += String.fromCharCode.apply(null, codes);
      codes = [];
    }
  }
  if (codes.length > 0) text += String.fromCharCode.apply(null, codes);
  return text;
}
