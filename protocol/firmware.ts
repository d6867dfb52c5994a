// Firmware updates over the network (issue 19): what the hub and a station agree on. A bundle
// travels in FIRMWARE_* commands (wire.ts) into the Storage file FW_NEW; its identity is a chained
// SHA-256 over FW_BLOCK-byte blocks (the interpreter's SHA256 takes one buffer whole and has no
// running state, so the station hashes each block as it arrives, natively, and carries 32 bytes
// between blocks); the hub signs that hash with the station's own key. The switch itself and the
// way back are made by boot0Source, which Espruino runs from `.boot0` before `.bootcde`.

/** Bytes per hashed block (and per chunk the hub sends). */
export const FIRMWARE_BLOCK = 1024;
/** Largest bundle a station takes. */
export const FIRMWARE_MAX_BYTES = 256 * 1024;

/** The Storage files of an update (names of 28 characters at most). */
export const FW_NEW = 'fw.new'; // the bundle being received
export const FW_META = 'fw.meta'; // "<version>,<size>,<CRC-32 of the hash>" of the bundle being received, for a resume
export const FW_BOOT = 'fw.boot'; // JSON: the switch in progress, read by .boot0 (absent: nothing pending)
export const FW_PREV = 'fw.prev'; // the bundle that ran before the switch (the way back)
export const BOOT_CODE = '.bootcde';
export const BOOT0 = '.boot0';

/** "1.2.3" -> 1002003: the order of versions as one number (0 for text that is not a version). */
export function firmwareVersionNumber(text: string): number {
  const parts = String(text).split('.');
  if (parts.length !== 3) return 0;
  let number = 0;
  for (let i = 0; i < 3; i++) {
    const part = parseInt(parts[i], 10);
    if (isNaN(part) || part < 0 || part > 999 || String(part) !== parts[i]) return 0;
    number = number * 1000 + part;
  }
  return number;
}

/** 1002003 -> "1.2.3". */
export function firmwareVersionText(version: number): string {
  return Math.floor(version / 1e6) + '.' + (Math.floor(version / 1e3) % 1000) + '.' + (version % 1000);
}

/**
 * The bundle hash's step and the bytes the hub signs, made when asked for: the station runs them only
 * during an update, and on the interpreter a function kept at the bundle's top level costs variables
 * for good while one made inside another costs nothing until that one runs (README Performance).
 */
export function firmwareBytes() {
  return {
    /** One step of the bundle hash: SHA-256(chain ‖ block). The chain starts as 32 zero bytes. */
    chainStep(sha256: (data: Uint8Array) => Uint8Array, chain: Uint8Array, block: Uint8Array): Uint8Array {
      const joined = new Uint8Array(32 + block.length);
      joined.set(chain, 0);
      joined.set(block, 32);
      return sha256(joined);
    },
    /** What the hub signs for one station: "hofw", the bundle hash, the version (u32, big-endian), 1 for a rollback. */
    signed(hash: Uint8Array, version: number, rollback: boolean): Uint8Array {
      const bytes = new Uint8Array(41);
      bytes[0] = 104; // h
      bytes[1] = 111; // o
      bytes[2] = 102; // f
      bytes[3] = 119; // w
      bytes.set(hash, 4);
      bytes[36] = (version >>> 24) & 255;
      bytes[37] = (version >>> 16) & 255;
      bytes[38] = (version >>> 8) & 255;
      bytes[39] = version & 255;
      bytes[40] = rollback ? 1 : 0;
      return bytes;
    },
  };
}
