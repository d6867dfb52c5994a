// Sends the journal to the hub, in order, and erases what the hub confirms. The journal, not the
// MQTT session, is the source of truth: after every (re)connect the uplink starts again from the
// oldest unconfirmed entry (the hub ignores what it already has), at a bounded rate and with a
// bounded number of publishes in flight, so taps are still served during a long replay.
import type { Clock } from '../hal';
import type { MqttClient } from './mqtt-client';
import type { Journal, JournalCursor, JournalEntry } from '../storage/journal';
import { FRAME } from '../protocol/wire';
import type { Opened } from './sealed';

export interface UplinkOptions {
  stationId: string;
  eventsTopic: string;
  /** Signs a message into an envelope; opens (verifies) one from the hub. */
  seal(message: unknown): Uint8Array;
  unseal(payload: Uint8Array): Opened;
  /** Publishes in flight at most. */
  window: number;
  /** Replay pace: entries per second at most. */
  maxPerSecond: number;
}

export function eventFrame(stationId: string, entry: JournalEntry): { [key: number]: unknown } {
  const frame: { [key: number]: unknown } = {};
  frame[FRAME.STATION] = stationId;
  frame[FRAME.BOOT] = entry.boot;
  frame[FRAME.SEQ] = entry.seq;
  frame[FRAME.UPTIME_MS] = entry.uptimeMs;
  if (entry.wallSec > 0) frame[FRAME.WALL_TIME] = entry.wallSec * 1000;
  frame[FRAME.TYPE] = entry.type;
  if (entry.locker >= 0) frame[FRAME.LOCKER] = entry.locker;
  if (entry.person > 0) frame[FRAME.PERSON] = entry.person;
  if (entry.badge) frame[FRAME.BADGE] = entry.badge;
  if (entry.detail > 0) frame[FRAME.DETAIL] = entry.detail;
  if (entry.actor > 0) frame[FRAME.ACTOR] = entry.actor;
  if (entry.witness > 0) frame[FRAME.WITNESS] = entry.witness;
  return frame;
}

export class Uplink {
  private mqtt: MqttClient;
  private journal: Journal;
  private clock: Clock;
  private options: UplinkOptions;
  private cursor: JournalCursor;
  private inFlight = 0;
  /** Counts connections, so acknowledgements from an earlier one are not miscounted. */
  private session = 0;
  private windowStartMs = 0;
  private sentInWindow = 0;
  private timer = -1;
  sent = 0;
  confirmed = 0;

  constructor(mqtt: MqttClient, journal: Journal, clock: Clock, options: UplinkOptions) {
    this.mqtt = mqtt;
    this.journal = journal;
    this.clock = clock;
    this.options = options;
    this.cursor = journal.start();
  }

  /** After every (re)connect: replay from the oldest unconfirmed entry. */
  onConnected(): void {
    this.session++;
    this.inFlight = 0;
    this.cursor = this.journal.start();
    this.pump();
  }

  /** The hub's signed acknowledgement: {2: boot, 3: highest sequence committed without a gap}. */
  onAck(payload: Uint8Array): boolean {
    const opened = this.options.unseal(payload);
    if (!opened.ok) return false;
    const ack = opened.message;
    const boot = ack[FRAME.BOOT];
    const seq = ack[FRAME.SEQ];
    if (typeof boot !== 'number' || typeof seq !== 'number') return false;
    this.confirmed += this.journal.confirm(boot, seq);
    return true;
  }

  pump(): void {
    if (this.timer >= 0) return;
    const options = this.options;
    while (this.mqtt.state === 'connected' && this.inFlight < options.window) {
      const now = this.clock.nowMs();
      if (now - this.windowStartMs >= 1000) {
        this.windowStartMs = now;
        this.sentInWindow = 0;
      }
      if (this.sentInWindow >= options.maxPerSecond) {
        this.timer = this.clock.setTimeout(() => {
          this.timer = -1;
          this.pump();
        }, 1000 - (now - this.windowStartMs));
        return;
      }
      const entry = this.journal.next(this.cursor);
      if (!entry) return;
      const session = this.session;
      this.inFlight++;
      this.sentInWindow++;
      this.sent++;
      this.mqtt.publish(options.eventsTopic, options.seal(eventFrame(options.stationId, entry)), 1, false, () => {
        if (session !== this.session) return;
        this.inFlight--;
        this.pump();
      });
    }
  }
}
