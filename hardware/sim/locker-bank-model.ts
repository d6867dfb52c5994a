// The physical locker bank: solenoid locks on output pins and doors with reed switches on input
// pins. Each door has a kick spring: while its lock is energised the door pops open by itself
// (unless it is jammed); a person closes it, and it latches. A closed door holds its reed switch
// closed, pulling the input low. Contacts bounce for a few ms on every move, so the firmware's
// debounce is exercised.
import type { Board } from './board';
import { Mcp23s17Model, OpenDrainLine, SharedChipSelect } from './mcp23s17-model';

/** How the bank is wired to the controller: coils to switch, door switches to drive. */
export interface LockerWiring {
  readonly lockers: number;
  onCoil(locker: number, listener: (energised: boolean) => void): void;
  /** A door switch: open reads high (pull-up), shut pulls the input low. */
  setDoorSwitch(locker: number, open: boolean): void;
}

/** Locks and doors straight on ESP32 pins. */
export function gpioWiring(board: Board, lockPins: number[], doorPins: number[]): LockerWiring {
  return {
    lockers: lockPins.length,
    onCoil: (locker, listener) => board.onOutput(lockPins[locker], listener),
    setDoorSwitch: (locker, open) => board.drive(doorPins[locker], open),
  };
}

/** The expander board: MCP23S17s on one chip select (lock chips 0-1, door chips 2-3), INT wired-OR. */
export class ExpanderWiring implements LockerWiring {
  readonly lockers: number;
  readonly bus = new SharedChipSelect();
  readonly lockChips: Mcp23s17Model[] = [];
  readonly doorChips: Mcp23s17Model[] = [];
  readonly interrupt = new OpenDrainLine(true);

  constructor(board: Board, lockers: number, interruptPin: number) {
    this.lockers = lockers;
    const chips = Math.ceil(lockers / 16);
    for (let i = 0; i < chips; i++) {
      const lockChip = new Mcp23s17Model(i);
      const doorChip = new Mcp23s17Model(2 + i);
      this.bus.attach(lockChip);
      this.bus.attach(doorChip);
      this.interrupt.connect(doorChip, 'A');
      this.lockChips.push(lockChip);
      this.doorChips.push(doorChip);
    }
    board.drive(interruptPin, this.interrupt.level);
    this.interrupt.onChange((level) => board.drive(interruptPin, level));
  }

  onCoil(locker: number, listener: (energised: boolean) => void): void {
    this.lockChips[Math.floor(locker / 16)].onOutput((pin, high) => {
      if (pin === locker % 16) listener(high);
    });
  }

  setDoorSwitch(locker: number, open: boolean): void {
    // An open reed switch releases the pin (the chip's pull-up reads high); a shut one grounds it.
    this.doorChips[Math.floor(locker / 16)].setInput(locker % 16, open ? null : false);
  }
}

export interface LockPulse {
  locker: number;
  startMs: number;
  endMs: number | null;
}

/** How long the kick spring takes to push an unlatched door open. */
export const SPRING_MS = 40;

export class LockerBankModel {
  private wiring: LockerWiring;
  private bounceMs: number;
  readonly doorOpen: boolean[];
  readonly jammed: boolean[];
  readonly pulses: LockPulse[] = [];
  /** Most coils energised at the same moment so far (the supply budget allows one). */
  maxSimultaneous = 0;
  private unlockListeners: Array<(locker: number) => void> = [];
  private doorListeners: Array<(locker: number, open: boolean) => void> = [];

  constructor(wiring: LockerWiring, bounceMs = 3) {
    this.wiring = wiring;
    this.bounceMs = bounceMs;
    this.doorOpen = new Array(wiring.lockers).fill(false);
    this.jammed = new Array(wiring.lockers).fill(false);
    for (let locker = 0; locker < wiring.lockers; locker++) {
      wiring.setDoorSwitch(locker, false);
      wiring.onCoil(locker, (energised) => this.coil(locker, energised));
    }
  }

  private coil(locker: number, energised: boolean): void {
    if (energised) {
      this.pulses.push({ locker, startMs: Date.now(), endMs: null });
      this.maxSimultaneous = Math.max(this.maxSimultaneous, this.pulses.filter((p) => p.endMs === null).length);
      for (const listener of this.unlockListeners) listener(locker);
      setTimeout(() => {
        if (this.isEnergised(locker) && !this.jammed[locker]) this.moveDoor(locker, true);
      }, SPRING_MS);
    } else {
      const pulse = [...this.pulses].reverse().find((p) => p.locker === locker && p.endMs === null);
      if (pulse) pulse.endMs = Date.now();
    }
  }

  get lockers(): number {
    return this.wiring.lockers;
  }

  isEnergised(locker: number): boolean {
    return this.pulses.some((p) => p.locker === locker && p.endMs === null);
  }

  /** Calls back whenever a lock is energised; returns a function that stops the calls. */
  onUnlock(listener: (locker: number) => void): () => void {
    this.unlockListeners.push(listener);
    return () => {
      this.unlockListeners = this.unlockListeners.filter((l) => l !== listener);
    };
  }

  onDoor(listener: (locker: number, open: boolean) => void): () => void {
    this.doorListeners.push(listener);
    return () => {
      this.doorListeners = this.doorListeners.filter((l) => l !== listener);
    };
  }

  /** Someone forces a locked door open (or it was never latched). */
  forceDoor(locker: number): void {
    this.moveDoor(locker, true);
  }

  closeDoor(locker: number): void {
    this.moveDoor(locker, false);
  }

  /** A jammed door does not spring open when its lock is released (a lock fault, seen from outside). */
  jam(locker: number, jammed: boolean): void {
    this.jammed[locker] = jammed;
  }

  private moveDoor(locker: number, open: boolean): void {
    if (this.doorOpen[locker] === open) return;
    this.doorOpen[locker] = open;
    const wiring = this.wiring;
    for (const listener of this.doorListeners) listener(locker, open);
    wiring.setDoorSwitch(locker, open);
    if (this.bounceMs <= 0) return;
    // Reed contacts chatter as the magnet passes: toggle, then settle on the final level.
    setTimeout(() => {
      if (this.doorOpen[locker] === open) wiring.setDoorSwitch(locker, !open);
    }, 1);
    setTimeout(() => wiring.setDoorSwitch(locker, this.doorOpen[locker]), Math.max(2, this.bounceMs));
  }
}
