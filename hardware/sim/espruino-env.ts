// Espruino's globals, provided in a Node VM context so the built dist/firmware.js runs unchanged:
// SPI1/SPI2, digitalWrite/digitalRead/setWatch, timers with integer ids, getTime, E, process,
// and require() of the built-in modules Storage, Wifi, net and crypto. Node-only built-ins that
// Espruino lacks (Map, Set, Symbol, Array.from, ...) are removed from the context, so firmware that
// leans on them fails here as it would on the board, typed-array views refuse a byteOffset past
// 65,535 as Espruino's do, and a typed array's slice() and filter() return plain Arrays as there. A firmware error inside a callback is
// printed and the loop goes on, as Espruino does; it never escapes into the Node process.
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import vm from 'node:vm';
import { Board } from './board';
import { FlashStorage, bytesToBinary, toBytes, PowerCut } from './flash-storage';

/**
 * E.hwRand() as the ESP32 build of Espruino 2v29 has it: jshGetRandomNumber() is rand() there
 * (targets/esp32/jshardware.c), Espruino's own multiply-with-carry generator (src/jsutils.c) with
 * its fixed seeds, never reseeded: every board draws the same numbers after power-on.
 */
/** The ESP32's random number register (ESP-IDF's WDEV_RND_REG): true random while the radio runs. */
const ESP32_RNG_REGISTER = 0x3ff75144;

export function espruinoRand(): () => number {
  let w = 0xdeadbeef;
  let z = 0xcafebabe;
  return () => {
    z = (36969 * (z & 65535) + (z >>> 16)) >>> 0;
    w = (18000 * (w & 65535) + (w >>> 16)) >>> 0;
    // RAND_MAX is 0x7fffffff with newlib.
    return (((z << 16) + w) >>> 0) & 0x7fffffff;
  };
}

export interface SpiDevice {
  transfer(data: Uint8Array): Uint8Array;
}

export interface EnvironmentOptions {
  board: Board;
  storage: FlashStorage;
  /** SPI devices by chip-select pin. */
  spiDevices: Map<number, SpiDevice>;
  log: (line: string) => void;
  /** Called when the firmware's watchdog was not kicked in time, or flash lost power mid-write. */
  onReset: (reason: string) => void;
  bootTimeMs: number;
  /** The board's clock (getTime, timers) runs this many times faster than real time (default 1). */
  timeScale?: number;
  /** The board's Wi-Fi MAC address (unique to each chip), as Wifi.getIP() reports it. */
  mac?: string;
}

export interface SpiStats {
  transfers: number;
  bytes: number;
}

const MISSING_IN_ESPRUINO = `
  delete globalThis.Map; delete globalThis.Set; delete globalThis.WeakMap; delete globalThis.WeakSet;
  delete globalThis.Symbol; delete globalThis.Proxy; delete globalThis.Reflect;
  delete Array.from; delete Array.prototype.lastIndexOf; delete Math.imul; delete Number.isInteger;
  delete Object.freeze; delete Promise.prototype.finally; delete Promise.race; delete Promise.allSettled;
  delete Promise.any;
`;

// Espruino keeps a typed array's byteOffset in 16 bits: jswrap_typedarray_constructor
// (src/jswrap_arraybuffer.c, 2v29) starts with
//   if (byteOffset < 0 || byteOffset > 65535) { jsExceptionHere(JSET_ERROR, "byteOffset too large (or negative)"); return 0; }
// for every typed-array class and whatever the first argument is. `subarray` builds its result with
// that constructor at parent.byteOffset + begin * element size, and DataView's get and set methods
// build a one-element view at view.byteOffset + offset, so they throw the same past byte 65,535. Node
// has no such limit, so the context's constructors and those methods check it. Integer parameters
// convert as jsvGetInteger does (undefined, NaN and non-numbers 0, truncated to 32 bits).
const ESPRUINO_TYPED_ARRAY_LIMITS = `
(function () {
  var construct = Reflect.construct;
  function toInt(value) { return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string' ? Number(value) | 0 : 0; }
  function check(byteOffset) {
    if (byteOffset < 0 || byteOffset > 65535) throw new Error('byteOffset too large (or negative)');
  }
  ['Uint8Array', 'Uint8ClampedArray', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array'].forEach(function (name) {
    var Native = globalThis[name];
    globalThis[name] = new Proxy(Native, {
      construct: function (target, args, newTarget) {
        check(toInt(args[1]));
        return construct(target, args, newTarget);
      },
    });
  });
  var typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
  var nativeSubarray = typedArrayPrototype.subarray;
  Object.defineProperty(typedArrayPrototype, 'subarray', {
    configurable: true, writable: true, enumerable: false,
    value: function subarray(begin, end) {
      var length = this.length;
      var from = toInt(begin);
      var to = typeof end === 'number' || typeof end === 'boolean' ? toInt(end) : length;
      if (from < 0) from += length;
      if (to < 0) to += length;
      if (to < 0) to = 0;
      if (from > to) from = to = 0;
      if (from !== to) check(this.byteOffset + from * this.BYTES_PER_ELEMENT);
      return nativeSubarray.call(this, begin, end);
    },
  });
  // A typed array's slice() and filter() return a plain Array on Espruino 2v29 (checked on the
  // interpreter: Array.isArray(new Uint8Array([1, 2, 3]).slice(1)) is true; map() keeps the type).
  ['slice', 'filter'].forEach(function (key) {
    var method = typedArrayPrototype[key];
    Object.defineProperty(typedArrayPrototype, key, {
      configurable: true, writable: true, enumerable: false,
      value: function () {
        return Array.prototype.slice.call(method.apply(this, arguments));
      },
    });
  });
  Object.getOwnPropertyNames(DataView.prototype).forEach(function (key) {
    if (!/^(get|set)(Int|Uint|Float)/.test(key)) return;
    var method = DataView.prototype[key];
    Object.defineProperty(DataView.prototype, key, {
      configurable: true, writable: true, enumerable: false,
      value: function (byteOffset) {
        check(toInt(byteOffset) + this.byteOffset);
        return method.apply(this, arguments);
      },
    });
  });
})();
`;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export class EspruinoEnvironment {
  readonly context: vm.Context;
  /** The context's own Uint8Array: firmware code sees its arrays as its own class. */
  private contextUint8Array!: Uint8ArrayConstructor;
  readonly spiStats: SpiStats = { transfers: 0, bytes: 0 };
  private options: EnvironmentOptions;
  private timers = new Map<number, NodeJS.Timeout>();
  private nextTimerId = 1;
  private sockets = new Set<net.Socket>();
  private watchdog: NodeJS.Timeout | null = null;
  /** The watchdog timeout the firmware armed (0: none). */
  watchdogMs = 0;
  private halted = false;
  wifiUp = true;
  /** Wifi.connect() calls the firmware made (a rejoin after a drop shows here). */
  wifiJoins = 0;
  private accessPointUp = true;
  /** Wall time spent inside firmware code, ms, and how many times it was entered: for benchmarks. */
  firmwareMs = 0;
  firmwareCalls = 0;
  /** The longest single entry into firmware code (one event-loop turn), ms: what a tap could wait. */
  longestCallMs = 0;
  /** The most bytes one E.CRC32 call was given. */
  largestCrcBytes = 0;
  private wifiListeners: Record<string, Array<() => void>> = {};
  errors: string[] = [];

  constructor(options: EnvironmentOptions) {
    this.options = options;
    options.board.invoke = (callback) => this.invoke(callback);
    this.context = vm.createContext(this.globals());
    vm.runInContext(ESPRUINO_TYPED_ARRAY_LIMITS, this.context);
    vm.runInContext(MISSING_IN_ESPRUINO, this.context);
    this.contextUint8Array = vm.runInContext('Uint8Array', this.context);
  }

  private nowSec(): number {
    return ((Date.now() - this.options.bootTimeMs) * (this.options.timeScale ?? 1)) / 1000;
  }

  /** Runs firmware code from the event loop; errors are printed the way Espruino prints them. */
  invoke(callback: () => void): void {
    if (this.halted) return;
    const started = performance.now();
    this.firmwareCalls++;
    try {
      callback();
    } catch (error) {
      // The station already halted when power went; the error only unwinds the firmware's stack.
      if (error instanceof PowerCut) return;
      const text = 'Uncaught ' + (error instanceof Error || (error && (error as Error).message) ? (error as Error).message + '\n' + (error as Error).stack : String(error));
      this.errors.push(text);
      this.options.log(text);
    } finally {
      const took = performance.now() - started;
      this.firmwareMs += took;
      if (took > this.longestCallMs) this.longestCallMs = took;
    }
  }

  run(source: string, filename: string): void {
    // Through indirect eval: its top-level functions and vars become deletable globals, as they are
    // on Espruino, so a firmware that lets a boot-only function go and later calls it fails here too.
    const holder = this.context as { __handoverSource?: string };
    holder.__handoverSource = source + '\n//# sourceURL=' + filename;
    try {
      this.invoke(() => vm.runInContext('(0, eval)(globalThis.__handoverSource)', this.context, { filename: 'bootstrap' }));
    } finally {
      delete holder.__handoverSource;
    }
  }

  /** Stops every timer, watch and socket: the board loses power. */
  halt(): void {
    this.halted = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (this.watchdog) clearTimeout(this.watchdog);
    this.options.board.clearWatch();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** The firmware's main loop hangs: none of its timers run any more (the watchdog still does). */
  freezeFirmwareTimers(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /**
   * The school's access point goes down or comes back. Down: the board is off the network and its
   * sockets close. Back: a board whose firmware joins by Wifi.connect() is on the network only once
   * it joins again (as on the ESP32); a firmware that never joined (no Wi-Fi in its configuration)
   * is back at once.
   */
  setWifi(up: boolean): void {
    if (this.accessPointUp === up) return;
    this.accessPointUp = up;
    if (up && this.wifiJoins > 0) return;
    this.wifiUp = up;
    if (!up) for (const socket of this.sockets) socket.destroy();
    for (const listener of this.wifiListeners[up ? 'connected' : 'disconnected'] ?? []) this.invoke(listener);
  }

  private spi() {
    const env = this;
    return {
      setup() {},
      send(data: unknown, chipSelect?: number) {
        const bytes = typeof data === 'number' ? Uint8Array.of(data) : toBytes(data);
        const device = chipSelect === undefined ? undefined : env.options.spiDevices.get(chipSelect);
        env.spiStats.transfers++;
        env.spiStats.bytes += bytes.length;
        const reply = device ? device.transfer(bytes) : new Uint8Array(bytes.length).fill(0xff);
        if (typeof data === 'string') return bytesToBinary(reply);
        if (typeof data === 'number') return reply[0];
        return new env.contextUint8Array(reply);
      },
    };
  }

  private timer(repeat: boolean) {
    return (callback: () => void, delayMs?: number) => {
      const id = this.nextTimerId++;
      const run = () => {
        if (!repeat) this.timers.delete(id);
        this.invoke(callback);
      };
      const realMs = (delayMs ?? 0) / (this.options.timeScale ?? 1);
      const handle = repeat ? setInterval(run, Math.max(1, realMs)) : setTimeout(run, realMs);
      this.timers.set(id, handle);
      return id;
    };
  }

  private clearTimer(id: number): void {
    const handle = this.timers.get(id);
    if (handle) clearTimeout(handle);
    this.timers.delete(id);
  }

  /** A socket with Espruino's API (binary strings, events by name) over a Node socket. */
  private espruinoSocket(open: (onConnect: () => void) => net.Socket) {
    const env = this;
    const handlers: Record<string, Array<(value?: unknown) => void>> = {};
    const emit = (event: string, value?: unknown) => {
      for (const handler of handlers[event] ?? []) env.invoke(() => handler(value));
    };
    let socket: net.Socket;
    let connectCallback: () => void = () => {};
    if (!env.wifiUp) {
      socket = new net.Socket();
      setImmediate(() => {
        emit('error', 'no network');
        emit('close');
      });
    } else {
      socket = open(() => env.invoke(connectCallback));
    }
    env.sockets.add(socket);
    socket.on('data', (chunk: Buffer) => emit('data', chunk.toString('latin1')));
    socket.on('error', (error: Error) => emit('error', error.message));
    socket.on('close', () => {
      env.sockets.delete(socket);
      emit('close');
    });
    return {
      setConnectCallback(callback: () => void) {
        connectCallback = callback;
      },
      api: {
        // Espruino's socket.write takes a string; anything else is sent as its String() text.
        write(data: unknown) {
          if (!socket.destroyed) socket.write(Buffer.from(typeof data === 'string' ? data : String(data), 'latin1'));
        },
        end() {
          socket.end();
        },
        on(event: string, handler: (value?: unknown) => void) {
          (handlers[event] ??= []).push(handler);
        },
      },
    };
  }

  private netModule() {
    return {
      connect: (options: { host: string; port: number }, onConnect: () => void) => {
        const made = this.espruinoSocket((connected) => net.connect(options.port, options.host, connected));
        made.setConnectCallback(onConnect);
        return made.api;
      },
    };
  }

  /**
   * Espruino's tls module: the server's certificate must chain to the `ca` given. Its mbedTLS is
   * built without PEM parsing, so like the board this takes the CA as DER (a binary string) and
   * refuses PEM text with the interpreter's own error.
   */
  private tlsModule() {
    return {
      connect: (options: { host: string; port: number; ca?: string }, onConnect: () => void) => {
        let ca: string | undefined;
        if (options.ca !== undefined) {
          if (options.ca.includes('-----BEGIN')) throw new Error("InternalError: HTTPS init failed! mbedtls_x509_crt_parse of 'ca': Invalid format");
          const body = Buffer.from(options.ca, 'latin1').toString('base64').replace(/.{1,64}/g, '$&\n');
          ca = `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
        }
        const made = this.espruinoSocket((connected) => tls.connect({ host: options.host, port: options.port, ca, rejectUnauthorized: true }, connected));
        made.setConnectCallback(onConnect);
        return made.api;
      },
    };
  }

  private wifiModule() {
    const env = this;
    return {
      connect(_ssid: string, _options: unknown, callback: (error: unknown) => void) {
        env.wifiJoins++;
        setImmediate(() => {
          const joined = env.accessPointUp;
          if (joined && !env.wifiUp) {
            env.wifiUp = true;
            for (const listener of env.wifiListeners.connected ?? []) env.invoke(listener);
          }
          env.invoke(() => callback(joined ? null : 'no access point'));
        });
      },
      getStatus() {
        return { station: env.wifiUp ? 'connected' : 'off' };
      },
      getIP() {
        return { ip: env.wifiUp ? '10.0.0.2' : '0.0.0.0', mac: env.options.mac ?? '24:0a:c4:00:00:01' };
      },
      on(event: string, handler: () => void) {
        (env.wifiListeners[event] ??= []).push(handler);
      },
    };
  }

  private cryptoModule() {
    return {
      SHA256(data: unknown) {
        const digest = crypto.createHash('sha256').update(toBytes(data)).digest();
        return new Uint8Array(digest).buffer;
      },
    };
  }

  private globals(): Record<string, unknown> {
    const env = this;
    const board = this.options.board;
    const storage = this.options.storage;
    const modules: Record<string, unknown> = {
      Storage: storage,
      net: this.netModule(),
      tls: this.tlsModule(),
      Wifi: this.wifiModule(),
      crypto: this.cryptoModule(),
      ESP32: { reboot: () => setImmediate(() => this.options.onReset('reboot')) },
    };
    return {
      console: { log: (...values: unknown[]) => this.options.log(values.map(String).join(' ')) },
      SPI1: this.spi(),
      SPI2: this.spi(),
      digitalWrite: (pin: number, value: unknown) => board.write(pin, Boolean(value)),
      digitalRead: (pin: number) => (board.read(pin) ? 1 : 0),
      pinMode: () => {},
      setWatch: (callback: (event: unknown) => void, pin: number, options: { edge?: string; debounce?: number; repeat?: boolean }) =>
        board.setWatch(callback, pin, options ?? {}),
      clearWatch: (id?: number) => board.clearWatch(id),
      getTime: () => this.nowSec(),
      atob: (base64: string) => Buffer.from(base64, 'base64').toString('latin1'),
      setTimeout: this.timer(false),
      setInterval: this.timer(true),
      clearTimeout: (id: number) => this.clearTimer(id),
      clearInterval: (id: number) => this.clearTimer(id),
      require: (name: string) => {
        if (!(name in modules)) throw new Error('Module ' + name + ' not found');
        return modules[name];
      },
      E: {
        toString: (data: unknown) => bytesToBinary(toBytes(data)),
        toUint8Array: (data: unknown) => new env.contextUint8Array(toBytes(data)),
        toArrayBuffer: (data: unknown) => new env.contextUint8Array(toBytes(data)).buffer,
        CRC32: (data: unknown) => {
          // On 2v29 E.CRC32 walks its argument a byte at a time (src/jswrap_espruino.c): the bytes it is given are what it costs.
          const bytes = toBytes(data);
          if (bytes.length > env.largestCrcBytes) env.largestCrcBytes = bytes.length;
          return crc32(bytes);
        },
        enableWatchdog: (timeoutSec: number) => {
          this.watchdogMs = timeoutSec * 1000;
          this.kickWatchdog();
        },
        kickWatchdog: () => this.kickWatchdog(),
        getSizeOf: () => 0,
        hwRand: espruinoRand(),
      },
      // Variable counts exist only on the real interpreter: the simulator reports none rather than a guess.
      // The board the bundle believes it runs on: an ESP32, with its random number register.
      process: { memory: () => ({ usage: 0, total: 0, free: 0 }), env: { VERSION: 'sim', BOARD: 'ESP32' } },
      peek32: (address: number) => {
        if (address !== ESP32_RNG_REGISTER) throw new Error('peek32: the simulated board has no register at 0x' + address.toString(16));
        return crypto.randomBytes(4).readUInt32LE(0);
      },
    };
  }

  private kickWatchdog(): void {
    if (this.watchdogMs <= 0 || this.halted) return;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.options.onReset('watchdog'), this.watchdogMs);
  }
}
