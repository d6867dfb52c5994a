// Locker states in flash, so a station that resets (watchdog, power cut) knows what every locker
// holds before it accepts the next tap. Each change appends a 12-byte record to a state file
// "hs.<n>"; a full file is replaced by a new one that starts with a snapshot of every locker,
// and only then is the old one erased. At boot the newest file with a whole snapshot wins.
//   header 16 bytes: "HOS1" | lockers u8 | 0...
//   record 12 bytes: locker u8 | state u8 | 0x01 | 0 | owner u32 | CRC-32 of bytes 0..7
import type { Crypto, FlashStore } from '../hal';
import { RecordFile, readU32, writeU32 } from './record-file';

export const STATE_PREFIX = 'hs.';
const HEADER_BYTES = 16;
const RECORD_BYTES = 12;
const MAGIC = [0x48, 0x4f, 0x53, 0x31];

export class LockerStore {
  private flash: FlashStore;
  private crypto: Crypto;
  private capacity: number;
  private file: RecordFile | null = null;
  private fileId = 0;
  private used = 0;
  private record = new Uint8Array(RECORD_BYTES);

  constructor(flash: FlashStore, crypto: Crypto, capacity: number) {
    this.flash = flash;
    this.crypto = crypto;
    this.capacity = capacity;
  }

  private recordFile(id: number): RecordFile {
    return new RecordFile(this.flash, this.crypto, STATE_PREFIX + id, HEADER_BYTES, RECORD_BYTES, this.capacity);
  }

  /** Fills `states` and `owners` from flash. Returns problems found, for the fault log. */
  restore(states: Uint8Array, owners: Uint32Array): string[] {
    const problems: string[] = [];
    const ids = this.flash
      .list(STATE_PREFIX)
      .map((name) => parseInt(name.substring(STATE_PREFIX.length), 10))
      .filter((id) => !isNaN(id));
    ids.sort((a, b) => b - a);
    for (const id of ids) {
      const file = this.recordFile(id);
      const header = file.header();
      const lockers = states.length;
      const valid = header && file.exists() && header[0] === MAGIC[0] && header[1] === MAGIC[1] && header[2] === MAGIC[2] && header[3] === MAGIC[3] && header[4] === lockers;
      const scan = valid ? file.scan() : { used: 0, torn: 0, lastWhole: -1 };
      if (!valid || scan.used < lockers) {
        if (this.file === null) problems.push('locker state: file ' + id + ' is incomplete; using an older one');
        continue;
      }
      if (this.file === null) {
        if (scan.torn > 0) problems.push('locker state: ' + scan.torn + ' torn record(s) skipped');
        for (let slot = 0; slot < scan.used; slot++) {
          const record = file.read(slot);
          if (!record || record[0] >= lockers) continue;
          states[record[0]] = record[1];
          owners[record[0]] = readU32(record, 4);
        }
        this.file = file;
        this.fileId = id;
        this.used = scan.used;
      } else {
        file.erase();
      }
    }
    if (this.file === null) this.startFile(states, owners, ids.length > 0 ? ids[0] + 1 : 0);
    return problems;
  }

  private startFile(states: Uint8Array, owners: Uint32Array, id: number): void {
    const previous = this.file;
    const header = new Uint8Array(HEADER_BYTES);
    header.set(MAGIC, 0);
    header[4] = states.length;
    const file = this.recordFile(id);
    file.create(header);
    this.file = file;
    this.fileId = id;
    this.used = 0;
    for (let locker = 0; locker < states.length; locker++) this.append(locker, states[locker], owners[locker]);
    if (previous) previous.erase();
  }

  private append(locker: number, state: number, owner: number): void {
    const record = this.record;
    record.fill(0);
    record[0] = locker;
    record[1] = state;
    record[2] = 1;
    writeU32(record, 4, owner);
    this.file!.write(this.used, record);
    this.used++;
  }

  /** Records one locker's new state; `states`/`owners` are the whole table, for a snapshot. */
  save(locker: number, states: Uint8Array, owners: Uint32Array): void {
    if (this.used >= this.capacity) this.startFile(states, owners, this.fileId + 1);
    else this.append(locker, states[locker], owners[locker]);
  }
}
