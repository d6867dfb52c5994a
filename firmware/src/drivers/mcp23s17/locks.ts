// MCP23S17 lock outputs (lock-bank.ts LockOutputs): the bus, wiring and frame layouts are in bus.ts.

import type { LockOutputs } from '../lock-bank';
import { CONFIG_FRAME_BYTES, IOCON_VALUE, LOCK_FULL_BYTES, OPCODE_READ, OPCODE_WRITE, REG_IOCON, REG_IODIRA, REG_OLATA, checkPlan, noteFault, replyFault } from './bus';
import type { ExpanderFaultListener, FaultOwner, Mcp23s17Bus } from './bus';
import { hex } from '../../codec/bytes';

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
