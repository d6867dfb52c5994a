// Register-level model of the Microchip MCP23S17 16-bit SPI port expander (data sheet DS20001952C),
// for the simulator and the tests. It interprets SPI frames byte by byte as the chip does, so the
// firmware's driver (firmware/src/drivers/mcp23s17/) runs against it unchanged.
//
// Public API
//   new Mcp23s17Model(address?)          a chip whose A2..A0 pins are strapped to `address` (0..7, default 0)
//   model.transfer(bytes): Uint8Array    one chip-select frame, with this chip alone on the chip select:
//                                        MISO bytes it does not drive read 0x00
//   model.exchange(bytes): Uint8Array | null
//                                        the same frame on a shared chip select: null if the chip left SO
//                                        high-impedance for the whole frame (another address, a write
//                                        frame, an opcode that is not 0100xxxx, a dead chip); otherwise
//                                        SO was driven from byte 2 to the end (bytes 0 and 1 hold 0 and
//                                        are not driven)
//   model.setInput(pin, level)           what the outside world does to pin 0..15 (0..7 = GPA0..7,
//                                        8..15 = GPB0..7): true = driven high, false = driven low (a door
//                                        switch closed to ground), null = released (an open switch: the
//                                        pin reads high with GPPU, low without, see "Assumptions")
//   model.pinLevel(pin): boolean         the level on the pin (an output pin: its OLAT bit)
//   model.onOutput(listener(pin, high))  output pins: called when a pin's driven level changes; a pin
//                                        that is an input (high impedance) counts as low, as the gate
//                                        pull-down of a lock driver sees it. Returns an unsubscribe function.
//   model.output(pin): boolean           the same, now
//   model.onInt(listener(pin, drive))    INT pins 'A' and 'B': called when a pin's drive changes;
//                                        drive is 'low' (pulling low), 'high' (push-pull driving high) or
//                                        'released' (open-drain, not active). Returns an unsubscribe function.
//   model.intDrive(pin): IntDrive        the same, now
//   model.register(address): number      peek at a register by its IOCON.BANK = 0 address, no side effects
//   model.reset()                        RESET pin pulse or power-on reset (also a brown-out): reset values
//   model.setResponding(false)           chip without power or not fitted: SO never driven, frames ignored,
//                                        outputs high impedance, INT released; setResponding(true) powers
//                                        it up again through a power-on reset
//   model.frames                         frames addressed to this chip (counted while it responds)
//   new SharedChipSelect(floatLevel?)    several chips on one chip select: attach(model), detach(model),
//                                        transfer(bytes) forwards the frame to every attached chip; the
//                                        MISO byte is the OR of the chips that drive it (one chip, unless
//                                        two share an address), floatLevel (default 0xFF) where none does
//   new OpenDrainLine(pullUp?)           a wired-OR interrupt line: connect(model, 'A' | 'B'); level is
//                                        low while any connected pin pulls it low; onChange(listener(level));
//                                        holdLow(true) shorts it to ground (a wiring fault); contention
//                                        counts moments when one pin drove high while another pulled low
//
// SPI (Addressing SPI Devices; 3.2.1): byte 0 is the control byte 0100 A2 A1 A0 R/W, byte 1 the
// register address, then data. With IOCON.HAEN = 1 the chip answers only control bytes carrying its
// own A2..A0; with HAEN = 0 its pins are ignored and it answers A2..A0 = 000. The address pointer
// moves after every data byte: SEQOP = 0 (sequential) increments it, rolling over from the last
// register to 0x00; SEQOP = 1 (byte mode) keeps it with BANK = 1 and toggles it between the A and B
// register of a pair with BANK = 0 (GPIOA, GPIOB, GPIOA, ...). HAEN takes effect from the next frame;
// BANK and SEQOP from the next byte.
//
// Registers (3.5, addresses as IOCON.BANK = 0 maps them; BANK = 1 maps A to 0x00..0x0A and B to
// 0x10..0x1A): IODIR (reset 0xFF), IPOL, GPINTEN, DEFVAL, INTCON, IOCON (one register at two
// addresses; bit 0 reads 0), GPPU, INTF and INTCAP (read-only, writes ignored), GPIO (reads the pins,
// writes go to OLAT), OLAT. Everything but IODIR resets to 0.
//
// Interrupts (3.6.4, 3.6.5), per port: an input pin with GPINTEN set raises the port's interrupt when
// it differs from its previous level (INTCON = 0) or from DEFVAL (INTCON = 1). The first such event
// sets INTF to the pins that caused it and copies the port into INTCAP; later events are not
// captured while it is pending. Reading GPIO or INTCAP of the port clears it (INTF goes to 0, INTCAP
// keeps its value, the previous level becomes the pin levels now); a DEFVAL condition that still
// holds raises it again at once. INTA follows port A, INTB port B; with MIRROR both follow either.
// The pins drive active low, or active high with INTPOL, or open-drain active low with ODR.
//
// Assumptions where the data sheet is silent: a released input without pull-up reads low (the real
// pin floats); IPOL inverts only input pins, and DEFVAL, INTCAP and the previous level compare GPIO
// register values (after IPOL); in sequential mode with BANK = 1 the pointer runs through
// 0x00..0x1A (unimplemented addresses read 0) and rolls over to 0x00; INT pins of a chip held in
// reset or without power are released; an external level on an output pin is ignored (contention
// is not modelled). Not modelled: the A2 silicon erratum (with HAEN = 0, a chip whose A2 pin is high
// answers 1xx instead of 000), DISSLW, timing (a frame is atomic).

export type IntPin = 'A' | 'B';
export type IntDrive = 'low' | 'high' | 'released';
export type OutputListener = (pin: number, high: boolean) => void;
export type IntListener = (pin: IntPin, drive: IntDrive) => void;

// Registers by their IOCON.BANK = 0 address (the index into the register file).
const IODIRA = 0x00;
const IPOLA = 0x02;
const GPINTENA = 0x04;
const DEFVALA = 0x06;
const INTCONA = 0x08;
const IOCON = 0x0a;
const GPPUA = 0x0c;
const INTFA = 0x0e;
const INTCAPA = 0x10;
const GPIOA = 0x12;
const OLATA = 0x14;
const REGISTERS = 0x16;

const IOCON_BANK = 0x80;
const IOCON_MIRROR = 0x40;
const IOCON_SEQOP = 0x20;
const IOCON_HAEN = 0x08;
const IOCON_ODR = 0x04;
const IOCON_INTPOL = 0x02;

/** Register-file index of a register address, as IOCON.BANK maps it, or -1 if unimplemented. */
function registerIndex(address: number, bank1: boolean): number {
  if (!bank1) return address < REGISTERS ? address : -1;
  if (address <= 0x0a) return address * 2;
  if (address >= 0x10 && address <= 0x1a) return (address - 0x10) * 2 + 1;
  return -1;
}

export class Mcp23s17Model {
  readonly address: number;
  /** Frames addressed to this chip. */
  frames = 0;
  private regs = new Uint8Array(REGISTERS);
  /** External drive of each pin: true/false driven, null released. */
  private external: Array<boolean | null> = new Array(16).fill(null);
  /** Per port: an interrupt is pending. */
  private pending = [false, false];
  /** Per port: the previous level the interrupt-on-change compares with (GPIO register value). */
  private previous = [0, 0];
  private responding = true;
  private outputs: boolean[] = new Array(16).fill(false);
  private ints: IntDrive[] = ['released', 'released'];
  private outputListeners: OutputListener[] = [];
  private intListeners: IntListener[] = [];

  constructor(address = 0) {
    if (!(address >= 0 && address <= 7 && Number.isInteger(address))) throw new Error(`MCP23S17 address must be 0..7, not ${address}`);
    this.address = address;
    this.powerOnReset();
    this.update();
  }

  // --- pins ----------------------------------------------------------------------------------

  setInput(pin: number, level: boolean | null): void {
    this.checkPin(pin);
    this.external[pin] = level;
    this.update();
  }

  pinLevel(pin: number): boolean {
    this.checkPin(pin);
    const port = pin >> 3;
    const bit = 1 << (pin & 7);
    if (!this.responding || (this.regs[IODIRA + port] & bit) !== 0) {
      const driven = this.external[pin];
      if (driven !== null) return driven;
      return this.responding && (this.regs[GPPUA + port] & bit) !== 0;
    }
    return (this.regs[OLATA + port] & bit) !== 0;
  }

  output(pin: number): boolean {
    this.checkPin(pin);
    return this.outputs[pin];
  }

  onOutput(listener: OutputListener): () => void {
    this.outputListeners.push(listener);
    return () => {
      this.outputListeners = this.outputListeners.filter((l) => l !== listener);
    };
  }

  intDrive(pin: IntPin): IntDrive {
    return this.ints[pin === 'A' ? 0 : 1];
  }

  onInt(listener: IntListener): () => void {
    this.intListeners.push(listener);
    return () => {
      this.intListeners = this.intListeners.filter((l) => l !== listener);
    };
  }

  // --- power ---------------------------------------------------------------------------------

  reset(): void {
    this.powerOnReset();
    this.update();
  }

  setResponding(on: boolean): void {
    if (on === this.responding) return;
    this.responding = on;
    this.powerOnReset();
    this.update();
  }

  get isResponding(): boolean {
    return this.responding;
  }

  register(address: number): number {
    if (address === GPIOA || address === GPIOA + 1) return this.portValue(address - GPIOA);
    return address >= 0 && address < REGISTERS ? this.regs[address] : 0;
  }

  // --- SPI -----------------------------------------------------------------------------------

  transfer(bytes: Uint8Array): Uint8Array {
    return this.exchange(bytes) ?? new Uint8Array(bytes.length);
  }

  exchange(bytes: Uint8Array): Uint8Array | null {
    if (!this.responding || bytes.length === 0) return null;
    const control = bytes[0];
    if ((control & 0xf0) !== 0x40) return null;
    const hardwareAddress = (control >> 1) & 0x07;
    const haen = (this.regs[IOCON] & IOCON_HAEN) !== 0;
    if (hardwareAddress !== (haen ? this.address : 0)) return null;
    this.frames++;
    const read = (control & 0x01) !== 0;
    const miso = new Uint8Array(bytes.length);
    if (bytes.length < 2) return read ? miso : null;
    let pointer = bytes[1];
    for (let i = 2; i < bytes.length; i++) {
      if (read) miso[i] = this.readAt(pointer);
      else this.writeAt(pointer, bytes[i]);
      pointer = this.advance(pointer);
    }
    return read ? miso : null;
  }

  private advance(pointer: number): number {
    const iocon = this.regs[IOCON];
    const bank1 = (iocon & IOCON_BANK) !== 0;
    if ((iocon & IOCON_SEQOP) !== 0) return bank1 ? pointer : pointer ^ 1; // byte mode
    const last = bank1 ? 0x1a : REGISTERS - 1;
    return pointer >= last ? 0 : pointer + 1;
  }

  private readAt(address: number): number {
    const index = registerIndex(address, (this.regs[IOCON] & IOCON_BANK) !== 0);
    if (index < 0) return 0;
    const port = index & 1;
    if (index === GPIOA + port || index === INTCAPA + port) {
      const value = index === GPIOA + port ? this.portValue(port) : this.regs[INTCAPA + port];
      this.clearInterrupt(port);
      return value;
    }
    return this.regs[index];
  }

  private writeAt(address: number, value: number): void {
    const index = registerIndex(address, (this.regs[IOCON] & IOCON_BANK) !== 0);
    if (index < 0) return;
    const port = index & 1;
    if (index === INTFA + port || index === INTCAPA + port) return; // read-only
    if (index === IOCON || index === IOCON + 1) {
      this.regs[IOCON] = value & 0xfe; // bit 0 unimplemented
      this.regs[IOCON + 1] = value & 0xfe;
    } else if (index === GPIOA + port) {
      this.regs[OLATA + port] = value;
    } else {
      this.regs[index] = value;
    }
    this.update();
  }

  // --- logic ---------------------------------------------------------------------------------

  private powerOnReset(): void {
    this.regs.fill(0);
    this.regs[IODIRA] = 0xff;
    this.regs[IODIRA + 1] = 0xff;
    this.pending[0] = this.pending[1] = false;
    this.previous[0] = this.portValue(0);
    this.previous[1] = this.portValue(1);
  }

  /** GPIO register value of a port: input pins (after IPOL) and output pins' levels. */
  private portValue(port: number): number {
    let value = 0;
    for (let bit = 0; bit < 8; bit++) {
      if (this.pinLevel(port * 8 + bit)) value |= 1 << bit;
    }
    const inputs = this.regs[IODIRA + port];
    return (value ^ (this.regs[IPOLA + port] & inputs)) & 0xff;
  }

  private clearInterrupt(port: number): void {
    this.pending[port] = false;
    this.regs[INTFA + port] = 0;
    this.previous[port] = this.portValue(port);
    this.update();
  }

  /** Re-evaluates outputs, interrupt conditions and INT pins, and tells the listeners what changed. */
  private update(): void {
    for (let port = 0; port < 2; port++) this.evaluateInterrupt(port);
    for (let pin = 0; pin < 16; pin++) {
      const port = pin >> 3;
      const bit = 1 << (pin & 7);
      const high = this.responding && (this.regs[IODIRA + port] & bit) === 0 && (this.regs[OLATA + port] & bit) !== 0;
      if (high !== this.outputs[pin]) {
        this.outputs[pin] = high;
        for (const listener of this.outputListeners) listener(pin, high);
      }
    }
    const iocon = this.regs[IOCON];
    const mirror = (iocon & IOCON_MIRROR) !== 0;
    for (let port = 0; port < 2; port++) {
      const active = this.pending[port] || (mirror && this.pending[1 - port]);
      let drive: IntDrive;
      if (!this.responding) drive = 'released';
      else if ((iocon & IOCON_ODR) !== 0) drive = active ? 'low' : 'released';
      else drive = active === ((iocon & IOCON_INTPOL) !== 0) ? 'high' : 'low';
      if (drive !== this.ints[port]) {
        this.ints[port] = drive;
        const pin: IntPin = port === 0 ? 'A' : 'B';
        for (const listener of this.intListeners) listener(pin, drive);
      }
    }
  }

  private evaluateInterrupt(port: number): void {
    if (!this.responding) return;
    const value = this.portValue(port);
    if (this.pending[port]) return; // later events are not captured until it is cleared
    const enabled = this.regs[GPINTENA + port] & this.regs[IODIRA + port];
    const intcon = this.regs[INTCONA + port];
    const causes = (((value ^ this.regs[DEFVALA + port]) & intcon) | ((value ^ this.previous[port]) & ~intcon)) & enabled;
    if (causes !== 0) {
      this.pending[port] = true;
      this.regs[INTFA + port] = causes;
      this.regs[INTCAPA + port] = value;
    }
    this.previous[port] = value;
  }

  private checkPin(pin: number): void {
    if (!(pin >= 0 && pin <= 15 && Number.isInteger(pin))) throw new Error(`MCP23S17 pin must be 0..15, not ${pin}`);
  }
}

/** Several MCP23S17 on one chip-select line (hardware addressing). */
export class SharedChipSelect {
  private chips: Mcp23s17Model[] = [];
  /** What MISO reads where no chip drives it. */
  floatLevel: number;
  /** Frames transferred. */
  frames = 0;

  constructor(floatLevel = 0xff) {
    this.floatLevel = floatLevel;
  }

  attach(chip: Mcp23s17Model): void {
    if (!this.chips.includes(chip)) this.chips.push(chip);
  }

  detach(chip: Mcp23s17Model): void {
    this.chips = this.chips.filter((c) => c !== chip);
  }

  transfer(bytes: Uint8Array): Uint8Array {
    this.frames++;
    let driven: Uint8Array | null = null;
    for (const chip of this.chips) {
      const out = chip.exchange(bytes);
      if (!out) continue;
      if (!driven) driven = out;
      else for (let i = 0; i < out.length; i++) driven[i] |= out[i];
    }
    const miso = new Uint8Array(bytes.length).fill(this.floatLevel);
    if (driven) miso.set(driven.subarray(2), 2);
    return miso;
  }
}

/** A wired-OR interrupt line with a pull-up: low while any connected INT pin pulls it low. */
export class OpenDrainLine {
  private drives: Array<() => IntDrive> = [];
  private listeners: Array<(level: boolean) => void> = [];
  private shorted = false;
  private current: boolean;
  private readonly pullUp: boolean;
  /** Times one pin drove high while another pulled low (push-pull outputs on a shared line). */
  contention = 0;

  constructor(pullUp = true) {
    this.pullUp = pullUp;
    this.current = pullUp;
  }

  get level(): boolean {
    return this.current;
  }

  connect(chip: Mcp23s17Model, pin: IntPin): void {
    this.drives.push(() => chip.intDrive(pin));
    chip.onInt((changed) => {
      if (changed === pin) this.evaluate();
    });
    this.evaluate();
  }

  onChange(listener: (level: boolean) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** A short to ground (true) or its repair (false). */
  holdLow(shorted: boolean): void {
    this.shorted = shorted;
    this.evaluate();
  }

  private evaluate(): void {
    let low = this.shorted;
    let high = false;
    for (const drive of this.drives) {
      const d = drive();
      if (d === 'low') low = true;
      else if (d === 'high') high = true;
    }
    if (low && high) this.contention++;
    const level = low ? false : high ? true : this.pullUp;
    if (level === this.current) return;
    this.current = level;
    for (const listener of this.listeners) listener(level);
  }
}
