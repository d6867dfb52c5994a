// hal.ts's FlashStore and Crypto on the simulator's flash model, for testing firmware storage
// modules directly in Node (the bundle tests use the same model through Espruino's Storage API).
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { Crypto, FlashStore } from '../../firmware/src/hal';
import { FlashStorage } from '../../hardware/sim/flash-storage';

export function nodeFlash(storage: FlashStorage): FlashStore {
  return {
    readText: (name) => storage.read(name),
    readBytes(name, offset, length) {
      const file = storage.readBytes(name);
      if (!file || offset + length > file.length) return undefined;
      return file.subarray(offset, offset + length);
    },
    size: (name) => storage.readBytes(name)?.length ?? -1,
    create: (name, data, totalSize) => {
      storage.write(name, data, 0, totalSize);
    },
    writeAt: (name, data, offset) => {
      storage.write(name, data, offset);
    },
    writeText: (name, text) => {
      storage.write(name, text);
    },
    erase: (name) => storage.erase(name),
    list: (prefix) => storage.list().filter((name) => name.startsWith(prefix)),
    freeBytes: (need) => {
      if (need && storage.getFree() < need) storage.compact();
      return storage.getFree();
    },
  };
}

export const nodeCrypto: Crypto = {
  sha256: (data) => new Uint8Array(crypto.createHash('sha256').update(data).digest()),
  crc32: (data) => zlib.crc32(data),
};
