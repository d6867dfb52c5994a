// Door reed switches, one per locker. A closed door holds its switch closed to ground; the
// pull-up reads high when it opens. Inputs are interrupt-driven and debounced.
import type { Gpio } from '../hal';

export type DoorListener = (index: number, open: boolean, timeMs: number) => void;

/** Where the door inputs physically are: GPIO pins, or a port expander with an interrupt line. */
export interface DoorInputs {
  readonly count: number;
  isOpen(index: number): boolean;
  start(debounceMs: number, onChange: DoorListener): void;
  stop(): void;
}

export function gpioDoorInputs(gpio: Gpio, pins: number[]): DoorInputs {
  let watchIds: number[] = [];
  return {
    count: pins.length,
    isOpen: (index) => gpio.read(pins[index]),
    start(debounceMs, onChange) {
      pins.forEach((pin, index) => {
        watchIds.push(gpio.watch(pin, { edge: 'both', debounceMs }, (high, timeMs) => onChange(index, high, timeMs)));
      });
    },
    stop() {
      for (const id of watchIds) gpio.unwatch(id);
      watchIds = [];
    },
  };
}
