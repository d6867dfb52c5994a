// Signed messages between a station and the hub. Every MQTT payload either way is a sealed
// envelope: the CBOR array [body, mac], where body is the CBOR-encoded message (a byte string)
// and mac is HMAC-SHA256(station key, body), all 32 bytes. The hub signs with the same per-station
// key; a station accepts nothing from the hub that does not verify.
import type { Crypto } from '../hal';
import { cborDecode, cborEncode } from '../codec/cbor';
import { hmacWithKey, type HmacKey } from '../codec/hmac';

export const MAC_BYTES = 32;

export function seal(crypto: Crypto, key: HmacKey, message: unknown): Uint8Array {
  const body = cborEncode(message);
  return cborEncode([body, hmacWithKey(crypto, key, body)]);
}

export type Opened = { ok: true; message: { [key: string]: unknown } } | { ok: false; error: string };

/** Checks the MAC (in constant time), then decodes the body. Never throws. */
export function unseal(crypto: Crypto, key: HmacKey, payload: Uint8Array): Opened {
  const outer = cborDecode(payload);
  if (!outer.ok) return { ok: false, error: 'envelope: ' + outer.error };
  const parts = outer.value;
  if (!Array.isArray(parts) || parts.length !== 2 || !(parts[0] instanceof Uint8Array) || !(parts[1] instanceof Uint8Array)) {
    return { ok: false, error: 'envelope: not [body, mac]' };
  }
  const body = parts[0] as Uint8Array;
  const mac = parts[1] as Uint8Array;
  const expected = hmacWithKey(crypto, key, body);
  let difference = mac.length ^ MAC_BYTES;
  for (let i = 0; i < MAC_BYTES; i++) difference |= expected[i] ^ (mac[i] | 0);
  if (difference !== 0) return { ok: false, error: 'bad signature' };
  const inner = cborDecode(body);
  if (!inner.ok) return { ok: false, error: 'body: ' + inner.error };
  if (!inner.value || typeof inner.value !== 'object' || Array.isArray(inner.value) || inner.value instanceof Uint8Array) {
    return { ok: false, error: 'body: not a map' };
  }
  return { ok: true, message: inner.value as { [key: string]: unknown } };
}
