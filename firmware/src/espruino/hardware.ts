// The hal.ts interfaces on Espruino's own APIs. This is the only module that touches the board.
import type { FlashStore, Hardware, TcpConnection, TcpHandlers, TlsOptions, WatchOptions } from '../hal';

/** The ESP32's random number register (ESP-IDF's WDEV_RND_REG), read by esp_random(). */
const ESP32_RNG_REGISTER = 0x3ff75144;

export interface BusPins {
  sck: number;
  miso: number;
  mosi: number;
  /** The MFRC522 takes up to 10 MHz; Espruino's default of 100 kHz would make every tap slow. */
  baud: number;
}

export function espruinoFlash(): FlashStore {
  const storage = require('Storage');
  // Finding a file by name walks Storage's file headers (on the host build about 0.3 ms a time): a
  // badge lookup reads 4 to 5 records of one file, the journal's replay many of another. The last
  // file mapped is kept, and forgotten before every write that can create, erase or move a file (a
  // new file may compact Storage; this adapter is the firmware's only writer). A write at an offset
  // fills in bytes of an existing file where it lies (Espruino's jsfWriteFile): the mapping stays.
  // The last two files are kept: a tap's lookup in the badge list comes between the uplink's reads
  // of the journal (it sends each tap's event), and would otherwise find the list forgotten each time.
  let mappedName = '';
  let mapped: ArrayBuffer | undefined;
  let olderName = '';
  let older: ArrayBuffer | undefined;
  const map = (name: string) => {
    if (name !== mappedName || !mapped) {
      const found = name === olderName && older ? older : storage.readArrayBuffer(name);
      olderName = mappedName;
      older = mapped;
      mapped = found;
      mappedName = found ? name : '';
    }
    return mapped;
  };
  return {
    readText(name) {
      return storage.read(name);
    },
    readBytes(name, offset, length) {
      // readArrayBuffer maps the file in flash: the view costs no variables for its bytes.
      const buffer = map(name);
      if (!buffer || offset + length > buffer.byteLength) return undefined;
      if (offset <= 65535) return new Uint8Array(buffer, offset, length);
      // Espruino's typed-array constructor (and subarray) refuses a byteOffset above 65,535 ("byteOffset
      // too large"): a 5,000-badge list is 80,016 bytes, so such records are read as a string range
      // of flash, viewed (not copied) as an ArrayBuffer. E.toUint8Array would copy it a byte at a time:
      // on the host build 1.2 against 0.19 ms for a 16-byte record, 6.6 against 1.6 ms for a 1 KB chunk.
      return new Uint8Array(E.toArrayBuffer(storage.read(name, offset, length) as string));
    },
    size(name) {
      const buffer = map(name);
      return buffer ? buffer.byteLength : -1;
    },
    create(name, data, totalSize) {
      mapped = older = undefined;
      storage.write(name, typeof data === 'string' ? data : E.toString(data), 0, totalSize);
    },
    writeAt(name, data, offset) {
      storage.write(name, E.toString(data), offset);
    },
    writeText(name, text) {
      mapped = older = undefined;
      storage.write(name, text);
    },
    erase(name) {
      mapped = older = undefined;
      storage.erase(name);
    },
    list(prefix) {
      return storage.list().filter((name) => name.indexOf(prefix) === 0);
    },
    freeBytes(need) {
      if (need && storage.getFree() < need) {
        mapped = older = undefined;
        storage.compact();
      }
      return storage.getFree();
    },
  };
}

// One function builds every adapter but the flash (read before the configuration): on the interpreter
// each function kept for good costs about five variables, so the adapters are not a function each.
export function espruinoHardware(bus: BusPins, flash: FlashStore): Hardware {
  SPI2.setup({ sck: bus.sck, miso: bus.miso, mosi: bus.mosi, baud: bus.baud, mode: 0 });
  const bootSec = getTime();
  const net = require('net');
  const wifi = require('Wifi');
  const crypto = require('crypto');
  return {
    spi: SPI2,
    gpio: {
      write(pin: number, high: boolean) {
        digitalWrite(pin, high ? 1 : 0);
      },
      read(pin: number) {
        return digitalRead(pin) === 1;
      },
      watch(pin: number, options: WatchOptions, callback: (high: boolean, timeMs: number) => void) {
        return setWatch((event) => callback(event.state, event.time * 1000), pin, {
          edge: options.edge,
          debounce: options.debounceMs,
          repeat: true,
        });
      },
      unwatch: clearWatch,
    },
    clock: {
      nowMs: () => Math.floor((getTime() - bootSec) * 1000),
      // The interpreter's own functions, not wrappers: every function kept for good costs variables.
      setTimeout,
      clearTimeout,
      setInterval,
      clearInterval,
    },
    flash,
    network: {
      isUp() {
        return wifi.getStatus().station === 'connected';
      },
      connect(host: string, port: number, handlers: TcpHandlers, tls: TlsOptions | null): TcpConnection {
        let socket: EspruinoSocket | undefined;
        let closed = false;
        const close = () => {
          if (closed) return;
          closed = true;
          handlers.onClose();
        };
        try {
          // TLS needs over 32 KB of native heap: on a busy board it fails with "Not enough memory",
          // which reaches onError like any other connection failure.
          // Espruino's mbedTLS is built without PEM parsing (no MBEDTLS_PEM_PARSE_C): it takes the
          // CA as DER bytes, so the PEM's base64 body is decoded here, at each connection.
          socket = tls
            ? require('tls').connect({ host, port, ca: atob(tls.ca.replace(/-----[^-]+-----|\s/g, '')) }, () => handlers.onConnect())
            : net.connect({ host, port }, () => handlers.onConnect());
          // Sockets carry binary strings on Espruino, never byte arrays.
          socket.on('data', (data) => handlers.onData(E.toUint8Array(data)));
          socket.on('close', close);
          socket.on('error', (error) => handlers.onError(String(error)));
        } catch (error) {
          // On some builds a refused connection throws here instead of emitting 'error'.
          setTimeout(() => {
            handlers.onError(String(error));
            close();
          }, 0);
        }
        return {
          write(data: Uint8Array) {
            if (socket && !closed) socket.write(E.toString(data));
          },
          end() {
            if (socket && !closed) socket.end();
          },
        };
      },
    },
    crypto: {
      sha256: (data) => new Uint8Array(crypto.SHA256(data)),
      crc32: (data) => E.CRC32(data) >>> 0,
    },
    system: {
      enableWatchdog(timeoutSec) {
        E.enableWatchdog(timeoutSec, false);
      },
      kickWatchdog: E.kickWatchdog,
      memory() {
        const memory = process.memory();
        return { used: memory.usage, total: memory.total };
      },
      log: console.log,
      restart() {
        require('ESP32').reboot();
      },
      randomId() {
        // E.hwRand() is not the ESP32's hardware generator in 2v29: jshGetRandomNumber() returns
        // Espruino's own rand() (targets/esp32/jshardware.c), seeded with constants and never
        // reseeded, so every board draws the same numbers after power-on. Mixed in: the Wi-Fi MAC
        // (unique to the chip: a swapped board differs) and the clock in microseconds at the call
        // (boot timing varies from boot to boot). The hub refuses to confirm an event that clashes
        // with a stored one of different content, should two identities still collide.
        let mac = '';
        try {
          mac = wifi.getIP().mac;
        } catch (error) {
          mac = String(error);
        }
        // On the ESP32 itself, also its hardware generator (esp_random()'s register, WDEV_RND_REG):
        // random while the radio runs, so one board erased twice draws two identities.
        let noise = '';
        if (process.env.BOARD === 'ESP32') noise = peek32(ESP32_RNG_REGISTER) + '/' + peek32(ESP32_RNG_REGISTER);
        return E.CRC32(mac + E.hwRand() + getTime() + noise) >>> 1 || 1;
      },
    },
  };
}

/** Joins the school Wi-Fi and rejoins after a drop: Espruino 2v29 does not reconnect by itself. */
export function keepWifiUp(ssid: string, password: string, log: (message: string) => void): void {
  const wifi = require('Wifi');
  let retryMs = 1000;
  const join = () => {
    wifi.connect(ssid, { password }, (error) => {
      if (error) {
        log('wifi: ' + error + ', retry in ' + retryMs + ' ms');
        setTimeout(join, retryMs);
        retryMs = Math.min(retryMs * 2, 60000);
      } else {
        retryMs = 1000;
      }
    });
  };
  wifi.on('disconnected', () => setTimeout(join, retryMs));
  join();
}
