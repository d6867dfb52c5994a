// hal.ts's Clock for tests of single firmware modules: timers run in due-time order (ties in the
// order they were set) only when the test advances time, so exact timing can be checked.
import type { Clock } from '../../firmware/src/hal';

interface Timer {
  id: number;
  due: number;
  order: number;
  periodMs: number;
  callback: () => void;
}

export class FakeClock implements Clock {
  /** Milliseconds since the clock was made. */
  now = 0;
  private sequence = 0;
  private timers: Timer[] = [];

  nowMs(): number {
    return this.now;
  }
  setTimeout(callback: () => void, delayMs: number): number {
    return this.add(callback, delayMs, 0);
  }
  setInterval(callback: () => void, periodMs: number): number {
    return this.add(callback, periodMs, periodMs);
  }
  clearTimeout(id: number): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  clearInterval(id: number): void {
    this.clearTimeout(id);
  }
  /** Timers set and not yet run or cleared. */
  pending(): number {
    return this.timers.length;
  }
  /** Runs every timer due within `ms`, in time order, moving the clock as it goes. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.timers) {
        if (t.due <= end && (!next || t.due < next.due || (t.due === next.due && t.order < next.order))) next = t;
      }
      if (!next) break;
      this.now = next.due;
      if (next.periodMs > 0) {
        next.due += next.periodMs;
        next.order = ++this.sequence;
      } else {
        this.timers = this.timers.filter((t) => t !== next);
      }
      next.callback();
    }
    this.now = end;
  }
  private add(callback: () => void, delayMs: number, periodMs: number): number {
    const id = ++this.sequence;
    this.timers.push({ id, due: this.now + Math.max(0, delayMs), order: id, periodMs, callback });
    return id;
  }
}
