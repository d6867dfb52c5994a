// Sends the journal to the hub, in order, and erases what the hub confirms. The journal, not the
// MQTT session, is the source of truth: after every (re)connect the uplink starts again from the
// oldest entry the hub has not confirmed (the hub ignores what it already has; what it confirmed is
// not sent again), with a bounded number of publishes in flight.
// Taps first: entries go out one per timer callback, evenly spaced (maxPerSecond), never several in
// one go, so the reader's IRQ and the door and lock timers wait behind one entry's work at most.
// A PUBACK only means the broker has a frame: when everything has been sent and still some of it
// is unconfirmed with no acknowledgement for ackTimeoutMs (the hub died after the broker handed it
// a frame, or the broker restarted before the hub subscribed again), the uplink sends again from
// the oldest unconfirmed entry, waiting about twice as long after each such resend nobody answered,
// with jitter, so stations that lost the same hub do not all resend at the same moments.
import type { Clock } from '../hal';
import type { MqttClient } from './mqtt-client';
import type { Journal, JournalCursor, JournalEntry } from '../storage/journal';
import { FRAME } from '../../../protocol/wire';
import type { WireEventFrame } from '../../../protocol/messages';
import type { Opened } from './sealed';

export interface UplinkOptions {
  stationId: string;
  /** The board identity carried in every frame (0: none, the key is left out). */
  board: number;
  eventsTopic: string;
  /** Signs a message into an envelope; opens (verifies) one from the hub. */
  seal(message: unknown): Uint8Array;
  unseal(payload: Uint8Array): Opened;
  /** Replay pace: entries per second at most. */
  maxPerSecond: number;
  /** Uniform in [0, 1), for the jitter of the resend wait; Math.random when absent (seeded in tests). */
  random?: () => number;
  /** True while a tap is being served (a card being read): entries wait a few ms until it is done. */
  busy?: () => boolean;
}

/** How long background work waits when it finds a tap being served. */
export const YIELD_MS = 5;
/** Publishes in flight at most. */
const WINDOW = 8;
/** How long sent entries may wait without an acknowledgement that moves on before they are sent again. */
const ACK_TIMEOUT_MS = 10000;
/** Longest wait between such resends (the ceiling doubles while nothing is acknowledged). */
const ACK_TIMEOUT_MAX_MS = 300000;

export function eventFrame(stationId: string, board: number, entry: JournalEntry): WireEventFrame {
  const frame = {} as WireEventFrame;
  frame[FRAME.STATION] = stationId;
  if (board) frame[FRAME.BOARD] = board;
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
  /** When the last entry was sent (entries go out at least 1000 / maxPerSecond ms apart). */
  private lastSentMs = -1e9;
  /** The timer of the next entry's slice (or of the second's wait after a refusal). */
  private timer = -1;
  private ackTimer = -1;
  /** Since when unconfirmed entries have waited without an acknowledgement that moved on (-1: none waiting). */
  private waitingSinceMs = -1;
  /** The wait before resending: jittered in [ceiling / 2, ceiling]. */
  private ackWaitMs: number;
  private ackCeilingMs: number;
  /** The cursor has reached the end of the journal (everything in it has been sent). */
  private atEnd = false;

  constructor(mqtt: MqttClient, journal: Journal, clock: Clock, options: UplinkOptions) {
    this.mqtt = mqtt;
    this.journal = journal;
    this.clock = clock;
    this.options = options;
    this.cursor = journal.start();
    this.ackWaitMs = this.ackCeilingMs = ACK_TIMEOUT_MS;
  }

  /** After every (re)connect: replay from the oldest unconfirmed entry. */
  onConnected(): void {
    this.session++;
    this.inFlight = 0;
    this.cursor = this.journal.start();
    this.atEnd = false;
    this.pump();
  }

  /**
   * The hub's signed acknowledgement: {13: board, 2: boot, 3: highest sequence committed without a
   * gap}. One for another board (the one this board replaced, whose boot numbers this one reuses)
   * confirms nothing here.
   */
  onAck(payload: Uint8Array): boolean {
    const opened = this.options.unseal(payload);
    if (!opened.ok) return false;
    const ack = opened.message;
    const boot = ack[FRAME.BOOT];
    const seq = ack[FRAME.SEQ];
    if (typeof boot !== 'number' || typeof seq !== 'number' || (ack[FRAME.BOARD] || 0) !== this.options.board) return false;
    const before = this.journal.backlog();
    this.journal.confirm(boot, seq);
    const backlog = this.journal.backlog();
    // An acknowledgement that confirms nothing new (the hub still misses an event) is no progress.
    if (backlog < before) {
      if (this.waitingSinceMs >= 0) this.waitingSinceMs = this.clock.nowMs();
      this.ackWaitMs = this.ackCeilingMs = ACK_TIMEOUT_MS;
      // A resend (or a replay) still on its way past what this confirmed skips to the first entry
      // still unconfirmed: an acknowledged frame is never sent again.
      const first = this.journal.start();
      const cursor = this.cursor;
      if (first.segment > cursor.segment || (first.segment === cursor.segment && first.slot > cursor.slot)) this.cursor = first;
    }
    // All confirmed: the next publish starts a new wait.
    if (backlog === 0) this.waitingSinceMs = -1;
    return true;
  }

  /**
   * Looks at the acknowledgements in `delayMs`: everything sent, something unconfirmed, and silence
   * for ackWaitMs means sending what is unconfirmed again.
   */
  private armAckCheck(delayMs: number): void {
    if (this.ackTimer >= 0) return;
    this.ackTimer = this.clock.setTimeout(() => {
      this.ackTimer = -1;
      if (this.journal.backlog() === 0) {
        this.waitingSinceMs = -1;
        return;
      }
      const now = this.clock.nowMs();
      if (this.waitingSinceMs < 0) this.waitingSinceMs = now;
      const quietMs = now - this.waitingSinceMs;
      if (quietMs < this.ackWaitMs) {
        this.armAckCheck(this.ackWaitMs - quietMs);
        return;
      }
      if (this.mqtt.state === 'connected' && this.atEnd && this.inFlight === 0) {
        this.ackCeilingMs = Math.min(this.ackCeilingMs * 2, ACK_TIMEOUT_MAX_MS);
        let random = (this.options.random || Math.random)();
        if (!(random >= 0 && random <= 1)) random = 1;
        this.ackWaitMs = (this.ackCeilingMs * (1 + random)) / 2;
        this.waitingSinceMs = now;
        this.cursor = this.journal.start();
        this.atEnd = false;
        this.pump();
      }
      // Not connected (onConnected replays anyway) or still sending: look again later.
      this.armAckCheck(this.ackWaitMs);
    }, delayMs);
  }

  /**
   * Asks for the next entry to be sent, in a timer callback of its own, no sooner than
   * 1000 / maxPerSecond ms after the last one. Cheap to call at any time (after each append, each
   * PUBACK, each connect): it only sets one timer.
   */
  pump(): void {
    const options = this.options;
    if (this.timer >= 0 || this.mqtt.state !== 'connected' || this.inFlight >= WINDOW) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = -1;
        if (this.mqtt.state !== 'connected' || this.inFlight >= WINDOW) return;
        if (options.busy && options.busy()) {
          // Taps first: the card's next IRQ edge must not queue behind this entry's work.
          this.lastSentMs = this.clock.nowMs() - 1000 / options.maxPerSecond + YIELD_MS;
          this.pump();
          return;
        }
        const at = { segment: this.cursor.segment, slot: this.cursor.slot };
        const entry = this.journal.next(this.cursor);
        if (!entry) {
          this.atEnd = true;
          return;
        }
        this.atEnd = false;
        const now = this.clock.nowMs();
        this.lastSentMs = now;
        if (this.waitingSinceMs < 0) this.waitingSinceMs = now;
        this.armAckCheck(this.ackWaitMs);
        const session = this.session;
        this.inFlight++;
        this.mqtt.publish(options.eventsTopic, options.seal(eventFrame(options.stationId, options.board, entry)), 1, false, (ok) => {
          if (session !== this.session) return;
          this.inFlight--;
          if (!ok) {
            // The MQTT client refused it (its queue was full): read it again from `at` in a second,
            // rather than leave a gap the hub would wait behind until the acknowledgement timeout.
            const cursor = this.cursor;
            if (at.segment < cursor.segment || (at.segment === cursor.segment && at.slot < cursor.slot)) this.cursor = at;
            this.atEnd = false;
            if (this.timer >= 0) this.clock.clearTimeout(this.timer);
            this.timer = this.clock.setTimeout(() => {
              this.timer = -1;
              this.pump();
            }, 1000);
            return;
          }
          this.pump();
        });
        this.pump();
      },
      Math.max(0, this.lastSentMs + 1000 / options.maxPerSecond - this.clock.nowMs()),
    );
  }
}
