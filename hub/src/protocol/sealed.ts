// The hub's side of signed station messages (firmware/src/net/sealed.ts): a payload is the CBOR
// array [body, mac] with mac = HMAC-SHA256(station key, body). The hub verifies every frame before
// anything is stored, and signs every acknowledgement and command it sends.
import crypto from 'node:crypto';
import { Decoder, Encoder } from 'cbor-x';

export const MAC_BYTES = 32;

// Plain CBOR, as the firmware writes and reads it (no records, no tags on maps or byte strings);
// wall-clock milliseconds exceed 32 bits, so 64-bit integers decode as numbers.
const options = { useRecords: false, mapsAsObjects: false, tagUint8Array: false, useTag259ForMaps: false, int64AsNumber: true };
const decoder = new Decoder(options as ConstructorParameters<typeof Decoder>[0]);
const encoder = new Encoder({ ...options, mapsAsObjects: true } as ConstructorParameters<typeof Encoder>[0]);

export function cborDecode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

export function cborEncode(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Station keys as bytes, parsed once per key rather than once per frame. */
const keyBytes = new Map<string, Buffer>();
function keyOf(stationKeyHex: string): Buffer {
  let key = keyBytes.get(stationKeyHex);
  if (!key) {
    if (keyBytes.size >= 10_000) keyBytes.clear();
    key = Buffer.from(stationKeyHex, 'hex');
    keyBytes.set(stationKeyHex, key);
  }
  return key;
}

function mac(key: Buffer, body: Uint8Array): Buffer {
  return crypto.createHmac('sha256', key).update(body).digest();
}

/** Signs `message` (a Map with integer keys, or a plain value) for one station. */
export function seal(stationKeyHex: string, message: unknown): Uint8Array {
  const body = cborEncode(message);
  return cborEncode([body, mac(keyOf(stationKeyHex), body)]);
}

export type Unsealed = { ok: true; body: Uint8Array } | { ok: false; reason: string };

/** Verifies a station's envelope; returns the body bytes to decode. Never throws. */
export function unseal(stationKeyHex: string, payload: Uint8Array): Unsealed {
  let outer: unknown;
  try {
    outer = cborDecode(payload);
  } catch (error) {
    return { ok: false, reason: `not CBOR: ${(error as Error).message}` };
  }
  if (!Array.isArray(outer) || outer.length !== 2 || !(outer[0] instanceof Uint8Array) || !(outer[1] instanceof Uint8Array)) {
    return { ok: false, reason: 'not a signed envelope [body, mac]' };
  }
  const [body, given] = outer as [Uint8Array, Uint8Array];
  const expected = mac(keyOf(stationKeyHex), body);
  if (given.length !== MAC_BYTES || !crypto.timingSafeEqual(expected, given)) return { ok: false, reason: 'bad signature' };
  return { ok: true, body };
}
