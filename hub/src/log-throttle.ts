// A log line per key (a station and a reason, a client and a reason) per window, not per
// occurrence: the first occurrence is logged as it happens; the ones after it in the same window
// are counted, and when the next one comes after the window, or at flush(), one line says how many
// there were. The keys kept are bounded: past MAX_KEYS new keys share one "other" key, so a flood
// of invented station ids or client ids costs no memory that stays.
export const THROTTLE_WINDOW_MS = 60_000;
export const MAX_KEYS = 500;

interface Window {
  startedAt: number;
  /** Occurrences after the one logged, in this window. */
  more: number;
  /** What to say in the summary line. */
  label: string;
}

export class ThrottledLog {
  private windows = new Map<string, Window>();
  private write: (line: string) => void;
  private windowMs: number;
  private timer: NodeJS.Timeout;

  constructor(write: (line: string) => void, windowMs = THROTTLE_WINDOW_MS) {
    this.write = write;
    this.windowMs = windowMs;
    // Summaries of windows that ended quietly, and the map emptied of them.
    this.timer = setInterval(() => this.sweep(Date.now()), windowMs);
    this.timer.unref();
  }

  /** `line` is written if `key` has not been logged in this window; otherwise counted. */
  note(key: string, label: string, line: () => string, now = Date.now()): void {
    let window = this.windows.get(key);
    if (!window && this.windows.size >= MAX_KEYS) {
      key = 'other';
      label = 'other clients or stations (too many to list one by one)';
      window = this.windows.get(key);
    }
    if (window && now - window.startedAt < this.windowMs) {
      window.more++;
      return;
    }
    if (window) this.summarise(window);
    this.windows.set(key, { startedAt: now, more: 0, label });
    this.write(line());
  }

  private summarise(window: Window): void {
    if (window.more > 0) this.write(`${window.label}: ${window.more} more in the ${Math.round(this.windowMs / 1000)} s after the line above`);
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) {
      if (now - window.startedAt < this.windowMs) continue;
      this.summarise(window);
      this.windows.delete(key);
    }
  }

  /** Writes every pending summary and stops the timer. */
  stop(): void {
    clearInterval(this.timer);
    for (const window of this.windows.values()) this.summarise(window);
    this.windows.clear();
  }
}
