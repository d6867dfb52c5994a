// Solenoid locks. One coil is energised at a time, for a bounded pulse: a coil is never held on
// (it would overheat and overload the supply), and a request that arrives during a pulse waits its
// turn. That queue is bounded: a locker already waiting is not queued twice (its one pulse opens
// it), so it holds at most one pulse per locker, and no pulse waits longer than the others' turns,
// lockers x (pulseMs + COIL_REST_MS) (an open-all of 32 lockers with 500 ms pulses: about 17.6 s).
// Each request is told when its coil will be released, so the station times its door from then.
// On reset every output starts off, so every door stays locked.
import type { Clock, Gpio } from '../hal';

/** Where the lock outputs physically are: GPIO pins, or a port expander. */
export interface LockOutputs {
  readonly count: number;
  set(index: number, energised: boolean): void;
}

export function gpioLockOutputs(gpio: Gpio, pins: number[]): LockOutputs {
  for (const pin of pins) gpio.write(pin, false);
  return {
    count: pins.length,
    set: (index, energised) => gpio.write(pins[index], energised),
  };
}

/** Rest between two coils, so the supply's inrush stays within budget during open-all. */
export const COIL_REST_MS = 50;

export class LockBank {
  private outputs: LockOutputs;
  private clock: Clock;
  private queue: number[] = [];
  private busy = false;
  private pulseMs: number;

  constructor(outputs: LockOutputs, clock: Clock, pulseMs: number) {
    this.outputs = outputs;
    this.clock = clock;
    this.pulseMs = pulseMs;
    for (let i = 0; i < outputs.count; i++) outputs.set(i, false);
  }

  /**
   * Queues one pulse of a locker's coil. Returns the ms until that coil is released (an upper
   * bound: the pulse under way may be partly done), or 0 for no such locker.
   */
  pulse(index: number): number {
    if (!(index >= 0 && index < this.outputs.count)) return 0;
    const queue = this.queue;
    let position = queue.indexOf(index);
    if (position < 0) position = queue.push(index) - 1;
    if (!this.busy) {
      this.next();
      return this.pulseMs;
    }
    // Behind the pulse under way and those queued before it, each a pulse and a rest.
    return (position + 1) * (this.pulseMs + COIL_REST_MS) + this.pulseMs;
  }

  private next(): void {
    const index = this.queue.shift();
    if (index === undefined) {
      this.busy = false;
      return;
    }
    this.busy = true;
    this.outputs.set(index, true);
    this.clock.setTimeout(() => {
      this.outputs.set(index, false);
      this.clock.setTimeout(() => this.next(), COIL_REST_MS);
    }, this.pulseMs);
  }
}
