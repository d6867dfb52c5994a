// Fixed-size records in a preallocated Storage file, written once each, in order — the shape
// flash wants (bytes go from erased 0xFF to their value once; see ../shared/ESPRUINO.md). Each
// record ends in a CRC-32 of the rest, and its byte 0 is never 0xFF, so a reader can tell a record
// from erased space and a torn record (power cut mid-write) from a whole one. The journal and the
// locker-state store each read and write their own files by that rule (no shared file class: on
// the interpreter every class and method costs variables for good); these are the record rules
// and byte helpers they share.
import type { Crypto } from '../hal';
import { readU32, writeU32 } from '../../../protocol/bytes';

// The big-endian u32 helpers are the contract's (the hub writes badge-list files with them).
export { readU32, writeU32 };

/** Seals a record: its last 4 bytes become the CRC-32 of the rest. */
export function sealRecord(crypto: Crypto, record: Uint8Array): void {
  writeU32(record, record.length - 4, crypto.crc32(record.subarray(0, record.length - 4)));
}

/** A whole record: not erased space (byte 0 is never 0xFF) and its CRC matches; else torn or absent. */
export function isWholeRecord(crypto: Crypto, record: Uint8Array | undefined): boolean {
  return !!record && record[0] !== 0xff && crypto.crc32(record.subarray(0, record.length - 4)) === readU32(record, record.length - 4);
}

/** Whether every byte of `record` is still erased flash: where writing stopped. */
export function isErased(record: Uint8Array): boolean {
  for (let i = 0; i < record.length; i++) if (record[i] !== 0xff) return false;
  return true;
}
