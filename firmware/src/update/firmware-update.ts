// A new firmware bundle from the hub (issue 19): received a chunk at a time into its own Storage
// file (FW_NEW), hashed block by block as it arrives (protocol/firmware.ts), taken only when the
// hub's signature for this station over (hash, version, rollback) checks and the version is newer
// (older only when the office asked for a rollback), and switched to only once the whole file
// checks: the station writes FW_BOOT and restarts, and `.boot0` makes the switch and the way back.
// A transfer cut by a reboot resumes where flash shows it got to (FW_META names what it was).
// One function, its steps made inside it when a command comes: on the interpreter every function kept
// at the top level costs variables for good, and updates come a few times a year (README Performance).
import type { Crypto, FlashStore } from '../hal';
import { hmacWithKey, type HmacKey } from '../codec/hmac';
import type { EventLog } from '../station/event-log';
import { COMMAND, DETAIL, EVENT, MSG, REFUSAL } from '../../../protocol/wire';
import {
  BOOT0,
  BOOT_CODE,
  FIRMWARE_BLOCK,
  FIRMWARE_MAX_BYTES,
  FW_BOOT,
  FW_META,
  FW_NEW,
  FW_PREV,
  firmwareBytes,
} from '../../../protocol/firmware';
import { boot0Source } from './boot0';

/**
 * At boot: puts the boot step in place where there is none (`npm run flash` writes it; a station
 * flashed before it gets it here; a boot step is never replaced over the network) and reports what the boot step did: the first boot of a new bundle, or a way back.
 */
export function firmwareAtBoot(flash: FlashStore, events: EventLog): void {
  // Only where there is none: a file rewritten in Storage reads as null to the functions made from
  // it (Espruino 2v29: "Function code is null"), and .boot0's timer may be waiting on one of its own.
  if (flash.readText(BOOT0) === undefined) flash.writeText(BOOT0, boot0Source());
  let state: { s?: string; n?: number; y?: string } | null = null;
  try {
    state = JSON.parse(flash.readText(FW_BOOT) || 'null');
  } catch (error) {
    state = null;
  }
  if (!state) return;
  if (state.s === 't' && state.n === 1) events.report(EVENT.FIRMWARE, { detail: DETAIL.FIRMWARE_INSTALLED });
  if (state.s === 'r') {
    events.report(EVENT.FIRMWARE_ROLLED_BACK, { detail: state.y === 'c' ? DETAIL.FIRMWARE_NOT_CONFIRMED : DETAIL.FIRMWARE_RESETS });
    flash.erase(FW_BOOT);
  }
}

interface Incoming {
  version: number;
  size: number;
  /** Bytes written so far. */
  next: number;
  /** Bytes hashed so far (whole blocks, and the last short one). */
  hashed: number;
  hash: Uint8Array;
  chain: Uint8Array;
}

/** What the station holds of updates between commands. */
export interface FirmwareState {
  /** The running bundle's version as a number (firmwareVersionNumber, worked out at boot). */
  running: number;
  /** The transfer under way; null when none. After FIRMWARE_BEGIN its `next` is the answer's offset. */
  incoming: Incoming | null;
}

/** What firmwareCommand takes of the command handler's parts. */
export interface FirmwareParts {
  flash: FlashStore;
  crypto: Crypto;
  key: HmacKey;
  events: EventLog;
  firmware: FirmwareState;
}

/** Carries out one FIRMWARE_* command (already verified and counted); returns a REFUSAL. */
export function firmwareCommand(parts: FirmwareParts, kind: unknown, message: { [key: string]: unknown }): number {
  const flash = parts.flash;
  const crypto = parts.crypto;
  const state = parts.firmware;
  const bytes = firmwareBytes();
  const sha256 = (data: Uint8Array) => crypto.sha256(data);
  const version = message[MSG.VERSION];
  const incoming = state.incoming;
  const drop = () => {
    state.incoming = null;
    flash.erase(FW_NEW);
    flash.erase(FW_META);
  };
  const pending = flash.readText(FW_BOOT);
  switch (kind) {
    case COMMAND.FIRMWARE_BEGIN: {
      const size = message[MSG.SIZE];
      const hash = message[MSG.HASH];
      const signature = message[MSG.SIGNATURE];
      const rollback = message[MSG.ROLLBACK] === true;
      if (typeof version !== 'number' || typeof size !== 'number' || size < 1 || size > FIRMWARE_MAX_BYTES) return REFUSAL.BAD_ARGUMENT;
      if (!(hash instanceof Uint8Array) || hash.length !== 32 || !(signature instanceof Uint8Array) || signature.length !== 32) return REFUSAL.BAD_ARGUMENT;
      if (pending) return REFUSAL.UPDATE_PENDING;
      if (version === state.running || (version < state.running && !rollback)) return REFUSAL.OLDER_VERSION;
      const expected = hmacWithKey(crypto, parts.key, bytes.signed(hash, version, rollback));
      let difference = 0;
      for (let i = 0; i < 32; i++) difference |= expected[i] ^ signature[i];
      if (difference) return REFUSAL.FIRMWARE_SIGNATURE;
      const meta = version + ',' + size + ',' + crypto.crc32(hash);
      if (incoming && flash.readText(FW_META) === meta) return REFUSAL.NONE;
      const resumed: Incoming = { version, size, next: 0, hashed: 0, hash, chain: new Uint8Array(32) };
      if (flash.readText(FW_META) === meta && flash.size(FW_NEW) === size) {
        // A transfer cut by a reboot: the bundle is text, never a 0xFF byte, so what was written
        // ends at the first erased byte. Resume at the block it falls in (rewriting a byte with the
        // same value changes nothing in flash), and hash again what is held.
        let low = 0;
        let high = size;
        while (low < high) {
          const middle = (low + high) >> 1;
          if (flash.readBytes(FW_NEW, middle, 1)![0] === 255) high = middle;
          else low = middle + 1;
        }
        resumed.next = resumed.hashed = low - (low % FIRMWARE_BLOCK);
        for (let at = 0; at < resumed.hashed; at += FIRMWARE_BLOCK) resumed.chain = bytes.chainStep(sha256, resumed.chain, flash.readBytes(FW_NEW, at, FIRMWARE_BLOCK)!);
      } else {
        drop();
        // Room for what .boot0 holds at once: the bundle, the copy of the running one (the older
        // copy goes first) and, at the switch, the bundle again as .bootcde (the running one goes
        // first): a bundle bigger than the running one needs more than both sizes, or the switch
        // would find no room after erasing .bootcde. Earlier updates leave their files as trash:
        // Storage is compacted when that is what stands in the way.
        const prev = flash.size(FW_PREV);
        const running = flash.size(BOOT_CODE);
        const need = size + (size > running ? size : running) - (prev > 0 ? prev : 0) + 4096;
        if (flash.freeBytes(need) < need) return REFUSAL.NO_ROOM;
        flash.writeText(FW_META, meta);
      }
      state.incoming = resumed;
      return REFUSAL.NONE;
    }
    case COMMAND.FIRMWARE_CHUNK: {
      const data = message[MSG.DATA];
      if (!incoming || version !== incoming.version || message[MSG.OFFSET] !== incoming.next) return REFUSAL.TRANSFER;
      if (!(data instanceof Uint8Array) || data.length === 0 || incoming.next + data.length > incoming.size || data.indexOf(255) >= 0) return REFUSAL.BAD_ARGUMENT;
      if (incoming.next === 0) flash.create(FW_NEW, data, incoming.size);
      else flash.writeAt(FW_NEW, data, incoming.next);
      incoming.next += data.length;
      // Each whole block (and the last, short one) is hashed from flash as it completes: the
      // commit reads nothing more, and a tap waits for one block's hash at most.
      while (incoming.hashed + FIRMWARE_BLOCK <= incoming.next || (incoming.next === incoming.size && incoming.hashed < incoming.size)) {
        const length = Math.min(FIRMWARE_BLOCK, incoming.size - incoming.hashed);
        incoming.chain = bytes.chainStep(sha256, incoming.chain, flash.readBytes(FW_NEW, incoming.hashed, length)!);
        incoming.hashed += length;
      }
      return REFUSAL.NONE;
    }
    case COMMAND.FIRMWARE_COMMIT: {
      if (!incoming || version !== incoming.version || incoming.hashed !== incoming.size) return REFUSAL.TRANSFER;
      let difference = 0;
      for (let i = 0; i < 32; i++) difference |= incoming.chain[i] ^ incoming.hash[i];
      if (difference) {
        drop();
        parts.events.report(EVENT.FIRMWARE_REFUSED, { detail: DETAIL.NONE });
        return REFUSAL.FIRMWARE_SIGNATURE;
      }
      const seconds = message[MSG.CONFIRM_SEC];
      const confirmSec = typeof seconds === 'number' && seconds >= 2 && seconds <= 3600 ? Math.floor(seconds) : 300;
      flash.writeText(FW_BOOT, JSON.stringify({ s: 'i', w: confirmSec }));
      flash.erase(FW_META);
      state.incoming = null;
      return REFUSAL.NONE;
    }
    case COMMAND.FIRMWARE_CONFIRM:
      if (version !== state.running) return REFUSAL.BAD_ARGUMENT;
      if (pending && pending.indexOf('"t"') >= 0) {
        flash.erase(FW_BOOT);
        parts.events.report(EVENT.FIRMWARE, { detail: DETAIL.FIRMWARE_CONFIRMED });
      }
      return REFUSAL.NONE;
    case COMMAND.FIRMWARE_ABORT:
      drop();
      return REFUSAL.NONE;
  }
  return REFUSAL.UNKNOWN_COMMAND;
}
