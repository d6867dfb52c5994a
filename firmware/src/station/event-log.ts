// Every station event goes through here: it is written to the flash journal first, and only then
// handed on to be sent. Times: milliseconds since boot always, and wall-clock seconds once the hub
// has sent the time — never a 1970 timestamp.
import type { Clock } from '../hal';
import type { Journal } from '../storage/journal';
import type { EventFields } from './station';

export class EventLog {
  private journal: Journal;
  private clock: Clock;
  /** Wall-clock seconds at uptime wallBaseMs; 0 while unknown. */
  private wallBaseSec = 0;
  private wallBaseMs = 0;
  private fullReported = false;
  /** Called after each append (the uplink sends from the journal). */
  onAppended: () => void = () => {};
  /** Called once when the journal fills up: nothing more can be recorded until the hub confirms. */
  onFull: () => void = () => {};

  constructor(journal: Journal, clock: Clock) {
    this.journal = journal;
    this.clock = clock;
  }

  /**
   * Sets the wall clock; returns whether it moved: it was unknown, or is corrected by 2 s or more
   * (the hub's time again, give or take the clock's whole seconds, moves nothing).
   */
  setWallClock(unixSec: number): boolean {
    const was = this.wallSec();
    this.wallBaseSec = unixSec;
    this.wallBaseMs = this.clock.nowMs();
    return was === 0 || Math.abs(unixSec - was) >= 2;
  }

  /** Wall-clock seconds now, or 0 while unknown. */
  wallSec(): number {
    return this.wallBaseSec > 0 ? this.wallBaseSec + Math.floor((this.clock.nowMs() - this.wallBaseMs) / 1000) : 0;
  }

  /** Returns the event's sequence number, or 0 if the journal is full (the event is lost: alarm). */
  report(type: number, fields: EventFields): number {
    const uptimeMs = this.clock.nowMs();
    const seq = this.journal.append({
      type,
      locker: fields.locker === undefined ? -1 : fields.locker,
      detail: fields.detail || 0,
      uptimeMs,
      wallSec: this.wallSec(),
      person: fields.person || 0,
      actor: fields.actor || 0,
      witness: fields.witness || 0,
      badge: fields.badge || null,
    });
    if (seq === 0) {
      if (!this.fullReported) {
        this.fullReported = true;
        this.onFull();
      }
      return 0;
    }
    this.fullReported = false;
    this.onAppended();
    return seq;
  }
}
