// HMAC-SHA256 on the hal's Crypto (here built on node:crypto's SHA-256) against RFC 4231 and
// against Node's own createHmac for keys shorter than, equal to and longer than the 64-byte block.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Crypto } from '../../../firmware/src/hal';
import { hmacSha256 } from '../../../firmware/src/codec/hmac';
import { bytesEqual, bytesToHex, concatBytes, hexToBytes, utf8Encode } from '../../../firmware/src/codec/bytes';

/** The hal's Crypto on node:crypto. Counts SHA-256 calls to show HMAC uses two. */
function nodeCrypto(): Crypto & { calls: number } {
  const crypto = {
    calls: 0,
    sha256(data: Uint8Array): Uint8Array {
      crypto.calls++;
      return new Uint8Array(createHash('sha256').update(data).digest());
    },
    crc32(): number {
      throw new Error('HMAC does not use CRC-32');
    },
  };
  return crypto;
}

function nodeHmac(key: Uint8Array, data: Uint8Array): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

/** Seeded bytes (xorshift32), so every run checks the same keys and messages. */
function seededBytes(seed: number, length: number): Uint8Array {
  let state = seed >>> 0 || 1;
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

const text = (value: string) => utf8Encode(value);
const repeated = (byte: number, count: number) => new Uint8Array(count).fill(byte);

describe('hmacSha256: RFC 4231 test cases', () => {
  const cases: { name: string; key: Uint8Array; data: Uint8Array; mac: string; truncateBytes?: number }[] = [
    { name: '1', key: repeated(0x0b, 20), data: text('Hi There'), mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' },
    { name: '2 (key shorter than the output)', key: text('Jefe'), data: text('what do ya want for nothing?'), mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' },
    { name: '3', key: repeated(0xaa, 20), data: repeated(0xdd, 50), mac: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe' },
    {
      name: '4',
      key: hexToBytes('0102030405060708090a0b0c0d0e0f10111213141516171819'),
      data: repeated(0xcd, 50),
      mac: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
    },
    { name: '5 (truncated to 128 bits)', key: repeated(0x0c, 20), data: text('Test With Truncation'), mac: 'a3b6167473100ee06e0c796c2955552b', truncateBytes: 16 },
    {
      name: '6 (key larger than the block)',
      key: repeated(0xaa, 131),
      data: text('Test Using Larger Than Block-Size Key - Hash Key First'),
      mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    },
    {
      name: '7 (key and data larger than the block)',
      key: repeated(0xaa, 131),
      data: text('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
      mac: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    },
  ];
  for (const testCase of cases) {
    it(`test case ${testCase.name}`, () => {
      const mac = hmacSha256(nodeCrypto(), testCase.key, testCase.data);
      expect(mac.length).toBe(32);
      expect(bytesToHex(testCase.truncateBytes ? mac.subarray(0, testCase.truncateBytes) : mac)).toBe(testCase.mac);
    });
  }
});

describe('hmacSha256 against node:crypto createHmac', () => {
  const keyLengths = [0, 1, 16, 31, 32, 63, 64, 65, 100, 128, 200];
  const dataLengths = [0, 1, 7, 55, 56, 63, 64, 65, 119, 120, 1000];
  for (const keyLength of keyLengths) {
    it(`key of ${keyLength} bytes (${keyLength < 64 ? 'shorter than' : keyLength === 64 ? 'equal to' : 'longer than'} the block)`, () => {
      for (const dataLength of dataLengths) {
        const key = seededBytes(keyLength * 7919 + 1, keyLength);
        const data = seededBytes(dataLength * 104729 + 3, dataLength);
        const crypto = nodeCrypto();
        expect(bytesToHex(hmacSha256(crypto, key, data)), `data ${dataLength}`).toBe(nodeHmac(key, data));
        // Two hashes per MAC, one more to shorten a key longer than the block.
        expect(crypto.calls).toBe(keyLength > 64 ? 3 : 2);
      }
    });
  }

  it('leaves its inputs untouched and works on views into larger buffers', () => {
    const buffer = seededBytes(99, 200);
    const key = buffer.subarray(10, 42);
    const data = buffer.subarray(50, 150);
    const before = bytesToHex(buffer);
    expect(bytesToHex(hmacSha256(nodeCrypto(), key, data))).toBe(nodeHmac(key, data));
    expect(bytesToHex(buffer)).toBe(before);
  });

  it('badge hashing as the station does it: first 8 bytes of HMAC(key, uid)', () => {
    const badgeKey = hexToBytes('00112233445566778899aabbccddeeff');
    const uid = hexToBytes('04a224b2c35e80');
    expect(bytesToHex(hmacSha256(nodeCrypto(), badgeKey, uid).subarray(0, 8))).toBe(nodeHmac(badgeKey, uid).slice(0, 16));
  });
});

describe('byte helpers', () => {
  it('hex both ways, either case', () => {
    const bytes = seededBytes(5, 300);
    const hex = bytesToHex(bytes);
    expect(hex).toBe(Buffer.from(bytes).toString('hex'));
    expect(hexToBytes(hex)).toEqual(bytes);
    expect(hexToBytes(hex.toUpperCase())).toEqual(bytes);
    expect(hexToBytes('')).toEqual(new Uint8Array(0));
  });

  it('hexToBytes throws on odd length and on non-hex characters', () => {
    expect(() => hexToBytes('abc')).toThrow(/odd length/);
    expect(() => hexToBytes('zz')).toThrow(/not a hex digit/);
    expect(() => hexToBytes('0g')).toThrow(/not a hex digit/);
  });

  it('concatBytes and bytesEqual', () => {
    expect(concatBytes(hexToBytes('0102'), hexToBytes('03'))).toEqual(hexToBytes('010203'));
    expect(concatBytes(new Uint8Array(0), new Uint8Array(0)).length).toBe(0);
    expect(bytesEqual(hexToBytes('0102'), hexToBytes('0102'))).toBe(true);
    expect(bytesEqual(hexToBytes('0102'), hexToBytes('0103'))).toBe(false);
    expect(bytesEqual(hexToBytes('0102'), hexToBytes('010200'))).toBe(false);
  });
});
