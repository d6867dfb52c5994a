// MCP23S17 (Microchip) 16-bit SPI port expanders: the lock outputs (locks.ts) and door inputs
// (doors.ts) of banks of 8 to 32 lockers. This file: the register map, the shared chip select, the
// fault bookkeeping both drivers share. Rollup joins the three files into one scope, so the split
// costs nothing on the board (lock-bank.ts LockOutputs, door-bank.ts DoorInputs).
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

import type { PinNumber, SpiBus } from '../../hal';
import { hex, nameAt } from '../../codec/bytes';

// ---------------------------------------------------------------------------------------------
// Register table, IOCON.BANK = 0: each A register at an even address, its B twin at the next.
// ---------------------------------------------------------------------------------------------
export const REG_IODIRA = 0x00; //   IODIRA/B: pin direction, 1 = input; reset 0xFF (3.5.1)
//                            IPOLA/B (0x02): 1 = GPIO reads the input inverted; reset 0 (3.5.2)
export const REG_GPINTENA = 0x04; // GPINTENA/B: 1 = interrupt-on-change enabled for the pin (3.5.3)
//                            DEFVALA/B (0x06): compare value for pins whose INTCON bit is 1 (3.5.4)
//                            INTCONA/B (0x08): 1 = compare with DEFVAL, 0 = with the previous level (3.5.5)
export const REG_IOCON = 0x0a; //    IOCON: configuration; one register, at 0x0A and 0x0B (3.5.6)
export const REG_GPPUA = 0x0c; //    GPPUA/B: 1 = 100 kOhm pull-up on the input (3.5.7)
//                            INTFA/B (0x0E, read-only): pins that caused the pending interrupt (3.5.8)
//                            INTCAPA/B (0x10, read-only): port captured at the interrupt; a read clears it (3.5.9)
export const REG_GPIOA = 0x12; //    GPIOA/B: pin levels; a read clears the interrupt; a write goes to OLAT (3.5.10)
export const REG_OLATA = 0x14; //    OLATA/B: output latches, driven on pins whose IODIR bit is 0 (3.5.11)
const REGISTER_COUNT = 0x16; // 22 registers, 0x00..0x15; sequential access rolls over to 0x00

// IOCON bits (3.5.6).
const IOCON_MIRROR = 0x40; // INTA and INTB both signal either port's interrupt
const IOCON_HAEN = 0x08; //   the A2..A0 pins take part in addressing
const IOCON_ODR = 0x04; //    INT pins open-drain, active low (overrides INTPOL)
// BANK (0x80) = 0: the paired map above. SEQOP (0x20) = 0: sequential, the address pointer
// increments after each byte. DISSLW (0x10) and INTPOL (0x02) do not matter here.
export const IOCON_VALUE = IOCON_MIRROR | IOCON_HAEN | IOCON_ODR; // 0x4C on every chip of this chip select

// SPI control byte: 0100 A2 A1 A0 R/W, then the register address, then data (Addressing SPI Devices).
export const OPCODE_WRITE = 0x40;
export const OPCODE_READ = 0x41;
/** With IOCON.HAEN = 0 a chip answers hardware address 000 whatever its pins. */
const BROADCAST_ADDRESS = 0;

// Frame layouts. A read frame is [control, register, n dummy bytes]; register r + k arrives in byte
// 2 + k of the reply. A configuration frame is the write [control, IODIRA, IODIRA..GPPUB values]:
// the same layout, so it is also what the reply of a read from IODIRA must hold.
export const EVENT_FRAME_BYTES = 2 + (REG_GPIOA + 2 - REG_IOCON); // 12: door event read of IOCON, IOCON, GPPUA/B, INTFA/B, INTCAPA/B, GPIOA/B
export const EV_IOCON = 2;
export const EV_GPPU = 2 + (REG_GPPUA - REG_IOCON);
export const EV_GPIO = 2 + (REG_GPIOA - REG_IOCON);
export const DOOR_FULL_BYTES = 2 + REG_GPIOA + 2; //   IODIRA..GPIOB: 22 bytes
export const LOCK_FULL_BYTES = 2 + REGISTER_COUNT; //  IODIRA..OLATB: 24 bytes
export const CONFIG_FRAME_BYTES = 2 + REG_GPPUA + 2; // IODIRA..GPPUB: the 14 registers a chip is configured with

export const REGISTER_NAMES =
  'IODIRA IODIRB IPOLA IPOLB GPINTENA GPINTENB DEFVALA DEFVALB INTCONA INTCONB IOCON IOCON GPPUA GPPUB INTFA INTFB INTCAPA INTCAPB GPIOA GPIOB OLATA OLATB';

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
export function replyFault(kind: string, address: number, reply: Uint8Array, expected: Uint8Array, firstRegister: number): string {
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
export interface FaultOwner {
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
export function noteFault(owner: FaultOwner, slot: number, text: string): void {
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
