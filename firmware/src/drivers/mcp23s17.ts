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
//   (protocol/pin-map.ts decides): chip select GPIO 27, INT GPIO 33 (input with pull-up, not a
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
// async/await or labels (see shared/ESPRUINO.md). The lock driver allocates its frames once (one of
// each kind, addressed to a chip in byte 0 before each transfer); the door driver makes its frames
// when it reads (rounds, re-sync, start).
//
// Memory on the interpreter: every function and method costs variables for as long as the firmware
// runs, so each driver has few methods (the lock driver: set, check, configure, verify; the door
// driver: one tick() for every door event, one setUp() to configure, check and recover a chip) and
// the fault bookkeeping of both is one function, noteFault().

import type { Clock, Gpio, PinNumber, SpiBus } from '../hal';
import { hex, nameAt } from '../codec/bytes';
import type { LockOutputs } from './lock-bank';
import type { DoorInputs, DoorListener } from './door-bank';

// ---------------------------------------------------------------------------------------------
// Register table, IOCON.BANK = 0: each A register at an even address, its B twin at the next.
// ---------------------------------------------------------------------------------------------
const REG_IODIRA = 0x00; //   IODIRA/B: pin direction, 1 = input; reset 0xFF (3.5.1)
//                            IPOLA/B (0x02): 1 = GPIO reads the input inverted; reset 0 (3.5.2)
const REG_GPINTENA = 0x04; // GPINTENA/B: 1 = interrupt-on-change enabled for the pin (3.5.3)
//                            DEFVALA/B (0x06): compare value for pins whose INTCON bit is 1 (3.5.4)
//                            INTCONA/B (0x08): 1 = compare with DEFVAL, 0 = with the previous level (3.5.5)
const REG_IOCON = 0x0a; //    IOCON: configuration; one register, at 0x0A and 0x0B (3.5.6)
const REG_GPPUA = 0x0c; //    GPPUA/B: 1 = 100 kOhm pull-up on the input (3.5.7)
//                            INTFA/B (0x0E, read-only): pins that caused the pending interrupt (3.5.8)
//                            INTCAPA/B (0x10, read-only): port captured at the interrupt; a read clears it (3.5.9)
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

// Frame layouts. A read frame is [control, register, n dummy bytes]; register r + k arrives in byte
// 2 + k of the reply. A configuration frame is the write [control, IODIRA, IODIRA..GPPUB values]:
// the same layout, so it is also what the reply of a read from IODIRA must hold.
const EVENT_FRAME_BYTES = 2 + (REG_GPIOA + 2 - REG_IOCON); // 12: door event read of IOCON, IOCON, GPPUA/B, INTFA/B, INTCAPA/B, GPIOA/B
const EV_IOCON = 2;
const EV_GPPU = 2 + (REG_GPPUA - REG_IOCON);
const EV_GPIO = 2 + (REG_GPIOA - REG_IOCON);
const DOOR_FULL_BYTES = 2 + REG_GPIOA + 2; //   IODIRA..GPIOB: 22 bytes
const LOCK_FULL_BYTES = 2 + REGISTER_COUNT; //  IODIRA..OLATB: 24 bytes
const CONFIG_FRAME_BYTES = 2 + REG_GPPUA + 2; // IODIRA..GPPUB: the 14 registers a chip is configured with

// The door driver's setUp(): what to do with one chip.
const CHECK = 0; //       read it; configure it again (IOCON first) if it lost its configuration
const CONFIGURE = 1; //   write IODIR..GPPU (IOCON already went to every chip), then read it back
const RECONFIGURE = 2; // IOCON to address 0 and the chip, IODIR..GPPU, then read it back

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

// Door events, for tick().
const EV_START = 0; //  start(): only the check that the INT line is released
const EV_EDGE = 1; //   the INT line fell
const EV_TIMER = 2; //  a debounce or line-low wait ended
const EV_RESYNC = 3; // the periodic full read

/** Called with a reason when a chip (or the INT line) develops a fault, with null once all is well again. */
export type ExpanderFaultListener = (reason: string | null) => void;

/** Throws unless `count` lockers fit on chips from `firstAddress`; returns the number of chips. */
export function checkPlan(kind: string, firstAddress: number, count: number): number {
  if (!(count >= 1 && Math.floor(count) === count)) throw new Error(kind + ': count must be a positive integer');
  const chips = Math.ceil(count / 16);
  if (!(firstAddress >= 0 && Math.floor(firstAddress) === firstAddress && firstAddress + chips <= 8)) {
    throw new Error(kind + ': ' + chips + ' chip(s) from address ' + firstAddress + ' do not fit in addresses 0..7');
  }
  return chips;
}

/**
 * '' if `reply`, a read from `firstRegister`, holds what `expected` holds from byte 2 on (both laid
 * out as a read frame: register firstRegister + k in byte 2 + k), else what is wrong with the chip.
 * IOCON is looked at first: it tells a missing chip (MISO floats to 0xFF or 0x00) or a reset one
 * (IOCON = 0) from a chip that lost some other setting.
 */
function replyFault(kind: string, address: number, reply: Uint8Array, expected: Uint8Array, firstRegister: number): string {
  // The usual answer, on the tap's path (a lock chip is checked before each coil): the run compared
  // as two strings made natively, about a third of the time of the byte loop below on the interpreter.
  const answered = String.fromCharCode.apply(null, reply.subarray(2, expected.length) as unknown as number[]);
  if (answered === String.fromCharCode.apply(null, expected.subarray(2) as unknown as number[])) return '';
  let bad = -1;
  const ioconAt = 2 + REG_IOCON - firstRegister;
  if (ioconAt >= 2 && ioconAt < expected.length && reply[ioconAt] !== expected[ioconAt]) bad = ioconAt;
  for (let i = 2; i < expected.length && bad < 0; i++) {
    if (reply[i] !== expected[i]) bad = i;
  }
  if (bad < 0) return '';
  const got = reply[bad];
  const register = firstRegister + bad - 2;
  let what = ' lost its configuration (reset?)';
  if (register === REG_IOCON || register === REG_IOCON + 1) {
    what = got === 0xff ? ' does not answer' : got === 0x00 ? ' does not answer (or was reset)' : ' has another configuration';
  }
  return kind + ' expander at address ' + address + what + ': ' + nameAt(REGISTER_NAMES, register) + ' = ' + hex(got) + ', expected ' + hex(expected[bad]);
}

// ---------------------------------------------------------------------------------------------
// Faults of several chips (and the INT line), reported as one status
// ---------------------------------------------------------------------------------------------

/** The fault bookkeeping both drivers carry. */
interface FaultOwner {
  /**
   * Per slot (chip, and for the doors the INT line after the chips): its fault. A slot that is well
   * has no element (no variable on the interpreter), so this is [] while all is well.
   */
  faultTexts: string[];
  /** The first fault still present, or null. */
  fault: string | null;
  onFault: ExpanderFaultListener | null;
  listenerErrors: number;
}

/** Slot `slot` of `owner` is faulty with `text`, or well again with ''. Tells the listener of a new fault, and once all are gone. */
function noteFault(owner: FaultOwner, slot: number, text: string): void {
  const texts = owner.faultTexts;
  const was = texts[slot] || '';
  if (was === text) return;
  if (text === '') delete texts[slot];
  else texts[slot] = text;
  let current: string | null = null;
  for (let i = 0; i < texts.length && current === null; i++) {
    if (texts[i]) current = texts[i];
  }
  owner.fault = current;
  const listener = owner.onFault;
  const tell = text !== '' && was === '';
  if (!listener || !(tell || current === null)) return;
  try {
    listener(tell ? text : null);
  } catch (error) {
    owner.listenerErrors++;
    console.log('expander: fault listener failed: ' + error);
  }
}

// ---------------------------------------------------------------------------------------------
// The bus: one chip select shared by every chip
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
    return this.spi.send(frame, this.cs);
  }

  /**
   * IOCON to hardware address 0 (every chip whose HAEN is still 0 takes it, whatever its pins), then
   * to each of the `chips` addresses from `firstAddress` (chips that kept HAEN = 1). Every chip on
   * the chip select gets the same value, so the broadcast never disturbs a configured chip.
   */
  enableAddressing(firstAddress: number, chips: number): void {
    const frame = new Uint8Array([OPCODE_WRITE | (BROADCAST_ADDRESS << 1), REG_IOCON, IOCON_VALUE]);
    this.transfer(frame);
    for (let address = firstAddress; address < firstAddress + chips; address++) {
      if (address === BROADCAST_ADDRESS) continue;
      frame[0] = OPCODE_WRITE | (address << 1);
      this.transfer(frame);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Lock outputs
// ---------------------------------------------------------------------------------------------

export class ExpanderLockOutputs implements LockOutputs, FaultOwner {
  readonly count: number;
  private bus: Mcp23s17Bus;
  private firstAddress: number;
  /** Shadow of each chip's OLATB:OLATA; bit i = lock 16 * chip + i energised. */
  private latches: number[] = [];
  /** OLATA, OLATB in one sequential write. */
  private latchFrame = new Uint8Array(4);
  /** The whole register file, IODIRA..OLATB, in one read. */
  private checkFrame = new Uint8Array(LOCK_FULL_BYTES);
  /**
   * IODIR = 0 (all outputs; unused pins are driven low, never left floating), no inversion, no
   * interrupts, IOCON, no pull-ups.
   */
  private config = new Uint8Array(CONFIG_FRAME_BYTES);
  faultTexts: string[] = [];
  /** The first fault still present, or null (read only). */
  fault: string | null = null;
  onFault: ExpanderFaultListener | null;
  /** Fault listener calls that threw. */
  listenerErrors = 0;
  /** Re-initialisations after a chip was found without its configuration. */
  reinits = 0;

  /** Configures every chip at once, every lock off (expanderLockOutputs). */
  constructor(bus: Mcp23s17Bus, firstAddress: number, count: number, onFault: ExpanderFaultListener | null) {
    const chips = checkPlan('lock outputs', firstAddress, count);
    this.bus = bus;
    this.firstAddress = firstAddress;
    this.count = count;
    this.onFault = onFault;
    for (let chip = 0; chip < chips; chip++) this.latches.push(0);
    this.latchFrame[1] = REG_OLATA;
    this.checkFrame[1] = REG_IODIRA;
    const config = this.config;
    config[1] = REG_IODIRA;
    config[2 + REG_IOCON] = IOCON_VALUE;
    config[3 + REG_IOCON] = IOCON_VALUE;
    bus.enableAddressing(firstAddress, chips);
    for (let chip = 0; chip < chips; chip++) this.configure(chip, false);
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
    if (energised && !this.verify(chip)) this.configure(chip, true);
    this.latches[chip] = next;
    // The latch write (as in configure()), written out here: this is the tap's path to the coil.
    const frame = this.latchFrame;
    frame[0] = OPCODE_WRITE | ((this.firstAddress + chip) << 1);
    frame[2] = next & 0xff;
    frame[3] = next >> 8;
    this.bus.transfer(frame);
  }

  /** One read per chip; a chip that lost its configuration is configured again. Returns the first fault, or null. */
  check(): string | null {
    for (let chip = 0; chip < this.latches.length; chip++) {
      if (!this.verify(chip)) this.configure(chip, true);
    }
    return this.fault;
  }

  /**
   * OLAT first, then IODIR: the pins come out of high impedance already holding the shadow (all
   * off at start); then verify(). `again`: a chip found without its configuration, which first gets
   * IOCON (at address 0 and its own).
   */
  private configure(chip: number, again: boolean): void {
    const address = this.firstAddress + chip;
    if (again) {
      this.reinits++;
      this.bus.enableAddressing(address, 1);
    }
    const latch = this.latches[chip];
    const frame = this.latchFrame;
    frame[0] = OPCODE_WRITE | (address << 1);
    frame[2] = latch & 0xff;
    frame[3] = latch >> 8;
    this.bus.transfer(frame);
    this.config[0] = OPCODE_WRITE | (address << 1);
    this.bus.transfer(this.config);
    this.verify(chip);
  }

  /** One 24-byte read of the whole register file; records the chip's fault state. Kept apart from configure(): it is on the tap's path. */
  private verify(chip: number): boolean {
    const address = this.firstAddress + chip;
    const frame = this.checkFrame;
    frame[0] = OPCODE_READ | (address << 1);
    const reply = this.bus.transfer(frame);
    let text = replyFault('lock', address, reply, this.config, REG_IODIRA);
    if (text === '') {
      const latch = reply[2 + REG_OLATA] | (reply[3 + REG_OLATA] << 8);
      if (latch !== this.latches[chip]) {
        text = 'lock expander at address ' + address + ' lost its output latch: OLAT = ' + hex(latch) + ', expected ' + hex(this.latches[chip]);
      }
    }
    noteFault(this, chip, text);
    return text === '';
  }
}

/**
 * Lock outputs on `ceil(count / 16)` chips from hardware address `firstAddress`, configured at once
 * (every lock off). A chip that does not answer shows in `fault` (and `onFault`), it is not thrown.
 */
export function expanderLockOutputs(bus: Mcp23s17Bus, firstAddress: number, count: number, onFault?: ExpanderFaultListener): ExpanderLockOutputs {
  return new ExpanderLockOutputs(bus, firstAddress, count, onFault ? onFault : null);
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

export class ExpanderDoorInputs implements DoorInputs, FaultOwner {
  readonly count: number;
  /** Period of the re-sync read; set before start(). */
  resyncMs = DOOR_RESYNC_MS;
  private bus: Mcp23s17Bus;
  private gpio: Gpio;
  private clock: Clock;
  private interruptPin: PinNumber;
  private firstAddress: number;
  /** Per chip: the pins that have a locker, bit 0 = GPA0, bit 8 = GPB0. */
  private masks: number[] = [];
  /** Per chip: door levels last reported (or found at start), bit i = door 16 * chip + i open. */
  private reported: number[] = [];
  /** Per chip: the sample that opened the current debounce window. */
  private first: number[] = [];
  /** Per chip, then the INT line: its fault (no element while well). A chip with a fault is not read by rounds, only by the re-sync. */
  faultTexts: string[] = [];
  /** The first fault still present, or null (read only). */
  fault: string | null = null;
  onFault: ExpanderFaultListener | null;
  private initialised = false;

  private state = S_STOPPED;
  private debounceMs = 0;
  private listener: DoorListener | null = null;
  private watchId = -1;
  private timer = NO_TIMER;
  private resyncTimer = NO_TIMER;
  /** Clock time when the change now being debounced was first read: the `timeMs` reported. */
  private changeMs = 0;
  private lowRounds = 0;

  edges = 0;
  rounds = 0;
  resyncs = 0;
  changes = 0;
  reinits = 0;
  /** Door and fault listener calls that threw. */
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
    const chips = checkPlan('door inputs', firstAddress, count);
    this.bus = bus;
    this.gpio = gpio;
    this.clock = clock;
    this.interruptPin = interruptPin;
    this.firstAddress = firstAddress;
    this.count = count;
    this.onFault = onFault;
    for (let chip = 0; chip < chips; chip++) {
      const used = count - chip * 16;
      this.masks.push(used >= 16 ? 0xffff : (1 << used) - 1);
      this.reported.push(0);
      this.first.push(0);
    }
  }

  /**
   * Configures every door chip and reads the doors as they are (nothing is reported for them).
   * start() calls it if it has not run. Returns the first fault, or null.
   */
  init(): string | null {
    const chips = this.masks.length;
    this.bus.enableAddressing(this.firstAddress, chips);
    for (let chip = 0; chip < chips; chip++) {
      const levels = this.setUp(chip, CONFIGURE);
      if (levels >= 0) this.reported[chip] = levels;
    }
    this.initialised = true;
    return this.fault;
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
    this.watchId = this.gpio.watch(this.interruptPin, { edge: 'falling', debounceMs: 0 }, () => this.tick(EV_EDGE));
    this.resyncTimer = this.clock.setInterval(() => this.tick(EV_RESYNC), this.resyncMs);
    // The line can be low already (a door moved since init read the chips): no edge would come.
    this.tick(EV_START);
  }

  stop(): void {
    if (this.watchId >= 0) this.gpio.unwatch(this.watchId);
    this.watchId = -1;
    if (this.timer !== NO_TIMER) this.clock.clearTimeout(this.timer);
    this.timer = NO_TIMER;
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
      fault: this.fault,
      listenerErrors: this.listenerErrors,
    };
  }

  /**
   * Every door event after start() (EV_START, EV_EDGE, EV_TIMER, EV_RESYNC), in one method:
   *   an edge while idle, or the end of a line-low wait, starts a round: every chip is read, and a
   *   door that differs from what was reported opens a debounce window (S_SETTLING);
   *   the end of a window reads again and reports each door whose two samples agree and differ
   *   from its reported level; doors still bouncing get another window;
   *   the re-sync (while idle) reads every chip's whole register file: it checks the configuration
   *   (configuring a chip again that lost it), and a change whose edge was lost opens a window;
   *   a round that ends idle checks that the INT line was released (else S_LINE_LOW, then a fault).
   */
  private tick(event: number): void {
    const state = this.state;
    if (event === EV_EDGE) {
      this.edges++;
      if (state !== S_IDLE) return; // a window is open: its closing read covers this edge
    } else if (event === EV_TIMER) {
      this.timer = NO_TIMER;
      if (state === S_LINE_LOW) this.state = S_IDLE;
      else if (state !== S_SETTLING) return;
    } else if (event === EV_RESYNC && state !== S_IDLE) {
      return; // a round is running and reads every chip anyway
    }
    let next = S_IDLE; // where this event leaves the driver: idle, or waiting for the next read
    if (event !== EV_START) {
      const chips = this.masks.length;
      const reported = this.reported;
      const first = this.first;
      const settling = state === S_SETTLING;
      // A window's closing read is compared with the read that opened it; any other read may open one.
      const sample: number[] = settling ? [] : first;
      if (event === EV_RESYNC) {
        this.resyncs++;
        for (let chip = 0; chip < chips; chip++) {
          const levels = this.setUp(chip, this.faultTexts[chip] ? RECONFIGURE : CHECK);
          sample[chip] = levels >= 0 ? levels : reported[chip];
        }
      } else {
        // One 12-byte read per chip. A chip that answers with the wrong IOCON/GPPU (no chip, or a
        // chip that was reset) becomes a fault and keeps its reported levels until the re-sync
        // configures it again.
        this.rounds++;
        const frame = new Uint8Array(EVENT_FRAME_BYTES);
        frame[1] = REG_IOCON;
        for (let chip = 0; chip < chips; chip++) {
          sample[chip] = reported[chip];
          if (this.faultTexts[chip]) continue;
          const address = this.firstAddress + chip;
          frame[0] = OPCODE_READ | (address << 1);
          const reply = this.bus.transfer(frame);
          if (reply[EV_IOCON] !== IOCON_VALUE || reply[EV_IOCON + 1] !== IOCON_VALUE || reply[EV_GPPU] !== 0xff || reply[EV_GPPU + 1] !== 0xff) {
            const expected = new Uint8Array([0, 0, IOCON_VALUE, IOCON_VALUE, 0xff, 0xff]); // from IOCON: IOCON, IOCON, GPPUA, GPPUB
            noteFault(this, chip, replyFault('door', address, reply, expected, REG_IOCON));
            continue;
          }
          sample[chip] = reply[EV_GPIO] | (reply[EV_GPIO + 1] << 8);
        }
      }
      if (!settling) {
        for (let chip = 0; chip < chips; chip++) {
          if (((sample[chip] ^ reported[chip]) & this.masks[chip]) !== 0) next = S_SETTLING;
        }
        if (next === S_SETTLING) this.changeMs = this.clock.nowMs();
      } else {
        // End of a window: confirm the doors whose two samples agree, update every level, then tell.
        const confirmed: number[] = [];
        let bouncing = false;
        let any = false;
        for (let chip = 0; chip < chips; chip++) {
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
        if (any) {
          const listener = this.listener;
          const timeMs = this.changeMs;
          for (let chip = 0; chip < chips; chip++) {
            const stable = confirmed[chip];
            if (stable === 0) continue;
            for (let pin = 0; pin < 16; pin++) {
              if (((stable >> pin) & 1) === 0) continue;
              this.changes++;
              if (!listener) continue;
              try {
                listener(chip * 16 + pin, ((reported[chip] >> pin) & 1) === 1, timeMs);
              } catch (error) {
                this.listenerErrors++;
                console.log('expander: door listener failed: ' + error);
              }
            }
          }
        }
        if (this.state === S_STOPPED) return; // a listener stopped the driver
        if (bouncing) next = S_SETTLING;
        else this.state = S_IDLE;
      }
    }
    if (next === S_IDLE) {
      // Every chip was just read, so the line should be released. If it is not, read again later.
      if (this.state !== S_IDLE) return;
      const lineSlot = this.masks.length;
      if (this.gpio.read(this.interruptPin)) {
        this.lowRounds = 0;
        noteFault(this, lineSlot, '');
        return;
      }
      // Low: a door moved after the read (its edge is queued), an edge was lost, or the line is held.
      this.lowRounds++;
      if (this.lowRounds > MAX_LOW_ROUNDS) {
        // Stop chasing it; the re-sync still finds every change, and clears this once the line is high.
        noteFault(this, lineSlot, 'door interrupt line stuck low: doors are read every ' + this.resyncMs + ' ms');
        return;
      }
      next = S_LINE_LOW;
    }
    if (this.timer !== NO_TIMER) this.clock.clearTimeout(this.timer);
    this.state = next;
    this.timer = this.clock.setTimeout(() => this.tick(EV_TIMER), next === S_SETTLING ? this.debounceMs : Math.max(this.debounceMs, 1));
  }

  /**
   * Chip `chip` as `how` says (CHECK, CONFIGURE, RECONFIGURE), ending with one 22-byte read of
   * IODIRA..GPIOB: configuration checked (its fault recorded), doors sampled, interrupt cleared.
   * Returns the door levels, or -1 if the chip is faulty. (Its frames are made here: the door chips
   * are set up at start and every resyncMs, so they need not be kept.)
   */
  private setUp(chip: number, how: number): number {
    const address = this.firstAddress + chip;
    const mask = this.masks[chip];
    // All pins inputs with pull-ups (unused ones too: no floating inputs), no inversion,
    // interrupt-on-change against the previous level on the pins with a door.
    const config = new Uint8Array(CONFIG_FRAME_BYTES);
    config[0] = OPCODE_WRITE | (address << 1);
    config[1] = REG_IODIRA;
    config[2 + REG_IODIRA] = 0xff;
    config[3 + REG_IODIRA] = 0xff;
    config[2 + REG_GPINTENA] = mask & 0xff;
    config[3 + REG_GPINTENA] = mask >> 8;
    config[2 + REG_IOCON] = IOCON_VALUE;
    config[3 + REG_IOCON] = IOCON_VALUE;
    config[2 + REG_GPPUA] = 0xff;
    config[3 + REG_GPPUA] = 0xff;
    const frame = new Uint8Array(DOOR_FULL_BYTES);
    frame[0] = OPCODE_READ | (address << 1);
    frame[1] = REG_IODIRA;
    for (;;) {
      if (how === RECONFIGURE) {
        this.reinits++;
        this.bus.enableAddressing(address, 1);
      }
      if (how !== CHECK) this.bus.transfer(config);
      const reply = this.bus.transfer(frame);
      const text = replyFault('door', address, reply, config, REG_IODIRA);
      noteFault(this, chip, text);
      if (text === '') return reply[2 + REG_GPIOA] | (reply[3 + REG_GPIOA] << 8);
      if (how !== CHECK) return -1;
      how = RECONFIGURE;
    }
  }
}
