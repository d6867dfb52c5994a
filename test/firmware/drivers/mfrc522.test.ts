// The MFRC522 driver (firmware/src/drivers/mfrc522.ts) against the register-level chip model
// (hardware/sim/mfrc522-model.ts), under a deterministic fake clock.
//
// Wiring of the rig: the SPI bus hands every frame to model.transfer and counts it; the GPIO routes
// the model's IRQ level changes to the driver's watch callback with falling-edge semantics,
// delivered from the clock's queue (as Espruino's setWatch delivers from its main loop, never inside
// an SPI transfer); the reset pin drives model.setResetPin (NRSTPD).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import type { Clock, Gpio, SpiBus, WatchOptions } from '../../../firmware/src/hal';
import { MFRC522_DEFAULTS, Mfrc522, type Mfrc522Options } from '../../../firmware/src/drivers/mfrc522';
import { Iso14443aCard, Mfrc522Model, crcA, type SelfTestOutcome } from '../../../hardware/sim/mfrc522-model';
import { FakeClock } from '../../support/fake-clock';

// --- rig ------------------------------------------------------------------------------------------

const PINS = { cs: 5, irq: 4, reset: 22 };

interface RigOptions {
  options?: Partial<Mfrc522Options>;
  /** false: the IRQ wire is broken (no edges; the ESP32's pull-up reads high). */
  irqWired?: boolean;
  /** Watch callbacks run this late (a busy main loop). */
  edgeDelayMs?: number;
  version?: number;
  selfTest?: SelfTestOutcome;
  /** -1: NRSTPD not wired, the driver must use SoftReset. */
  resetPin?: number;
}

class Rig {
  readonly clock = new FakeClock();
  readonly model: Mfrc522Model;
  readonly driver: Mfrc522;
  readonly cards: string[] = [];
  readonly faults: string[] = [];
  recoveries = 0;
  spiFrames = 0;
  /** The next this-many IRQ edges are lost before they reach the watch. */
  dropEdges = 0;
  onCardHook: ((uid: Uint8Array) => void) | null = null;
  private readonly watches = new Map<number, { pin: number; options: WatchOptions; callback: (high: boolean, timeMs: number) => void }>();
  private readonly levels = new Map<number, boolean>();
  private nextWatch = 1;

  constructor(rigOptions: RigOptions = {}) {
    const irqWired = rigOptions.irqWired ?? true;
    const clock = this.clock;
    this.model = new Mfrc522Model({
      schedule: (callback, delayMs) => clock.setTimeout(callback, delayMs),
      version: rigOptions.version,
      selfTest: rigOptions.selfTest,
      onIrq: (level) => {
        if (!irqWired) return;
        const timeMs = clock.nowMs();
        for (const watch of this.watches.values()) {
          if (watch.pin !== PINS.irq) continue;
          const edge = watch.options.edge;
          if (edge === 'both' || (edge === 'falling' && !level) || (edge === 'rising' && level)) {
            if (this.dropEdges > 0) this.dropEdges--;
            else clock.setTimeout(() => watch.callback(level, timeMs), rigOptions.edgeDelayMs ?? 0);
          }
        }
      },
    });
    const model = this.model;
    const spi: SpiBus = {
      send: (data, chipSelect) => {
        expect(chipSelect).toBe(PINS.cs);
        this.spiFrames++;
        return model.transfer(Uint8Array.from(data));
      },
    };
    const gpio: Gpio = {
      write: (pin, high) => {
        const was = this.levels.get(pin);
        this.levels.set(pin, high);
        if (pin === PINS.reset && high !== was) model.setResetPin(high);
      },
      read: (pin) => (pin === PINS.irq ? (irqWired ? model.irqLevel : true) : (this.levels.get(pin) ?? true)),
      watch: (pin, options, callback) => {
        const id = this.nextWatch++;
        this.watches.set(id, { pin, options, callback });
        return id;
      },
      unwatch: (id) => {
        this.watches.delete(id);
      },
    };
    const pins = { ...PINS, reset: rigOptions.resetPin ?? PINS.reset };
    this.driver = new Mfrc522(spi, gpio, clock, pins, { ...MFRC522_DEFAULTS, ...rigOptions.options });
  }

  start(): void {
    this.driver.start({
      onCard: (uid) => {
        this.cards.push(hex(uid));
        if (this.onCardHook) this.onCardHook(uid);
      },
      onFault: (reason) => this.faults.push(reason),
      onRecovered: () => this.recoveries++,
    });
  }

  run(ms: number): void {
    this.clock.advance(ms);
  }

  /** Advances in small steps until `done()` holds; fails the test after `limitMs`. */
  runUntil(done: () => boolean, limitMs: number): void {
    for (let t = 0; t <= limitMs; t += 0.25) {
      if (done()) return;
      this.clock.advance(0.25);
    }
    throw new Error(`condition not reached within ${limitMs} ms (driver ${JSON.stringify(this.driver.status())})`);
  }

  /** SPI transfers made while advancing `ms`. */
  transfersDuring(ms: number): number {
    const before = this.driver.status().spiTransfers;
    this.run(ms);
    return this.driver.status().spiTransfers - before;
  }

  watchCount(): number {
    return this.watches.size;
  }
}

function hex(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!.map((b) => parseInt(b, 16)));
}

/** A rig started and idle, just before the poll at t = 200 ms (polls every 100 ms, health every 2 s). */
function idleRig(rigOptions: RigOptions = {}): Rig {
  const rig = new Rig(rigOptions);
  rig.start();
  rig.run(150);
  expect(rig.driver.status().state).toBe('idle');
  return rig;
}

const UID4 = bytes('c0ffee42');
const UID7 = bytes('04a1b2c3d4e5f6');
const UID10 = bytes('0811223344556677889a');

// --- the model alone --------------------------------------------------------------------------

describe('Mfrc522Model: data sheet facts', () => {
  const read = (model: Mfrc522Model, ...registers: number[]): number[] =>
    Array.from(model.transfer(Uint8Array.from([...registers.map((r) => 0x80 | (r << 1)), 0]))).slice(1);
  const write = (model: Mfrc522Model, register: number, ...values: number[]): void => {
    model.transfer(Uint8Array.from([register << 1, ...values]));
  };
  const newModel = (onIrq?: (level: boolean) => void) => {
    const clock = new FakeClock();
    const model = new Mfrc522Model({ schedule: (cb, ms) => clock.setTimeout(cb, ms), onIrq });
    return { clock, model };
  };

  it('has the reset values of the data sheet, read back to back in one frame', () => {
    const { model } = newModel();
    // VersionReg, CommandReg, ComIEnReg, ComIrqReg, Status1Reg, FIFOLevelReg, WaterLevelReg, ControlReg,
    // CollReg, ModeReg, TxControlReg, RFCfgReg, TModeReg, AutoTestReg
    expect(read(model, 0x37, 0x01, 0x02, 0x04, 0x07, 0x0a, 0x0b, 0x0c, 0x0e, 0x11, 0x14, 0x26, 0x2a, 0x36)).toEqual([
      0x92, 0x20, 0x80, 0x14, 0x21, 0x00, 0x08, 0x10, 0xa0, 0x3f, 0x80, 0x48, 0x00, 0x40,
    ]);
    expect(read(new Mfrc522Model({ schedule: () => 0, version: 0x91 }), 0x37)).toEqual([0x91]);
  });

  it('computes CRC_A with CalcCRC: [0x50, 0x00] gives 0x57 0xCD', () => {
    expect(crcA([0x50, 0x00])).toBe(0xcd57); // low byte first on air: 57 CD
    const { model } = newModel();
    write(model, 0x11, 0x3d); // ModeReg: CRCPreset 6363h
    write(model, 0x09, 0x50, 0x00); // FIFO burst
    write(model, 0x01, 0x03); // CalcCRC
    const [msb, lsb, divIrq, level] = read(model, 0x21, 0x22, 0x05, 0x0a);
    expect([lsb, msb]).toEqual([0x57, 0xcd]);
    expect(divIrq & 0x04).toBe(0x04); // CRCIRq
    expect(level).toBe(0); // the FIFO went into the coprocessor
  });

  it('keeps a 64-byte FIFO: bursts, FIFOLevelReg, repeated-address reads, FlushBuffer, BufferOvfl', () => {
    const { model } = newModel();
    write(model, 0x09, 1, 2, 3);
    expect(read(model, 0x0a)).toEqual([3]);
    expect(read(model, 0x09, 0x09, 0x09, 0x0a)).toEqual([1, 2, 3, 0]);
    write(model, 0x09, ...new Array(65).fill(7));
    expect(read(model, 0x0a, 0x06)).toEqual([64, 0x10]); // full, ErrorReg.BufferOvfl
    write(model, 0x0a, 0x80); // FlushBuffer also clears BufferOvfl
    expect(read(model, 0x0a, 0x06)).toEqual([0, 0x00]);
  });

  it('drives the IRQ pin from ComIEnReg/ComIrqReg with Set1 semantics, IRqInv and push-pull', () => {
    const levels: boolean[] = [];
    const { model } = newModel((level) => levels.push(level));
    expect(model.irqLevel).toBe(false); // open drain after reset, no pull-up: the line floats low
    write(model, 0x03, 0x80); // DivIEnReg: IRQPushPull
    write(model, 0x02, 0xa0); // ComIEnReg: IRqInv | RxIEn
    expect(model.irqLevel).toBe(true);
    write(model, 0x04, 0x80 | 0x20); // Set1: set RxIRq
    expect(model.irqLevel).toBe(false);
    expect(read(model, 0x04, 0x07)).toEqual([0x34, 0x31]); // RxIRq|IdleIRq|LoAlertIRq; Status1 IRq bit
    write(model, 0x04, 0x20); // Set1 = 0: clear RxIRq only
    expect(model.irqLevel).toBe(true);
    expect(read(model, 0x04)).toEqual([0x14]);
    expect(levels).toEqual([true, false, true]);
    const pulledUp = new Mfrc522Model({ schedule: () => 0, irqPullUp: true });
    expect(pulledUp.irqLevel).toBe(true);
  });

  it('times out a transceive with TimerIRq when no card answers, and delivers ATQA when one does', () => {
    const { clock, model } = newModel();
    write(model, 0x2a, 0x80); // TAuto
    write(model, 0x2b, 0xa9); // 25 us ticks
    write(model, 0x2d, 200); // 200 ticks = 5 ms
    write(model, 0x14, 0x83); // antenna on
    const reqa = () => {
      write(model, 0x04, 0x7f);
      write(model, 0x01, 0x0c); // Transceive
      write(model, 0x09, 0x26); // REQA
      write(model, 0x0d, 0x87); // StartSend, 7 bits
    };
    reqa();
    clock.advance(5);
    expect(read(model, 0x04)[0] & 0x21).toBe(0); // transmitted, timer still running
    clock.advance(2);
    expect(read(model, 0x04)[0] & 0x21).toBe(0x01); // TimerIRq, no RxIRq
    const card = new Iso14443aCard(UID4);
    model.placeCard(card);
    reqa();
    clock.advance(1);
    // TxIRq | RxIRq; no error; 2 bytes, whole last byte; ATQA 0x0004 of a single-size UID
    expect(read(model, 0x04, 0x06, 0x0a, 0x0c, 0x09, 0x09)).toEqual([0x60, 0x00, 2, 0x10, 0x04, 0x00]);
    expect(card.state).toBe('READY');
  });

  it('runs the ISO/IEC 14443-3 card states: anticollision, SELECT with CRC_A, HLTA, removal', () => {
    const { clock, model } = newModel();
    write(model, 0x14, 0x83);
    const card = new Iso14443aCard(UID7);
    model.placeCard(card);
    const exchange = (frame: number[], lastBits = 0, crc = false): number[] => {
      write(model, 0x12, crc ? 0x80 : 0);
      write(model, 0x13, crc ? 0x80 : 0);
      write(model, 0x04, 0x7f);
      write(model, 0x01, 0x0c);
      write(model, 0x09, ...frame);
      write(model, 0x0d, 0x80 | lastBits);
      clock.advance(1);
      const [irq, error, level] = read(model, 0x04, 0x06, 0x0a);
      expect(error).toBe(0);
      return irq & 0x20 ? read(model, ...new Array(level).fill(0x09)) : [];
    };
    expect(exchange([0x26], 7)).toEqual([0x44, 0x00]); // ATQA of a double-size UID
    const cl1 = exchange([0x93, 0x20]);
    expect(cl1).toEqual([0x88, 0x04, 0xa1, 0xb2, 0x88 ^ 0x04 ^ 0xa1 ^ 0xb2]);
    expect(exchange([0x93, 0x70, ...cl1], 0, true)).toEqual([0x04]); // SAK: UID not complete (CRC_A checked, removed)
    const cl2 = exchange([0x95, 0x20]);
    expect(cl2).toEqual([0xc3, 0xd4, 0xe5, 0xf6, 0xc3 ^ 0xd4 ^ 0xe5 ^ 0xf6]);
    expect(exchange([0x95, 0x70, ...cl2], 0, true)).toEqual([0x00]);
    expect(card.state).toBe('ACTIVE');
    expect(exchange([0x50, 0x00], 0, true)).toEqual([]); // HLTA: no answer
    expect(card.state).toBe('HALT');
    expect(exchange([0x26], 7)).toEqual([]); // REQA does not wake a halted card
    expect(exchange([0x52], 7)).toEqual([0x44, 0x00]); // WUPA does
    model.removeCard(card);
    expect(card.state).toBe('IDLE');
    expect(() => new Iso14443aCard(bytes('0102030405'))).toThrow(/4, 7 or 10/);
  });

  it('reports a collision (ErrorReg.CollErr, CollReg) when two cards answer', () => {
    const { clock, model } = newModel();
    write(model, 0x14, 0x83);
    model.placeCard(new Iso14443aCard(bytes('11223344')));
    model.placeCard(new Iso14443aCard(bytes('11223345')));
    write(model, 0x01, 0x0c);
    write(model, 0x09, 0x26);
    write(model, 0x0d, 0x87);
    clock.advance(1);
    expect(read(model, 0x06, 0x0a)).toEqual([0x00, 2]); // same ATQA: no collision yet
    write(model, 0x0a, 0x80);
    write(model, 0x04, 0x7f);
    write(model, 0x09, 0x93, 0x20);
    write(model, 0x0d, 0x80);
    clock.advance(1);
    const [irq, error, coll] = read(model, 0x04, 0x06, 0x0e);
    expect(irq & 0x22).toBe(0x22); // RxIRq and ErrIRq
    expect(error & 0x08).toBe(0x08); // CollErr
    expect(coll).toBe(0x80 | 25); // ValuesAfterColl, first collision in bit 25 (uid3 bit 0)
  });

  it('runs the digital self test of data sheet 16.1.1 and fills the FIFO with the version reference', () => {
    const selfTest = (model: Mfrc522Model, clearBuffer = true): number[] => {
      write(model, 0x01, 0x0f); // SoftReset
      if (clearBuffer) {
        write(model, 0x09, ...new Array(25).fill(0));
        write(model, 0x01, 0x01); // Mem
      }
      write(model, 0x36, 0x09); // AutoTestReg: self test
      write(model, 0x09, 0x00);
      write(model, 0x01, 0x03); // CalcCRC
      return read(model, ...new Array(64).fill(0x09));
    };
    for (const [version, start] of [[0x91, [0x00, 0xc6, 0x37, 0xd5]], [0x92, [0x00, 0xeb, 0x66, 0xba]]]) {
      const clock = new FakeClock();
      const model = new Mfrc522Model({ schedule: (cb, ms) => clock.setTimeout(cb, ms), version: version as number });
      write(model, 0x09, 1, 2, 3); // leftovers in the internal buffer: the procedure clears them
      write(model, 0x01, 0x01);
      write(model, 0x01, 0x0f); // SoftReset
      expect(read(model, 0x36)).toEqual([0x40]);
      write(model, 0x09, ...new Array(25).fill(0));
      write(model, 0x01, 0x01);
      write(model, 0x36, 0x09);
      write(model, 0x09, 0x00);
      write(model, 0x01, 0x03);
      expect(read(model, 0x0a)).toEqual([0]); // not yet
      clock.advance(1);
      expect(read(model, 0x0a)).toEqual([64]);
      const result = read(model, ...new Array(64).fill(0x09));
      expect(result.slice(0, 4)).toEqual(start);
      expect(result[63]).toBe(version === 0x91 ? 0x79 : 0x2f);
    }
    // Without clearing the internal buffer, or on a faulty chip, other bytes.
    const clock = new FakeClock();
    const model = new Mfrc522Model({ schedule: (cb, ms) => clock.setTimeout(cb, ms) });
    write(model, 0x09, 1, 2, 3);
    write(model, 0x01, 0x01);
    selfTest(model, false);
    clock.advance(1);
    expect(read(model, 0x09, 0x09)).not.toEqual([0x00, 0xeb]);
    write(model, 0x0a, 0x80);
    model.setSelfTest('wrong');
    selfTest(model);
    clock.advance(1);
    const wrong = read(model, ...new Array(64).fill(0x09));
    expect(wrong[16]).toBe(0x9d);
    expect(wrong[17]).toBe(0x3b ^ 0x40);
  });

  it('answers 0x00 to everything while not responding, and comes back as after power-on', () => {
    const { model } = newModel();
    write(model, 0x11, 0x3d);
    model.setResponding(false);
    expect(read(model, 0x37, 0x11)).toEqual([0x00, 0x00]);
    write(model, 0x11, 0x3e);
    model.setResponding(true);
    expect(read(model, 0x37, 0x11)).toEqual([0x92, 0x3f]);
  });
});

// --- the driver -------------------------------------------------------------------------------

describe('Mfrc522 driver', () => {
  it('boots: hard reset, version check, self test, configuration, IRQ loopback, then idle polling', () => {
    const rig = new Rig();
    rig.start();
    expect(rig.driver.status().state).toBe('resetting');
    rig.run(52);
    expect(rig.driver.status().state).toBe('self-test');
    rig.run(47); // t = 99
    const status = rig.driver.status();
    expect(status).toMatchObject({ state: 'idle', resets: 1, version: 0x92, polls: 0, lastFault: '' });
    // 1 VersionReg read; self test: SoftReset, its check, 25 zeros + Mem + AutoTestReg 09h + FIFO 00h +
    // CalcCRC, FIFOLevelReg check, one 65-byte read of the 64 FIFO bytes, AutoTestReg 00h, SoftReset,
    // its check (12); 12 configuration writes + the Set1 test interrupt + its clear (14).
    expect(status.spiTransfers).toBe(1 + 12 + 14);
    expect(rig.faults).toEqual([]);
  });

  it('passes the self test of a v1.0 (0x91) and a v2.0 (0x92) chip, and reads cards', () => {
    for (const version of [0x91, 0x92]) {
      const rig = idleRig({ version });
      expect(rig.driver.status()).toMatchObject({ version, lastFault: '', spiTransfers: 27 + 3 }); // boot, and the poll at 100 ms
      rig.model.placeCard(new Iso14443aCard(UID4));
      rig.run(100);
      expect(rig.cards).toEqual(['c0ffee42']);
    }
  });

  it('reports a chip failing the self test as a fault, reads no card until it passes', () => {
    const rig = new Rig({ selfTest: 'wrong' });
    const card = new Iso14443aCard(UID4);
    rig.model.placeCard(card);
    rig.start();
    rig.run(3000); // attempts at 0, 0.31, 0.87 and 1.93 s (each fails 60 ms in; backoff 0.25, 0.5, 1, 2 s)
    expect(rig.faults).toEqual(['self test failed: byte 17 = 0x7b, not 0x3b']);
    const status = rig.driver.status();
    expect(status).toMatchObject({ state: 'fault', polls: 0, reads: 0, version: 0 });
    expect(status.resets).toBe(4);
    expect(rig.cards).toEqual([]);
    expect(card.state).toBe('IDLE'); // the antenna was never switched on
    rig.model.setSelfTest('pass');
    rig.run(1200); // next attempt at 3.99 s
    expect(rig.recoveries).toBe(1);
    expect(rig.driver.status()).toMatchObject({ state: 'idle', version: 0x92 });
    expect(rig.cards).toEqual(['c0ffee42']);
    expect(rig.faults).toHaveLength(1);
  });

  it('times out a self test that never fills the FIFO, with a bounded number of checks', () => {
    const rig = new Rig({ selfTest: 'none' });
    rig.start();
    rig.run(200);
    expect(rig.faults).toEqual(['self test: FIFO holds 0 of 64 bytes']);
    // version, SoftReset, check, 5 writes to start the test, 10 FIFOLevelReg checks, AutoTestReg 00h
    expect(rig.driver.status().spiTransfers).toBe(1 + 1 + 1 + 5 + 10 + 1);
    expect(rig.model.transfer(Uint8Array.from([0x80 | (0x36 << 1), 0]))[1]).toBe(0x00); // AutoTestReg restored
  });

  it('polls with 3 SPI transfers and no JavaScript wake-ups when no card is there', () => {
    const rig = idleRig();
    rig.run(49.5); // t = 199.5, just before the poll at 200
    const perPoll: number[] = [];
    for (let i = 0; i < 18; i++) perPoll.push(rig.transfersDuring(100)); // polls at 200 .. 1900
    expect(perPoll).toEqual(new Array(18).fill(3));
    expect(rig.transfersDuring(100)).toBe(3 + 1); // poll and health check (one 4-byte read) at 2000
    const before = rig.driver.status();
    rig.run(8000);
    const after = rig.driver.status();
    expect(after.polls - before.polls).toBe(80);
    expect(after.spiTransfers - before.spiTransfers).toBe(80 * 3 + 4); // 4 health checks
    expect(rig.cards).toEqual([]);
    expect(after.aborts).toBe(0);
  });

  it('reads a 4-byte UID in 17 SPI transfers (+2 on the next poll to drop the CRC)', () => {
    const rig = idleRig();
    rig.model.placeCard(new Iso14443aCard(UID4));
    expect(rig.transfersDuring(60)).toBe(17); // poll at 200: REQA 3, ATQA 1, CL1 3+1, SELECT 5+1, HLTA 3
    expect(rig.cards).toEqual(['c0ffee42']);
    expect(rig.transfersDuring(100)).toBe(2 + 3); // poll at 300: TxCRCEn/RxCRCEn off, REQA; halted card silent
    expect(rig.driver.status()).toMatchObject({ reads: 1, aborts: 0 });
  });

  it('reads a 7-byte UID in 29 SPI transfers', () => {
    const rig = idleRig();
    rig.model.placeCard(new Iso14443aCard(UID7));
    expect(rig.transfersDuring(60)).toBe(29);
    expect(rig.cards).toEqual(['04a1b2c3d4e5f6']);
  });

  it('reads a 10-byte UID in 41 SPI transfers', () => {
    const rig = idleRig();
    rig.model.placeCard(new Iso14443aCard(UID10, 0x20));
    expect(rig.transfersDuring(60)).toBe(41);
    expect(rig.cards).toEqual(['0811223344556677889a']);
  });

  it('reports a card held on the reader once, and again only after it left and came back', () => {
    const rig = idleRig();
    const card = new Iso14443aCard(UID7);
    rig.model.placeCard(card);
    rig.run(5000); // 50 polls
    expect(rig.cards).toEqual(['04a1b2c3d4e5f6']);
    expect(card.state).toBe('HALT');
    rig.model.removeCard(card);
    rig.run(1000);
    rig.model.placeCard(card);
    rig.run(1000);
    expect(rig.cards).toEqual(['04a1b2c3d4e5f6', '04a1b2c3d4e5f6']);
    expect(rig.driver.status()).toMatchObject({ reads: 2, aborts: 0 });
  });

  it('counts a card that missed its HLTA (and answers every other poll) as one presentation', () => {
    const rig = idleRig();
    rig.model.placeCard(new Iso14443aCard(UID4, undefined, { ignoresHalt: true }));
    rig.run(2000);
    expect(rig.cards).toEqual(['c0ffee42']);
    expect(rig.driver.status().reads).toBeGreaterThan(5);
  });

  it('aborts cleanly when the card leaves mid-anticollision, and reads it when it is back', () => {
    const rig = idleRig();
    const card = new Iso14443aCard(UID7);
    rig.model.placeCard(card);
    rig.runUntil(() => rig.driver.status().state === 'anticoll', 200);
    rig.model.removeCard(card); // gone before it could answer ANTICOLLISION CL1
    rig.runUntil(() => rig.driver.status().state === 'idle', 100);
    expect(rig.driver.status()).toMatchObject({ aborts: 1, lastAbort: expect.stringMatching(/no answer to anticoll CL1/) });
    expect(rig.faults).toEqual([]);
    rig.run(500);
    expect(rig.cards).toEqual([]);
    rig.model.placeCard(card);
    rig.run(200);
    expect(rig.cards).toEqual(['04a1b2c3d4e5f6']);
  });

  it('aborts when the card leaves between SELECT CL1 and CL2 of a 7-byte UID', () => {
    const rig = idleRig();
    const card = new Iso14443aCard(UID7);
    rig.model.placeCard(card);
    rig.runUntil(() => rig.driver.status().state === 'select', 200);
    rig.runUntil(() => rig.driver.status().state === 'anticoll', 10); // now at CL2
    rig.model.removeCard(card);
    rig.run(100);
    expect(rig.driver.status().lastAbort).toMatch(/no answer to anticoll CL2/);
    expect(rig.cards).toEqual([]);
  });

  it('still reads when every IRQ edge arrives after the step timeout (busy main loop)', () => {
    const rig = idleRig({ edgeDelayMs: 30 }); // exchangeTimeoutMs is 25
    rig.model.placeCard(new Iso14443aCard(UID7));
    rig.run(300);
    expect(rig.cards).toEqual(['04a1b2c3d4e5f6']);
    expect(rig.driver.status()).toMatchObject({ aborts: 0, lastFault: '', state: 'idle' });
    expect(rig.faults).toEqual([]);
  });

  it('picks up an answer whose IRQ edge was lost at the next poll', () => {
    const rig = idleRig();
    rig.dropEdges = 1; // the ATQA's edge never reaches the watch: the line stays low
    rig.model.placeCard(new Iso14443aCard(UID4));
    rig.run(60);
    expect(rig.cards).toEqual([]);
    expect(rig.model.irqLevel).toBe(false);
    rig.run(100); // the poll at 300 finds the line low and reads the ATQA
    expect(rig.cards).toEqual(['c0ffee42']);
    expect(rig.faults).toEqual([]);
  });

  it('rejects a UID CLn with a bad BCC, then reads the card on a later poll', () => {
    const rig = idleRig();
    rig.model.placeCard(new Iso14443aCard(UID4));
    rig.runUntil(() => rig.driver.status().state === 'anticoll', 200);
    rig.model.corruptNextResponse('flip');
    rig.run(1000);
    expect(rig.driver.status()).toMatchObject({ aborts: 1, lastAbort: 'BCC mismatch in UID CL1' });
    expect(rig.cards).toEqual(['c0ffee42']);
  });

  it('rejects a SAK with a CRC error (checked by the chip), then reads the card on a later poll', () => {
    const rig = idleRig();
    rig.model.placeCard(new Iso14443aCard(UID7));
    rig.runUntil(() => rig.driver.status().state === 'select', 200);
    rig.model.corruptNextResponse('flip');
    rig.run(1000);
    expect(rig.driver.status()).toMatchObject({ aborts: 1, lastAbort: 'CRC error in SAK CL1' });
    expect(rig.cards).toEqual(['04a1b2c3d4e5f6']);
  });

  it('rejects a UID CLn of the wrong length (a byte lost) and a damaged ATQA', () => {
    const rig = idleRig();
    const card = new Iso14443aCard(UID4);
    rig.model.placeCard(card);
    rig.runUntil(() => rig.driver.status().state === 'anticoll', 200);
    rig.model.corruptNextResponse('truncate');
    rig.runUntil(() => rig.driver.status().state === 'idle', 50);
    expect(rig.driver.status().lastAbort).toBe('UID CL1 of 4 bytes (0 bits in the last)');
    rig.model.removeCard(card);
    rig.run(300);
    rig.model.corruptNextResponse('flip'); // the next answer is an ATQA: 0x05 announces two anticollision bits
    rig.model.placeCard(card);
    rig.run(100);
    expect(rig.driver.status().lastAbort).toBe('ATQA 0x05 0x00 without bit frame anticollision');
    rig.run(500);
    expect(rig.cards).toEqual(['c0ffee42']);
    expect(rig.driver.status().aborts).toBe(2);
  });

  it('never reports an invalid UID: a 4-byte UID that starts with the cascade tag 0x88', () => {
    const rig = idleRig();
    rig.model.placeCard(new Iso14443aCard(bytes('88123456')));
    rig.run(2000);
    expect(rig.cards).toEqual([]);
    const status = rig.driver.status();
    expect(status.lastAbort).toBe('SAK CL1 = 0x08 disagrees with the cascade tag');
    expect(status.state).toBe('idle');
    expect(rig.faults).toEqual([]);
  });

  it('aborts on a collision of two cards and reads the one left in the field', () => {
    const rig = idleRig();
    const first = new Iso14443aCard(bytes('11223344'));
    rig.model.placeCard(first);
    rig.model.placeCard(new Iso14443aCard(bytes('11223345')));
    rig.run(1000);
    expect(rig.cards).toEqual([]);
    expect(rig.driver.status().lastAbort).toBe('collision in UID CL1 at bit 25');
    rig.model.removeCard(first);
    rig.run(1000);
    expect(rig.cards).toEqual(['11223345']);
  });

  it('reports a reader that stops answering, backs off, and recovers without a reboot', () => {
    const rig = idleRig();
    rig.model.setResponding(false);
    rig.run(2000); // the health check at t = 2000 reads VersionReg = 0x00
    expect(rig.faults).toEqual(['reader stopped answering: VersionReg = 0x00']);
    expect(rig.driver.status().state).toBe('fault');
    const resetsBefore = rig.driver.status().resets;
    const transfers = rig.transfersDuring(8000);
    const status = rig.driver.status();
    expect(status.resets - resetsBefore).toBe(5); // retries after 0.25, 0.5, 1, 2 and 4 s
    expect(transfers).toBe(5); // one VersionReg read per attempt: no busy polling while down
    expect(status.lastFault).toBe('no reader: VersionReg = 0x00');
    expect(rig.faults).toHaveLength(1); // reported once per episode
    rig.model.setResponding(true);
    rig.run(9000); // next attempt 8 s after the last
    expect(rig.recoveries).toBe(1);
    expect(rig.driver.status().state).toBe('idle');
    rig.model.placeCard(new Iso14443aCard(UID4));
    rig.run(200);
    expect(rig.cards).toEqual(['c0ffee42']);
  });

  it('settles in "failed" after repeated attempts and still recovers when the chip answers', () => {
    const rig = idleRig();
    rig.model.setResponding(false);
    rig.run(60000);
    expect(rig.driver.status().state).toBe('failed');
    const transfers = rig.transfersDuring(60000);
    expect(transfers).toBe(2); // one VersionReg probe every 30 s, no reset
    rig.model.setResponding(true);
    rig.run(31000);
    expect(rig.recoveries).toBe(1);
    expect(rig.driver.status().state).toBe('idle');
  });

  it('notices a chip that reset itself (brown-out) and configures it again', () => {
    const rig = idleRig();
    rig.model.hardReset(); // behind the driver's back: registers back to reset values, field off
    rig.run(2000);
    expect(rig.faults).toEqual(['reader lost its configuration (reset?): ComIEnReg = 0x80']);
    rig.run(500);
    expect(rig.recoveries).toBe(1);
    rig.model.placeCard(new Iso14443aCard(UID7));
    rig.run(200);
    expect(rig.cards).toEqual(['04a1b2c3d4e5f6']);
  });

  it('reports an IRQ line that does not work, found by the loopback test at start', () => {
    const rig = new Rig({ irqWired: false });
    rig.start();
    rig.run(1100);
    expect(rig.faults).toEqual(['IRQ line did not fall on a test interrupt']);
    expect(rig.driver.status().state).toBe('fault');
  });

  it('resets with SoftReset when no reset pin is wired', () => {
    const rig = new Rig({ resetPin: -1 });
    rig.model.hardReset(); // as after power-on
    rig.model.transfer(Uint8Array.from([0x12 << 1, 0x80])); // leftovers the SoftReset must clear
    rig.start();
    rig.run(99);
    expect(rig.driver.status()).toMatchObject({ state: 'idle', resets: 1, spiTransfers: 1 + 27 }); // SoftReset + the usual 27
    rig.model.placeCard(new Iso14443aCard(UID4));
    rig.run(100);
    expect(rig.cards).toEqual(['c0ffee42']);
  });

  it('accepts the FM17522 clone (0x88), refuses a chip without self-test reference (0x12) and a missing reader (0xFF)', () => {
    const clone = new Rig({ version: 0x88 });
    clone.start();
    clone.run(100);
    expect(clone.driver.status()).toMatchObject({ state: 'idle', version: 0x88 });
    for (const [version, fault] of [
      [0x12, 'self test: unknown VersionReg 0x12'],
      [0xff, 'no reader: VersionReg = 0xff'],
    ] as const) {
      const rig = new Rig({ version });
      rig.start();
      rig.run(100);
      expect(rig.faults).toEqual([fault]);
      expect(rig.driver.status().spiTransfers).toBe(1); // one VersionReg read, no self test
    }
  });

  it('keeps reading when the listener throws', () => {
    const rig = idleRig();
    rig.onCardHook = () => {
      throw new Error('station bug');
    };
    const card = new Iso14443aCard(UID4);
    rig.model.placeCard(card);
    rig.run(100);
    rig.model.removeCard(card);
    rig.run(500);
    rig.model.placeCard(card);
    rig.run(100);
    expect(rig.cards).toEqual(['c0ffee42', 'c0ffee42']);
    expect(rig.driver.status()).toMatchObject({ listenerErrors: 2, state: 'idle' });
  });

  it('stop() releases timers and the IRQ watch, and switches the antenna off', () => {
    const rig = idleRig();
    expect(rig.watchCount()).toBe(1);
    const pendingWhileRunning = rig.clock.pending();
    rig.driver.stop();
    expect(rig.watchCount()).toBe(0);
    // The one interval that polls and checks the chip's health.
    expect(rig.clock.pending()).toBe(pendingWhileRunning - 1);
    expect(rig.transfersDuring(5000)).toBe(0);
    expect(rig.driver.status().state).toBe('stopped');
    const card = new Iso14443aCard(UID4);
    rig.model.placeCard(card);
    rig.model.transfer(Uint8Array.from([0x01 << 1, 0x0c])); // even a REQA sent now reaches no card:
    rig.model.transfer(Uint8Array.from([0x09 << 1, 0x26])); // the field is off
    rig.model.transfer(Uint8Array.from([0x0d << 1, 0x87]));
    rig.run(10);
    expect(card.state).toBe('IDLE');
  });

  it('refuses options it cannot honour', () => {
    const make = (options: Partial<Mfrc522Options>) => () => new Rig({ options });
    expect(make({ exchangeTimeoutMs: 5 })).toThrow(/exchangeTimeoutMs/);
    expect(make({ antennaGain: 8 })).toThrow(/antennaGain/);
    expect(make({ antennaGain: 2.5 })).toThrow(/antennaGain/);
    expect(make({ pollIntervalMs: Number.NaN })).toThrow(/pollIntervalMs/);
  });

  it('uses only what Espruino runs (see shared/ESPRUINO.md)', () => {
    const babel = createRequire(import.meta.url)('@babel/core') as {
      transformSync(code: string, options: object): { code: string };
    };
    const source = readFileSync(new URL('../../../firmware/src/drivers/mfrc522.ts', import.meta.url), 'utf8');
    const js = babel.transformSync(source, {
      filename: 'mfrc522.ts',
      babelrc: false,
      configFile: false,
      presets: [['@babel/preset-typescript', { onlyRemoveTypeImports: false }]],
    }).code;
    const found: string[] = [];
    const forbiddenNodes = [
      'ObjectPattern', 'ArrayPattern', 'AssignmentPattern', 'RestElement', 'SpreadElement', 'ChainExpression',
      'AwaitExpression', 'YieldExpression', 'LabeledStatement', 'TaggedTemplateExpression',
    ];
    const forbiddenGlobals = ['Map', 'Set', 'WeakMap', 'Symbol'];
    const forbiddenMembers = ['Array.from', 'Math.imul', 'Number.isInteger', 'Object.freeze'];
    walk.full(acorn.parse(js, { ecmaVersion: 'latest', sourceType: 'module' }), (node: any) => {
      if (forbiddenNodes.includes(node.type)) found.push(node.type);
      if ((node.type === 'BinaryExpression' || node.type === 'AssignmentExpression') && node.operator.startsWith('**')) found.push('**');
      if (/Function/.test(node.type) && (node.async || node.generator)) found.push('async/generator');
      if ((node.type === 'Property' || node.type === 'MethodDefinition') && node.computed) found.push('computed key');
      if (node.type === 'Identifier' && forbiddenGlobals.includes(node.name)) found.push(node.name);
      if (node.type === 'MemberExpression' && node.object.type === 'Identifier' && !node.computed) {
        const name = `${node.object.name}.${node.property.name}`;
        if (forbiddenMembers.includes(name)) found.push(name);
      }
      if (node.type === 'MemberExpression' && !node.computed && node.property.name === 'lastIndexOf') found.push('lastIndexOf');
      if (node.type === 'CatchClause' && !node.param) found.push('catch without binding');
      if (node.type === 'ClassDeclaration' && node.superClass) found.push('extends');
    });
    expect(found).toEqual([]);
  });
});
