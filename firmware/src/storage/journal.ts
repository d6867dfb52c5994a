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
import { DETAIL, EVENT } from '../protocol/wire';
import { RecordFile, readU32, writeU32 } from './record-file';

export const JOURNAL_PREFIX = 'hj.';
export const JOURNAL_HEADER_BYTES = 16;
export const JOURNAL_RECORD_BYTES = 40;
const FORMAT = 1;
const MAGIC = [0x48, 0x4f, 0x4a, 0x31];

export interface JournalOptions {
  recordsPerSegment: number;
  maxSegments: number;
}

/** 79 segments of 128 records: 10,112 events in 406 KB of flash. */
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

interface Segment {
  id: number;
  boot: number;
  firstSeq: number;
  used: number;
  /** Sequence number of the last whole record (0 if none). */
  lastSeq: number;
  /** Highest sequence of this segment's boot the hub has confirmed in this run (RAM only). */
  ackedSeq: number;
}

/** Where a reader of the journal stands: segment id and slot within it. */
export interface JournalCursor {
  segment: number;
  slot: number;
}

export class Journal {
  private flash: FlashStore;
  private crypto: Crypto;
  private options: JournalOptions;
  private segments: Segment[] = [];
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

  private file(id: number): RecordFile {
    return new RecordFile(this.flash, this.crypto, JOURNAL_PREFIX + id, JOURNAL_HEADER_BYTES, JOURNAL_RECORD_BYTES, this.options.recordsPerSegment);
  }

  /** Reads the segments left from earlier boots. Returns problems found, for the fault log. */
  open(boot: number): string[] {
    const problems: string[] = [];
    this.boot = boot;
    this.seq = 0;
    this.segments = [];
    const ids = this.flash
      .list(JOURNAL_PREFIX)
      .map((name) => parseInt(name.substring(JOURNAL_PREFIX.length), 10))
      .filter((id) => !isNaN(id));
    ids.sort((a, b) => a - b);
    for (const id of ids) {
      const file = this.file(id);
      const header = file.header();
      if (!header || !file.exists() || header[0] !== MAGIC[0] || header[1] !== MAGIC[1] || header[2] !== MAGIC[2] || header[3] !== MAGIC[3]) {
        problems.push('journal: segment ' + id + ' has no valid header; erased');
        file.erase();
        continue;
      }
      const scan = file.scan();
      if (scan.torn > 0) problems.push('journal: segment ' + id + ' has ' + scan.torn + ' torn record(s), skipped');
      this.tornFound += scan.torn;
      const last = scan.lastWhole >= 0 ? file.read(scan.lastWhole) : undefined;
      this.segments.push({ id, boot: readU32(header, 4), firstSeq: readU32(header, 8), used: scan.used, lastSeq: last ? readU32(last, 4) : 0, ackedSeq: 0 });
      this.nextSegmentId = id + 1;
    }
    return problems;
  }

  /** Records not yet confirmed by the hub (torn slots included). */
  backlog(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.used;
    return total;
  }

  capacity(): number {
    return this.options.maxSegments * this.options.recordsPerSegment;
  }

  private current(): Segment | null {
    const last = this.segments.length > 0 ? this.segments[this.segments.length - 1] : null;
    if (last && last.boot === this.boot && last.used < this.options.recordsPerSegment) return last;
    if (this.segments.length >= this.options.maxSegments) return null;
    const id = this.nextSegmentId++;
    const header = new Uint8Array(JOURNAL_HEADER_BYTES);
    header.set(MAGIC, 0);
    writeU32(header, 4, this.boot);
    writeU32(header, 8, this.seq + 1);
    const file = this.file(id);
    file.create(header);
    const segment: Segment = { id, boot: this.boot, firstSeq: this.seq + 1, used: 0, lastSeq: 0, ackedSeq: 0 };
    this.segments.push(segment);
    return segment;
  }

  /** Appends one event; returns its sequence number, or 0 when the journal is full. */
  append(entry: NewEntry): number {
    const segment = this.current();
    if (!segment) return 0;
    const record = this.record;
    record.fill(0);
    const seq = this.seq + 1;
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
    this.file(segment.id).write(segment.used, record);
    segment.used++;
    segment.lastSeq = seq;
    this.seq = seq;
    return seq;
  }

  /** Whether some whole record has not been confirmed by the hub in this run. */
  unconfirmed(): boolean {
    for (const segment of this.segments) if (segment.lastSeq > segment.ackedSeq) return true;
    return false;
  }

  /** The oldest position in the journal. */
  start(): JournalCursor {
    return { segment: this.segments.length > 0 ? this.segments[0].id : this.nextSegmentId, slot: 0 };
  }

  /**
   * Reads the entry at `cursor` and moves the cursor past it. Returns undefined at the end of the
   * journal. A torn or corrupt record reads as a FAULT / TORN_RECORD entry under the number its
   * slot had (a segment numbers its slots from its first seq): the hub hears of the loss, and the
   * boot's later events do not wait behind a gap the hub could never see filled.
   */
  next(cursor: JournalCursor): JournalEntry | undefined {
    for (const segment of this.segments) {
      if (segment.id < cursor.segment) continue;
      if (segment.id > cursor.segment) {
        cursor.segment = segment.id;
        cursor.slot = 0;
      }
      while (cursor.slot < segment.used) {
        const slot = cursor.slot++;
        const record = this.file(segment.id).read(slot);
        if (record) return this.decode(segment, record);
        return { boot: segment.boot, seq: segment.firstSeq + slot, type: EVENT.FAULT, locker: -1, detail: DETAIL.TORN_RECORD, uptimeMs: 0, wallSec: 0, person: 0, actor: 0, witness: 0, badge: null };
      }
    }
    return undefined;
  }

  private decode(segment: Segment, record: Uint8Array): JournalEntry {
    let hasBadge = false;
    for (let i = 28; i < 36; i++) if (record[i] !== 0) hasBadge = true;
    return {
      boot: segment.boot,
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

  /**
   * The hub has stored every event of `boot` up to `seq`: erase the oldest segments whose records
   * are all among them. The segment being written to stays until it is full.
   */
  confirm(boot: number, seq: number): number {
    for (const segment of this.segments) if (segment.boot === boot && seq > segment.ackedSeq) segment.ackedSeq = seq;
    let erased = 0;
    while (this.segments.length > 0) {
      const segment = this.segments[0];
      const closed = segment.boot !== this.boot || segment.used === this.options.recordsPerSegment;
      // A segment with no whole record (torn at its first write) holds nothing to confirm.
      const confirmed = segment.lastSeq === 0 || (segment.boot === boot && segment.lastSeq <= seq);
      if (!closed || !confirmed) break;
      this.file(segment.id).erase();
      this.segments.shift();
      erased++;
    }
    return erased;
  }

}
