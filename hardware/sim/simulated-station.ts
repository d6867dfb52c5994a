// One locker station with simulated hardware, running the real firmware: the bundle is installed
// into the simulated flash as `.bootcde` (what `npm run flash` writes on a board) and run from
// there at every boot, inside an Espruino-like VM context. Around it sit an MFRC522 register model
// on the SPI bus, solenoid locks and door reed switches on the pins in the station's configuration,
// flash backed by a file, Wi-Fi, and real TCP sockets.
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { Board } from './board';
import { EspruinoEnvironment, type SpiDevice } from './espruino-env';
import { FlashStorage, bytesToBinary } from './flash-storage';
import { ExpanderWiring, LockerBankModel, gpioWiring, type LockerWiring } from './locker-bank-model';
import { Iso14443aCard, Mfrc522Model, type Mfrc522ModelOptions } from './mfrc522-model';

export const BOOT_CODE_FILE = '.bootcde';
export const CONFIG_FILE = 'handover.json';
const BOOT_STEP_FILES = ['.boot0', '.boot1', '.boot2', '.boot3'];

export interface SimulatedStationOptions {
  /** File that keeps the simulated flash between runs; null keeps it in memory only. */
  flashFile: string | null;
  log?: (line: string) => void;
  /** Contact bounce of the door switches, ms (0 for none). */
  doorBounceMs?: number;
  /** The board's Wi-Fi MAC address; a random one when not given (each board its own). */
  mac?: string;
  /**
   * The firmware's clock (getTime, its timers) runs this many times faster than real time, for
   * tests of waits that last minutes (default 1). The reader, lock and door models keep real time:
   * no taps while it is above 1.
   */
  timeScale?: number;
}

interface WiringConfig {
  station: string;
  lockers: number;
  io?: 'gpio' | 'expander';
  pins: { rfidCs: number; rfidIrq: number; rfidReset: number; locks: number[]; doors: number[]; expanderCs?: number; expanderInt?: number };
}

export class SimulatedStation extends EventEmitter {
  readonly storage: FlashStorage;
  board!: Board;
  reader!: Mfrc522Model;
  lockers!: LockerBankModel;
  /** The expander board, when the station is wired through one. */
  expanders: ExpanderWiring | null = null;
  env!: EspruinoEnvironment;
  readonly logLines: string[] = [];
  boots = 0;
  running = false;
  /** Options of the reader model created at each boot (chip version, self-test outcome, SPI probe). */
  readerOptions: Pick<Mfrc522ModelOptions, 'version' | 'selfTest' | 'onTransfer'> = {};
  private options: SimulatedStationOptions;
  private cardsInField = new Map<string, Iso14443aCard>();
  /** The board's Wi-Fi MAC address (another SimulatedStation is another board). */
  readonly mac: string;

  constructor(options: SimulatedStationOptions) {
    super();
    this.options = options;
    this.mac = options.mac ?? [...crypto.randomBytes(6)].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
    this.storage = new FlashStorage(options.flashFile);
    this.storage.onPowerCut = () => this.reset('power cut');
  }

  /** Writes the firmware bundle into flash, as the espruino CLI's SAVE_ON_SEND does. */
  installFirmware(bundlePath: string): void {
    this.storage.write(BOOT_CODE_FILE, fs.readFileSync(bundlePath, 'latin1'));
  }

  writeConfig(config: object): void {
    this.storage.write(CONFIG_FILE, JSON.stringify(config));
  }

  writeFile(name: string, bytes: Uint8Array): void {
    this.storage.write(name, bytesToBinary(bytes));
  }

  private log(line: string): void {
    this.logLines.push(line);
    if (this.logLines.length > 2000) this.logLines.shift();
    this.options.log?.(line);
    this.emit('log', line);
  }

  boot(): void {
    if (this.running) throw new Error('station is already running');
    if (this.storage.read(BOOT_CODE_FILE) === undefined) throw new Error(`no ${BOOT_CODE_FILE} in flash: install the firmware first`);
    const wiring = this.storage.readJSON(CONFIG_FILE, true) as WiringConfig | undefined;
    if (!wiring?.pins) throw new Error(`no ${CONFIG_FILE} in flash: write the station configuration first`);
    const bootTimeMs = Date.now();
    const timeScale = this.options.timeScale ?? 1;
    this.board = new Board(() => ((Date.now() - bootTimeMs) * timeScale) / 1000);
    this.reader = new Mfrc522Model({
      ...this.readerOptions,
      schedule: (callback, delayMs) => setTimeout(callback, delayMs),
      onIrq: (level) => {
        this.board.drive(wiring.pins.rfidIrq, level);
        if (!level) this.emit('irq');
      },
    });
    this.board.onOutput(wiring.pins.rfidReset, (high) => this.reader.setResetPin(high));
    for (const card of this.cardsInField.values()) this.reader.placeCard(card);
    const spiDevices = new Map<number, SpiDevice>([[wiring.pins.rfidCs, this.reader]]);
    let lockerWiring: LockerWiring;
    if (wiring.io === 'expander') {
      this.expanders = new ExpanderWiring(this.board, wiring.lockers, wiring.pins.expanderInt!);
      spiDevices.set(wiring.pins.expanderCs!, this.expanders.bus);
      lockerWiring = this.expanders;
    } else {
      this.expanders = null;
      lockerWiring = gpioWiring(this.board, wiring.pins.locks, wiring.pins.doors);
    }
    this.lockers = new LockerBankModel(lockerWiring, this.options.doorBounceMs ?? 3);
    this.lockers.onUnlock((locker) => this.emit('unlock', locker));
    this.lockers.onDoor((locker, open) => this.emit('door', locker, open));
    this.env = new EspruinoEnvironment({
      board: this.board,
      storage: this.storage,
      spiDevices,
      log: (line) => this.log(line),
      onReset: (reason) => this.reset(reason),
      bootTimeMs,
      timeScale,
      mac: this.mac,
    });
    this.storage.powerOn();
    this.running = true;
    this.boots++;
    // As Espruino boots (jsfLoadBootCodeFromFlash, src/jsflash.c): .boot0 to .boot3 first, each if
    // present, then .bootcde, read only after they ran (the boot step may have replaced it).
    for (const name of BOOT_STEP_FILES) {
      const step = this.storage.read(name);
      if (step !== undefined && this.running) this.env.run(step, name);
    }
    const code = this.storage.read(BOOT_CODE_FILE);
    if (code !== undefined && this.running) this.env.run(code, BOOT_CODE_FILE);
  }

  powerOff(): void {
    if (!this.running) return;
    this.running = false;
    this.env.halt();
  }

  /** A reset (watchdog, power cut): everything in RAM is gone; flash stays. */
  reset(reason: string): void {
    this.log(`-- reset: ${reason}`);
    this.powerOff();
    setImmediate(() => this.boot());
  }

  /** A badge enters the reader's field. `uid` in hex (4, 7 or 10 bytes). */
  placeCard(uidHex: string): void {
    const card = new Iso14443aCard(new Uint8Array(Buffer.from(uidHex, 'hex')));
    this.cardsInField.set(uidHex, card);
    if (this.running) this.reader.placeCard(card);
  }

  removeCard(uidHex: string): void {
    const card = this.cardsInField.get(uidHex);
    if (!card) return;
    this.cardsInField.delete(uidHex);
    if (this.running) this.reader.removeCard(card);
  }

  /** Resolves with the locker whose lock is energised next, or null after `timeoutMs`. */
  waitForUnlock(timeoutMs: number): Promise<number | null> {
    return this.waitFor('unlock', () => true, timeoutMs);
  }

  /** Resolves with the next locker whose door opens (or closes), or null after `timeoutMs`. */
  waitForDoor(open: boolean, timeoutMs: number): Promise<number | null> {
    return this.waitFor('door', (_locker: number, isOpen: boolean) => isOpen === open, timeoutMs);
  }

  private waitFor(event: string, accept: (locker: number, value: boolean) => boolean, timeoutMs: number): Promise<number | null> {
    return new Promise((resolve) => {
      const listener = (locker: number, value: boolean) => {
        if (!accept(locker, value)) return;
        clearTimeout(timer);
        this.off(event, listener);
        resolve(locker);
      };
      const timer = setTimeout(() => {
        this.off(event, listener);
        resolve(null);
      }, timeoutMs);
      this.on(event, listener);
    });
  }
}
