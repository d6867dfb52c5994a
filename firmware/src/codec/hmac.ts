// HMAC-SHA256 (RFC 2104, with SHA-256 from FIPS 180-4) on the hal's native SHA-256: the Espruino
// crypto module has SHA256 but no HMAC. Two hash calls per MAC, a few small allocations.
import type { Crypto } from '../hal';

/** SHA-256 works on 64-byte blocks (RFC 2104 "B"). */
const BLOCK_BYTES = 64;
const INNER_PAD = 0x36; // RFC 2104 ipad
const OUTER_PAD = 0x5c; // RFC 2104 opad

/** HMAC-SHA256 of `data` under `key` (any length; keys longer than 64 bytes are hashed first). 32 bytes. */
export function hmacSha256(crypto: Crypto, key: Uint8Array, data: Uint8Array): Uint8Array {
  // RFC 2104 step 1: a key longer than B is replaced by its hash; shorter keys are padded with zeros.
  const blockKey = new Uint8Array(BLOCK_BYTES);
  blockKey.set(key.length > BLOCK_BYTES ? crypto.sha256(key) : key, 0);

  const inner = new Uint8Array(BLOCK_BYTES + data.length);
  for (let index = 0; index < BLOCK_BYTES; index++) inner[index] = blockKey[index] ^ INNER_PAD;
  inner.set(data, BLOCK_BYTES);
  const innerHash = crypto.sha256(inner);

  const outer = new Uint8Array(BLOCK_BYTES + innerHash.length);
  for (let index = 0; index < BLOCK_BYTES; index++) outer[index] = blockKey[index] ^ OUTER_PAD;
  outer.set(innerHash, BLOCK_BYTES);
  return crypto.sha256(outer);
}

/** A key with its RFC 2104 pads worked out once, so each MAC is two native hashes and no JS loop. */
export interface HmacKey {
  innerPad: Uint8Array;
  outerPad: Uint8Array;
}

export function prepareHmacKey(crypto: Crypto, key: Uint8Array): HmacKey {
  const blockKey = new Uint8Array(BLOCK_BYTES);
  blockKey.set(key.length > BLOCK_BYTES ? crypto.sha256(key) : key, 0);
  const innerPad = new Uint8Array(BLOCK_BYTES);
  const outerPad = new Uint8Array(BLOCK_BYTES);
  for (let index = 0; index < BLOCK_BYTES; index++) {
    innerPad[index] = blockKey[index] ^ INNER_PAD;
    outerPad[index] = blockKey[index] ^ OUTER_PAD;
  }
  return { innerPad, outerPad };
}

/** HMAC-SHA256 of `data` with a prepared key: the same bytes as hmacSha256. */
export function hmacWithKey(crypto: Crypto, key: HmacKey, data: Uint8Array): Uint8Array {
  const inner = new Uint8Array(BLOCK_BYTES + data.length);
  inner.set(key.innerPad, 0);
  inner.set(data, BLOCK_BYTES);
  const outer = new Uint8Array(BLOCK_BYTES + 32);
  outer.set(key.outerPad, 0);
  outer.set(crypto.sha256(inner), BLOCK_BYTES);
  return crypto.sha256(outer);
}
