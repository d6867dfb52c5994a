// Fixed-size records in a preallocated Storage file, written once each, in order — the shape
// flash wants (bytes go from erased 0xFF to their value once; see ../shared/ESPRUINO.md). Each
// record ends in a CRC-32 of the rest, and its byte 0 is never 0xFF, so a reader can tell a record
// from erased space and a torn record (power cut mid-write) from a whole one.
import type { Crypto, FlashStore } from '../hal';

export const ERASED = 0xff;

export interface RecordScan {
  /** Slots used, whole or torn: the next record goes at this index. */
  used: number;
  /** Slots whose CRC did not match (torn by a power cut, or corrupted). */
  torn: number;
  /** Index of the last whole record, or -1. */
  lastWhole: number;
}

export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 24) & 255;
  bytes[offset + 1] = (value >>> 16) & 255;
  bytes[offset + 2] = (value >>> 8) & 255;
  bytes[offset + 3] = value & 255;
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) >>> 0) + (bytes[offset + 1] << 16) + (bytes[offset + 2] << 8) + bytes[offset + 3];
}

export class RecordFile {
  private flash: FlashStore;
  private crypto: Crypto;
  readonly name: string;
  readonly headerBytes: number;
  readonly recordBytes: number;
  readonly capacity: number;

  constructor(flash: FlashStore, crypto: Crypto, name: string, headerBytes: number, recordBytes: number, capacity: number) {
    this.flash = flash;
    this.crypto = crypto;
    this.name = name;
    this.headerBytes = headerBytes;
    this.recordBytes = recordBytes;
    this.capacity = capacity;
  }

  exists(): boolean {
    return this.flash.size(this.name) >= this.headerBytes + this.recordBytes * this.capacity;
  }

  create(header: Uint8Array): void {
    this.flash.create(this.name, header, this.headerBytes + this.recordBytes * this.capacity);
  }

  header(): Uint8Array | undefined {
    return this.flash.readBytes(this.name, 0, this.headerBytes);
  }

  /** Seals `record` (its last 4 bytes become the CRC of the rest) and writes it into `slot`. */
  write(slot: number, record: Uint8Array): void {
    const bodyBytes = this.recordBytes - 4;
    writeU32(record, bodyBytes, this.crypto.crc32(record.subarray(0, bodyBytes)));
    this.flash.writeAt(this.name, record, this.headerBytes + slot * this.recordBytes);
  }

  /** The record in `slot` if it is whole; undefined if erased, torn or out of range. */
  read(slot: number): Uint8Array | undefined {
    if (slot < 0 || slot >= this.capacity) return undefined;
    const record = this.flash.readBytes(this.name, this.headerBytes + slot * this.recordBytes, this.recordBytes);
    if (!record || record[0] === ERASED) return undefined;
    const bodyBytes = this.recordBytes - 4;
    if (this.crypto.crc32(record.subarray(0, bodyBytes)) !== readU32(record, bodyBytes)) return undefined;
    return record;
  }

  /** Finds where writing stopped. Cost: one small read per used slot (done at boot only). */
  scan(): RecordScan {
    let used = 0;
    let torn = 0;
    let lastWhole = -1;
    while (used < this.capacity) {
      const offset = this.headerBytes + used * this.recordBytes;
      const record = this.flash.readBytes(this.name, offset, this.recordBytes);
      if (!record) break;
      let erased = true;
      for (let i = 0; i < this.recordBytes; i++) {
        if (record[i] !== ERASED) {
          erased = false;
          break;
        }
      }
      if (erased) break;
      if (this.read(used)) lastWhole = used;
      else torn++;
      used++;
    }
    return { used, torn, lastWhole };
  }

  erase(): void {
    this.flash.erase(this.name);
  }
}
