// The station's retained state message: locker states, badge-list version, journal backlog,
// memory use, reader health, firmware version. Sent on every connect and, at most once a second,
// after anything in it changes.
import type { Clock } from '../hal';
import { MSG } from '../protocol/wire';

export interface StateSource {
  stationId: string;
  firmware: string;
  boot: number;
  states: Uint8Array;
  badgeVersion(): number;
  backlog(): number;
  memory(): { used: number; total: number };
  reader(): string;
}

export class StateReport {
  private source: StateSource;
  private clock: Clock;
  private publish: (message: { [key: number]: unknown }) => void;
  private timer = -1;

  constructor(source: StateSource, clock: Clock, publish: (message: { [key: number]: unknown }) => void) {
    this.source = source;
    this.clock = clock;
    this.publish = publish;
  }

  message(): { [key: number]: unknown } {
    const source = this.source;
    const memory = source.memory();
    const message: { [key: number]: unknown } = {};
    message[MSG.STATION] = source.stationId;
    message[MSG.BOOT] = source.boot;
    message[MSG.FIRMWARE] = source.firmware;
    message[MSG.LOCKERS] = new Uint8Array(source.states);
    message[MSG.VERSION] = source.badgeVersion();
    message[MSG.BACKLOG] = source.backlog();
    message[MSG.MEMORY] = [memory.used, memory.total];
    message[MSG.READER] = source.reader();
    message[MSG.UPTIME] = Math.floor(this.clock.nowMs() / 1000);
    return message;
  }

  sendNow(): void {
    if (this.timer >= 0) this.clock.clearTimeout(this.timer);
    this.timer = -1;
    this.publish(this.message());
  }

  /** Something changed: send within a second (changes in a burst go out once). */
  changed(): void {
    if (this.timer >= 0) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = -1;
      this.publish(this.message());
    }, 1000);
  }
}
