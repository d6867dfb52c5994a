// The pins of a simulated ESP32: output levels the firmware writes, input levels the simulated
// devices drive, and setWatch with Espruino's semantics (edge filter, debounce, repeat). Watch
// callbacks run later from the event loop, as Espruino runs them from its main loop.

export type Level = boolean;

export interface WatchEvent {
  state: boolean;
  time: number;
  lastTime: number;
}

interface Watch {
  id: number;
  pin: number;
  edge: 'rising' | 'falling' | 'both';
  debounceMs: number;
  repeat: boolean;
  callback: (event: WatchEvent) => void;
  reported: Level;
  lastTime: number;
  timer: NodeJS.Timeout | null;
}

export class Board {
  private levels = new Map<number, Level>();
  private outputListeners = new Map<number, Array<(level: Level) => void>>();
  private watches = new Map<number, Watch>();
  private nextWatchId = 1;
  /** Seconds since this board booted, as getTime() reports. */
  nowSec: () => number;
  /** Rising edges the firmware made on an output pin so far. */
  risingEdges(pin: number): number {
    return this.outputHistory.filter((change) => change.pin === pin && change.high).length;
  }

  /** Every change the firmware made to an output, oldest first (the last 5,000). */
  readonly outputHistory: Array<{ pin: number; high: boolean; timeSec: number }> = [];
  /** Runs a firmware callback; the environment wraps it so a firmware error never escapes into Node. */
  invoke: (callback: () => void) => void = (callback) => callback();

  constructor(nowSec: () => number) {
    this.nowSec = nowSec;
  }

  read(pin: number): Level {
    // Unconnected inputs float high: every watched ESP32 pin gets its internal pull-up.
    return this.levels.get(pin) ?? true;
  }

  /** The firmware drives an output. */
  write(pin: number, level: Level): void {
    const previous = this.levels.get(pin);
    this.levels.set(pin, level);
    if (previous === level) return;
    this.outputHistory.push({ pin, high: level, timeSec: this.nowSec() });
    if (this.outputHistory.length > 5000) this.outputHistory.shift();
    for (const listener of this.outputListeners.get(pin) ?? []) listener(level);
  }

  onOutput(pin: number, listener: (level: Level) => void): void {
    const listeners = this.outputListeners.get(pin) ?? [];
    listeners.push(listener);
    this.outputListeners.set(pin, listeners);
  }

  /** A device (door switch, reader IRQ line) drives an input. */
  drive(pin: number, level: Level): void {
    const previous = this.read(pin);
    this.levels.set(pin, level);
    if (previous === level) return;
    const time = this.nowSec();
    for (const watch of [...this.watches.values()]) {
      if (watch.pin === pin) this.edge(watch, time);
    }
  }

  private edge(watch: Watch, time: number): void {
    if (watch.debounceMs <= 0) {
      const state = this.read(watch.pin);
      setImmediate(() => this.fire(watch, state, time));
      return;
    }
    // Debounce as Espruino does: report only a level that stayed put for debounceMs.
    if (watch.timer) clearTimeout(watch.timer);
    watch.timer = setTimeout(() => {
      watch.timer = null;
      const state = this.read(watch.pin);
      if (state !== watch.reported) this.fire(watch, state, time);
    }, watch.debounceMs);
  }

  private fire(watch: Watch, state: Level, time: number): void {
    if (!this.watches.has(watch.id)) return;
    watch.reported = state;
    const wanted = watch.edge === 'both' || (watch.edge === 'rising') === state;
    if (!wanted) return;
    const event = { state, time, lastTime: watch.lastTime };
    watch.lastTime = time;
    if (!watch.repeat) this.clearWatch(watch.id);
    this.invoke(() => watch.callback(event));
  }

  setWatch(callback: (event: WatchEvent) => void, pin: number, options: { edge?: string; debounce?: number; repeat?: boolean }): number {
    const edge = options.edge === 'rising' || options.edge === 'falling' ? options.edge : 'both';
    const watch: Watch = {
      id: this.nextWatchId++,
      pin,
      edge,
      debounceMs: options.debounce ?? 0,
      repeat: options.repeat ?? false,
      callback,
      reported: this.read(pin),
      lastTime: this.nowSec(),
      timer: null,
    };
    this.watches.set(watch.id, watch);
    return watch.id;
  }

  clearWatch(id?: number): void {
    const ids = id === undefined ? [...this.watches.keys()] : [id];
    for (const watchId of ids) {
      const watch = this.watches.get(watchId);
      if (watch?.timer) clearTimeout(watch.timer);
      this.watches.delete(watchId);
    }
  }

  watchCount(): number {
    return this.watches.size;
  }
}
