// The few Espruino globals and built-in modules the firmware touches, typed by hand:
// @types/espruino lacks Storage, crypto, the ESP32 class, process, E.enableWatchdog and require,
// and types setWatch loosely (see ../shared/ESPRUINO.md). Only firmware/src/espruino/ may use them.

interface EspruinoSpi {
  setup(options: { sck: number; miso: number; mosi: number; baud: number; mode?: number }): void;
  /** With a Uint8Array in, a Uint8Array comes back. `chipSelect` is toggled in software. */
  send(data: Uint8Array, chipSelect?: number): Uint8Array;
}

interface EspruinoWatchEvent {
  state: boolean;
  /** Seconds, as getTime() counts. */
  time: number;
  lastTime: number;
}

interface EspruinoStorage {
  read(name: string, offset?: number, length?: number): string | undefined;
  readArrayBuffer(name: string): ArrayBuffer | undefined;
  readJSON(name: string, noExceptions: boolean): unknown;
  write(name: string, data: string, offset?: number, size?: number): boolean;
  erase(name: string): void;
  list(pattern?: RegExp): string[];
  getFree(): number;
  compact(): void;
}

interface EspruinoSocket {
  write(data: string): void;
  end(): void;
  on(event: 'data', callback: (data: string) => void): void;
  on(event: 'close' | 'end', callback: () => void): void;
  on(event: 'error', callback: (error: unknown) => void): void;
}

interface EspruinoNet {
  connect(options: { host: string; port: number }, onConnect: () => void): EspruinoSocket;
}

interface EspruinoWifi {
  connect(ssid: string, options: { password: string }, callback: (error: unknown) => void): void;
  getStatus(): { station?: string };
  getIP(): { ip?: string; mac: string };
  on(event: 'connected' | 'disconnected', callback: () => void): void;
}

interface EspruinoCrypto {
  SHA256(data: Uint8Array | string): ArrayBuffer;
}

declare const SPI1: EspruinoSpi;
declare const SPI2: EspruinoSpi;
declare function digitalWrite(pin: number, value: number | boolean): void;
declare function digitalRead(pin: number): number;
declare function pinMode(pin: number, mode: string): void;
declare function setWatch(
  callback: (event: EspruinoWatchEvent) => void,
  pin: number,
  options: { edge: string; debounce: number; repeat: boolean },
): number;
declare function clearWatch(watchId: number): void;
/** Seconds since boot (or since 1970 once setTime was called; the firmware never calls it). */
declare function getTime(): number;
declare function setTimeout(callback: () => void, delayMs: number): number;
declare function clearTimeout(timerId: number): void;
declare function setInterval(callback: () => void, periodMs: number): number;
declare function clearInterval(timerId: number): void;
declare function require(name: 'Storage'): EspruinoStorage;
declare function require(name: 'net'): EspruinoNet;
declare function require(name: 'Wifi'): EspruinoWifi;
declare function require(name: 'crypto'): EspruinoCrypto;
declare function require(name: 'ESP32'): { reboot(): void };
declare function require(name: 'tls'): { connect(options: { host: string; port: number; ca: string }, onConnect: () => void): EspruinoSocket };
/** Base64 to a binary string (one character per byte). */
declare function atob(base64: string): string;
declare const E: {
  toString(data: Uint8Array): string;
  toUint8Array(data: string): Uint8Array;
  /** A view of the string's bytes, not a copy (a string from Storage.read stays in flash). */
  toArrayBuffer(data: string): ArrayBuffer;
  CRC32(data: Uint8Array | string): number;
  enableWatchdog(timeoutSec: number, isAuto: boolean): void;
  kickWatchdog(): void;
  getSizeOf(value: unknown): number;
  /** On the ESP32 in 2v29: Espruino's unseeded rand(), not the hardware generator. */
  hwRand(): number;
};
declare const process: { memory(): { usage: number; total: number; free: number }; env: { VERSION: string; BOARD?: string } };
/** Reads a 32-bit word of the chip's address space (only a register the board documents). */
declare function peek32(address: number): number;
declare const console: { log(...values: unknown[]): void };
