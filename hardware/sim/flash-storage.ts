// Espruino's Storage as it behaves on an ESP32 (see ../shared/ESPRUINO.md), backed by one file on
// disk so a simulated station keeps its flash across reboots:
//  - write(name, data, 0, size) creates a file of `size` bytes; the unwritten rest reads 0xFF;
//  - write(name, data, offset > 0) fills in later bytes; past the size it throws;
//  - flash bits only go from 1 to 0: a second write to a byte ANDs with what is there;
//  - writing at offset 0 again replaces the file.
//  - an erased or replaced file stays as trash until a compaction: a new file goes after the last
//    one, and when the space left there is too small the whole Storage is compacted first, which
//    blocks the interpreter (counted in `compactions`; getFree() is the space left at the end).
// `cutPowerAfter(bytes)` makes a later write stop part-way, as a power cut would.
import fs from 'node:fs';
import path from 'node:path';

export const STORAGE_BYTES = 896 * 1024;
const MAX_NAME = 28;

export class PowerCut extends Error {
  constructor() {
    super('power cut during a flash write');
  }
}

/** Bytes as Espruino's binary strings: one char per byte. */
export function bytesToBinary(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function binaryToBytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

export function toBytes(data: unknown): Uint8Array {
  if (typeof data === 'string') return binaryToBytes(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return Uint8Array.from(data as number[]);
  // Duck-typed for values made inside the firmware's VM context, whose Uint8Array is another class.
  if (data && typeof data === 'object' && typeof (data as { length?: unknown }).length === 'number') {
    return Uint8Array.from(data as ArrayLike<number>);
  }
  return binaryToBytes(String(data));
}

export class FlashStorage {
  private files = new Map<string, Uint8Array>();
  private filePath: string | null;
  private bytesUntilPowerCut = -1;
  /** After a power cut and until the next boot, nothing more reaches flash. */
  private unpowered = false;
  /** Called the moment power is cut (the simulated station halts and reboots). */
  onPowerCut: () => void = () => {};
  writes = 0;
  /** Bytes written to flash (file data; headers not counted). */
  bytesWritten = 0;
  /** Bytes of erased or replaced files (with their headers), reclaimed only by a compaction. */
  trash = 0;
  compactions = 0;

  constructor(filePath: string | null) {
    this.filePath = filePath;
    if (filePath && fs.existsSync(filePath)) this.load(filePath);
  }

  private load(filePath: string): void {
    const blob = fs.readFileSync(filePath);
    let offset = 0;
    while (offset + 6 <= blob.length) {
      const nameLength = blob.readUInt16BE(offset);
      const size = blob.readUInt32BE(offset + 2);
      offset += 6;
      const name = blob.subarray(offset, offset + nameLength).toString('utf8');
      offset += nameLength;
      this.files.set(name, new Uint8Array(blob.subarray(offset, offset + size)));
      offset += size;
    }
  }

  private persist(): void {
    if (!this.filePath) return;
    const parts: Buffer[] = [];
    for (const [name, bytes] of this.files) {
      const head = Buffer.alloc(6);
      const nameBytes = Buffer.from(name, 'utf8');
      head.writeUInt16BE(nameBytes.length, 0);
      head.writeUInt32BE(bytes.length, 2);
      parts.push(head, nameBytes, Buffer.from(bytes));
    }
    fs.mkdirSync(path.dirname(this.filePath), { recursive: true });
    const temporary = this.filePath + '.tmp';
    fs.writeFileSync(temporary, Buffer.concat(parts));
    fs.renameSync(temporary, this.filePath);
  }

  /** After `bytes` more bytes reach flash, the write in progress stops and throws PowerCut. */
  cutPowerAfter(bytes: number): void {
    this.bytesUntilPowerCut = bytes;
  }

  /** Power is back (the station boots). */
  powerOn(): void {
    this.unpowered = false;
  }

  private powerCut(): never {
    this.bytesUntilPowerCut = -1;
    this.unpowered = true;
    this.persist();
    this.onPowerCut();
    throw new PowerCut();
  }

  private checkName(name: string): void {
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) {
      throw new Error('Storage: name must be 1..' + MAX_NAME + ' characters, got ' + JSON.stringify(name));
    }
  }

  private used(): number {
    let total = 0;
    for (const bytes of this.files.values()) total += bytes.length + 32;
    return total;
  }

  write(name: string, data: unknown, offset?: number, size?: number): boolean {
    if (this.unpowered) throw new PowerCut();
    this.checkName(name);
    const bytes = toBytes(data);
    const at = offset || 0;
    let file = this.files.get(name);
    if (at === 0) {
      const total = size === undefined ? bytes.length : size;
      if (bytes.length > total) throw new Error('Too much data for file size');
      const existing = file ? file.length + 32 : 0;
      if (this.used() - existing + total + 32 > STORAGE_BYTES) throw new Error('Not enough free space in Storage');
      // The old file becomes trash; the new one needs room after the last file, or a compaction.
      this.trash += existing;
      if (this.used() - existing + this.trash + total + 32 > STORAGE_BYTES) {
        this.compactions++;
        this.trash = 0;
      }
      file = new Uint8Array(total).fill(0xff);
      this.files.set(name, file);
    } else if (!file) {
      throw new Error("Storage: can't write at offset " + at + ' of missing file ' + name);
    }
    if (at + bytes.length > file.length) throw new Error('Too much data for file size');
    this.writes++;
    this.bytesWritten += bytes.length;
    for (let i = 0; i < bytes.length; i++) {
      if (this.bytesUntilPowerCut === 0) this.powerCut();
      if (this.bytesUntilPowerCut > 0) this.bytesUntilPowerCut--;
      file[at + i] &= bytes[i];
    }
    this.persist();
    return true;
  }

  read(name: string, offset?: number, length?: number): string | undefined {
    const file = this.files.get(name);
    if (!file) return undefined;
    const start = offset || 0;
    const end = length === undefined ? file.length : Math.min(file.length, start + length);
    return bytesToBinary(file.subarray(start, end));
  }

  readBytes(name: string): Uint8Array | undefined {
    return this.files.get(name);
  }

  readArrayBuffer(name: string): ArrayBuffer | undefined {
    const file = this.files.get(name);
    // Each file owns its buffer, so this is a view onto "flash", like the memory-mapped ESP32 file.
    return file ? (file.buffer as ArrayBuffer) : undefined;
  }

  readJSON(name: string, noExceptions: boolean): unknown {
    const text = this.read(name);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch (error) {
      if (noExceptions) return undefined;
      throw error;
    }
  }

  erase(name: string): void {
    if (this.unpowered) throw new PowerCut();
    const file = this.files.get(name);
    if (file) this.trash += file.length + 32;
    this.files.delete(name);
    this.persist();
  }

  list(pattern?: RegExp): string[] {
    const names = [...this.files.keys()];
    return pattern ? names.filter((name) => pattern.test(name)) : names;
  }

  /** As Espruino's: the space after the last file (trash not counted until a compaction). */
  getFree(): number {
    return STORAGE_BYTES - this.used() - this.trash;
  }

  compact(): void {
    if (this.trash > 0) this.compactions++;
    this.trash = 0;
  }
}
