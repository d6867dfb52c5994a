// Decoding and validating event frames from stations. A frame is a CBOR map with the integer keys
// of the contract (protocol/messages.ts EventFrame, EVENT_FRAME_KEYS); anything else is rejected
// with a reason. The schema below must infer exactly the contract's EventFrame (checked by the type
// checker), and the hand check's field rules are a table over the same type.
import { z } from 'zod';
import { EVENT } from '../../../protocol/wire';
import { ACK_KEYS, EVENT_FRAME_KEYS, type Ack, type EventFrame } from '../../../protocol/messages';
import { seal, unseal } from './sealed';
import { decodeKeyed, type Decoded, type SameType } from './keyed';

export type { EventFrame, Decoded };

export const MAX_FRAME_BYTES = 4096;

/**
 * The hub's signed acknowledgement to a station: every event of `board`'s `boot` up to `seq` is
 * committed. Board 0 (older firmware) is left out; a board confirms only acknowledgements naming it.
 */
export function encodeAck(stationKeyHex: string, boot: number, seq: number, board = 0): Uint8Array {
  const fields: Ack = board ? { board, boot, seq } : { boot, seq };
  const ack = new Map<number, number>();
  for (const [name, value] of Object.entries(fields) as Array<[keyof Ack, number]>) ack.set(ACK_KEYS[name], value);
  return seal(stationKeyHex, ack);
}

const eventCodes = new Set<number>(Object.values(EVENT));
const eventNames = new Map<number, string>(Object.entries(EVENT).map(([name, code]) => [code, name.toLowerCase().replace(/_/g, '-')]));

export function eventName(code: number): string {
  return eventNames.get(code) ?? `unknown-${code}`;
}

const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Byte strings as the contract types them (any Uint8Array). */
export const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'Input not instance of Uint8Array');

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
  badge: bytes.refine((bytes) => bytes.length === 8, 'badge hash must be 8 bytes').optional(),
  detail: uint.max(255).optional(),
  actor: uint.optional(),
  witness: uint.optional(),
}) satisfies z.ZodType<EventFrame>;

// The schema infers the contract's type exactly: a field added to either fails the type check here.
const schemaIsTheContract: SameType<z.infer<typeof EventFrameSchema>, EventFrame> = true;
void schemaIsTheContract;

/** The frame's board identity: 0 for frames without one (firmware before board identities). */
export function boardOf(frame: { board?: number }): number {
  return frame.board ?? 0;
}


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
  // A well-formed frame (nearly all of them) is checked by hand against the same rules; anything
  // else goes through the schema, which says what is wrong.
  return decodeKeyed(payload, EVENT_FRAME_KEYS, EventFrameSchema, checkedFrame);
}

const isUint = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER;

/** The hand check's rule for each field of the contract's EventFrame (the type checker wants every one). */
const FIELD_RULES: { readonly [K in keyof EventFrame]-?: (value: unknown) => boolean } = {
  station: (station) => typeof station === 'string' && station.length >= 1 && station.length <= 64,
  board: (board) => isUint(board) && board <= 0xffffffff,
  boot: isUint,
  seq: (seq) => isUint(seq) && seq >= 1,
  uptimeMs: isUint,
  wallTime: isUint,
  type: (type) => isUint(type) && eventCodes.has(type),
  locker: (locker) => typeof locker === 'number' && Number.isInteger(locker) && locker >= 0 && locker <= 63,
  person: isUint,
  badge: (badge) => badge instanceof Uint8Array && badge.length === 8,
  detail: (detail) => isUint(detail) && detail <= 255,
  actor: isUint,
  witness: isUint,
};
/** Fields in the schema's order (its parse returns them in it), each with whether the schema wants it. */
const FIELDS = (Object.keys(EventFrameSchema.shape) as Array<keyof EventFrame>).map((name) => ({
  name,
  rule: FIELD_RULES[name],
  required: !EventFrameSchema.shape[name].safeParse(undefined).success,
}));

/**
 * The frame EventFrameSchema would return for `named` when `named` satisfies it, else undefined
 * (also for any field present as undefined: left to the schema). The schema is the definition:
 * test/hub/protocol/frame-check.test.ts compares the two.
 */
export function checkedFrame(named: Record<string, unknown>): EventFrame | undefined {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const value = named[field.name];
    if (value === undefined) {
      if (field.required || field.name in named) return undefined;
      continue;
    }
    if (!field.rule(value)) return undefined;
    out[field.name] = value;
  }
  return out as unknown as EventFrame;
}
