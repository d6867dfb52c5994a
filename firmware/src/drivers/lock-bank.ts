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
