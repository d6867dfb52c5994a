// The offline badge list: keyed hashes of badge UIDs (never a UID or a name, P16), each with an
// opaque person id and a role, sorted by hash in one Storage file. Lookups binary-search the file
// through small views onto flash, so RAM use does not grow with the list.
//
// Each version is its own file, "hb.<version>": a new list is written beside the old one, checked,
// and only then used (the old one is erased), so a power cut mid-transfer never leaves the station
// without a list. At boot the newest file that checks out wins. The file's layout is the
// contract's: ../../../protocol/badge-list.ts.
import type { Crypto, FlashStore } from '../hal';
import { readU32 } from '../storage/record-file';
import { BADGE_HEADER_BYTES, BADGE_MAGIC, BADGE_PREFIX, BADGE_RECORD_BYTES, badgeFileName, type BadgeEntry } from '../../../protocol/badge-list';

// The file's layout, its encoder and its constants are the contract's (../../../protocol/badge-list.ts).
export { BADGE_FLAG, BADGE_HASH_BYTES, BADGE_HEADER_BYTES, BADGE_PREFIX, BADGE_RECORD_BYTES, badgeFileName, compareHash, encodeBadgeList } from '../../../protocol/badge-list';
export type { BadgeEntry, BadgeRecord } from '../../../protocol/badge-list';

/**
 * Checks a badge-list file whole: header, size, and the CRC of its records (`recordsCrc` when the
 * caller has already computed it, as the chunks of a transfer arrived). Null when good.
 */
export function checkBadgeFile(flash: FlashStore, crypto: Crypto, name: string, recordsCrc?: number): string | null {
  const header = flash.readBytes(name, 0, BADGE_HEADER_BYTES);
  if (!header) return name + ': missing or too short';
  if (readU32(header, 0) !== BADGE_MAGIC) return name + ': not a badge list';
  const recordBytes = readU32(header, 8) * BADGE_RECORD_BYTES;
  if (flash.size(name) !== BADGE_HEADER_BYTES + recordBytes) return name + ': size does not match its count';
  if (recordsCrc === undefined) {
    // One native CRC over a view of flash: no copy into RAM.
    const records = flash.readBytes(name, BADGE_HEADER_BYTES, recordBytes);
    recordsCrc = records ? crypto.crc32(records) : -1;
  }
  if (recordsCrc !== readU32(header, 12)) return name + ': checksum mismatch';
  return null;
}

/**
 * The CRC-32 register after `bytes`, continuing from `register` (0xFFFFFFFF to start; the CRC is
 * the register inverted). The interpreter's E.CRC32 always starts afresh, so `bytes` go after four
 * bytes that bring a fresh register to `register`: found by undoing CRC-32's 32 one-bit steps
 * (reflected, polynomial 0xEDB88320, whose top bit tells which steps applied it). Lets a station
 * check a received badge list a chunk at a time, as the chunks arrive, instead of all at the end.
 */
export function crcContinue(crypto: Crypto, register: number, bytes: Uint8Array): number {
  let before = register;
  for (let step = 0; step < 32; step++) {
    const low = before >>> 31;
    before = ((low ? before ^ 0xedb88320 : before) << 1) | low;
  }
  const prefix = ~before;
  const joined = new Uint8Array(4 + bytes.length);
  joined[0] = prefix & 255;
  joined[1] = (prefix >>> 8) & 255;
  joined[2] = (prefix >>> 16) & 255;
  joined[3] = (prefix >>> 24) & 255;
  joined.set(bytes, 4);
  return ~crypto.crc32(joined) >>> 0;
}

export class BadgeList {
  private flash: FlashStore;
  private crypto: Crypto;
  private fileName = '';
  count = 0;
  version = 0;
  /** How many records the last lookup read: the benchmark reports it. */
  lastProbes = 0;

  constructor(flash: FlashStore, crypto: Crypto) {
    this.flash = flash;
    this.crypto = crypto;
  }

  private versions(): number[] {
    const versions = this.flash
      .list(BADGE_PREFIX)
      .map((name) => parseInt(name.substring(BADGE_PREFIX.length), 10))
      .filter((version) => !isNaN(version));
    versions.sort((a, b) => b - a);
    return versions;
  }

  /**
   * Uses the newest badge-list file that checks out, erasing older ones. Returns the problems
   * found (a corrupt newer file is reported and erased); with no usable file every badge is unknown.
   * `checkedVersion`: a file just received and checked as it arrived, not read again.
   */
  open(checkedVersion?: number): string[] {
    const problems: string[] = [];
    this.count = 0;
    this.fileName = '';
    for (const version of this.versions()) {
      const name = badgeFileName(version);
      if (this.fileName) {
        this.flash.erase(name);
        continue;
      }
      const problem = version === checkedVersion ? null : checkBadgeFile(this.flash, this.crypto, name);
      if (problem) {
        problems.push('badge list ' + problem);
        this.flash.erase(name);
        continue;
      }
      this.fileName = name;
      this.version = version;
      this.count = readU32(this.flash.readBytes(name, 0, BADGE_HEADER_BYTES)!, 8);
    }
    if (!this.fileName) problems.push('badge list: none usable; every badge is unknown until the hub sends one');
    return problems;
  }

  /**
   * Interpolation search: the hashes are keyed HMACs, so uniformly spread, and a hash's position
   * in the list is close to its value's share of the key space. Each probe guesses from the first
   * four bytes between the bounds found so far: about 4 probes for 5,000 badges instead of a binary
   * search's 12 to 13, each costing about 0.2 ms on the host interpreter. Should the keys ever be
   * skewed, the search bisects once it has made log2 n guesses, so it never reads more than twice
   * a binary search's records.
   */
  find(hash: Uint8Array): BadgeEntry | null {
    const wantHigh = readU32(hash, 0);
    const wantLow = readU32(hash, 4);
    let low = 0;
    let high = this.count - 1;
    let keyLow = 0; // every key in [low, high] is >= keyLow and <= keyHigh
    let keyHigh = 4294967295;
    const guesses = Math.ceil(Math.log(this.count + 1) / Math.LN2);
    this.lastProbes = 0;
    while (low <= high) {
      let middle = (low + high) >> 1;
      if (this.lastProbes < guesses && keyHigh > keyLow) {
        const guess = low + Math.floor(((wantHigh - keyLow) / (keyHigh - keyLow)) * (high - low));
        middle = guess < low ? low : guess > high ? high : guess;
      }
      const record = this.flash.readBytes(this.fileName, BADGE_HEADER_BYTES + middle * BADGE_RECORD_BYTES, BADGE_RECORD_BYTES);
      this.lastProbes++;
      if (!record) return null;
      const recordHigh = readU32(record, 0);
      const recordLow = readU32(record, 4);
      if (recordHigh === wantHigh && recordLow === wantLow) {
        return { person: readU32(record, 8), role: record[12], assetClasses: record[13], flags: record[14] };
      }
      if (recordHigh < wantHigh || (recordHigh === wantHigh && recordLow < wantLow)) {
        low = middle + 1;
        keyLow = recordHigh;
      } else {
        high = middle - 1;
        keyHigh = recordHigh;
      }
    }
    return null;
  }
}
