// The firmware's CBOR decoder fuzzed inside the simulator's Espruino environment (the codec built by
// the firmware's own rollup pipeline, run in the vm context without Map, Set, Symbol, ...): random
// bytes, mutated valid items (bit flips, truncations, splices, length fields set huge), each batch
// under a time limit. It must never throw (decoding returns { ok, value } or { ok: false, error }),
// must finish, must refuse bad input for a reason of its own (never an "internal error", which is
// how it reports an exception it caught from itself), and must decode every valid input to the
// value cbor-x gives (and the firmware's encoder output must decode in cbor-x to the value
// encoded). Seeded: FUZZ_SEED=<n> reproduces.
import { Decoder, Encoder } from 'cbor-x';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFuzzBundle, fuzzSeed, loadIntoEspruino, prng, type FuzzContext } from './build';

const options = { useRecords: false, mapsAsObjects: true, variableMapSize: true, tagUint8Array: false, useTag259ForMaps: false, int64AsNumber: true };
const cborxEncoder = new Encoder(options as ConstructorParameters<typeof Encoder>[0]);
const cborxDecoder = new Decoder(options as ConstructorParameters<typeof Decoder>[0]);

type Decoded = { ok: boolean; value?: unknown; error?: string; threw?: string };

let fuzz: FuzzContext;
beforeAll(async () => {
  fuzz = loadIntoEspruino(await buildFuzzBundle());
}, 60_000);

/** Comparable form across realms: byte strings as { bytes: [...] }, objects with sorted keys, −0 as 0. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return { bytes: Array.from(value as Uint8Array) };
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Map) return plain(Object.fromEntries([...value].map(([k, v]) => [String(k), v])));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = plain((value as Record<string, unknown>)[key]);
    return out;
  }
  if (typeof value === 'number' && Object.is(value, -0)) return 0;
  return value;
}

/** A random value of the codec's data model (integer keys written as their decimal names). */
function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 7 : 9));
  const below = (n: number) => Math.floor(random() * n);
  switch (pick) {
    case 0: {
      const scale = [24, 256, 65536, 4294967296, 9007199254740991][below(5)];
      return below(2) ? Math.floor(random() * scale) : -Math.floor(random() * scale);
    }
    case 1:
      return [0.5, -1.25, 3.141592653589793, 1e300, -0.0001][below(5)];
    case 2: {
      const length = below(40);
      let text = '';
      for (let i = 0; i < length; i++) text += below(4) ? String.fromCharCode(32 + below(95)) : ['é', '€', '日', '😀'][below(4)];
      return text;
    }
    case 3:
      return Uint8Array.from({ length: below(70) }, () => below(256));
    case 4:
      return [true, false, null][below(3)];
    case 5:
      return below(100);
    case 6:
      return 'k' + below(1000);
    case 7:
      return Array.from({ length: below(6) }, () => randomValue(random, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = below(6); i > 0; i--) object[below(2) ? String(below(30)) : 'f' + below(30)] = randomValue(random, depth + 1);
      return object;
    }
  }
}

/** The same value as cbor-x should be given it: integer-named keys as integer keys (a Map). */
function forCborx(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(forCborx);
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).map(([k, v]) => [/^(0|[1-9]\d*)$/.test(k) ? Number(k) : k, forCborx(v)] as const);
  return entries.some(([k]) => typeof k === 'number') ? new Map(entries) : Object.fromEntries(entries);
}

function mutate(random: () => number, valid: Uint8Array): Uint8Array {
  const below = (n: number) => Math.floor(random() * n);
  const bytes = Uint8Array.from(valid);
  switch (below(5)) {
    case 0: // bit flips
      for (let flips = 1 + below(4); flips > 0 && bytes.length > 0; flips--) bytes[below(bytes.length)] ^= 1 << below(8);
      return bytes;
    case 1: // truncation
      return bytes.subarray(0, below(bytes.length));
    case 2: { // splice: a piece of this item into another place, or random bytes inserted
      const at = below(bytes.length + 1);
      const piece = below(2) ? bytes.subarray(below(bytes.length), below(bytes.length + 1)) : Uint8Array.from({ length: 1 + below(8) }, () => below(256));
      return Uint8Array.from([...bytes.subarray(0, at), ...piece, ...bytes.subarray(at + below(3))]);
    }
    case 3: { // a length or count argument set huge: 4- or 8-byte argument of all ones (or 2^53+)
      const at = below(bytes.length + 1);
      const major = [2, 3, 4, 5, 0, 1, 6][below(7)] << 5;
      const huge = below(2) ? [major | 26, 0xff, 0xff, 0xff, 0xff] : [major | 27, below(2) ? 0x00 : 0xff, below(2) ? 0x20 : 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
      return Uint8Array.from([...bytes.subarray(0, at), ...huge, ...bytes.subarray(at + 1)]);
    }
    default: // deep nesting or an indefinite item left open
      return below(2) ? Uint8Array.from([...new Array(10 + below(40)).fill(0x81), ...bytes]) : Uint8Array.from([0x9f, ...bytes]);
  }
}

function checkShape(result: Decoded, input: Uint8Array, seed: number, index: number): void {
  const where = `seed ${seed}, input ${index}: ${Buffer.from(input).toString('hex').slice(0, 200)}`;
  expect(result.threw, where).toBeUndefined();
  expect(typeof result.ok, where).toBe('boolean');
  if (!result.ok) {
    expect(typeof result.error, where).toBe('string');
    // The decoder turns an exception of its own (a bug, not bad input) into "internal error".
    expect(result.error, where).not.toMatch(/internal error/);
  }
}

describe('CBOR decoder fuzzed inside the Espruino environment', () => {
  it('runs where Espruino lacks what Node has, and would see an exception escape the decoder', () => {
    expect(fuzz.run<string[]>('[typeof Map, typeof Set, typeof Symbol, typeof Array.from, typeof Math.imul]', undefined)).toEqual(['undefined', 'undefined', 'undefined', 'undefined', 'undefined']);
    // Not a byte array at all (outside the API's contract): the decoder catches its own exception
    // and names it an internal error, which the checks below count as a failure (a decoder bug).
    const [misuse] = fuzz.run<Decoded[]>('FUZZ.decodeBatch([null])', undefined);
    expect(misuse.threw).toBeUndefined();
    expect(misuse.error).toMatch(/^cbor: internal error/);
  });

  it('decodes random bytes without throwing, within time', () => {
    const seed = fuzzSeed('cbor random bytes', 0xc0b0_0001);
    const random = prng(seed);
    let index = 0;
    let ok = 0;
    for (let batch = 0; batch < 10; batch++) {
      const inputs = Array.from({ length: 400 }, () => Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
      const results = fuzz.run<Decoded[]>('FUZZ.decodeBatch(INPUT)', inputs.map(fuzz.bytes), 10_000);
      results.forEach((result, i) => {
        checkShape(result, inputs[i], seed, index + i);
        if (!result.ok) return;
        ok++;
        // Whatever the firmware accepts, cbor-x reads the same way (when it reads it at all).
        let theirs: unknown;
        try {
          theirs = cborxDecoder.decode(inputs[i]);
        } catch {
          return;
        }
        if (typeof theirs === 'number' || typeof theirs === 'string' || typeof theirs === 'boolean' || theirs === null) {
          expect(plain(result.value), `seed ${seed}, input ${index + i}`).toEqual(plain(theirs));
        }
      });
      index += inputs.length;
    }
    console.log(`cbor random bytes: ${index} inputs, ${ok} decoded, ${index - ok} refused`);
    expect(index).toBe(4000);
  });

  it('decodes valid items to the values cbor-x gives, and encodes what cbor-x reads back', () => {
    const seed = fuzzSeed('cbor valid items', 0xc0b0_0002);
    const random = prng(seed);
    const values = Array.from({ length: 1500 }, () => randomValue(random, 0));
    const encoded = values.map((value) => new Uint8Array(cborxEncoder.encode(forCborx(value))));
    const results = fuzz.run<Decoded[]>('FUZZ.decodeBatch(INPUT)', encoded.map(fuzz.bytes), 10_000);
    results.forEach((result, i) => {
      checkShape(result, encoded[i], seed, i);
      expect(result.ok, `seed ${seed}, value ${i}: ${result.error}`).toBe(true);
      expect(plain(result.value), `seed ${seed}, value ${i}`).toEqual(plain(values[i]));
    });
    // The other way: the firmware encodes (inside the context), cbor-x decodes.
    const toContext = (value: unknown): unknown => {
      if (value instanceof Uint8Array) return fuzz.bytes(value);
      if (Array.isArray(value)) return value.map(toContext);
      if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toContext(v)]));
      return value;
    };
    const ours = fuzz.run<Uint8Array[]>('INPUT.map(function (v) { return FUZZ.cborEncode(v); })', values.map(toContext), 10_000);
    ours.forEach((bytes, i) => expect(plain(cborxDecoder.decode(Uint8Array.from(bytes))), `seed ${seed}, value ${i}`).toEqual(plain(forCborx(values[i]))));
  });

  it('refuses or decodes mutated valid items (flips, truncations, splices, huge lengths) without throwing', () => {
    const seed = fuzzSeed('cbor mutations', 0xc0b0_0003);
    const random = prng(seed);
    const valid = Array.from({ length: 300 }, () => new Uint8Array(cborxEncoder.encode(forCborx(randomValue(random, 0)))));
    let index = 0;
    let refused = 0;
    const reasons = new Set<string>();
    for (let batch = 0; batch < 10; batch++) {
      const inputs = Array.from({ length: 500 }, () => mutate(random, valid[Math.floor(random() * valid.length)]));
      const results = fuzz.run<Decoded[]>('FUZZ.decodeBatch(INPUT)', inputs.map(fuzz.bytes), 10_000);
      results.forEach((result, i) => {
        checkShape(result, inputs[i], seed, index + i);
        if (!result.ok) {
          refused++;
          reasons.add(result.error!.replace(/\d+/g, 'N'));
        }
      });
      index += inputs.length;
    }
    console.log(`cbor mutations: ${index} inputs, ${refused} refused, ${reasons.size} distinct reasons`);
    expect(refused).toBeGreaterThan(index / 4);
    expect([...reasons].some((reason) => /truncated/.test(reason))).toBe(true);
  });
});
