// Commands from the hub: verified (signature, then a counter above the last one accepted, so a
// recorded command cannot be replayed — the counter is kept in flash before anything is done),
// carried out, and answered on the reply topic with the same counter. A refusal says why.
import type { Crypto, FlashStore } from '../hal';
import type { HmacKey } from '../codec/hmac';
import { unseal } from './sealed';
import { COMMAND, MSG, REFUSAL } from '../protocol/wire';
import { LOCKER } from '../station/lockers';
import type { Station } from '../station/station';
import type { EventLog } from '../station/event-log';
import { BADGE_HEADER_BYTES, badgeFileName, checkBadgeFile, type BadgeList } from '../station/badge-list';
import { CONFIG_FILE, validateConfig } from '../station/config';

const COUNTER_FILE = 'handover.cmd';
/** Largest badge list accepted: 8,192 badges. */
const MAX_BADGE_FILE = BADGE_HEADER_BYTES + 8192 * 16;

export interface CommandParts {
  crypto: Crypto;
  flash: FlashStore;
  key: HmacKey;
  stationId: string;
  station: Station;
  events: EventLog;
  badges: BadgeList;
  reply(message: { [key: number]: unknown }): void;
  /** A new configuration was written: restart to use it. */
  restart(): void;
  log(message: string): void;
}

interface Transfer {
  version: number;
  size: number;
  next: number;
}

export class CommandHandler {
  private parts: CommandParts;
  private lastCounter: number;
  private transfer: Transfer | null = null;
  accepted = 0;
  refused = 0;

  constructor(parts: CommandParts) {
    this.parts = parts;
    const saved = parseInt(parts.flash.readText(COUNTER_FILE) || '0', 10);
    this.lastCounter = isNaN(saved) ? 0 : saved;
  }

  handle(payload: Uint8Array): void {
    const opened = unseal(this.parts.crypto, this.parts.key, payload);
    if (!opened.ok) {
      this.parts.log('command refused: ' + opened.error);
      this.answer(0, false, REFUSAL.BAD_SIGNATURE, undefined);
      return;
    }
    const message = opened.message;
    const counter = message[MSG.COUNTER];
    if (message[MSG.STATION] !== this.parts.stationId) return this.answer(0, false, REFUSAL.WRONG_STATION, undefined);
    if (typeof counter !== 'number' || counter <= this.lastCounter) {
      this.parts.log('command refused: counter ' + counter + ' not above ' + this.lastCounter);
      return this.answer(typeof counter === 'number' ? counter : 0, false, REFUSAL.REPLAYED, undefined);
    }
    const kind = message[MSG.COMMAND];
    // Chunks are harmless to replay (they only fill a transfer begun in this boot and checked at
    // commit), so they spare the flash a counter write each.
    if (kind !== COMMAND.BADGES_CHUNK) this.parts.flash.writeText(COUNTER_FILE, String(counter));
    this.lastCounter = counter;
    let refusal = REFUSAL.NONE;
    try {
      refusal = this.run(kind, message);
    } catch (error) {
      this.parts.log('command failed: ' + error);
      refusal = REFUSAL.BAD_ARGUMENT;
    }
    this.answer(counter, refusal === REFUSAL.NONE, refusal, kind === COMMAND.BADGES_COMMIT ? this.parts.badges.version : undefined);
  }

  private answer(counter: number, ok: boolean, refusal: number, version: number | undefined): void {
    if (ok) this.accepted++;
    else this.refused++;
    const reply: { [key: number]: unknown } = {};
    reply[MSG.STATION] = this.parts.stationId;
    reply[MSG.COUNTER] = counter;
    reply[MSG.OK] = ok;
    if (!ok) reply[MSG.DETAIL] = refusal;
    if (version !== undefined) reply[MSG.VERSION] = version;
    this.parts.reply(reply);
  }

  private run(kind: unknown, message: { [key: string]: unknown }): number {
    const station = this.parts.station;
    const locker = message[MSG.LOCKER];
    const actor = typeof message[MSG.ACTOR] === 'number' ? (message[MSG.ACTOR] as number) : 0;
    switch (kind) {
      case COMMAND.UNLOCK:
        if (typeof locker !== 'number') return REFUSAL.BAD_ARGUMENT;
        return station.remoteUnlock(locker, actor) ? REFUSAL.NONE : REFUSAL.NOT_NOW;
      case COMMAND.SET_HOLD: {
        const hold = message[MSG.HOLD];
        if (typeof locker !== 'number' || (hold !== LOCKER.HELD && hold !== LOCKER.SAFEGUARDING_HELD)) return REFUSAL.BAD_ARGUMENT;
        const person = typeof message[MSG.PERSON] === 'number' ? (message[MSG.PERSON] as number) : 0;
        return station.setHold(locker, hold as number, person, actor) ? REFUSAL.NONE : REFUSAL.NOT_NOW;
      }
      case COMMAND.RELEASE_HOLD:
        if (typeof locker !== 'number') return REFUSAL.BAD_ARGUMENT;
        return station.setHold(locker, LOCKER.FREE, 0, actor) ? REFUSAL.NONE : REFUSAL.NOT_NOW;
      case COMMAND.OPEN_ALL:
        station.openAll(actor, null);
        return REFUSAL.NONE;
      case COMMAND.SET_TIME: {
        const wallMs = message[MSG.WALL_TIME];
        if (typeof wallMs !== 'number' || wallMs < 1.6e12) return REFUSAL.BAD_ARGUMENT;
        this.parts.events.setWallClock(Math.floor(wallMs / 1000));
        return REFUSAL.NONE;
      }
      case COMMAND.SET_CONFIG: {
        const text = message[MSG.CONFIG];
        if (typeof text !== 'string') return REFUSAL.BAD_ARGUMENT;
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          return REFUSAL.BAD_ARGUMENT;
        }
        const checked = validateConfig(parsed);
        if (!checked.ok || checked.config.station !== this.parts.stationId) return REFUSAL.BAD_ARGUMENT;
        this.parts.flash.writeText(CONFIG_FILE, text);
        this.parts.restart();
        return REFUSAL.NONE;
      }
      case COMMAND.BADGES_BEGIN:
        return this.beginTransfer(message);
      case COMMAND.BADGES_CHUNK:
        return this.chunk(message);
      case COMMAND.BADGES_COMMIT:
        return this.commit(message);
    }
    return REFUSAL.UNKNOWN_COMMAND;
  }

  private beginTransfer(message: { [key: string]: unknown }): number {
    const version = message[MSG.VERSION];
    const size = message[MSG.SIZE];
    if (typeof version !== 'number' || typeof size !== 'number' || version <= this.parts.badges.version) return REFUSAL.BAD_ARGUMENT;
    if (size < BADGE_HEADER_BYTES || size > MAX_BADGE_FILE || (size - BADGE_HEADER_BYTES) % 16 !== 0) return REFUSAL.BAD_ARGUMENT;
    // Leftovers of an interrupted transfer of this version go first.
    if (this.parts.flash.size(badgeFileName(version)) >= 0) this.parts.flash.erase(badgeFileName(version));
    this.transfer = { version, size, next: 0 };
    return REFUSAL.NONE;
  }

  private chunk(message: { [key: string]: unknown }): number {
    const transfer = this.transfer;
    const data = message[MSG.DATA];
    if (!transfer || message[MSG.VERSION] !== transfer.version || message[MSG.OFFSET] !== transfer.next) return REFUSAL.TRANSFER;
    if (!(data instanceof Uint8Array) || data.length === 0 || transfer.next + data.length > transfer.size) return REFUSAL.BAD_ARGUMENT;
    const name = badgeFileName(transfer.version);
    if (transfer.next === 0) this.parts.flash.create(name, data, transfer.size);
    else this.parts.flash.writeAt(name, data, transfer.next);
    transfer.next += data.length;
    return REFUSAL.NONE;
  }

  private commit(message: { [key: string]: unknown }): number {
    const transfer = this.transfer;
    if (!transfer || message[MSG.VERSION] !== transfer.version || transfer.next !== transfer.size) return REFUSAL.TRANSFER;
    this.transfer = null;
    const name = badgeFileName(transfer.version);
    const problem = checkBadgeFile(this.parts.flash, this.parts.crypto, name);
    if (problem) {
      this.parts.log('badge list refused: ' + problem);
      this.parts.flash.erase(name);
      return REFUSAL.CHECKSUM;
    }
    // The new file checks out: switch to it (the older one is erased).
    this.parts.badges.open();
    return this.parts.badges.version === transfer.version ? REFUSAL.NONE : REFUSAL.CHECKSUM;
  }
}
