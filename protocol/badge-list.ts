// The badge-list file: the hub builds it from its records and sends it in chunks; the station
// keeps it in Storage and looks badges up in it (firmware/src/station/badge-list.ts). Keyed hashes
// of badge UIDs (never a UID or a name, P16), each with an opaque person id and a role, sorted by
// hash.
//
// Each version is its own Storage file, "hb.<version>".
//
// Layout (big-endian):
//   header 16 bytes: "HOBL" | version u32 | count u32 | CRC-32 of the records u32
//   record 16 bytes: hash[8] | person u32 | role u8 | asset classes u8 (bit mask) | flags u8 | 0
import { writeU32 } from './bytes';

export const BADGE_PREFIX = 'hb.';
export const BADGE_HEADER_BYTES = 16;
export const BADGE_RECORD_BYTES = 16;
export const BADGE_HASH_BYTES = 8;
/** "HOBL" as one big-endian u32: a number costs the interpreter less than an array kept for good. */
export const BADGE_MAGIC = 0x484f424c;

export const BADGE_FLAG = {
  MEDICAL_EXEMPT: 1, // P3: tap accepted and recorded, no locker opens
  OPEN_ALL: 2, // may trigger the emergency open-all
};

export interface BadgeEntry {
  person: number;
  role: number;
  assetClasses: number;
  flags: number;
}

export interface BadgeRecord extends BadgeEntry {
  hash: Uint8Array;
}

/** Negative, zero or positive as `a` sorts before, equal to or after `b` (both BADGE_HASH_BYTES long). */
export function compareHash(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < BADGE_HASH_BYTES; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return 0;
}

export function badgeFileName(version: number): string {
  return BADGE_PREFIX + version;
}

/** Builds a badge-list file (the hub sends it; tests and the simulator write it into Storage). */
export function encodeBadgeList(records: BadgeRecord[], version: number, crc32: (data: Uint8Array) => number): Uint8Array {
  const sorted = records.slice().sort((a, b) => compareHash(a.hash, b.hash));
  const file = new Uint8Array(BADGE_HEADER_BYTES + sorted.length * BADGE_RECORD_BYTES);
  writeU32(file, 0, BADGE_MAGIC);
  writeU32(file, 4, version);
  writeU32(file, 8, sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    const offset = BADGE_HEADER_BYTES + i * BADGE_RECORD_BYTES;
    const record = sorted[i];
    file.set(record.hash.subarray(0, BADGE_HASH_BYTES), offset);
    writeU32(file, offset + 8, record.person);
    file[offset + 12] = record.role;
    file[offset + 13] = record.assetClasses;
    file[offset + 14] = record.flags;
  }
  writeU32(file, 12, crc32(file.subarray(BADGE_HEADER_BYTES)));
  return file;
}
