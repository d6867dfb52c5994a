// MCP23S17 (Microchip) 16-bit SPI port expanders: the lock outputs and door inputs of banks of 8 to
// 32 lockers (lock-bank.ts LockOutputs, door-bank.ts DoorInputs).
//
// The driver is handed its SPI bus, chip-select pin, GPIO, clock and pins (hal.ts) and never touches
// an Espruino global, so the tests drive it against a register-level model of the chip
// (hardware/sim/mcp23s17-model.ts). Data sheet: Microchip DS20001952C (register descriptions 3.5,
// interrupt logic 3.6.4/3.6.5, byte and sequential mode 3.2.1).
//
// Wiring and addresses
//   Every expander sits on the reader's SPI bus (SCK, MOSI, MISO) behind ONE chip-select pin of its
//   own. IOCON.HAEN makes each chip answer only the control bytes (0100 A2 A1 A0 R/W) that carry
//   its strapped A2..A0. For N lockers, ceil(N / 16) chips drive the locks (addresses 0, 1) and
//   ceil(N / 16) read the doors (addresses 2, 3); locker i is pin i % 16 (GPA0..7 = 0..7,
//   GPB0..7 = 8..15) of chip floor(i / 16) of each kind. Addresses 4..7 (A2 = 1) are avoided: with
//   HAEN still 0 after power-on, silicon with the A2 erratum answers 1xx instead of 000, and the
//   broadcast below would miss it. Every door chip's INTA (INTB is mirrored) is wired onto one
//   ESP32 GPIO with a 10 kOhm pull-up: open-drain outputs, so the line is a wired-OR, low while any
//   door chip has an interrupt pending. Lock outputs come up as inputs at power-on:
//   keep the gate pull-downs so every coil stays off until the driver has written OLAT = 0 and only
//   then IODIR = outputs. RESET of the chips: to 3.3 V, or better to a GPIO with a 10 kOhm
//   pull-down that the board code raises before init, so that any ESP32 reset (the watchdog's too)
//   also switches off a coil that was on; this driver does not touch that pin. Suggested ESP32 pins
//   (hardware/pinmap.ts decides): chip select GPIO 27, INT GPIO 33 (input with pull-up, not a
//   strapping pin), expander RESET GPIO 25. The MCP23S17 takes SPI up to 10 MHz.
//
// Configuration
//   Every chip on this chip select gets the same IOCON: BANK = 0 (the paired register map used
//   here), MIRROR, SEQOP = 0 (sequential: one frame reads or writes a run of registers), HAEN, ODR.
//   A chip whose HAEN is 0 (after power-on or a brown-out) answers hardware address 000 only, so
//   IOCON is written first to address 0 (every unconfigured chip takes it) and then to each chip's
//   own address (a chip that kept HAEN through an ESP32 reset). Then one sequential write sets
//   IODIR..GPPU and one read of the whole register file checks it: a chip that does not answer
//   (MISO floats, 0x00 or 0xFF) or answers with another configuration is a fault, reported through
//   the fault listener and the `fault` property, never thrown.
//
// Doors
//   All 16 pins inputs with pull-ups (GPPU); interrupt-on-change (GPINTEN, INTCON = 0: against the
//   previous level) on the pins that have a locker. A switch closed to ground = door shut = 0; open
//   = 1. The INT line is watched for falling edges. An edge reads every door chip (one 12-byte frame
//   per chip: IOCON, GPPU, INTF, INTCAP, GPIO; reading INTCAP/GPIO clears the chip's interrupt and
//   IOCON/GPPU tell a live chip from a floating MISO). If some door differs from what was
//   reported, the driver waits debounceMs on the clock, reads again, and reports each door whose
//   two samples agree and differ from its reported level; doors still bouncing get another window.
//   Edges during a window are ignored (the window's closing read covers them). A round that ends
//   with the line still low (an edge lost, or one still queued) starts another round after
//   debounceMs; MAX_LOW_ROUNDS in a row report "line stuck low", and the doors are then found by
//   the periodic re-sync alone. The re-sync (every resyncMs, default 5 s) reads each door chip's
//   whole register file in one 22-byte frame: it checks the configuration (re-initialising a chip
//   that lost it), clears a stuck interrupt and catches any change whose edge was lost.
//
// SPI transfers (chip-select frames), with C chips of the kind involved (1 for <= 16 lockers, 2 for 32)
//   door change: 2 x C (edge read + read after debounceMs); + C per extra window while bouncing
//   re-sync: C per resyncMs (22 bytes each); door start: 1 + 3 x C; lock start: 4 x C
//   lock energise: 2 (a 24-byte check that the chip still holds its configuration, then OLAT);
//   lock release: 1 (OLAT); set() to the state the latch already holds: 0; check(): 1 per chip
//   At 4 MHz a 12-byte frame takes 24 us on the wire; the JavaScript around it is the cost.
//
// Espruino: no Map/Set, destructuring, spread, default parameters, optional chaining, `**`,
// async/await or labels (see shared/ESPRUINO.md). Frames are allocated once per chip.

import type { Clock, Gpio, PinNumber, SpiBus } from '../hal';
import { hex, nameAt } from '../codec/bytes';
import type { LockOutputs } from './lock-bank';
import type { DoorInputs, DoorListener } from './door-bank';

// ---------------------------------------------------------------------------------------------
// Register table, IOCON.BANK = 0: each A register at an even address, its B twin at the next.
// ---------------------------------------------------------------------------------------------
const REG_IODIRA = 0x00; //   IODIRA/B: pin direction, 1 = input; reset 0xFF (3.5.1)
const REG_IPOLA = 0x02; //    IPOLA/B: 1 = GPIO reads the input inverted; reset 0 (3.5.2)
const REG_GPINTENA = 0x04; // GPINTENA/B: 1 = interrupt-on-change enabled for the pin (3.5.3)
const REG_DEFVALA = 0x06; //  DEFVALA/B: compare value for pins whose INTCON bit is 1 (3.5.4)
const REG_INTCONA = 0x08; //  INTCONA/B: 1 = compare with DEFVAL, 0 = with the previous level (3.5.5)
const REG_IOCON = 0x0a; //    IOCON: configuration; one register, at 0x0A and 0x0B (3.5.6)
const REG_GPPUA = 0x0c; //    GPPUA/B: 1 = 100 kOhm pull-up on the input (3.5.7)
const REG_INTFA = 0x0e; //    INTFA/B (read-only): pins that caused the pending interrupt (3.5.8)
const REG_INTCAPA = 0x10; //  INTCAPA/B (read-only): port captured at the interrupt; a read clears it (3.5.9)
const REG_GPIOA = 0x12; //    GPIOA/B: pin levels; a read clears the interrupt; a write goes to OLAT (3.5.10)
const REG_OLATA = 0x14; //    OLATA/B: output latches, driven on pins whose IODIR bit is 0 (3.5.11)
const REGISTER_COUNT = 0x16; // 22 registers, 0x00..0x15; sequential access rolls over to 0x00

// IOCON bits (3.5.6).
const IOCON_MIRROR = 0x40; // INTA and INTB both signal either port's interrupt
const IOCON_HAEN = 0x08; //   the A2..A0 pins take part in addressing
const IOCON_ODR = 0x04; //    INT pins open-drain, active low (overrides INTPOL)
// BANK (0x80) = 0: the paired map above. SEQOP (0x20) = 0: sequential, the address pointer
// increments after each byte. DISSLW (0x10) and INTPOL (0x02) do not matter here.
const IOCON_VALUE = IOCON_MIRROR | IOCON_HAEN | IOCON_ODR; // 0x4C on every chip of this chip select

// SPI control byte: 0100 A2 A1 A0 R/W, then the register address, then data (Addressing SPI Devices).
const OPCODE_WRITE = 0x40;
const OPCODE_READ = 0x41;
/** With IOCON.HAEN = 0 a chip answers hardware address 000 whatever its pins. */
const BROADCAST_ADDRESS = 0;

// Reply layouts. A read frame is [control, register, n dummy bytes]; register r + k arrives in byte 2 + k.
const EVENT_FIRST_REG = REG_IOCON; //   door event read: IOCON, IOCON, GPPUA/B, INTFA/B, INTCAPA/B, GPIOA/B
const EVENT_FRAME_BYTES = 2 + (REG_GPIOA + 2 - REG_IOCON); // 12
const EV_IOCON = 2;
const EV_GPPU = 2 + (REG_GPPUA - REG_IOCON);
const EV_GPIO = 2 + (REG_GPIOA - REG_IOCON);
/** What the door event read must find in IOCON, IOCON, GPPUA, GPPUB. */
const EVENT_EXPECTED = new Uint8Array([IOCON_VALUE, IOCON_VALUE, 0xff, 0xff]);
const DOOR_FULL_BYTES = 2 + REG_GPIOA + 2; //   IODIRA..GPIOB: 22 bytes
const LOCK_FULL_BYTES = 2 + REGISTER_COUNT; //  IODIRA..OLATB: 24 bytes
const CONFIG_BYTES = REG_GPPUA + 2; //          IODIRA..GPPUB: the 14 registers a chip is configured with

// Doors: timing of recovery.
/** Period of the door chips' re-sync read. */
export const DOOR_RESYNC_MS = 5000;
/** Rounds in a row that end with the INT line still low before it is reported stuck. */
const MAX_LOW_ROUNDS = 3;

// Door driver states.
const S_STOPPED = 0;
const S_IDLE = 1; //     waiting for an edge or the re-sync
const S_SETTLING = 2; // a door differs from what was reported: waiting debounceMs to read again
const S_LINE_LOW = 3; // a round ended with the line low: waiting debounceMs to read again
const STATE_NAMES = 'stopped idle settling line-low';
const REGISTER_NAMES =
  'IODIRA IODIRB IPOLA IPOLB GPINTENA GPINTENB DEFVALA DEFVALB INTCONA INTCONB IOCON IOCON GPPUA GPPUB INTFA INTFB INTCAPA INTCAPB GPIOA GPIOB OLATA OLATB';
const NO_TIMER = -1;

/** Called with a reason when a chip (or the INT line) develops a fault, with null once all is well again. */
export type ExpanderFaultListener = (reason: string | null) => void;

function chipsFor(count: number): number {
  return Math.ceil(count / 16);
}

function checkPlan(kind: string, firstAddress: number, count: number): void {
  if (!(count >= 1 && Math.floor(count) === count)) throw new Error(kind + ': count must be a positive integer');
  if (!(firstAddress >= 0 && Math.floor(firstAddress) === firstAddress && firstAddress + chipsFor(count) <= 8)) {
    throw new Error(kind + ': ' + chipsFor(count) + ' chip(s) from address ' + firstAddress + ' do not fit in addresses 0..7');
  }
}

/** Pins of chip `chip` that have a locker, as a 16-bit mask (bit 0 = GPA0, bit 8 = GPB0). */
function usedMask(count: number, chip: number): number {
  const used = count - chip * 16;
  return used >= 16 ? 0xffff : (1 << used) - 1;
}

function readFrame(address: number, register: number, bytes: number): Uint8Array {
  const frame = new Uint8Array(bytes);
  frame[0] = OPCODE_READ | (address << 1);
  frame[1] = register;
  return frame;
}

/**
 * '' if the registers from `firstRegister` in `reply` (from byte 2 on) hold `expected`, else what is
 * wrong with the chip. IOCON is looked at first: it tells a missing chip (MISO floats to 0xFF or
 * 0x00) or a reset one (IOCON = 0) from a chip that lost some other setting.
 */
function replyFault(kind: string, address: number, reply: Uint8Array, expected: Uint8Array, firstRegister: number): string {
  let bad = -1;
  const ioconAt = REG_IOCON - firstRegister;
  if (ioconAt >= 0 && ioconAt < expected.length && reply[2 + ioconAt] !== expected[ioconAt]) bad = ioconAt;
  for (let i = 0; i < expected.length && bad < 0; i++) {
    if (reply[2 + i] !== expected[i]) bad = i;
  }
  if (bad < 0) return '';
  const got = reply[2 + bad];
  const register = firstRegister + bad;
  let what = ' lost its configuration (reset?)';
  if (register === REG_IOCON || register === REG_IOCON + 1) {
    what = got === 0xff ? ' does not answer' : got === 0x00 ? ' does not answer (or was reset)' : ' has another configuration';
  }
  return kind + ' expander at address ' + address + what + ': ' + nameAt(REGISTER_NAMES, register) + ' = ' + hex(got) + ', expected ' + hex(expected[bad]);
}

// ---------------------------------------------------------------------------------------------
// Faults of several chips (and the INT line), reported as one status
// ---------------------------------------------------------------------------------------------

class FaultBook {
  private texts: string[] = [];
  private listener: ExpanderFaultListener | null;
  /** The first fault still present, or null. */
  current: string | null = null;
  listenerErrors = 0;

  constructor(slots: number, listener: ExpanderFaultListener | null) {
    for (let i = 0; i < slots; i++) this.texts.push('');
    this.listener = listener;
  }

  /** Slot `slot` is faulty with `text`, or well again with ''. */
  set(slot: number, text: string): void {
    const was = this.texts[slot];
    if (was === text) return;
    this.texts[slot] = text;
    let current: string | null = null;
    for (let i = 0; i < this.texts.length && current === null; i++) {
      if (this.texts[i] !== '') current = this.texts[i];
    }
    this.current = current;
    if (text !== '' && was === '') this.tell(text);
    else if (current === null) this.tell(null);
  }

  isSet(slot: number): boolean {
    return this.texts[slot] !== '';
  }

  private tell(reason: string | null): void {
    const listener = this.listener;
    if (!listener) return;
    try {
      listener(reason);
    } catch (error) {
      this.listenerErrors++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The bus: register access by hardware address
// ---------------------------------------------------------------------------------------------

export class Mcp23s17Bus {
  private spi: SpiBus;
  readonly cs: PinNumber;
  /** SPI transfers (chip-select frames) since construction, for status reports and benchmarks. */
  transfers = 0;

  constructor(spi: SpiBus, cs: PinNumber) {
    this.spi = spi;
    this.cs = cs;
  }

  /** One chip-select frame as it is. */
  transfer(frame: Uint8Array): Uint8Array {
    this.transfers++;
    return this.spi.transfer(this.cs, frame);
  }

  /** Writes `values` to consecutive registers from `register` (sequential mode) in one frame. */
  write(address: number, register: number, values: Uint8Array): void {
    const frame = new Uint8Array(values.length + 2);
    frame[0] = OPCODE_WRITE | (address << 1);
    frame[1] = register;
    frame.set(values, 2);
    this.transfer(frame);
  }

  writeRegister(address: number, register: number, value: number): void {
    const frame = new Uint8Array(3);
    frame[0] = OPCODE_WRITE | (address << 1);
    frame[1] = register;
    frame[2] = value;
    this.transfer(frame);
  }

  /** Reads `count` consecutive registers from `register` in one frame: register + k is byte 2 + k of the reply. */
  read(address: number, register: number, count: number): Uint8Array {
    return this.transfer(readFrame(address, register, count + 2));
  }

  /**
   * IOCON to hardware address 0 (every chip whose HAEN is still 0 takes it, whatever its pins), then
   * to each of `addresses` (chips that kept HAEN = 1). Every chip on the chip select gets the same
   * value, so the broadcast never disturbs a configured chip.
   */
  enableAddressing(addresses: number[]): void {
    this.writeRegister(BROADCAST_ADDRESS, REG_IOCON, IOCON_VALUE);
    for (let i = 0; i < addresses.length; i++) {
      if (addresses[i] !== BROADCAST_ADDRESS) this.writeRegister(addresses[i], REG_IOCON, IOCON_VALUE);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Lock outputs
// ---------------------------------------------------------------------------------------------

export class ExpanderLockOutputs implements LockOutputs {
  readonly count: number;
  private bus: Mcp23s17Bus;
  private addresses: number[] = [];
  /** Shadow of each chip's OLATB:OLATA; bit i = lock 16 * chip + i energised. */
  private latches: number[] = [];
  private latchFrames: Uint8Array[] = [];
  private checkFrames: Uint8Array[] = [];
  private config: Uint8Array;
  private faults: FaultBook;
  /** Re-initialisations after a chip was found without its configuration. */
  reinits = 0;

  constructor(bus: Mcp23s17Bus, firstAddress: number, count: number, onFault: ExpanderFaultListener | null) {
    checkPlan('lock outputs', firstAddress, count);
    this.bus = bus;
    this.count = count;
    const chips = chipsFor(count);
    for (let chip = 0; chip < chips; chip++) {
      const address = firstAddress + chip;
      this.addresses.push(address);
      this.latches.push(0);
      const latchFrame = new Uint8Array(4); // OLATA, OLATB in one sequential write
      latchFrame[0] = OPCODE_WRITE | (address << 1);
      latchFrame[1] = REG_OLATA;
      this.latchFrames.push(latchFrame);
      this.checkFrames.push(readFrame(address, REG_IODIRA, LOCK_FULL_BYTES));
    }
    // IODIR = 0 (all outputs; unused pins are driven low, never left floating), no inversion, no
    // interrupts, IOCON, no pull-ups.
    const config = new Uint8Array(CONFIG_BYTES);
    config[REG_IOCON] = IOCON_VALUE;
    config[REG_IOCON + 1] = IOCON_VALUE;
    this.config = config;
    this.faults = new FaultBook(chips, onFault);
  }

  /** The first fault still present, or null. */
  get fault(): string | null {
    return this.faults.current;
  }

  /** Configures every chip, every lock off. Returns the first fault, or null. */
  init(): string | null {
    this.bus.enableAddressing(this.addresses);
    for (let chip = 0; chip < this.addresses.length; chip++) this.configure(chip);
    return this.faults.current;
  }

  set(index: number, energised: boolean): void {
    if (!(index >= 0 && index < this.count)) return;
    const chip = index >> 4;
    const bit = 1 << (index & 15);
    const was = this.latches[chip];
    const next = energised ? was | bit : was & ~bit;
    if (next === was) return;
    // Before a coil is switched on, make sure the chip still holds its configuration: a brown-out
    // (a coil's inrush) resets it to inputs with HAEN = 0, and an OLAT write would then open nothing.
    if (energised && !this.verify(chip)) this.reconfigure(chip);
    this.latches[chip] = next;
    this.writeLatch(chip);
  }

  /** One read per chip; a chip that lost its configuration is configured again. Returns the first fault, or null. */
  check(): string | null {
    for (let chip = 0; chip < this.addresses.length; chip++) {
      if (!this.verify(chip)) this.reconfigure(chip);
    }
    return this.faults.current;
  }

  private writeLatch(chip: number): void {
    const frame = this.latchFrames[chip];
    const latch = this.latches[chip];
    frame[2] = latch & 0xff;
    frame[3] = latch >> 8;
    this.bus.transfer(frame);
  }

  private reconfigure(chip: number): void {
    this.reinits++;
    const addresses = [this.addresses[chip]];
    this.bus.enableAddressing(addresses);
    this.configure(chip);
  }

  /** OLAT first, then IODIR: the pins come out of high impedance already holding the shadow (all off). */
  private configure(chip: number): void {
    this.writeLatch(chip);
    this.bus.write(this.addresses[chip], REG_IODIRA, this.config);
    this.verify(chip);
  }

  /** One 24-byte read of the whole register file; records the chip's fault state. */
  private verify(chip: number): boolean {
    const reply = this.bus.transfer(this.checkFrames[chip]);
    const address = this.addresses[chip];
    let text = replyFault('lock', address, reply, this.config, REG_IODIRA);
    if (text === '') {
      const latch = reply[2 + REG_OLATA] | (reply[3 + REG_OLATA] << 8);
      if (latch !== this.latches[chip]) {
        text = 'lock expander at address ' + address + ' lost its output latch: OLAT = ' + hex(latch) + ', expected ' + hex(this.latches[chip]);
      }
    }
    this.faults.set(chip, text);
    return text === '';
  }
}

/**
 * Lock outputs on `ceil(count / 16)` chips from hardware address `firstAddress`, configured at once
 * (every lock off). A chip that does not answer shows in `fault` (and `onFault`), it is not thrown.
 */
export function expanderLockOutputs(bus: Mcp23s17Bus, firstAddress: number, count: number, onFault?: ExpanderFaultListener): ExpanderLockOutputs {
  const outputs = new ExpanderLockOutputs(bus, firstAddress, count, onFault ? onFault : null);
  outputs.init();
  return outputs;
}

// ---------------------------------------------------------------------------------------------
// Door inputs
// ---------------------------------------------------------------------------------------------

export interface ExpanderDoorStatus {
  state: string;
  /** SPI transfers on the whole expander bus (lock chips included). */
  spiTransfers: number;
  /** Falling edges of the INT line handled. */
  edges: number;
  /** Reads of every door chip (edge, debounce window, line-low retry). */
  rounds: number;
  /** Periodic re-sync reads. */
  resyncs: number;
  /** Door changes reported. */
  changes: number;
  /** Chips configured again after losing their configuration or coming back. */
  reinits: number;
  fault: string | null;
  listenerErrors: number;
}

export class ExpanderDoorInputs implements DoorInputs {
  readonly count: number;
  /** Period of the re-sync read; set before start(). */
  resyncMs = DOOR_RESYNC_MS;
  private bus: Mcp23s17Bus;
  private gpio: Gpio;
  private clock: Clock;
  private interruptPin: PinNumber;
  private addresses: number[] = [];
  private masks: number[] = [];
  private eventFrames: Uint8Array[] = [];
  private fullFrames: Uint8Array[] = [];
  private configs: Uint8Array[] = [];
  /** Per chip: the chip answered its last read with the right configuration. */
  private healthy: boolean[] = [];
  /** Per chip: door levels last reported (or found at start), bit i = door 16 * chip + i open. */
  private reported: number[] = [];
  /** Per chip: the sample that opened the current debounce window. */
  private first: number[] = [];
  /** Per chip: the latest sample. */
  private sample: number[] = [];
  /** Per chip: doors confirmed in this window, to report once every level is updated. */
  private confirmed: number[] = [];
  private faults: FaultBook;
  private lineSlot: number;
  private initialised = false;

  private state = S_STOPPED;
  private debounceMs = 0;
  private listener: DoorListener | null = null;
  private watchId = -1;
  private timer = NO_TIMER;
  private resyncTimer = NO_TIMER;
  private onTimerBound: () => void;
  /** Clock time when the change now being debounced was first read: the `timeMs` reported. */
  private changeMs = 0;
  private lowRounds = 0;

  edges = 0;
  rounds = 0;
  resyncs = 0;
  changes = 0;
  reinits = 0;
  listenerErrors = 0;

  constructor(
    bus: Mcp23s17Bus,
    gpio: Gpio,
    clock: Clock,
    interruptPin: PinNumber,
    firstAddress: number,
    count: number,
    onFault: ExpanderFaultListener | null,
  ) {
    checkPlan('door inputs', firstAddress, count);
    this.bus = bus;
    this.gpio = gpio;
    this.clock = clock;
    this.interruptPin = interruptPin;
    this.count = count;
    const chips = chipsFor(count);
    for (let chip = 0; chip < chips; chip++) {
      const address = firstAddress + chip;
      const mask = usedMask(count, chip);
      this.addresses.push(address);
      this.masks.push(mask);
      this.eventFrames.push(readFrame(address, EVENT_FIRST_REG, EVENT_FRAME_BYTES));
      this.fullFrames.push(readFrame(address, REG_IODIRA, DOOR_FULL_BYTES));
      // All pins inputs with pull-ups (unused ones too: no floating inputs), no inversion,
      // interrupt-on-change against the previous level on the pins with a door.
      const config = new Uint8Array(CONFIG_BYTES);
      config[REG_IODIRA] = 0xff;
      config[REG_IODIRA + 1] = 0xff;
      config[REG_GPINTENA] = mask & 0xff;
      config[REG_GPINTENA + 1] = mask >> 8;
      config[REG_IOCON] = IOCON_VALUE;
      config[REG_IOCON + 1] = IOCON_VALUE;
      config[REG_GPPUA] = 0xff;
      config[REG_GPPUA + 1] = 0xff;
      this.configs.push(config);
      this.healthy.push(false);
      this.reported.push(0);
      this.first.push(0);
      this.sample.push(0);
      this.confirmed.push(0);
    }
    this.lineSlot = chips;
    this.faults = new FaultBook(chips + 1, onFault);
    this.onTimerBound = () => this.onTimer();
  }

  /** The first fault still present, or null. */
  get fault(): string | null {
    return this.faults.current;
  }

  /**
   * Configures every door chip and reads the doors as they are (nothing is reported for them).
   * start() calls it if it has not run. Returns the first fault, or null.
   */
  init(): string | null {
    this.bus.enableAddressing(this.addresses);
    for (let chip = 0; chip < this.addresses.length; chip++) {
      if (this.configure(chip)) this.reported[chip] = this.sample[chip];
    }
    this.initialised = true;
    return this.faults.current;
  }

  /** The level last reported (or found at start). Doors of a chip that never answered read shut. */
  isOpen(index: number): boolean {
    if (!(index >= 0 && index < this.count)) return false;
    return ((this.reported[index >> 4] >> (index & 15)) & 1) === 1;
  }

  start(debounceMs: number, onChange: DoorListener): void {
    if (this.state !== S_STOPPED) this.stop();
    this.debounceMs = debounceMs > 0 ? debounceMs : 0;
    this.listener = onChange;
    if (!this.initialised) this.init();
    this.state = S_IDLE;
    this.lowRounds = 0;
    this.watchId = this.gpio.watch(this.interruptPin, { edge: 'falling', debounceMs: 0 }, () => this.onEdge());
    this.resyncTimer = this.clock.setInterval(() => this.onResync(), this.resyncMs);
    // The line can be low already (a door moved since init read the chips): no edge would come.
    this.endRound();
  }

  stop(): void {
    if (this.watchId >= 0) this.gpio.unwatch(this.watchId);
    this.watchId = -1;
    this.cancelTimer();
    if (this.resyncTimer !== NO_TIMER) this.clock.clearInterval(this.resyncTimer);
    this.resyncTimer = NO_TIMER;
    this.state = S_STOPPED;
  }

  status(): ExpanderDoorStatus {
    return {
      state: nameAt(STATE_NAMES, this.state),
      spiTransfers: this.bus.transfers,
      edges: this.edges,
      rounds: this.rounds,
      resyncs: this.resyncs,
      changes: this.changes,
      reinits: this.reinits,
      fault: this.faults.current,
      listenerErrors: this.listenerErrors + this.faults.listenerErrors,
    };
  }

  // --- events -------------------------------------------------------------------------------

  private onEdge(): void {
    this.edges++;
    if (this.state !== S_IDLE) return; // a window is open: its closing read covers this edge
    this.beginRound();
  }

  private onTimer(): void {
    this.timer = NO_TIMER;
    if (this.state === S_SETTLING) this.settle();
    else if (this.state === S_LINE_LOW) {
      this.state = S_IDLE;
      this.beginRound();
    }
  }

  /** Re-sync: one full read per chip checks its configuration and catches a change whose edge was lost. */
  private onResync(): void {
    if (this.state !== S_IDLE) return; // a round is running and reads every chip anyway
    this.resyncs++;
    let differs = false;
    for (let chip = 0; chip < this.addresses.length; chip++) {
      let ok = this.healthy[chip] && this.verify(chip);
      if (!ok) {
        this.reinits++;
        const addresses = [this.addresses[chip]];
        this.bus.enableAddressing(addresses);
        ok = this.configure(chip);
      }
      if (ok && ((this.sample[chip] ^ this.reported[chip]) & this.masks[chip]) !== 0) differs = true;
    }
    if (differs) {
      for (let chip = 0; chip < this.addresses.length; chip++) {
        this.first[chip] = this.healthy[chip] ? this.sample[chip] : this.reported[chip];
      }
      this.changeMs = this.clock.nowMs();
      this.wait(S_SETTLING, this.debounceMs);
      return;
    }
    this.endRound();
  }

  // --- rounds -------------------------------------------------------------------------------

  /** Reads every door chip; a door that differs from what was reported opens a debounce window. */
  private beginRound(): void {
    this.rounds++;
    if (this.sampleAll(this.first)) {
      this.changeMs = this.clock.nowMs();
      this.wait(S_SETTLING, this.debounceMs);
      return;
    }
    this.endRound();
  }

  /** End of a window: report the doors whose two samples agree; the ones still bouncing get another window. */
  private settle(): void {
    this.rounds++;
    const sample = this.sample;
    const first = this.first;
    const reported = this.reported;
    const confirmed = this.confirmed;
    this.sampleAll(sample);
    let bouncing = false;
    let any = false;
    for (let chip = 0; chip < sample.length; chip++) {
      const differs = (sample[chip] ^ reported[chip]) & this.masks[chip];
      const moved = sample[chip] ^ first[chip];
      if ((differs & moved) !== 0) bouncing = true;
      const stable = differs & ~moved;
      confirmed[chip] = stable;
      if (stable !== 0) {
        any = true;
        reported[chip] ^= stable; // every level is updated before anyone is told
      }
      first[chip] = sample[chip];
    }
    if (any) this.report();
    if (this.state === S_STOPPED) return; // a listener stopped the driver
    if (bouncing) {
      this.wait(S_SETTLING, this.debounceMs);
      return;
    }
    this.state = S_IDLE;
    this.endRound();
  }

  /** Every chip was just read, so the line should be released. If it is not, read again later. */
  private endRound(): void {
    if (this.state !== S_IDLE) return;
    if (this.gpio.read(this.interruptPin)) {
      this.lowRounds = 0;
      if (this.faults.isSet(this.lineSlot)) this.faults.set(this.lineSlot, '');
      return;
    }
    // Low: a door moved after the read (its edge is queued), an edge was lost, or the line is held.
    this.lowRounds++;
    if (this.lowRounds > MAX_LOW_ROUNDS) {
      // Stop chasing it; the re-sync still finds every change, and clears this once the line is high.
      this.faults.set(this.lineSlot, 'door interrupt line stuck low: doors are read every ' + this.resyncMs + ' ms');
      return;
    }
    this.wait(S_LINE_LOW, this.debounceMs > 0 ? this.debounceMs : 1);
  }

  private report(): void {
    const listener = this.listener;
    const timeMs = this.changeMs;
    for (let chip = 0; chip < this.confirmed.length; chip++) {
      const stable = this.confirmed[chip];
      if (stable === 0) continue;
      for (let pin = 0; pin < 16; pin++) {
        if (((stable >> pin) & 1) === 0) continue;
        this.changes++;
        if (!listener) continue;
        try {
          listener(chip * 16 + pin, ((this.reported[chip] >> pin) & 1) === 1, timeMs);
        } catch (error) {
          this.listenerErrors++;
        }
      }
    }
  }

  // --- chip access --------------------------------------------------------------------------

  /**
   * One 12-byte read per chip into `into`. Returns whether some door differs from what was reported.
   * A chip that answers with the wrong IOCON/GPPU (no chip, or a chip that was reset) becomes a
   * fault and keeps its reported levels until the re-sync configures it again.
   */
  private sampleAll(into: number[]): boolean {
    let differs = false;
    for (let chip = 0; chip < this.addresses.length; chip++) {
      if (!this.healthy[chip]) {
        into[chip] = this.reported[chip];
        continue;
      }
      const reply = this.bus.transfer(this.eventFrames[chip]);
      if (reply[EV_IOCON] !== IOCON_VALUE || reply[EV_IOCON + 1] !== IOCON_VALUE || reply[EV_GPPU] !== 0xff || reply[EV_GPPU + 1] !== 0xff) {
        this.unhealthy(chip, replyFault('door', this.addresses[chip], reply, EVENT_EXPECTED, EVENT_FIRST_REG));
        into[chip] = this.reported[chip];
        continue;
      }
      const levels = reply[EV_GPIO] | (reply[EV_GPIO + 1] << 8);
      into[chip] = levels;
      if (((levels ^ this.reported[chip]) & this.masks[chip]) !== 0) differs = true;
    }
    return differs;
  }

  /** One sequential write of IODIR..GPPU, then the full read. */
  private configure(chip: number): boolean {
    this.bus.write(this.addresses[chip], REG_IODIRA, this.configs[chip]);
    return this.verify(chip);
  }

  /** One 22-byte read of IODIRA..GPIOB: configuration checked, doors sampled into `sample`, interrupt cleared. */
  private verify(chip: number): boolean {
    const reply = this.bus.transfer(this.fullFrames[chip]);
    const config = this.configs[chip];
    const text = replyFault('door', this.addresses[chip], reply, config, REG_IODIRA);
    if (text !== '') {
      this.unhealthy(chip, text);
      return false;
    }
    this.sample[chip] = reply[2 + REG_GPIOA] | (reply[3 + REG_GPIOA] << 8);
    this.healthy[chip] = true;
    this.faults.set(chip, '');
    return true;
  }

  private unhealthy(chip: number, text: string): void {
    this.healthy[chip] = false;
    this.faults.set(chip, text);
  }

  private wait(state: number, delayMs: number): void {
    this.cancelTimer();
    this.state = state;
    this.timer = this.clock.setTimeout(this.onTimerBound, delayMs);
  }

  private cancelTimer(): void {
    if (this.timer !== NO_TIMER) this.clock.clearTimeout(this.timer);
    this.timer = NO_TIMER;
  }
}
