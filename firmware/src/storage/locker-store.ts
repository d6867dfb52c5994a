// Locker states in flash, so a station that resets (watchdog, power cut) knows what every locker
// holds before it accepts the next tap. Each change appends a 12-byte record to a state file
// "hs.<n>"; a full file is replaced by a new one that starts with a snapshot of every locker,
// and only then is the old one erased. At boot the newest file with a whole snapshot wins.
//   header 16 bytes: "HOS1" | lockers u8 | 0...
//   record 12 bytes: locker u8 | state u8 | 0x01 | 0 | owner u32 | CRC-32 of bytes 0..7
import type { Crypto, FlashStore } from '../hal';
import { isErased, isWholeRecord, readU32, sealRecord, writeU32 } from './record-file';

export const STATE_PREFIX = 'hs.';
const HEADER_BYTES = 16;
const RECORD_BYTES = 12;
/** "HOS1", the first 4 bytes of a state file, as one big-endian number. */
const MAGIC = 0x484f5331;

// Memory on the interpreter: every method lives for good (about 4 variables plus 1 a parameter),
// so the boot-only reading of the state files is written inside restore(), and starting a new
// file is part of save(), which restore() also uses to make the first one.
export class LockerStore {
  private flash: FlashStore;
  private crypto: Crypto;
  private capacity: number;
  /** The state file being written; '' until restore() has found or made one. */
  private name = '';
  private fileId = 0;
  private used = 0;

  constructor(flash: FlashStore, crypto: Crypto, capacity: number) {
    this.flash = flash;
    this.crypto = crypto;
    this.capacity = capacity;
  }

  /** Fills `states` and `owners` from flash. Returns problems found, for the fault log. */
  restore(states: Uint8Array, owners: Uint32Array): string[] {
    const flash = this.flash;
    const crypto = this.crypto;
    const capacity = this.capacity;
    const lockers = states.length;
    const problems: string[] = [];
    const ids = flash
      .list(STATE_PREFIX)
      .map((name) => parseInt(name.substring(STATE_PREFIX.length), 10))
      .filter((id) => !isNaN(id));
    ids.sort((a, b) => b - a);

    /** The record in `slot` of file `name`, or undefined if absent, erased or torn (CRC mismatch). */
    function read(name: string, slot: number): Uint8Array | undefined {
      const record = flash.readBytes(name, HEADER_BYTES + slot * RECORD_BYTES, RECORD_BYTES);
      return isWholeRecord(crypto, record) ? record : undefined;
    }

    for (const id of ids) {
      const name = STATE_PREFIX + id;
      const header = flash.readBytes(name, 0, HEADER_BYTES);
      const valid = header && flash.size(name) >= HEADER_BYTES + RECORD_BYTES * capacity && readU32(header, 0) === MAGIC && header[4] === lockers;
      // Where writing stopped: slots used (whole or torn) up to the first erased one, and torn ones.
      let used = 0;
      let torn = 0;
      while (valid && used < capacity) {
        const record = flash.readBytes(name, HEADER_BYTES + used * RECORD_BYTES, RECORD_BYTES);
        if (!record || isErased(record)) break;
        if (!isWholeRecord(crypto, record)) torn++;
        used++;
      }
      if (!valid || used < lockers) {
        if (!this.name) problems.push('locker state: file ' + id + ' is incomplete; using an older one');
        continue;
      }
      if (!this.name) {
        if (torn > 0) problems.push('locker state: ' + torn + ' torn record(s) skipped');
        for (let slot = 0; slot < used; slot++) {
          const record = read(name, slot);
          if (!record || record[0] >= lockers) continue;
          states[record[0]] = record[1];
          owners[record[0]] = readU32(record, 4);
        }
        this.name = name;
        this.fileId = id;
        this.used = used;
      } else {
        flash.erase(name);
      }
    }
    if (!this.name) {
      // No usable file: save() starts file number fileId + 1 with a snapshot, as when one is full.
      this.fileId = ids.length > 0 ? ids[0] : -1;
      this.used = capacity;
      this.save(0, states, owners);
    }
    return problems;
  }

  /** Records one locker's new state; `states`/`owners` are the whole table, for a snapshot. */
  save(locker: number, states: Uint8Array, owners: Uint32Array): void {
    const flash = this.flash;
    // A new buffer each time rather than one kept in a field: it costs variables only while in use.
    const record = new Uint8Array(RECORD_BYTES);
    let first = locker;
    let end = locker + 1;
    let previous = '';
    if (this.used >= this.capacity) {
      // The file is full: a new one starts with a snapshot of every locker, and only then is the
      // old one erased.
      previous = this.name;
      const header = new Uint8Array(HEADER_BYTES);
      writeU32(header, 0, MAGIC);
      header[4] = states.length;
      this.name = STATE_PREFIX + ++this.fileId;
      flash.create(this.name, header, HEADER_BYTES + RECORD_BYTES * this.capacity);
      this.used = 0;
      first = 0;
      end = states.length;
    }
    for (let index = first; index < end; index++) {
      record.fill(0);
      record[0] = index;
      record[1] = states[index];
      record[2] = 1;
      writeU32(record, 4, owners[index]);
      sealRecord(this.crypto, record);
      flash.writeAt(this.name, record, HEADER_BYTES + this.used * RECORD_BYTES);
      this.used++;
    }
    if (previous) flash.erase(previous);
  }
}
