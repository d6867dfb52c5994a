// The station's retained state message: locker states, the doors standing open, badge-list
// version, journal backlog, memory use, reader health, firmware version, board identity and wall
// clock. Sent on every connect and, at most once a second, after anything in it changes. Only the
// latest state matters, so at most one report is ever queued or in flight in the MQTT client: while
// the link is down nothing is queued (the connect sends the state as it is then), and a change while
// a report is still unacknowledged is sent once that one is done: queued reports cost variables,
// and a full client queue would refuse the birth message at the next connect.
import type { Clock } from '../hal';
import { MSG } from '../../../protocol/wire';
import type { WireStateReport } from '../../../protocol/messages';

export interface StateSource {
  stationId: string;
  firmware: string;
  boot: number;
  /** The board identity (0: none). */
  board: number;
  /** The wall clock (0 while the hub has not sent the time). */
  wall: { wallSec(): number };
  states: Uint8Array;
  /** The station: its open-door bitmap (bit n = locker n). */
  station: { openDoors: number };
  badges: { version: number };
  journal: { backlog(): number };
  system: { memory(): { used: number; total: number } };
  reader(): string;
}

export type PublishState = (message: WireStateReport, onDone: (ok: boolean) => void) => void;

export class StateReport {
  private source: StateSource;
  private clock: Clock;
  private publish: PublishState;
  private isConnected: () => boolean;
  private timer = -1;
  /** A report is queued or in flight in the MQTT client (its onDone has not come yet). */
  private outstanding = false;
  /** Something changed since the last report was made. */
  private stale = false;

  constructor(source: StateSource, clock: Clock, publish: PublishState, isConnected: () => boolean) {
    this.source = source;
    this.clock = clock;
    this.publish = publish;
    this.isConnected = isConnected;
  }

  message(): WireStateReport {
    const source = this.source;
    const memory = source.system.memory();
    const message = {} as WireStateReport;
    message[MSG.STATION] = source.stationId;
    message[MSG.BOOT] = source.boot;
    if (source.board) message[MSG.BOARD] = source.board;
    // The hub sends the time when this is missing or has drifted (not at every connect).
    const wallSec = source.wall.wallSec();
    if (wallSec > 0) message[MSG.WALL_TIME] = wallSec * 1000;
    message[MSG.FIRMWARE] = source.firmware;
    message[MSG.LOCKERS] = new Uint8Array(source.states);
    message[MSG.DOORS] = source.station.openDoors;
    message[MSG.VERSION] = source.badges.version;
    message[MSG.BACKLOG] = source.journal.backlog();
    message[MSG.MEMORY] = [memory.used, memory.total];
    message[MSG.READER] = source.reader();
    message[MSG.UPTIME] = Math.floor(this.clock.nowMs() / 1000);
    return message;
  }

  /** At every connect: the state as it is now (after the report still in flight, if there is one). */
  sendNow(): void {
    if (this.timer >= 0) this.clock.clearTimeout(this.timer);
    this.timer = -1;
    if (this.outstanding) this.stale = true;
    else this.send();
  }

  /** Something changed: send within a second (changes in a burst go out once; none while offline). */
  changed(): void {
    this.stale = true;
    if (this.timer >= 0 || this.outstanding) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = -1;
      // Offline: nothing is queued; the connect sends the state as it is then.
      if (this.stale && !this.outstanding && this.isConnected()) this.send();
    }, 1000);
  }

  private send(): void {
    this.stale = false;
    this.outstanding = true;
    this.publish(this.message(), (ok) => {
      this.outstanding = false;
      // Refused or abandoned: the next change or connect sends the state again.
      if (!ok) this.stale = true;
      else if (this.stale) this.changed();
    });
  }
}
