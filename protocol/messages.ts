// One type per message between a station and the hub, with the integer key each field has on the
// wire (wire.ts). Every message but the status is a CBOR map with those keys, signed (sealed) by
// the sender. A field's name and type are written here once: the firmware builds its maps as
// `Wire<...>` of these types, and the hub's zod schemas (hub/src/protocol/) must infer exactly these
// types, or the type check fails. Types only, and key tables the firmware does not import: nothing
// here reaches the station's bundle but the numbers it already had.
import { FRAME, MSG } from './wire';

/** A key table: for every field of T (optional ones too), its integer key on the wire. */
export type KeysOf<T> = { readonly [K in keyof T]-?: number };

/** T as the wire carries it: a map from each field's integer key to its value (optional stays optional). */
export type Wire<T, Keys extends KeysOf<T>> = { [K in keyof T as Keys[K]]: T[K] };

/** station -> hub, QoS 1, TOPIC.EVENTS: one journal entry. Keys: FRAME. */
export interface EventFrame {
  /** The station id (1..64 characters). */
  station: string;
  /** The board identity (1..2^32-1), drawn when the board's Storage was formatted; absent from older firmware (read as 0). */
  board?: number;
  /** The station's boot counter. */
  boot: number;
  /** Sequence number within that boot, from 1. */
  seq: number;
  /** Milliseconds since that boot. */
  uptimeMs: number;
  /** Unix time in ms, once the hub has sent the time. */
  wallTime?: number;
  /** One of EVENT. */
  type: number;
  /** Locker index from 0. */
  locker?: number;
  /** Opaque person id from the badge list. */
  person?: number;
  /** Keyed hash of the badge UID, 8 bytes. */
  badge?: Uint8Array;
  /** One of DETAIL (0..255). */
  detail?: number;
  /** Person id of the staff member who acted. */
  actor?: number;
  /** Person id of the second staff member of a two-person release. */
  witness?: number;
}

/** Field order is the order the hub's schema returns them in. */
export const EVENT_FRAME_KEYS = {
  station: FRAME.STATION,
  board: FRAME.BOARD,
  boot: FRAME.BOOT,
  seq: FRAME.SEQ,
  uptimeMs: FRAME.UPTIME_MS,
  wallTime: FRAME.WALL_TIME,
  type: FRAME.TYPE,
  locker: FRAME.LOCKER,
  person: FRAME.PERSON,
  badge: FRAME.BADGE,
  detail: FRAME.DETAIL,
  actor: FRAME.ACTOR,
  witness: FRAME.WITNESS,
} as const satisfies KeysOf<EventFrame>;
export type WireEventFrame = Wire<EventFrame, typeof EVENT_FRAME_KEYS>;

/** hub -> station, QoS 1, TOPIC.ACK: every event of `board`'s `boot` up to `seq` is in the database. Keys: FRAME. */
export interface Ack {
  /** Left out for board 0 (older firmware); a board takes only acknowledgements naming it. */
  board?: number;
  boot: number;
  seq: number;
}

export const ACK_KEYS = { board: FRAME.BOARD, boot: FRAME.BOOT, seq: FRAME.SEQ } as const satisfies KeysOf<Ack>;
export type WireAck = Wire<Ack, typeof ACK_KEYS>;

/** station -> hub, retained, TOPIC.STATE: locker states and health. Keys: MSG. */
export interface StateReport {
  station: string;
  boot: number;
  /** The board identity; absent for 0. */
  board?: number;
  /** The station's wall clock (Unix ms) when it made the report; absent while it has none. */
  wallTime?: number;
  /** Firmware version text. */
  firmware: string;
  /** One byte per locker: LOCKER states (lockers.ts). */
  lockers: Uint8Array;
  /** Bitmap of the doors standing open, bit n = locker n; absent from firmware before door reports. */
  doors?: number;
  /** The badge-list version in use (0: none). */
  version: number;
  /** Journal entries not yet confirmed by an Ack. */
  backlog: number;
  /** [variables used, variables total]. */
  memory: [number, number];
  /** The reader driver's state text. */
  reader: string;
  /** Seconds since boot. */
  uptime: number;
}

export const STATE_REPORT_KEYS = {
  station: MSG.STATION,
  boot: MSG.BOOT,
  board: MSG.BOARD,
  wallTime: MSG.WALL_TIME,
  firmware: MSG.FIRMWARE,
  lockers: MSG.LOCKERS,
  doors: MSG.DOORS,
  version: MSG.VERSION,
  backlog: MSG.BACKLOG,
  memory: MSG.MEMORY,
  reader: MSG.READER,
  uptime: MSG.UPTIME,
} as const satisfies KeysOf<StateReport>;
export type WireStateReport = Wire<StateReport, typeof STATE_REPORT_KEYS>;

/** The arguments a command may carry; which ones each COMMAND takes is said beside it in wire.ts. */
export interface CommandArguments {
  /** SET_TIME: the hub's Unix time, ms. */
  wallTime?: number;
  locker?: number;
  person?: number;
  actor?: number;
  /** SET_HOLD: the LOCKER state to hold it in. */
  hold?: number;
  /** BADGES_*: the badge-list version. */
  version?: number;
  /** BADGES_CHUNK: where this chunk goes in the file. */
  offset?: number;
  /** BADGES_CHUNK: the bytes. */
  data?: Uint8Array;
  /** BADGES_BEGIN: the file's size. */
  size?: number;
  /** SET_CONFIG: the new configuration, JSON text (station-config.ts). */
  config?: string;
  /** SET_TIME, RESTORE_LOCKERS: the boot it is meant for. */
  boot?: number;
  /**
   * The board it is meant for: the hub names the board the station last reported in every command,
   * and a station refuses one naming another board. SET_TIME, RESTORE_LOCKERS: absent means 0.
   */
  board?: number;
  /** RESTORE_LOCKERS: one LOCKER state per locker. */
  lockers?: Uint8Array;
  /** RESTORE_LOCKERS: one little-endian u32 per locker, the person it holds for (0: none). */
  owners?: Uint8Array;
  /** FIRMWARE_BEGIN: the bundle's chained hash (protocol/firmware.ts). */
  hash?: Uint8Array;
  /** FIRMWARE_BEGIN: the hub's signature of (hash, version, rollback) with the station's key. */
  signature?: Uint8Array;
  /** FIRMWARE_BEGIN: the office asked for an older version. */
  rollback?: boolean;
  /** FIRMWARE_COMMIT: seconds the new bundle has to be confirmed before the station goes back. */
  confirmSec?: number;
}

/** hub -> station, TOPIC.COMMAND: published at QoS 1, the station subscribes at QoS 0 (a broker keeps none for it while it is away). Keys: MSG. */
export interface Command extends CommandArguments {
  station: string;
  /** Strictly increasing per station: a station refuses a counter not above the last it took. */
  counter: number;
  /** One of COMMAND. */
  command: number;
}

export const COMMAND_KEYS = {
  station: MSG.STATION,
  counter: MSG.COUNTER,
  command: MSG.COMMAND,
  wallTime: MSG.WALL_TIME,
  locker: MSG.LOCKER,
  person: MSG.PERSON,
  actor: MSG.ACTOR,
  hold: MSG.HOLD,
  version: MSG.VERSION,
  offset: MSG.OFFSET,
  data: MSG.DATA,
  size: MSG.SIZE,
  config: MSG.CONFIG,
  boot: MSG.BOOT,
  board: MSG.BOARD,
  lockers: MSG.LOCKERS,
  owners: MSG.OWNERS,
  hash: MSG.HASH,
  signature: MSG.SIGNATURE,
  rollback: MSG.ROLLBACK,
  confirmSec: MSG.CONFIRM_SEC,
} as const satisfies KeysOf<Command>;
export type WireCommand = Wire<Command, typeof COMMAND_KEYS>;

/** station -> hub, QoS 1, TOPIC.REPLY: the result of one command. Keys: MSG. */
export interface Reply {
  station: string;
  /** The command's counter (0 when the command could not be read). */
  counter: number;
  ok: boolean;
  /** Why it was refused: one of REFUSAL (absent when ok). */
  detail?: number;
  /** BADGES_COMMIT: the badge-list version now in use. */
  version?: number;
  /** RESTORE_LOCKERS: the LOCKER states after it. */
  lockers?: Uint8Array;
  /** FIRMWARE_BEGIN: the bytes of the bundle the station already holds (it resumes from there). */
  offset?: number;
}

export const REPLY_KEYS = {
  station: MSG.STATION,
  counter: MSG.COUNTER,
  ok: MSG.OK,
  detail: MSG.DETAIL,
  version: MSG.VERSION,
  lockers: MSG.LOCKERS,
  offset: MSG.OFFSET,
} as const satisfies KeysOf<Reply>;
export type WireReply = Wire<Reply, typeof REPLY_KEYS>;

/** station -> hub, retained, TOPIC.STATUS: plain text, the MQTT birth message and last will. */
export type Status = 'online' | 'offline';
export const STATUS_ONLINE: Status = 'online';
export const STATUS_OFFLINE: Status = 'offline';

/** The names of a key table by key, for decoding a map (ignored by the firmware). */
export function fieldsByKey<T>(keys: KeysOf<T>): Map<number, keyof T & string> {
  const byKey = new Map<number, keyof T & string>();
  for (const name of Object.keys(keys) as Array<keyof T & string>) byKey.set(keys[name], name);
  return byKey;
}
