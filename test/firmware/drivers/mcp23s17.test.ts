// The MCP23S17 expander driver (firmware/src/drivers/mcp23s17/{bus,locks,doors}.ts) against register-level chip models
// (hardware/sim/mcp23s17-model.ts), under a deterministic fake clock.
//
// Wiring of the rig: lock chips at hardware addresses 0, 1 and door chips at 2, 3 share one chip
// select (SharedChipSelect: every frame reaches every chip, only the addressed one drives MISO,
// MISO floats elsewhere). Each door chip's INTA is wired onto one open-drain line; the GPIO routes
// that line's falling edges to the driver's watch callback from the clock's queue (as Espruino's
// setWatch delivers from its main loop, never inside an SPI transfer). A closed door holds its pin
// low; an open door releases it and the chip's pull-up makes it read high.

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Clock, Gpio, SpiBus, WatchOptions } from '../../../firmware/src/hal';
import { Mcp23s17Bus } from '../../../firmware/src/drivers/mcp23s17/bus';
import { ExpanderLockOutputs, expanderLockOutputs } from '../../../firmware/src/drivers/mcp23s17/locks';
import { DOOR_RESYNC_MS, ExpanderDoorInputs } from '../../../firmware/src/drivers/mcp23s17/doors';
import { LockBank } from '../../../firmware/src/drivers/lock-bank';
import { Mcp23s17Model, OpenDrainLine, SharedChipSelect } from '../../../hardware/sim/mcp23s17-model';
import { FakeClock } from '../../support/fake-clock';

// --- rig ------------------------------------------------------------------------------------------

const EXPANDER_CS = 27;
const EXPANDER_INT = 33;
const DEBOUNCE_MS = 30;
const LOCK_BASE = 0;
const DOOR_BASE = 2;

interface BenchOptions {
  /** Hardware addresses with no chip fitted. */
  missing?: number[];
  /** What MISO reads where no chip drives it. */
  floatLevel?: number;
  /** Watch callbacks run this late (a busy main loop). */
  edgeDelayMs?: number;
}

/** The chips, the bus, the INT line and the ESP32's pins: everything but the drivers. */
class Bench {
  readonly clock = new FakeClock();
  readonly cs: SharedChipSelect;
  readonly line = new OpenDrainLine(true);
  readonly lockChips: Mcp23s17Model[] = [];
  readonly doorChips: Mcp23s17Model[] = [];
  readonly spi: SpiBus;
  readonly gpio: Gpio;
  readonly chips: number;
  /** The next this-many falling edges are lost before they reach the watch. */
  dropEdges = 0;
  private watches = new Map<number, { pin: number; options: WatchOptions; callback: (high: boolean, timeMs: number) => void }>();
  private nextWatch = 1;

  constructor(readonly lockers: number, options: BenchOptions = {}) {
    this.chips = Math.ceil(lockers / 16);
    this.cs = new SharedChipSelect(options.floatLevel ?? 0xff);
    const missing = options.missing ?? [];
    for (let c = 0; c < this.chips; c++) {
      const lock = new Mcp23s17Model(LOCK_BASE + c);
      const door = new Mcp23s17Model(DOOR_BASE + c);
      this.lockChips.push(lock);
      this.doorChips.push(door);
      if (!missing.includes(lock.address)) this.cs.attach(lock);
      if (!missing.includes(door.address)) this.cs.attach(door);
      this.line.connect(door, 'A'); // INTB is mirrored and left unconnected
    }
    for (let i = 0; i < lockers; i++) this.setDoor(i, false);
    const clock = this.clock;
    this.spi = {
      send: (data, chipSelect) => {
        expect(chipSelect).toBe(EXPANDER_CS);
        return this.cs.transfer(Uint8Array.from(data));
      },
    };
    this.line.onChange((level) => {
      const timeMs = clock.nowMs();
      for (const watch of this.watches.values()) {
        if (watch.pin !== EXPANDER_INT) continue;
        const edge = watch.options.edge;
        if (edge === 'both' || (edge === 'falling' && !level) || (edge === 'rising' && level)) {
          if (this.dropEdges > 0) this.dropEdges--;
          else clock.setTimeout(() => watch.callback(level, timeMs), options.edgeDelayMs ?? 0);
        }
      }
    });
    this.gpio = {
      write: () => {},
      read: (pin) => (pin === EXPANDER_INT ? this.line.level : true),
      watch: (pin, watchOptions, callback) => {
        const id = this.nextWatch++;
        this.watches.set(id, { pin, options: watchOptions, callback });
        return id;
      },
      unwatch: (id) => {
        this.watches.delete(id);
      },
    };
  }

  /** A door without bounce: shut holds the pin low, open releases it (the pull-up reads high). */
  setDoor(locker: number, open: boolean): void {
    this.doorChips[locker >> 4].setInput(locker & 15, open ? null : false);
  }

  /** A door moving with contact bounce: `bounces` extra toggles 1 ms apart, ending at `open`. */
  moveDoor(locker: number, open: boolean, bounces: number): void {
    for (let k = 0; k <= 2 * bounces; k++) {
      const level = k % 2 === 0 ? open : !open;
      this.clock.setTimeout(() => this.setDoor(locker, level), k);
    }
  }

  /** Lockers whose lock output is driven high, over every lock chip. */
  energised(): number[] {
    const on: number[] = [];
    this.lockChips.forEach((chip, c) => {
      for (let pin = 0; pin < 16; pin++) if (chip.output(pin)) on.push(c * 16 + pin);
    });
    return on;
  }

  watchCount(): number {
    return this.watches.size;
  }
}

/** The drivers on a bench, started. */
class Rig {
  readonly bus: Mcp23s17Bus;
  readonly locks: ExpanderLockOutputs;
  readonly doors: ExpanderDoorInputs;
  readonly changes: Array<[number, boolean]> = [];
  readonly changeTimes: number[] = [];
  readonly lockFaults: Array<string | null> = [];
  readonly doorFaults: Array<string | null> = [];
  readonly initTransfers: number;
  readonly doorInit: string | null;

  constructor(readonly bench: Bench) {
    this.bus = new Mcp23s17Bus(bench.spi, EXPANDER_CS);
    this.locks = expanderLockOutputs(this.bus, LOCK_BASE, bench.lockers, (reason) => this.lockFaults.push(reason));
    this.doors = new ExpanderDoorInputs(this.bus, bench.gpio, bench.clock, EXPANDER_INT, DOOR_BASE, bench.lockers, (reason) =>
      this.doorFaults.push(reason),
    );
    this.doorInit = this.doors.init();
    this.initTransfers = this.bus.transfers;
    this.doors.start(DEBOUNCE_MS, (index, open, timeMs) => {
      this.changes.push([index, open]);
      this.changeTimes.push(timeMs);
    });
  }

  run(ms: number): void {
    this.bench.clock.advance(ms);
  }

  /** SPI transfers made while `action` runs and `ms` pass. */
  transfersDuring(action: () => void, ms: number): number {
    const before = this.bus.transfers;
    action();
    this.run(ms);
    return this.bus.transfers - before;
  }
}

const log = (text: string) => console.log(`[mcp23s17] ${text}`);

// --- the model alone ------------------------------------------------------------------------------

describe('Mcp23s17Model: data sheet facts', () => {
  const read = (chip: Mcp23s17Model, address: number, register: number, count: number): number[] =>
    Array.from(chip.transfer(Uint8Array.from([0x41 | (address << 1), register, ...new Array(count).fill(0)]))).slice(2);
  const write = (chip: Mcp23s17Model, address: number, register: number, ...values: number[]): void => {
    chip.transfer(Uint8Array.from([0x40 | (address << 1), register, ...values]));
  };

  it('has the reset values: IODIR 0xFF, everything else 0, INT push-pull inactive high', () => {
    const chip = new Mcp23s17Model(0);
    chip.setInput(3, true);
    expect(read(chip, 0, 0x00, 0x16)).toEqual([0xff, 0xff, ...new Array(0x10).fill(0), 0x08, 0, 0, 0]);
    expect(chip.intDrive('A')).toBe('high');
    expect(chip.intDrive('B')).toBe('high');
  });

  it('answers address 000 until IOCON.HAEN is set, then only its own address', () => {
    const chip = new Mcp23s17Model(5);
    expect(chip.exchange(Uint8Array.from([0x41 | (5 << 1), 0x0a, 0]))).toBeNull();
    expect(read(chip, 0, 0x0a, 1)).toEqual([0x00]);
    write(chip, 0, 0x0a, 0x08); // HAEN through the broadcast address
    expect(chip.exchange(Uint8Array.from([0x41, 0x0a, 0]))).toBeNull();
    expect(read(chip, 5, 0x0a, 2)).toEqual([0x08, 0x08]); // one IOCON at 0x0A and 0x0B
  });

  it('increments the address pointer and rolls over after OLATB; byte mode toggles A/B pairs', () => {
    const chip = new Mcp23s17Model(0);
    write(chip, 0, 0x14, 0x12, 0x34); // OLATA, OLATB
    expect(read(chip, 0, 0x14, 3)).toEqual([0x12, 0x34, 0xff]); // OLATA, OLATB, then IODIRA
    write(chip, 0, 0x0a, 0x20); // SEQOP = 1: byte mode
    expect(read(chip, 0, 0x14, 4)).toEqual([0x12, 0x34, 0x12, 0x34]);
    expect(read(chip, 0, 0x15, 3)).toEqual([0x34, 0x12, 0x34]);
  });

  it('captures the first change in INTF/INTCAP, holds it until INTCAP or GPIO is read, and re-arms', () => {
    const chip = new Mcp23s17Model(0);
    write(chip, 0, 0x0a, 0x44); // MIRROR, ODR
    write(chip, 0, 0x0c, 0xff, 0xff); // pull-ups: released pins read high
    write(chip, 0, 0x04, 0x0f, 0x00); // GPINTENA: pins 0..3
    for (let pin = 0; pin < 4; pin++) chip.setInput(pin, false);
    expect(read(chip, 0, 0x12, 1)).toEqual([0xf0]);
    expect(chip.intDrive('A')).toBe('released');
    chip.setInput(1, null); // pin 1 rises
    expect(chip.intDrive('A')).toBe('low');
    expect(chip.intDrive('B')).toBe('low'); // MIRROR
    chip.setInput(2, null); // a second change while pending is not captured
    expect(read(chip, 0, 0x0e, 1)).toEqual([0x02]); // INTFA: pin 1 only
    expect(read(chip, 0, 0x10, 1)).toEqual([0xf2]); // INTCAPA at the first change; reading it clears
    expect(chip.intDrive('A')).toBe('released');
    expect(read(chip, 0, 0x0e, 3)).toEqual([0x00, 0x00, 0xf2]); // INTF cleared, INTCAP kept
    chip.setInput(1, false); // the next change against the level at the clear raises it again
    expect(chip.intDrive('A')).toBe('low');
    expect(read(chip, 0, 0x12, 1)).toEqual([0xf4]); // reading GPIO clears it too
    expect(chip.intDrive('A')).toBe('released');
  });

  it('keeps a DEFVAL interrupt while the condition holds; push-pull INTPOL drives high when active', () => {
    const chip = new Mcp23s17Model(0);
    write(chip, 0, 0x0a, 0x02); // INTPOL, push-pull, no mirror
    write(chip, 0, 0x05, 0x01); // GPINTENB pin 8
    write(chip, 0, 0x07, 0x00); // DEFVALB
    write(chip, 0, 0x09, 0x01); // INTCONB: compare with DEFVAL
    chip.setInput(8, true);
    expect(chip.intDrive('B')).toBe('high');
    expect(chip.intDrive('A')).toBe('low');
    read(chip, 0, 0x13, 1);
    expect(chip.intDrive('B')).toBe('high'); // still differs from DEFVAL
    chip.setInput(8, false);
    read(chip, 0, 0x13, 1);
    expect(chip.intDrive('B')).toBe('low');
  });

  it('drives outputs from OLAT only where IODIR is 0, and GPIO writes go to OLAT', () => {
    const chip = new Mcp23s17Model(0);
    const seen: Array<[number, boolean]> = [];
    chip.onOutput((pin, high) => seen.push([pin, high]));
    write(chip, 0, 0x12, 0x81, 0x01); // GPIOA/B -> OLATA/B; still inputs
    expect(seen).toEqual([]);
    write(chip, 0, 0x00, 0x7f, 0x00); // pin 7 and port B outputs
    expect(seen).toEqual([[7, true], [8, true]]);
    expect(read(chip, 0, 0x14, 2)).toEqual([0x81, 0x01]);
    chip.reset();
    expect(seen.slice(2)).toEqual([[7, false], [8, false]]);
  });

  it('shares a chip select: only the addressed chip drives MISO, which floats elsewhere', () => {
    const a = new Mcp23s17Model(0);
    const b = new Mcp23s17Model(1);
    const cs = new SharedChipSelect(0xff);
    cs.attach(a);
    cs.attach(b);
    cs.transfer(Uint8Array.from([0x40, 0x0a, 0x08])); // HAEN to both (both answer 000)
    cs.transfer(Uint8Array.from([0x42, 0x14, 0x55])); // OLATA of chip 1 only
    expect(Array.from(cs.transfer(Uint8Array.from([0x43, 0x14, 0])))).toEqual([0xff, 0xff, 0x55]);
    expect(Array.from(cs.transfer(Uint8Array.from([0x41, 0x14, 0])))).toEqual([0xff, 0xff, 0x00]);
    expect(Array.from(cs.transfer(Uint8Array.from([0x47, 0x0a, 0])))).toEqual([0xff, 0xff, 0xff]); // nobody at 3
  });
});

// --- the driver -----------------------------------------------------------------------------------

describe.each([8, 16, 32])('%i lockers', (lockers) => {
  const chips = Math.ceil(lockers / 16);

  it(`configures ${chips} lock chip(s) at 0.. and ${chips} door chip(s) at 2.., without faults`, () => {
    const bench = new Bench(lockers);
    const rig = new Rig(bench);
    expect(rig.locks.fault).toBeNull();
    expect(rig.doorInit).toBeNull();
    expect(rig.lockFaults).toEqual([]);
    expect(rig.doorFaults).toEqual([]);
    for (const chip of [...bench.lockChips, ...bench.doorChips]) expect(chip.register(0x0a)).toBe(0x4c); // MIRROR|HAEN|ODR
    bench.lockChips.forEach((chip) => {
      expect([chip.register(0x00), chip.register(0x01)]).toEqual([0x00, 0x00]); // outputs
      expect([chip.register(0x14), chip.register(0x15)]).toEqual([0x00, 0x00]); // all off
    });
    bench.doorChips.forEach((chip, c) => {
      const used = Math.min(16, lockers - 16 * c);
      const mask = used === 16 ? 0xffff : (1 << used) - 1;
      expect([chip.register(0x00), chip.register(0x01)]).toEqual([0xff, 0xff]);
      expect([chip.register(0x0c), chip.register(0x0d)]).toEqual([0xff, 0xff]);
      expect(chip.register(0x04) | (chip.register(0x05) << 8)).toBe(mask);
    });
    expect(bench.energised()).toEqual([]);
    expect(bench.line.level).toBe(true);
    expect(bench.line.contention).toBe(0);
    for (let i = 0; i < lockers; i++) expect(rig.doors.isOpen(i)).toBe(false);
    expect(bench.watchCount()).toBe(1);
    log(`${lockers} lockers: start (both kinds of chips) = ${rig.initTransfers} SPI transfers`);
  });

  it('set() energises exactly the addressed output pin, and only it', () => {
    const bench = new Bench(lockers);
    const rig = new Rig(bench);
    for (let i = 0; i < lockers; i++) {
      const on = rig.transfersDuring(() => rig.locks.set(i, true), 0);
      expect(bench.energised()).toEqual([i]);
      expect(bench.lockChips[i >> 4].pinLevel(i & 15)).toBe(true);
      const off = rig.transfersDuring(() => rig.locks.set(i, false), 0);
      expect(bench.energised()).toEqual([]);
      expect(on).toBe(2);
      expect(off).toBe(1);
    }
    // Two at once stay independent bits of the shadow (LockBank never does this, but the latch must).
    rig.locks.set(lockers - 1, true);
    rig.locks.set(0, true);
    expect(bench.energised()).toEqual([0, lockers - 1]);
    rig.locks.set(lockers - 1, false);
    expect(bench.energised()).toEqual([0]);
    rig.locks.set(0, false);
    expect(rig.transfersDuring(() => rig.locks.set(0, false), 0)).toBe(0); // already off
    expect(rig.transfersDuring(() => rig.locks.set(lockers, true), 0)).toBe(0); // out of range
    expect(bench.energised()).toEqual([]);
    expect(rig.lockFaults).toEqual([]);
  });

  it('reports each door opening and closing once, through contact bounce', () => {
    const bench = new Bench(lockers);
    const rig = new Rig(bench);
    const doors = [0, lockers >> 1, lockers - 1];
    const costs: number[] = [];
    for (const door of doors) {
      rig.changes.length = 0;
      costs.push(rig.transfersDuring(() => bench.moveDoor(door, true, 3), 200));
      expect(rig.changes).toEqual([[door, true]]);
      expect(rig.doors.isOpen(door)).toBe(true);
      costs.push(rig.transfersDuring(() => bench.moveDoor(door, false, 3), 200));
      expect(rig.changes).toEqual([[door, true], [door, false]]);
      expect(rig.doors.isOpen(door)).toBe(false);
      expect(bench.line.level).toBe(true);
    }
    for (const cost of costs) expect(cost).toBe(2 * chips);
    rig.changes.length = 0;
    const clean = rig.transfersDuring(() => bench.setDoor(doors[1], true), 200);
    expect(rig.changes).toEqual([[doors[1], true]]);
    expect(clean).toBe(2 * chips);
    expect(rig.doorFaults).toEqual([]);
    log(`${lockers} lockers: door change = ${clean} SPI transfers (${chips} door chip(s) read at the edge and after ${DEBOUNCE_MS} ms)`);
  });
});

describe('door debounce', () => {
  it('reports nothing for a glitch that returns to the reported level within the window', () => {
    const bench = new Bench(16);
    const rig = new Rig(bench);
    bench.moveDoor(5, true, 0);
    rig.bench.clock.setTimeout(() => bench.setDoor(5, false), 2);
    rig.run(500);
    expect(rig.changes).toEqual([]);
    expect(rig.doors.isOpen(5)).toBe(false);
    expect(bench.line.level).toBe(true);
  });

  it('reports one change when the first read catches a bounce back to the old level', () => {
    const bench = new Bench(16, { edgeDelayMs: 1 });
    const rig = new Rig(bench);
    const cost = rig.transfersDuring(() => bench.moveDoor(9, true, 2), 300);
    expect(rig.changes).toEqual([[9, true]]);
    log(`door change whose first reads caught bounces: ${cost} SPI transfers`);
    expect(cost).toBeLessThanOrEqual(4);
  });

  it('reports a door shaken across the end of the window once', () => {
    const bench = new Bench(16);
    const rig = new Rig(bench);
    bench.setDoor(3, true);
    rig.run(DEBOUNCE_MS - 2);
    // Shaken for 10 ms across the read that closes the window, and left open.
    for (let t = 0; t < 10; t++) bench.clock.setTimeout(() => bench.setDoor(3, t % 2 === 1), t);
    rig.run(300);
    expect(rig.changes).toEqual([[3, true]]);
    expect(bench.line.level).toBe(true);
  });

  it('reports two doors on different chips that change at once, in one round', () => {
    const bench = new Bench(32);
    const rig = new Rig(bench);
    const cost = rig.transfersDuring(() => {
      bench.setDoor(3, true);
      bench.setDoor(19, true);
    }, 200);
    expect(rig.changes).toEqual([[3, true], [19, true]]);
    expect(cost).toBe(4);
    const closing = rig.transfersDuring(() => {
      bench.moveDoor(19, false, 2);
      bench.moveDoor(3, false, 1);
    }, 200);
    expect(rig.changes.slice(2)).toEqual([[3, false], [19, false]]);
    expect(closing).toBe(4);
    log(`two doors on two chips at once: ${cost} SPI transfers`);
  });

  it('reports a second door that moves while the first is being debounced', () => {
    const bench = new Bench(32);
    const rig = new Rig(bench);
    bench.setDoor(1, true);
    rig.run(10);
    bench.moveDoor(30, true, 2);
    rig.run(200);
    expect(rig.changes).toEqual([[1, true], [30, true]]);
    expect(rig.changeTimes[0]).toBe(0);
    expect(bench.line.level).toBe(true);
  });
});

describe('interrupt line recovery', () => {
  it('a lost edge leaves the line low; the re-sync reads the chips, reports the door and frees the line', () => {
    const bench = new Bench(32);
    const rig = new Rig(bench);
    bench.dropEdges = 1;
    bench.setDoor(20, true);
    rig.run(1000);
    expect(rig.changes).toEqual([]);
    expect(bench.line.level).toBe(false); // stuck: the chip holds INT until GPIO or INTCAP is read
    rig.run(DOOR_RESYNC_MS + DEBOUNCE_MS);
    expect(rig.changes).toEqual([[20, true]]);
    expect(bench.line.level).toBe(true);
    bench.setDoor(20, false); // edges work again
    rig.run(100);
    expect(rig.changes).toEqual([[20, true], [20, false]]);
    expect(rig.doorFaults).toEqual([]);
  });

  it('re-sync costs one transfer per door chip and period', () => {
    const bench = new Bench(32);
    const rig = new Rig(bench);
    const cost = rig.transfersDuring(() => {}, 10 * DOOR_RESYNC_MS);
    expect(cost).toBe(10 * 2);
    log(`re-sync: ${cost / 10} SPI transfers per ${DOOR_RESYNC_MS} ms (32 lockers)`);
  });

  it('a line already low at start (chips kept an interrupt through an ESP32 reset) is read and freed', () => {
    const bench = new Bench(32);
    const first = new Rig(bench);
    first.doors.stop(); // the ESP32 resets: the chips keep their configuration
    bench.setDoor(7, true);
    bench.setDoor(25, true);
    expect(bench.line.level).toBe(false);
    expect(bench.watchCount()).toBe(0);
    const rig = new Rig(bench); // the next boot
    expect(bench.line.level).toBe(true);
    expect(rig.doorFaults).toEqual([]);
    expect(rig.doors.isOpen(7)).toBe(true);
    expect(rig.doors.isOpen(25)).toBe(true);
    expect(rig.changes).toEqual([]); // levels found at start are not changes
    bench.setDoor(7, false);
    rig.run(100);
    expect(rig.changes).toEqual([[7, false]]);
  });

  it('a door that moves between the last read and start() is caught by the line check at start', () => {
    const bench = new Bench(16);
    const bus = new Mcp23s17Bus(bench.spi, EXPANDER_CS);
    const doors = new ExpanderDoorInputs(bus, bench.gpio, bench.clock, EXPANDER_INT, DOOR_BASE, 16, null);
    expect(doors.init()).toBeNull();
    bench.setDoor(11, true); // no watch yet: this edge is lost
    const changes: Array<[number, boolean]> = [];
    doors.start(DEBOUNCE_MS, (index, open) => changes.push([index, open]));
    bench.clock.advance(200);
    expect(changes).toEqual([[11, true]]);
    expect(bench.line.level).toBe(true);
  });

  it('a line held low is a fault; the doors are still read by the re-sync; the repair clears it', () => {
    const bench = new Bench(32);
    const rig = new Rig(bench);
    bench.line.holdLow(true);
    rig.run(1000);
    expect(rig.doorFaults).toEqual(['door interrupt line stuck low: doors are read every 5000 ms']);
    expect(rig.doors.fault).toContain('stuck low');
    const before = rig.bus.transfers;
    rig.run(3000);
    expect(rig.bus.transfers - before).toBeLessThanOrEqual(2); // no busy retrying: the re-sync only
    bench.setDoor(17, true);
    rig.run(DOOR_RESYNC_MS + 2 * DEBOUNCE_MS);
    expect(rig.changes).toEqual([[17, true]]);
    bench.line.holdLow(false);
    rig.run(DOOR_RESYNC_MS);
    expect(rig.doorFaults).toEqual(['door interrupt line stuck low: doors are read every 5000 ms', null]);
    expect(rig.doors.fault).toBeNull();
    bench.setDoor(17, false);
    rig.run(100);
    expect(rig.changes).toEqual([[17, true], [17, false]]);
  });
});

describe('faults', () => {
  it.each([0xff, 0x00])('a missing door chip is a fault (MISO floats to 0x%s); the other chip keeps working', (floatLevel) => {
    const bench = new Bench(32, { missing: [3], floatLevel });
    const rig = new Rig(bench);
    const expected = floatLevel === 0xff ? 'door expander at address 3 does not answer: IOCON = 0xff, expected 0x4c'
      : 'door expander at address 3 does not answer (or was reset): IOCON = 0x00, expected 0x4c';
    expect(rig.doorInit).toBe(expected);
    expect(rig.doorFaults).toEqual([expected]);
    expect(rig.locks.fault).toBeNull();
    bench.setDoor(19, true); // on the missing chip: nothing can see it
    bench.setDoor(4, true);
    rig.run(200);
    expect(rig.changes).toEqual([[4, true]]);
    expect(rig.doors.isOpen(19)).toBe(false);
    rig.run(2 * DOOR_RESYNC_MS);
    expect(rig.changes).toEqual([[4, true]]); // no invented doors from a floating MISO
    // The chip is plugged in (powering up with HAEN = 0): the next re-sync configures it and
    // reports its open door.
    bench.cs.attach(bench.doorChips[1]);
    bench.doorChips[1].reset();
    rig.run(DOOR_RESYNC_MS + DEBOUNCE_MS);
    expect(rig.changes).toEqual([[4, true], [19, true]]);
    expect(rig.doorFaults).toEqual([expected, null]);
    bench.setDoor(19, false);
    rig.run(100);
    expect(rig.changes).toEqual([[4, true], [19, true], [19, false]]);
  });

  it('a missing lock chip is a fault; the other lock chip keeps working', () => {
    const bench = new Bench(32, { missing: [1] });
    const rig = new Rig(bench);
    const expected = 'lock expander at address 1 does not answer: IOCON = 0xff, expected 0x4c';
    expect(rig.locks.fault).toBe(expected);
    expect(rig.lockFaults).toEqual([expected]);
    expect(rig.doorInit).toBeNull();
    rig.locks.set(20, true);
    expect(bench.energised()).toEqual([]);
    rig.locks.set(20, false);
    rig.locks.set(2, true);
    expect(bench.energised()).toEqual([2]);
    rig.locks.set(2, false);
    expect(rig.locks.check()).toBe(expected);
    expect(rig.lockFaults).toEqual([expected]); // reported once
  });

  it('a lock chip reset by a brown-out is configured again before the next coil, and reported', () => {
    const bench = new Bench(32);
    const rig = new Rig(bench);
    bench.lockChips[1].reset(); // HAEN = 0, all inputs: an OLAT write to address 1 would do nothing
    const cost = rig.transfersDuring(() => rig.locks.set(21, true), 0);
    expect(bench.energised()).toEqual([21]);
    expect(rig.lockFaults).toEqual(['lock expander at address 1 does not answer: IOCON = 0xff, expected 0x4c', null]);
    expect(rig.locks.fault).toBeNull();
    expect(rig.locks.reinits).toBe(1);
    rig.locks.set(21, false);
    expect(bench.energised()).toEqual([]);
    log(`lock energise after a brown-out of its chip: ${cost} SPI transfers`);
    // Chip 0 answers address 0 even after a reset: it reads IOCON = 0 and is restored too.
    bench.lockChips[0].reset();
    expect(rig.locks.check()).toBeNull();
    expect(rig.lockFaults.slice(2)).toEqual(['lock expander at address 0 does not answer (or was reset): IOCON = 0x00, expected 0x4c', null]);
    rig.locks.set(0, true);
    expect(bench.energised()).toEqual([0]);
  });

  it('a door chip reset by a brown-out is found by the re-sync, configured again, and its doors still work', () => {
    const bench = new Bench(32);
    const rig = new Rig(bench);
    bench.doorChips[1].reset();
    bench.setDoor(30, true); // no interrupt: GPINTEN is 0 after the reset
    rig.run(DOOR_RESYNC_MS + DEBOUNCE_MS);
    expect(rig.doorFaults).toEqual(['door expander at address 3 does not answer: IOCON = 0xff, expected 0x4c', null]);
    expect(rig.changes).toEqual([[30, true]]);
    bench.setDoor(30, false);
    rig.run(100);
    expect(rig.changes).toEqual([[30, true], [30, false]]);
    expect(rig.doors.status().reinits).toBe(1);
  });

  it('a listener that throws does not stop the driver', () => {
    const bench = new Bench(8);
    const bus = new Mcp23s17Bus(bench.spi, EXPANDER_CS);
    const doors = new ExpanderDoorInputs(bus, bench.gpio, bench.clock, EXPANDER_INT, DOOR_BASE, 8, null);
    const seen: number[] = [];
    doors.start(DEBOUNCE_MS, (index) => {
      seen.push(index);
      throw new Error('listener bug');
    });
    bench.setDoor(2, true);
    bench.clock.advance(100);
    bench.setDoor(6, true);
    bench.clock.advance(100);
    expect(seen).toEqual([2, 6]);
    expect(doors.status().listenerErrors).toBe(2);
    doors.stop();
    expect(bench.watchCount()).toBe(0);
  });
});

describe('with the lock bank', () => {
  it('LockBank pulses a lock through the expander: 2 transfers on, 1 off, none for its start', () => {
    const bench = new Bench(32);
    const rig = new Rig(bench);
    const before = rig.bus.transfers;
    const bank = new LockBank(rig.locks, bench.clock, 500);
    expect(rig.bus.transfers - before).toBe(0); // set(i, false) on a latch already off
    const seen: number[][] = [];
    bench.lockChips.forEach((chip, c) => chip.onOutput((pin, high) => seen.push([c * 16 + pin, high ? 1 : 0, bench.clock.nowMs()])));
    const cost = rig.transfersDuring(() => bank.pulse(17), 1000);
    expect(seen).toEqual([[17, 1, 0], [17, 0, 500]]);
    expect(cost).toBe(3);
    log(`lock pulse (energise + release): ${cost} SPI transfers`);
  });

  it('an ESP32 reset in the middle of a pulse: the next boot switches the coil off first', () => {
    const bench = new Bench(32);
    const rig = new Rig(bench);
    rig.locks.set(29, true);
    rig.doors.stop(); // the ESP32 resets; the chips keep HAEN, IODIR and OLAT: the coil stays on
    expect(bench.energised()).toEqual([29]);
    const seen: Array<[number, boolean]> = [];
    bench.lockChips.forEach((chip, c) => chip.onOutput((pin, high) => seen.push([c * 16 + pin, high])));
    const next = new Rig(bench); // the next boot
    expect(bench.energised()).toEqual([]);
    expect(seen).toEqual([[29, false]]); // off, and nothing else switched on the way
    expect(next.locks.fault).toBeNull();
    next.locks.set(29, true);
    expect(bench.energised()).toEqual([29]);
  });
});

describe('SPI transfers per operation', () => {
  it('are small, and printed for the benchmark', () => {
    const rows: string[] = [];
    for (const lockers of [8, 16, 32]) {
      const chips = Math.ceil(lockers / 16);
      const bench = new Bench(lockers);
      const rig = new Rig(bench);
      const energise = rig.transfersDuring(() => rig.locks.set(lockers - 1, true), 0);
      const release = rig.transfersDuring(() => rig.locks.set(lockers - 1, false), 0);
      const doorOpen = rig.transfersDuring(() => bench.setDoor(lockers - 1, true), 200);
      const doorBounced = rig.transfersDuring(() => bench.moveDoor(lockers - 1, false, 3), 200);
      const check = rig.transfersDuring(() => rig.locks.check(), 0);
      const resync = rig.transfersDuring(() => {}, DOOR_RESYNC_MS);
      expect(rig.changes).toEqual([[lockers - 1, true], [lockers - 1, false]]);
      expect([energise, release, doorOpen, doorBounced, check, resync]).toEqual([2, 1, 2 * chips, 2 * chips, chips, chips]);
      expect(rig.initTransfers).toBe(4 * chips + (1 + 3 * chips)); // locks: IOCON to 0 (and 1), OLAT, config, check; doors: IOCON to 0, 2 (and 3), config, check
      rows.push(
        `${lockers} lockers (${chips}+${chips} chips): start ${rig.initTransfers}, lock on ${energise}, lock off ${release}, `
          + `door change ${doorOpen} (bounced ${doorBounced}), lock check ${check}, re-sync ${resync} per ${DOOR_RESYNC_MS} ms`,
      );
    }
    for (const row of rows) log(row);
  });
});

// --- Espruino ---------------------------------------------------------------------------------------

describe('Espruino', () => {
  it('each file of the driver bundles into code the bundle check accepts', async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
    const { firmwareConfig } = await import(pathToFileURL(path.join(root, 'rollup.config.mjs')).href);
    const { rollup } = await import('rollup');
    const { checkBundle } = (await import(pathToFileURL(path.join(root, 'tools/bundle-check.mjs')).href)) as {
      checkBundle(source: string): Array<{ construct: string; line: number; column: number; snippet: string }>;
    };
    // The firmware's pipeline, on each file alone. A module with exports cannot be a top-level
    // script like the station's bundle, so it is wrapped as an IIFE, with its exported names kept.
    const files: Array<[string, string]> = [['bus', 'Mcp23s17Bus'], ['locks', 'ExpanderLockOutputs'], ['doors', 'ExpanderDoorInputs']];
    for (const [file, exported] of files) {
      const config = firmwareConfig(path.join(root, `firmware/src/drivers/mcp23s17/${file}.ts`), undefined, { mangleProperties: false });
      const bundle = await rollup({ ...config, onwarn: () => {} });
      try {
        const { output } = await bundle.generate({ ...config.output, file: undefined, format: 'iife', name: 'mcp23s17' });
        const code = output[0].code;
        const violations = checkBundle(code);
        expect(violations.map((v) => `${file}.ts ${v.line}:${v.column} ${v.construct} ${v.snippet}`)).toEqual([]);
        expect(code).toContain(exported);
        log(`${file}.ts with what it imports, minified: ${Buffer.byteLength(code)} bytes`);
      } finally {
        await bundle.close();
      }
    }
  });
});
