// The event journal in flash: every event is appended here, numbered, before the station reports
// it, and stays until the hub confirms it has stored it durably. Nothing is overwritten: when the
// journal is full, append refuses and the station raises an alarm.
//
// The journal is a chain of segment files "hj.<n>" (n counts up forever). A segment holds the
// records of one boot only, so records carry their sequence number and the segment header the
// boot. Segment: header 16 bytes ("HOJ1" | boot u32 | first seq u32 | reserved) then
// recordsPerSegment records of 40 bytes:
//   0 type u8 | 1 locker u8 (255 none) | 2 detail code u8 | 3 format 0x01
//   4 seq u32 | 8 uptime ms u32 | 12 wall-clock s u32 (0 = unknown) | 16 person u32 (0 none)
//   20 actor u32 | 24 witness u32 | 28 badge hash [8] (zeros = none) | 36 CRC-32 of bytes 0..35
// A segment whose records are all confirmed is erased whole.
import type { Crypto, FlashStore } from '../hal';
import { DETAIL, EVENT } from '../../../protocol/wire';
import { isErased, isWholeRecord, readU32, sealRecord, writeU32 } from './record-file';

export const JOURNAL_PREFIX = 'hj.';
export const JOURNAL_HEADER_BYTES = 16;
export const JOURNAL_RECORD_BYTES = 40;
const FORMAT = 1;
/** "HOJ1", the first 4 bytes of a segment, as one big-endian number. */
const MAGIC = 0x484f4a31;

export interface JournalOptions {
  recordsPerSegment: number;
  maxSegments: number;
}

/** 79 segments of 128 records: 10,112 events in 406 KB of flash (maxSegments * recordsPerSegment). */
export const JOURNAL_DEFAULTS: JournalOptions = { recordsPerSegment: 128, maxSegments: 79 };

export interface JournalEntry {
  boot: number;
  seq: number;
  type: number;
  /** -1 when the event concerns no locker. */
  locker: number;
  detail: number;
  uptimeMs: number;
  /** Seconds since 1970, or 0 while the station has no wall clock. */
  wallSec: number;
  person: number;
  actor: number;
  witness: number;
  badge: Uint8Array | null;
}

/** What to append: everything but the numbering, which the journal gives. */
export interface NewEntry {
  type: number;
  locker: number;
  detail: number;
  uptimeMs: number;
  wallSec: number;
  person: number;
  actor: number;
  witness: number;
  badge: Uint8Array | null;
}

// The segments in RAM: one row of numbers each in a typed table. As objects they cost about 11
// variables a segment on the interpreter, 870 for a full journal of 79; the table costs one
// variable per 16 bytes of rows.
const ID = 0;
const BOOT = 1;
const FIRST_SEQ = 2;
const USED = 3;
/** Sequence number of the last whole record (0 if none). */
const LAST_SEQ = 4;
/** Highest sequence of this segment's boot the hub has confirmed in this run (RAM only). */
const ACKED_SEQ = 5;
const FIELDS = 6;

/** Where a reader of the journal stands: segment id and slot within it. */
export interface JournalCursor {
  segment: number;
  slot: number;
}

// Memory on the interpreter: every method lives for good (about 4 variables plus 1 a parameter),
// so the boot-only scan of the segments is written inside open(), and the file, record and row
// helpers are written where they are used. append(), next() and confirm() run per event and
// create no functions.
export class Journal {
  private flash: FlashStore;
  private crypto: Crypto;
  private options: JournalOptions;
  /** Row r of the segments (oldest first) is table[r * FIELDS .. r * FIELDS + FIELDS - 1]. */
  private table = new Uint32Array(4 * FIELDS);
  private count = 0;
  private nextSegmentId = 0;
  private boot = 0;
  /** Sequence number of the last record appended in this boot. */
  seq = 0;
  /** Torn or corrupt records found at open. */
  tornFound = 0;
  private record = new Uint8Array(JOURNAL_RECORD_BYTES);

  constructor(flash: FlashStore, crypto: Crypto, options: JournalOptions) {
    this.flash = flash;
    this.crypto = crypto;
    this.options = options;
  }

  /** Reads the segments left from earlier boots. Returns problems found, for the fault log. */
  open(boot: number): string[] {
    const flash = this.flash;
    const crypto = this.crypto;
    const perSegment = this.options.recordsPerSegment;
    const problems: string[] = [];
    this.boot = boot;
    this.seq = 0;
    this.count = 0;
    const ids = flash
      .list(JOURNAL_PREFIX)
      .map((name) => parseInt(name.substring(JOURNAL_PREFIX.length), 10))
      .filter((id) => !isNaN(id));
    ids.sort((a, b) => a - b);
    // A row for each segment found, and one for this boot's first segment (the boot event's).
    const table = (this.table = new Uint32Array((ids.length + 1) * FIELDS));

    for (const id of ids) {
      const name = JOURNAL_PREFIX + id;
      const header = flash.readBytes(name, 0, JOURNAL_HEADER_BYTES);
      if (!header || flash.size(name) < JOURNAL_HEADER_BYTES + JOURNAL_RECORD_BYTES * perSegment || readU32(header, 0) !== MAGIC) {
        problems.push('journal: segment ' + id + ' has no valid header; erased');
        flash.erase(name);
        continue;
      }
      // Find where writing stopped: slots used (whole or torn), torn ones, and the sequence number
      // of the last whole record. One small read per used slot.
      let used = 0;
      let torn = 0;
      let lastSeq = 0;
      while (used < perSegment) {
        const record = flash.readBytes(name, JOURNAL_HEADER_BYTES + used * JOURNAL_RECORD_BYTES, JOURNAL_RECORD_BYTES);
        if (!record || isErased(record)) break;
        if (isWholeRecord(crypto, record)) lastSeq = readU32(record, 4);
        else torn++;
        used++;
      }
      if (torn > 0) problems.push('journal: segment ' + id + ' has ' + torn + ' torn record(s), skipped');
      this.tornFound += torn;
      const row = this.count++ * FIELDS;
      table[row + ID] = id;
      table[row + BOOT] = readU32(header, 4);
      table[row + FIRST_SEQ] = readU32(header, 8);
      table[row + USED] = used;
      table[row + LAST_SEQ] = lastSeq;
      table[row + ACKED_SEQ] = 0;
      this.nextSegmentId = id + 1;
    }
    return problems;
  }

  /** Records not yet confirmed by the hub in this run (torn slots included: the hub hears of them too). */
  backlog(): number {
    const table = this.table;
    let total = 0;
    for (let row = 0; row < this.count * FIELDS; row += FIELDS) {
      // Slot s holds number FIRST_SEQ + s, so the confirmed slots are the first ACKED_SEQ - FIRST_SEQ + 1.
      total += table[row + USED] - Math.max(0, Math.min(table[row + USED], table[row + ACKED_SEQ] - table[row + FIRST_SEQ] + 1));
    }
    return total;
  }

  /** Appends one event; returns its sequence number, or 0 when the journal is full. */
  append(entry: NewEntry): number {
    const perSegment = this.options.recordsPerSegment;
    let table = this.table;
    const seq = this.seq + 1;
    // The segment to append to: the last one if it is this boot's and has room, else a new one.
    let row = (this.count - 1) * FIELDS;
    if (row < 0 || table[row + BOOT] !== this.boot || table[row + USED] >= perSegment) {
      if (this.count >= this.options.maxSegments) return 0;
      const id = this.nextSegmentId++;
      const header = new Uint8Array(JOURNAL_HEADER_BYTES);
      writeU32(header, 0, MAGIC);
      writeU32(header, 4, this.boot);
      writeU32(header, 8, seq);
      this.flash.create(JOURNAL_PREFIX + id, header, JOURNAL_HEADER_BYTES + JOURNAL_RECORD_BYTES * perSegment);
      if ((this.count + 1) * FIELDS > table.length) {
        // One row more, not double: a new segment comes once per recordsPerSegment events, and
        // rows never used would cost variables for good.
        table = new Uint32Array((this.count + 1) * FIELDS);
        table.set(this.table, 0);
        this.table = table;
      }
      row = this.count++ * FIELDS;
      table[row + ID] = id;
      table[row + BOOT] = this.boot;
      table[row + FIRST_SEQ] = seq;
      table[row + USED] = 0;
      table[row + LAST_SEQ] = 0;
      table[row + ACKED_SEQ] = 0;
    }
    const record = this.record;
    record.fill(0);
    record[0] = entry.type;
    record[1] = entry.locker < 0 ? 255 : entry.locker;
    record[2] = entry.detail;
    record[3] = FORMAT;
    writeU32(record, 4, seq);
    writeU32(record, 8, entry.uptimeMs);
    writeU32(record, 12, entry.wallSec);
    writeU32(record, 16, entry.person);
    writeU32(record, 20, entry.actor);
    writeU32(record, 24, entry.witness);
    if (entry.badge) record.set(entry.badge.subarray(0, 8), 28);
    sealRecord(this.crypto, record);
    this.flash.writeAt(JOURNAL_PREFIX + table[row + ID], record, JOURNAL_HEADER_BYTES + table[row + USED] * JOURNAL_RECORD_BYTES);
    table[row + USED]++;
    table[row + LAST_SEQ] = seq;
    this.seq = seq;
    return seq;
  }

  /**
   * The oldest entry the hub has not confirmed in this run (after a restart: the oldest entry), or
   * the end of the journal when every entry is confirmed.
   */
  start(): JournalCursor {
    const table = this.table;
    for (let row = 0; row < this.count * FIELDS; row += FIELDS) {
      const confirmed = Math.max(0, Math.min(table[row + USED], table[row + ACKED_SEQ] - table[row + FIRST_SEQ] + 1));
      if (confirmed < table[row + USED] || row === (this.count - 1) * FIELDS) return { segment: table[row + ID], slot: confirmed };
    }
    return { segment: this.nextSegmentId, slot: 0 };
  }

  /**
   * Reads the entry at `cursor` and moves the cursor past it. Returns undefined at the end of the
   * journal. A torn or corrupt record reads as a FAULT / TORN_RECORD entry under the number its
   * slot had (a segment numbers its slots from its first seq): the hub hears of the loss, and the
   * boot's later events do not wait behind a gap the hub could never see filled.
   */
  next(cursor: JournalCursor): JournalEntry | undefined {
    const table = this.table;
    for (let row = 0; row < this.count * FIELDS; row += FIELDS) {
      const id = table[row + ID];
      if (id < cursor.segment) continue;
      if (id > cursor.segment) {
        cursor.segment = id;
        cursor.slot = 0;
      }
      if (cursor.slot < table[row + USED]) {
        const slot = cursor.slot++;
        const boot = table[row + BOOT];
        const record = this.flash.readBytes(JOURNAL_PREFIX + id, JOURNAL_HEADER_BYTES + slot * JOURNAL_RECORD_BYTES, JOURNAL_RECORD_BYTES);
        if (record && isWholeRecord(this.crypto, record)) {
          let hasBadge = false;
          for (let i = 28; i < 36; i++) if (record[i] !== 0) hasBadge = true;
          return {
            boot,
            seq: readU32(record, 4),
            type: record[0],
            locker: record[1] === 255 ? -1 : record[1],
            detail: record[2],
            uptimeMs: readU32(record, 8),
            wallSec: readU32(record, 12),
            person: readU32(record, 16),
            actor: readU32(record, 20),
            witness: readU32(record, 24),
            badge: hasBadge ? new Uint8Array(record.subarray(28, 36)) : null,
          };
        }
        return { boot, seq: table[row + FIRST_SEQ] + slot, type: EVENT.FAULT, locker: -1, detail: DETAIL.TORN_RECORD, uptimeMs: 0, wallSec: 0, person: 0, actor: 0, witness: 0, badge: null };
      }
    }
    return undefined;
  }

  /**
   * The hub has stored every event of `boot` up to `seq`: erase the oldest segments whose records
   * are all among them. The segment being written to stays until it is full.
   */
  confirm(boot: number, seq: number): number {
    const table = this.table;
    for (let row = 0; row < this.count * FIELDS; row += FIELDS) {
      if (table[row + BOOT] === boot && seq > table[row + ACKED_SEQ]) table[row + ACKED_SEQ] = seq;
    }
    let erased = 0;
    while (erased < this.count) {
      const row = erased * FIELDS;
      const closed = table[row + BOOT] !== this.boot || table[row + USED] === this.options.recordsPerSegment;
      // A segment with no whole record (torn at its first write) holds nothing to confirm.
      const lastSeq = table[row + LAST_SEQ];
      const confirmed = lastSeq === 0 || (table[row + BOOT] === boot && lastSeq <= seq);
      if (!closed || !confirmed) break;
      this.flash.erase(JOURNAL_PREFIX + table[row + ID]);
      erased++;
    }
    if (erased > 0) {
      // Rows move down: a forward copy from higher to lower indices, so overlap is safe.
      table.set(table.subarray(erased * FIELDS, this.count * FIELDS), 0);
      this.count -= erased;
    }
    return erased;
  }
}
