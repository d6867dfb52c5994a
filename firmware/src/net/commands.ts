// Commands from the hub: verified (signature, the board it names, then a counter above the last one
// accepted, so a recorded command cannot be replayed — the counter is kept in flash before anything
// is done, and the board a command names tells an erased board's commands from its own),
// carried out, and answered on the reply topic with the same counter. A refusal says why.
// SET_TIME writes flash only when it moves the clock: it names the boot and board it was sent for,
// so a recorded one is refused in any later boot whatever the counter in flash (replays within
// this boot meet the counter in RAM), and one that leaves the clock where it is changes nothing
// worth a flash write, however often it comes. RESTORE_LOCKERS gives a board that lost its flash
// the hub's record of what its free lockers hold (see its case below).
import type { Crypto, FlashStore } from '../hal';
import type { HmacKey } from '../codec/hmac';
import { unseal } from './sealed';
import { COMMAND, MSG, REFUSAL } from '../../../protocol/wire';
import type { WireReply } from '../../../protocol/messages';
import { LOCKER } from '../../../protocol/lockers';
import type { Station } from '../station/station';
import type { EventLog } from '../station/event-log';
import { BADGE_HEADER_BYTES, BADGE_PREFIX, badgeFileName, checkBadgeFile, crcContinue, type BadgeList } from '../station/badge-list';
import { CONFIG_FILE, validateConfig } from '../station/config';
import { firmwareCommand, type FirmwareState } from '../update/firmware-update';

const COUNTER_FILE = 'handover.cmd';
/** Largest badge list accepted: 8,192 badges. */
const MAX_BADGE_FILE = BADGE_HEADER_BYTES + 8192 * 16;

export interface CommandParts {
  crypto: Crypto;
  flash: FlashStore;
  key: HmacKey;
  stationId: string;
  boot: number;
  board: number;
  station: Station;
  events: EventLog;
  badges: BadgeList;
  firmware: FirmwareState;
  reply(message: WireReply): void;
  /** A new configuration was written: restart to use it. */
  restart(): void;
  log(message: string): void;
}

interface Transfer {
  version: number;
  size: number;
  next: number;
  /** CRC-32 register over the records written so far, read back from flash. */
  crc: number;
}

// One method, its steps nested in it: on the interpreter every method kept for good costs about five
// variables, and commands come a few times a day (README Performance).
export class CommandHandler {
  private parts: CommandParts;
  private lastCounter: number;
  private transfer: Transfer | null = null;

  constructor(parts: CommandParts) {
    this.parts = parts;
    const saved = parseInt(parts.flash.readText(COUNTER_FILE) || '0', 10);
    this.lastCounter = isNaN(saved) ? 0 : saved;
  }

  handle(payload: Uint8Array): void {
    const parts = this.parts;
    const answer = (counter: number, refusal: number, version: number | undefined, lockers?: Uint8Array, offset?: number) => {
      const reply = {} as WireReply;
      reply[MSG.STATION] = parts.stationId;
      reply[MSG.COUNTER] = counter;
      reply[MSG.OK] = refusal === REFUSAL.NONE;
      if (refusal !== REFUSAL.NONE) reply[MSG.DETAIL] = refusal;
      if (version !== undefined) reply[MSG.VERSION] = version;
      if (lockers) reply[MSG.LOCKERS] = lockers;
      if (offset !== undefined) reply[MSG.OFFSET] = offset;
      parts.reply(reply);
    };
    const run = (kind: unknown, message: { [key: string]: unknown }): number => {
      const station = parts.station;
      const locker = message[MSG.LOCKER];
      const actor = typeof message[MSG.ACTOR] === 'number' ? (message[MSG.ACTOR] as number) : 0;
      const transfer = this.transfer;
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
          if (message[MSG.BOOT] !== parts.boot || (message[MSG.BOARD] || 0) !== parts.board) return REFUSAL.REPLAYED;
          if (parts.events.setWallClock(Math.floor(wallMs / 1000))) parts.flash.writeText(COUNTER_FILE, String(this.lastCounter));
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
          if (!checked.ok || checked.config.station !== parts.stationId) return REFUSAL.BAD_ARGUMENT;
          parts.flash.writeText(CONFIG_FILE, text);
          parts.restart();
          return REFUSAL.NONE;
        }
        case COMMAND.BADGES_BEGIN: {
          const version = message[MSG.VERSION];
          const size = message[MSG.SIZE];
          if (typeof version !== 'number' || typeof size !== 'number' || version <= parts.badges.version) return REFUSAL.BAD_ARGUMENT;
          if (size < BADGE_HEADER_BYTES || size > MAX_BADGE_FILE || (size - BADGE_HEADER_BYTES) % 16 !== 0) return REFUSAL.BAD_ARGUMENT;
          // Leftovers of interrupted transfers go first (any version but the list in use): their
          // space is free again at the next compaction, and there is one at most per push.
          const leftovers = parts.flash.list(BADGE_PREFIX);
          for (let i = 0; i < leftovers.length; i++) if (leftovers[i] !== badgeFileName(parts.badges.version)) parts.flash.erase(leftovers[i]);
          this.transfer = { version, size, next: 0, crc: 0xffffffff };
          return REFUSAL.NONE;
        }
        case COMMAND.BADGES_CHUNK: {
          const data = message[MSG.DATA];
          if (!transfer || message[MSG.VERSION] !== transfer.version || message[MSG.OFFSET] !== transfer.next) return REFUSAL.TRANSFER;
          if (!(data instanceof Uint8Array) || data.length === 0 || transfer.next + data.length > transfer.size) return REFUSAL.BAD_ARGUMENT;
          const name = badgeFileName(transfer.version);
          if (transfer.next === 0) parts.flash.create(name, data, transfer.size);
          else parts.flash.writeAt(name, data, transfer.next);
          // The whole-file check, a chunk at a time: what flash now holds of the records goes into
          // the running CRC, so the commit reads nothing more (a tap waits for one chunk at most).
          const from = transfer.next < BADGE_HEADER_BYTES ? BADGE_HEADER_BYTES : transfer.next;
          transfer.next += data.length;
          if (transfer.next > from) {
            const written = parts.flash.readBytes(name, from, transfer.next - from);
            if (!written) return REFUSAL.TRANSFER;
            transfer.crc = crcContinue(parts.crypto, transfer.crc, written);
          }
          return REFUSAL.NONE;
        }
        case COMMAND.BADGES_COMMIT: {
          if (!transfer || message[MSG.VERSION] !== transfer.version || transfer.next !== transfer.size) return REFUSAL.TRANSFER;
          this.transfer = null;
          const name = badgeFileName(transfer.version);
          const problem = checkBadgeFile(parts.flash, parts.crypto, name, ~transfer.crc >>> 0);
          if (problem) {
            parts.log('badge list refused: ' + problem);
            parts.flash.erase(name);
            return REFUSAL.CHECKSUM;
          }
          // The new file checks out: switch to it without reading it again (the older one is erased).
          parts.badges.open(transfer.version);
          return parts.badges.version === transfer.version ? REFUSAL.NONE : REFUSAL.CHECKSUM;
        }
        case COMMAND.RESTORE_LOCKERS: {
          // A board that lost its flash (swapped, or its Storage erased) is told by the hub what its
          // lockers hold. Only a locker the station knows nothing of takes it: a free one (a fresh
          // board's phone locker) may become phone-in or held, an item shown in (a fresh board's item
          // locker) may become out or health-check held, and neither while being opened. What the
          // station knows since (a deposit, a loan) is never overwritten. Named for this board and
          // boot, like SET_TIME: a fresh board's command counter starts at 0, so a recorded one is
          // refused by any other board or boot.
          if (message[MSG.BOOT] !== parts.boot || (message[MSG.BOARD] || 0) !== parts.board) return REFUSAL.REPLAYED;
          const wanted = message[MSG.LOCKERS];
          const owners = message[MSG.OWNERS];
          const count = station.lockers;
          if (!(wanted instanceof Uint8Array) || !(owners instanceof Uint8Array) || wanted.length !== count || owners.length !== count * 4) return REFUSAL.BAD_ARGUMENT;
          for (let i = 0; i < count; i++) {
            const next = wanted[i];
            const now = station.states[i];
            const phone = next === LOCKER.PHONE_IN || next === LOCKER.HELD || next === LOCKER.SAFEGUARDING_HELD;
            const item = next === LOCKER.ITEM_OUT || next === LOCKER.HEALTH_CHECK_HELD;
            if (station.openings[i] || !((now === LOCKER.FREE && phone) || (now === LOCKER.ITEM_PRESENT && item))) continue;
            const o = i * 4;
            station.setLocker(i, next, (owners[o] | (owners[o + 1] << 8) | (owners[o + 2] << 16) | (owners[o + 3] << 24)) >>> 0);
          }
          return REFUSAL.NONE;
        }
      }
      // FIRMWARE_BEGIN .. FIRMWARE_ABORT: a new bundle (update/firmware-update.ts).
      if (typeof kind === 'number' && kind >= COMMAND.FIRMWARE_BEGIN && kind <= COMMAND.FIRMWARE_ABORT) return firmwareCommand(parts, kind, message);
      return REFUSAL.UNKNOWN_COMMAND;
    };

    const opened = unseal(parts.crypto, parts.key, payload);
    if (!opened.ok) {
      parts.log('command refused: ' + opened.error);
      answer(0, REFUSAL.BAD_SIGNATURE, undefined);
      return;
    }
    const message = opened.message;
    const counter = message[MSG.COUNTER];
    if (message[MSG.STATION] !== parts.stationId) return answer(0, REFUSAL.WRONG_STATION, undefined);
    // The hub names the board in every command: one recorded for the board this one replaced (or
    // for this board before its Storage, and the counter with it, was erased) is refused, and
    // costs no flash write. One naming no board is checked by its counter alone.
    const named = message[MSG.BOARD];
    if (named !== undefined && named !== parts.board) return answer(typeof counter === 'number' ? counter : 0, REFUSAL.REPLAYED, undefined);
    if (typeof counter !== 'number' || counter <= this.lastCounter) {
      parts.log('command refused: counter ' + counter + ' not above ' + this.lastCounter);
      return answer(typeof counter === 'number' ? counter : 0, REFUSAL.REPLAYED, undefined);
    }
    const kind = message[MSG.COMMAND];
    // Chunks are harmless to replay (they only fill a transfer begun in this boot and checked at
    // commit), so they spare the flash a counter write each; SET_TIME writes it itself (above).
    if (kind !== COMMAND.BADGES_CHUNK && kind !== COMMAND.FIRMWARE_CHUNK && kind !== COMMAND.SET_TIME) parts.flash.writeText(COUNTER_FILE, String(counter));
    this.lastCounter = counter;
    let refusal = REFUSAL.NONE;
    try {
      refusal = run(kind, message);
    } catch (error) {
      parts.log('command failed: ' + error);
      refusal = REFUSAL.BAD_ARGUMENT;
    }
    // A restore's reply carries the lockers as they are now, for the hub's audit trail (no event is
    // journaled: a deposit or hold event would be taken for a new one).
    answer(
      counter,
      refusal,
      kind === COMMAND.BADGES_COMMIT ? parts.badges.version : undefined,
      kind === COMMAND.RESTORE_LOCKERS ? new Uint8Array(parts.station.states) : undefined,
      kind === COMMAND.FIRMWARE_BEGIN && refusal === REFUSAL.NONE ? parts.firmware.incoming!.next : undefined,
    );
    // A bundle that checked: the boot step switches to it at the restart.
    if (kind === COMMAND.FIRMWARE_COMMIT && refusal === REFUSAL.NONE) parts.restart();
  }
}
