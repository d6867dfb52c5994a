// Decoding a signed station message's CBOR map (integer keys) into the contract's named fields
// (protocol/messages.ts), then validating them with a zod schema that infers the contract's type.
import type { z } from 'zod';
import { fieldsByKey, type KeysOf } from '../../../protocol/messages';
import { cborDecode } from './sealed';

export type Decoded<T> = { ok: true; frame: T } | { ok: false; reason: string };

/** `true` only when A and B are the same type (a schema's inferred type and the contract's). */
export type SameType<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** The reasons zod gives, as one line. */
export function schemaReason(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'frame'}: ${issue.message}`).join('; ');
}

const fieldTables = new WeakMap<object, Map<number, string>>();

/** The CBOR map's fields by name; a reason for a key the contract does not have (or a body that is not a map). */
export function namedFields(decoded: unknown, keys: KeysOf<unknown> | object): { ok: true; named: Record<string, unknown> } | { ok: false; reason: string } {
  if (!(decoded instanceof Map)) return { ok: false, reason: 'frame is not a CBOR map' };
  let byKey = fieldTables.get(keys);
  if (!byKey) {
    byKey = fieldsByKey(keys as Record<string, number>) as Map<number, string>;
    fieldTables.set(keys, byKey);
  }
  const named: Record<string, unknown> = {};
  for (const [key, value] of decoded) {
    const field = typeof key === 'number' ? byKey.get(key) : undefined;
    if (!field) return { ok: false, reason: `unknown frame key ${String(key)}` };
    named[field] = value instanceof Uint8Array ? new Uint8Array(value) : value;
  }
  return { ok: true, named };
}

/**
 * Decodes a CBOR body with the contract's key table and validates it with `schema`; `quick`, when
 * given, is a faster check of the same rules tried first (it returns undefined to leave a body to
 * the schema, whose reasons are then given).
 */
export function decodeKeyed<T>(
  payload: Uint8Array,
  keys: KeysOf<T>,
  schema: z.ZodType<T>,
  quick?: (named: Record<string, unknown>) => T | undefined,
): Decoded<T> {
  let decoded: unknown;
  try {
    decoded = cborDecode(payload);
  } catch (error) {
    return { ok: false, reason: `not CBOR: ${(error as Error).message}` };
  }
  const fields = namedFields(decoded, keys);
  if (!fields.ok) return fields;
  const checked = quick?.(fields.named);
  if (checked) return { ok: true, frame: checked };
  const parsed = schema.safeParse(fields.named);
  if (!parsed.success) return { ok: false, reason: schemaReason(parsed.error) };
  return { ok: true, frame: parsed.data };
}
