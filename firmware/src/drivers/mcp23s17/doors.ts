// MCP23S17 door inputs (door-bank.ts DoorInputs): the bus, wiring and frame layouts are in bus.ts.
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

import type { Clock, Gpio, PinNumber } from '../../hal';
import { nameAt } from '../../codec/bytes';
import type { DoorInputs, DoorListener } from '../door-bank';
import { CONFIG_FRAME_BYTES, DOOR_FULL_BYTES, EVENT_FRAME_BYTES, EV_GPIO, EV_GPPU, EV_IOCON, IOCON_VALUE, OPCODE_READ, OPCODE_WRITE, REG_GPINTENA, REG_GPIOA, REG_GPPUA, REG_IOCON, REG_IODIRA, checkPlan, noteFault, replyFault } from './bus';
import type { ExpanderFaultListener, FaultOwner, Mcp23s17Bus } from './bus';

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
const NO_TIMER = -1;

// Door events, for tick().
const EV_START = 0; //  start(): only the check that the INT line is released
const EV_EDGE = 1; //   the INT line fell
const EV_TIMER = 2; //  a debounce or line-low wait ended
const EV_RESYNC = 3; // the periodic full read

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
