// Decoding and validating event frames from stations. A frame is a CBOR map with the small
// integer keys of firmware/src/protocol/wire.ts; anything else is rejected with a reason.
import { z } from 'zod';
import { EVENT, FRAME } from '../../../firmware/src/protocol/wire';
import { cborDecode, seal, unseal } from './sealed';

export const MAX_FRAME_BYTES = 4096;

/**
 * The hub's signed acknowledgement to a station: every event of `board`'s `boot` up to `seq` is
 * committed. Board 0 (older firmware) is left out; a board confirms only acknowledgements naming it.
 */
export function encodeAck(stationKeyHex: string, boot: number, seq: number, board = 0): Uint8Array {
  const ack = new Map<number, number>();
  if (board) ack.set(FRAME.BOARD, board);
  ack.set(FRAME.BOOT, boot);
  ack.set(FRAME.SEQ, seq);
  return seal(stationKeyHex, ack);
}

const eventCodes = new Set<number>(Object.values(EVENT));
const eventNames = new Map<number, string>(Object.entries(EVENT).map(([name, code]) => [code, name.toLowerCase().replace(/_/g, '-')]));

export function eventName(code: number): string {
  return eventNames.get(code) ?? `unknown-${code}`;
}

const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const EventFrameSchema = z.object({
  station: z.string().min(1).max(64),
  /** The board identity; absent (read as 0) from older firmware. */
  board: uint.max(0xffffffff).optional(),
  boot: uint,
  seq: uint.min(1),
  uptimeMs: uint,
  wallTime: uint.optional(),
  type: uint.refine((code) => eventCodes.has(code), 'unknown event type'),
  locker: z.number().int().min(0).max(63).optional(),
  person: uint.optional(),
  badge: z.instanceof(Uint8Array).refine((bytes) => bytes.length === 8, 'badge hash must be 8 bytes').optional(),
  detail: uint.max(255).optional(),
  actor: uint.optional(),
  witness: uint.optional(),
});

export type EventFrame = z.infer<typeof EventFrameSchema>;

/** The frame's board identity: 0 for frames without one (firmware before board identities). */
export function boardOf(frame: { board?: number }): number {
  return frame.board ?? 0;
}

export type Decoded<T> = { ok: true; frame: T } | { ok: false; reason: string };

const FIELD_BY_KEY = new Map<number, keyof EventFrame>([
  [FRAME.STATION, 'station'],
  [FRAME.BOARD, 'board'],
  [FRAME.BOOT, 'boot'],
  [FRAME.SEQ, 'seq'],
  [FRAME.UPTIME_MS, 'uptimeMs'],
  [FRAME.WALL_TIME, 'wallTime'],
  [FRAME.TYPE, 'type'],
  [FRAME.LOCKER, 'locker'],
  [FRAME.PERSON, 'person'],
  [FRAME.BADGE, 'badge'],
  [FRAME.DETAIL, 'detail'],
  [FRAME.ACTOR, 'actor'],
  [FRAME.WITNESS, 'witness'],
]);

/** Verifies a station's signed event frame with its key, then decodes and validates it. */
export function openEventFrame(stationKeyHex: string, payload: Uint8Array): Decoded<EventFrame> {
  if (payload.length === 0) return { ok: false, reason: 'empty payload' };
  if (payload.length > MAX_FRAME_BYTES) return { ok: false, reason: `frame of ${payload.length} bytes exceeds ${MAX_FRAME_BYTES}` };
  const opened = unseal(stationKeyHex, payload);
  if (!opened.ok) return opened;
  return decodeEventFrame(opened.body);
}

/** Decodes and validates an (already verified) event frame body. */
export function decodeEventFrame(payload: Uint8Array): Decoded<EventFrame> {
  let decoded: unknown;
  try {
    decoded = cborDecode(payload);
  } catch (error) {
    return { ok: false, reason: `not CBOR: ${(error as Error).message}` };
  }
  if (!(decoded instanceof Map)) return { ok: false, reason: 'frame is not a CBOR map' };
  const named: Record<string, unknown> = {};
  for (const [key, value] of decoded) {
    const field = typeof key === 'number' ? FIELD_BY_KEY.get(key) : undefined;
    if (!field) return { ok: false, reason: `unknown frame key ${String(key)}` };
    named[field] = value instanceof Uint8Array ? new Uint8Array(value) : value;
  }
  // A well-formed frame (nearly all of them) is checked by hand against the same rules; anything
  // else goes through the schema, which says what is wrong.
  const quick = checkedFrame(named);
  if (quick) return { ok: true, frame: quick };
  const parsed = EventFrameSchema.safeParse(named);
  if (!parsed.success) {
    return { ok: false, reason: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'frame'}: ${issue.message}`).join('; ') };
  }
  return { ok: true, frame: parsed.data };
}

const isUint = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER;

/**
 * The frame EventFrameSchema would return for `named` when `named` satisfies it, else undefined
 * (also for any field present as undefined: left to the schema). The schema is the definition:
 * test/hub/frame-check.test.ts compares the two.
 */
export function checkedFrame(named: Record<string, unknown>): EventFrame | undefined {
  const { station, board, boot, seq, uptimeMs, wallTime, type, locker, person, badge, detail, actor, witness } = named;
  if (typeof station !== 'string' || station.length < 1 || station.length > 64) return undefined;
  if ('board' in named && !(isUint(board) && board <= 0xffffffff)) return undefined;
  if (!isUint(boot) || !isUint(seq) || seq < 1 || !isUint(uptimeMs) || !isUint(type) || !eventCodes.has(type)) return undefined;
  if ('wallTime' in named && !isUint(wallTime)) return undefined;
  if ('locker' in named && !(typeof locker === 'number' && Number.isInteger(locker) && locker >= 0 && locker <= 63)) return undefined;
  if ('person' in named && !isUint(person)) return undefined;
  if ('badge' in named && !(badge instanceof Uint8Array && badge.length === 8)) return undefined;
  if ('detail' in named && !(isUint(detail) && detail <= 255)) return undefined;
  if ('actor' in named && !isUint(actor)) return undefined;
  if ('witness' in named && !isUint(witness)) return undefined;
  // The schema's key order, as its parse returns them.
  const out: Record<string, unknown> = { station };
  if (board !== undefined) out.board = board;
  out.boot = boot;
  out.seq = seq;
  out.uptimeMs = uptimeMs;
  if (wallTime !== undefined) out.wallTime = wallTime;
  out.type = type;
  if (locker !== undefined) out.locker = locker;
  if (person !== undefined) out.person = person;
  if (badge !== undefined) out.badge = badge;
  if (detail !== undefined) out.detail = detail;
  if (actor !== undefined) out.actor = actor;
  if (witness !== undefined) out.witness = witness;
  const frame = out as EventFrame;
  return frame;
}
