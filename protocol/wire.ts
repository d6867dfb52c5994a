// The wire contract between a station and the hub: topics, frame keys and event codes.
// Pure constants and functions, imported by the firmware and by the hub, so both ends read the
// same table. Frames are CBOR maps with these small integer keys (compact on the radio); the
// payload types are in messages.ts.

/** Keys of an event frame (a CBOR map). */
export const FRAME = {
  STATION: 1, // station id (text)
  BOOT: 2, // boot counter of the station (uint)
  SEQ: 3, // sequence number within that boot (uint, from 1)
  UPTIME_MS: 4, // milliseconds since that boot (uint)
  WALL_TIME: 5, // Unix time in ms, only once the hub has sent the time (uint)
  TYPE: 6, // one of EVENT (uint)
  LOCKER: 7, // locker index from 0 (uint)
  PERSON: 8, // opaque person id from the badge list (uint)
  BADGE: 9, // keyed hash of the badge UID (8 bytes)
  DETAIL: 10, // one of DETAIL (uint)
  ACTOR: 11, // person id of the staff member who acted (uint)
  WITNESS: 12, // person id of the second staff member of a two-person release (uint)
  BOARD: 13, // the station's board identity (uint, 1..2^31-1), drawn when its Storage was formatted; absent = 0 (older firmware, or a board formatted before identities)
} as const;

/** Reasons and notes carried in FRAME.DETAIL. */
export const DETAIL = {
  NONE: 0,
  BUSY: 1, // that locker's door is already being opened (each locker opens on its own)
  NO_FREE_LOCKER: 2,
  LOCKER_HELD: 3,
  NOT_ENROLLED: 4, // staff badge not enrolled for any asset class here
  NO_ITEM_AVAILABLE: 5,
  RATE_LIMITED: 6, // unknown badges: further taps ignored for a while
  RELEASE_NEEDS_SENIOR: 7, // two-person release without a headteacher or deputy
  RELEASE_EXPIRED: 8,
  SAME_STAFF_TWICE: 9,
  HEALTH_CHECK_DUE: 10,
  CONFISCATED: 11, // a hold placed on a phone that was not yet in a locker
  LOCK_RETRY: 12,
  NOT_OUT: 13, // an item tag whose locker does not show it lent
  REMOTE: 14, // done by a command from the hub
  WATCHDOG: 15, // boot after a watchdog reset
  FIRST_BOOT: 16,
  HEALTH_CHECK_CLEARED: 17,
  READER: 18,
  TORN_RECORD: 19, // a record torn by a power cut was found and skipped at boot
  BADGE_LIST: 20, // the badge list is missing or failed its check
  OWN_LOCKER_OPEN: 21, // the badge's own locker is open already: shut it to finish (nothing else opens)
  FIRMWARE_NOT_CONFIRMED: 22, // FIRMWARE_ROLLED_BACK: the new firmware did not confirm itself in time
  FIRMWARE_RESETS: 23, // FIRMWARE_ROLLED_BACK: the new firmware kept resetting (watchdog, crash)
  FIRMWARE_INSTALLED: 24, // FIRMWARE: a new bundle was switched to (not yet confirmed)
  FIRMWARE_CONFIRMED: 25, // FIRMWARE: the hub confirmed the running bundle; the previous one is no longer chosen
};

/** Keys of a command from the hub, of a station's reply, and of its retained state (CBOR maps). */
export const MSG = {
  STATION: 1,
  WALL_TIME: 5, // Unix time, ms
  LOCKER: 7,
  PERSON: 8,
  DETAIL: 10,
  ACTOR: 11,
  COUNTER: 13, // the hub's command counter: strictly increasing per station
  COMMAND: 14, // one of COMMAND
  HOLD: 15, // LOCKER state for SET_HOLD
  VERSION: 16, // badge-list version
  OFFSET: 17,
  DATA: 18, // bytes
  SIZE: 19,
  OK: 22, // reply: true or false
  LOCKERS: 23, // state: one byte per locker (LOCKER states)
  BACKLOG: 24, // state: journal entries not yet confirmed
  MEMORY: 25, // state: [variables used, variables total]
  FIRMWARE: 26, // state: firmware version text
  READER: 27, // state: reader driver state text
  UPTIME: 28, // state: seconds since boot
  CONFIG: 29, // SET_CONFIG: the new configuration, JSON text
  BOOT: 30,
  DOORS: 31, // state: bitmap of the doors standing open, bit n = locker n (uint)
  BOARD: 32, // state: the board identity (FRAME.BOARD); SET_TIME, RESTORE_LOCKERS: the board it is meant for
  OWNERS: 33, // RESTORE_LOCKERS: one little-endian uint32 per locker, the person each holds for (0: none)
  HASH: 34, // FIRMWARE_BEGIN: the bundle's chained SHA-256 (protocol/firmware.ts), 32 bytes
  SIGNATURE: 35, // FIRMWARE_BEGIN: HMAC-SHA256(station key, hash, version, rollback), 32 bytes
  ROLLBACK: 36, // FIRMWARE_BEGIN: true when the office asked for an older version
  CONFIRM_SEC: 37, // FIRMWARE_COMMIT: seconds the new bundle has to confirm itself before the station goes back
} as const;

/** Commands from the hub (MSG.COMMAND). */
export const COMMAND = {
  UNLOCK: 1,
  SET_HOLD: 2,
  RELEASE_HOLD: 3,
  OPEN_ALL: 4,
  SET_TIME: 5,
  SET_CONFIG: 6, // the station writes it and restarts
  BADGES_BEGIN: 7, // VERSION, SIZE
  BADGES_CHUNK: 8, // VERSION, OFFSET, DATA (in order)
  BADGES_COMMIT: 9, // VERSION: check the whole file, then switch to it
  RESTORE_LOCKERS: 10, // BOOT, BOARD, LOCKERS (states), OWNERS: the hub's records, for a board that lost its flash
  FIRMWARE_BEGIN: 11, // VERSION (number, protocol/firmware.ts), SIZE, HASH, SIGNATURE, ROLLBACK: reply OFFSET = bytes already held
  FIRMWARE_CHUNK: 12, // VERSION, OFFSET, DATA (in order, from the OFFSET the begin replied)
  FIRMWARE_COMMIT: 13, // VERSION, CONFIRM_SEC: check the whole file, then restart into it (.boot0 switches)
  FIRMWARE_CONFIRM: 14, // VERSION: the running bundle came online; keep it
  FIRMWARE_ABORT: 15, // drop a partly received bundle
};

/** Why a command was refused (reply MSG.DETAIL). */
export const REFUSAL = {
  NONE: 0,
  BAD_SIGNATURE: 1,
  REPLAYED: 2, // counter not above the last accepted one
  UNKNOWN_COMMAND: 3,
  BAD_ARGUMENT: 4,
  NOT_NOW: 5, // the locker is busy or in a state that cannot take it
  TRANSFER: 6, // a badge-list chunk out of order or without a transfer
  CHECKSUM: 7, // the badge list did not check out
  WRONG_STATION: 8,
  NO_ROOM: 9, // firmware: Storage has no room for the bundle (and the copy of the running one)
  OLDER_VERSION: 10, // firmware: not newer than the running one, and no rollback asked for
  FIRMWARE_SIGNATURE: 11, // firmware: the bundle's signature or hash does not check for this station
  UPDATE_PENDING: 12, // firmware: a switched bundle is still waiting for its confirmation
};

/** Event types carried in FRAME.TYPE. */
export const EVENT = {
  BOOT: 1,
  DEPOSIT: 2, // phone in, door closed
  COLLECT: 3, // phone out, door closed
  DEPOSIT_CANCELLED: 4, // door never opened after the unlock
  EXEMPT: 5, // medical exemption: tap recorded, no door opened
  UNKNOWN_BADGE: 6,
  REFUSED: 7, // known badge, nothing it may open
  LOAN: 8,
  RETURN: 9,
  HOLD_SET: 10,
  HOLD_RELEASED: 11,
  OPEN_ALL: 12,
  DOOR_FORCED: 13,
  DOOR_LEFT_OPEN: 14,
  LOCK_FAULT: 15,
  READER_FAULT: 16,
  READER_RECOVERED: 17,
  JOURNAL_FULL: 18,
  COLLECT_CANCELLED: 19, // door never opened after an unlock for a collection
  FAULT: 20, // a storage or configuration problem found at boot
  REMOTE_UNLOCK: 21, // the hub unlocked a locker; its door opened and closed
  FIRMWARE: 22, // DETAIL FIRMWARE_INSTALLED (first boot of a new bundle) or FIRMWARE_CONFIRMED
  FIRMWARE_ROLLED_BACK: 23, // the previous bundle runs again; DETAIL says why
  FIRMWARE_REFUSED: 24, // a received bundle failed its check at commit
};

/** Roles as the badge list stores them (one byte). */
export const ROLE = {
  PUPIL: 1,
  STAFF: 2,
  HEADTEACHER: 3,
  DEPUTY: 4,
  DSL: 5,
  ICT: 6,
  OFFICE: 7,
};

/** Every topic of the system starts with this (broker ACLs, the hub's subscriptions, Home Assistant). */
export const TOPIC_ROOT = 'handover';

/** handover/<site>/<station>: the topics of one station are this and a TOPIC suffix. */
export function topicBase(site: string, station: string): string {
  return TOPIC_ROOT + '/' + site + '/' + station;
}

/** Topic suffixes under handover/<site>/<station>/. */
export const TOPIC = {
  EVENTS: '/events', // station -> hub, QoS 1: event frames
  STATUS: '/status', // station -> hub, retained: "online" (birth) / "offline" (last will)
  STATE: '/state', // station -> hub, retained: locker states and health
  ACK: '/ack', // hub -> station, QoS 1: highest sequence committed to the database
  COMMAND: '/cmd', // hub -> station, QoS 1: signed commands
  REPLY: '/reply', // station -> hub, QoS 1: command results
} as const;
