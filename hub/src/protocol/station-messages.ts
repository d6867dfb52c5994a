// Validating a station's state reports and command replies, as events are (frames.ts): the CBOR map
// is read with the contract's key table (protocol/messages.ts) and checked by a schema that must
// infer exactly the contract's type. A report or reply that fails says why, and is not used.
import { z } from 'zod';
import { REPLY_KEYS, STATE_REPORT_KEYS, type Reply, type StateReport } from '../../../protocol/messages';
import { bytes } from './frames';
import { decodeKeyed, type Decoded, type SameType } from './keyed';

const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const text = z.string().max(256);

export const StateReportSchema = z.object({
  station: z.string().min(1).max(64),
  boot: uint,
  board: uint.max(0xffffffff).optional(),
  wallTime: uint.optional(),
  firmware: text,
  lockers: bytes.refine((states) => states.length <= 64, 'at most 64 lockers'),
  doors: uint.optional(),
  version: uint.max(0xffffffff),
  backlog: uint,
  memory: z.tuple([uint, uint]),
  reader: text,
  uptime: uint,
}) satisfies z.ZodType<StateReport>;

const stateIsTheContract: SameType<z.infer<typeof StateReportSchema>, StateReport> = true;
void stateIsTheContract;

export const ReplySchema = z.object({
  station: z.string().min(1).max(64),
  counter: uint,
  ok: z.boolean(),
  detail: uint.max(255).optional(),
  version: uint.max(0xffffffff).optional(),
  lockers: bytes.refine((states) => states.length <= 64, 'at most 64 lockers').optional(),
  offset: uint.optional(),
}) satisfies z.ZodType<Reply>;

const replyIsTheContract: SameType<z.infer<typeof ReplySchema>, Reply> = true;
void replyIsTheContract;

/** A state report's (already verified) body, decoded and validated. */
export function decodeStateReport(body: Uint8Array): Decoded<StateReport> {
  return decodeKeyed(body, STATE_REPORT_KEYS, StateReportSchema);
}

/** A command reply's (already verified) body, decoded and validated. */
export function decodeReply(body: Uint8Array): Decoded<Reply> {
  return decodeKeyed(body, REPLY_KEYS, ReplySchema);
}
