// Solenoid locks. One coil is energised at a time, for a bounded pulse: a coil is never held on
// (it would overheat and overload the supply), and a request that arrives during a pulse waits its
// turn. On reset every output starts off, so every door stays locked.
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
  /** Lock index energised now, or -1. */
  energised = -1;
  /** Called when a coil is switched on (for feedback and benchmarks). */
  onEnergised: (index: number) => void = () => {};

  constructor(outputs: LockOutputs, clock: Clock, pulseMs: number) {
    this.outputs = outputs;
    this.clock = clock;
    this.pulseMs = pulseMs;
    for (let i = 0; i < outputs.count; i++) outputs.set(i, false);
  }

  pulse(index: number): void {
    if (index < 0 || index >= this.outputs.count) return;
    this.queue.push(index);
    if (!this.busy) this.next();
  }

  /** Pulses still waiting (open-all queues every locker). */
  pending(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  private next(): void {
    const index = this.queue.shift();
    if (index === undefined) {
      this.busy = false;
      return;
    }
    this.busy = true;
    this.energised = index;
    this.outputs.set(index, true);
    this.onEnergised(index);
    this.clock.setTimeout(() => {
      this.outputs.set(index, false);
      this.energised = -1;
      this.clock.setTimeout(() => this.next(), COIL_REST_MS);
    }, this.pulseMs);
  }
}
