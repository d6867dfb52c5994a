// The offline badge list's lookup (firmware/src/station/badge-list.ts) on the simulator's flash
// model: every badge of a list is found with its own entry, absent hashes are not, and the number
// of records read stays within the bound the lookup promises, for the uniformly spread keyed hashes
// the hub sends and for skewed keys that defeat interpolation.
import { describe, expect, it } from 'vitest';
import { BadgeList, badgeFileName, crcContinue, encodeBadgeList, type BadgeRecord } from '../../../firmware/src/station/badge-list';
import { FlashStorage } from '../../../hardware/sim/flash-storage';
import { nodeCrypto, nodeFlash } from '../../support/node-flash';
import { prng } from '../../support/prng';

function randomHash(random: () => number): Uint8Array {
  const hash = new Uint8Array(8);
  for (let i = 0; i < 8; i++) hash[i] = Math.floor(random() * 256);
  return hash;
}

function listOf(records: BadgeRecord[]): BadgeList {
  const flash = nodeFlash(new FlashStorage(null));
  const file = encodeBadgeList(records, 1, nodeCrypto.crc32);
  flash.create(badgeFileName(1), file, file.length);
  const list = new BadgeList(flash, nodeCrypto);
  expect(list.open()).toEqual([]);
  return list;
}

function records(hashes: Uint8Array[]): BadgeRecord[] {
  return hashes.map((hash, i) => ({ hash, person: 1000 + i, role: i % 4, assetClasses: i % 3, flags: 0 }));
}

/** Finds every record and `absent` hashes that are not in the list; returns the most records one lookup read. */
function checkAll(list: BadgeList, all: BadgeRecord[], absent: Uint8Array[]): { worst: number; mean: number } {
  let worst = 0;
  let total = 0;
  for (const record of all) {
    expect(list.find(record.hash)).toEqual({ person: record.person, role: record.role, assetClasses: record.assetClasses, flags: 0 });
    worst = Math.max(worst, list.lastProbes);
    total += list.lastProbes;
  }
  for (const hash of absent) {
    expect(list.find(hash)).toBeNull();
    worst = Math.max(worst, list.lastProbes);
  }
  return { worst, mean: total / all.length };
}

const log2 = (n: number) => Math.ceil(Math.log2(n + 1));

describe('badge list lookup', () => {
  it('finds each of 5,000 uniformly spread badges in a few reads, and no absent one', () => {
    const random = prng(5000);
    const all = records(Array.from({ length: 5000 }, () => randomHash(random)));
    const present = new Set(all.map((record) => Buffer.from(record.hash).toString('hex')));
    const absent = Array.from({ length: 2000 }, () => randomHash(random)).filter((hash) => !present.has(Buffer.from(hash).toString('hex')));
    const { worst, mean } = checkAll(listOf(all), all, absent);
    expect(mean).toBeLessThan(6); // a binary search reads about 12 records for 5,000
    expect(worst).toBeLessThanOrEqual(2 * log2(5000));
  });

  it('stays within twice a binary search when the keys are skewed', () => {
    const random = prng(77);
    // Half the badges crowd one corner of the key space, a quarter share their first four bytes,
    // the rest are spread: interpolation guesses badly, and the bisection bound has to hold.
    const hashes = Array.from({ length: 3000 }, (_, i) => {
      const hash = randomHash(random);
      if (i % 2 === 0) hash.set([0, 0, 0], 0);
      else if (i % 4 === 1) hash.set([0x80, 0x00, 0x00, 0x01], 0);
      return hash;
    });
    const all = records(hashes);
    const absent = [new Uint8Array(8), new Uint8Array(8).fill(255), Uint8Array.from([0x80, 0, 0, 1, 0, 0, 0, 0])];
    const { worst } = checkAll(listOf(all), all, absent.filter((hash) => !all.some((record) => Buffer.compare(record.hash, hash) === 0)));
    expect(worst).toBeLessThanOrEqual(2 * log2(3000));
  });

  it('answers for lists of one badge and of none', () => {
    const only = records([Uint8Array.from([9, 9, 9, 9, 9, 9, 9, 9])]);
    checkAll(listOf(only), only, [new Uint8Array(8), new Uint8Array(8).fill(255)]);
    const empty = listOf([]);
    expect(empty.find(new Uint8Array(8))).toBeNull();
  });
});

describe('the running CRC a station keeps while a list arrives', () => {
  it('gives the CRC-32 of the whole, however the bytes are cut, from a CRC that always starts afresh', () => {
    const random = prng(13);
    const bytes = new Uint8Array(20_000).map(() => Math.floor(random() * 256));
    for (const cut of [1, 7, 512, 1024, 4096, 20_000]) {
      let register = 0xffffffff;
      for (let offset = 0; offset < bytes.length; offset += cut) register = crcContinue(nodeCrypto, register, bytes.subarray(offset, offset + cut));
      expect(~register >>> 0).toBe(nodeCrypto.crc32(bytes));
    }
    // One byte changed anywhere changes it.
    const damaged = bytes.slice();
    damaged[12_345] ^= 1;
    expect(~crcContinue(nodeCrypto, 0xffffffff, damaged) >>> 0).not.toBe(nodeCrypto.crc32(bytes));
  });
});
