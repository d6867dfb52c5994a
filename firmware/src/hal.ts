// The hardware the station logic may touch, as small interfaces. The station never calls an
// Espruino global directly: firmware/src/espruino/ maps these onto Espruino's APIs on the board,
// and the simulator (hardware/sim/) provides the same Espruino globals in Node, so the very same
// bundle runs in both places. Tests of single modules can hand them fakes of these interfaces.

/** A GPIO number as the ESP32 names it (Espruino accepts plain integers for pins). */
export type PinNumber = number;

/**
 * SPI bus with software chip select: CS is held low for the whole transfer. The shape of Espruino's
 * own SPI.send, so on the board the bus is the SPI object itself: no JavaScript between a driver and
 * the native call (a reader's tap is about 25 transfers).
 */
export interface SpiBus {
  /** Full-duplex transfer: returns as many bytes as were sent. Blocks until done. */
  send(data: Uint8Array, chipSelect: PinNumber): Uint8Array;
}

export type Edge = 'rising' | 'falling' | 'both';

export interface WatchOptions {
  edge: Edge;
  debounceMs: number;
}

/** Digital pins. `watch` is interrupt-driven on the board (Espruino's setWatch). */
export interface Gpio {
  write(pin: PinNumber, high: boolean): void;
  read(pin: PinNumber): boolean;
  /** Calls back from the main loop after each (debounced) edge; `timeMs` is when the edge happened. */
  watch(pin: PinNumber, options: WatchOptions, callback: (high: boolean, timeMs: number) => void): number;
  unwatch(watchId: number): void;
}

/** Milliseconds since boot and timers. */
export interface Clock {
  nowMs(): number;
  setTimeout(callback: () => void, delayMs: number): number;
  clearTimeout(timerId: number): void;
  setInterval(callback: () => void, periodMs: number): number;
  clearInterval(timerId: number): void;
}

/**
 * Flash storage with the semantics of Espruino's Storage on the ESP32: a file is created with a
 * fixed size by writing at offset 0; later writes fill in bytes at an offset; bytes are written once
 * (erased flash reads 0xFF). Reading a region does not copy the file into RAM.
 */
export interface FlashStore {
  /** Whole file as a string, or undefined if absent. */
  readText(name: string): string | undefined;
  /** `length` bytes from `offset`, or undefined if the file is absent or too short. */
  readBytes(name: string, offset: number, length: number): Uint8Array | undefined;
  /** Size of the file in bytes, or -1 if absent. */
  size(name: string): number;
  /** Create (or replace) `name` with `totalSize` bytes, `data` at its start, the rest erased. */
  create(name: string, data: Uint8Array | string, totalSize: number): void;
  /** Fill in bytes of an existing file at `offset` (> 0 or into the erased tail). */
  writeAt(name: string, data: Uint8Array, offset: number): void;
  writeText(name: string, text: string): void;
  erase(name: string): void;
  list(prefix: string): string[];
  /**
   * Bytes free after the last file. With `need`: when fewer, Storage is compacted first (erased files
   * are trash until then; a compaction blocks the interpreter and moves files, so only between transfers).
   */
  freeBytes(need?: number): number;
}

/** A TCP connection; data is bytes on this side of the interface (the adapter converts). */
export interface TcpConnection {
  write(data: Uint8Array): void;
  end(): void;
}

export interface TcpHandlers {
  onConnect(): void;
  onData(data: Uint8Array): void;
  onClose(): void;
  onError(message: string): void;
}

export interface TlsOptions {
  /** The one CA certificate (PEM) the broker's certificate must chain to. */
  ca: string;
}

export interface Network {
  /** True while Wi-Fi (or the simulated link) is up. */
  isUp(): boolean;
  /**
   * Never throws: a failure to connect is reported through `onError` then `onClose`. With `tls`,
   * the connection is TLS and the server's certificate must chain to the pinned CA.
   */
  connect(host: string, port: number, handlers: TcpHandlers, tls: TlsOptions | null): TcpConnection;
}

export interface Crypto {
  sha256(data: Uint8Array): Uint8Array;
  /** CRC-32 (IEEE 802.3), as E.CRC32 computes it natively. */
  crc32(data: Uint8Array): number;
}

/** Watchdog, reboot and memory figures. */
export interface System {
  enableWatchdog(timeoutSec: number): void;
  kickWatchdog(): void;
  /** Variables in use and in total (Espruino's process.memory()), for status reports. */
  memory(): { used: number; total: number };
  log(message: string): void;
  /** Restarts the board (after a new configuration was written). */
  restart(): void;
  /**
   * A 31-bit number from 1 for a one-off identity (the board identity, drawn once per formatted
   * Storage): as unpredictable as the board can make it, never 0.
   */
  randomId(): number;
}

export interface Hardware {
  spi: SpiBus;
  gpio: Gpio;
  clock: Clock;
  flash: FlashStore;
  network: Network;
  crypto: Crypto;
  system: System;
}
