// The ingest's hand check of a decoded frame (frames.ts checkedFrame) must accept exactly what
// EventFrameSchema accepts, and return what the schema's parse returns (same keys, same order);
// a frame it does not accept goes to the schema, so the rejection reasons are the schema's.
import { describe, expect, test } from 'vitest';
import { EVENT, FRAME } from '../../../protocol/wire';
import { checkedFrame, decodeEventFrame, EventFrameSchema } from '../../../hub/src/protocol/frames';
import { cborEncode } from '../../../hub/src/protocol/sealed';

const valid = { station: 'st-1', boot: 3, seq: 7, uptimeMs: 1234, wallTime: 1795000000000, type: EVENT.DEPOSIT, locker: 5, person: 42, badge: new Uint8Array(8).fill(9), detail: 2, actor: 7, witness: 8 };

const variants: Array<[string, unknown]> = [
  ['station', ''], ['station', 'x'.repeat(64)], ['station', 'x'.repeat(65)], ['station', 5], ['station', undefined],
  ['boot', 0], ['boot', -1], ['boot', 1.5], ['boot', Number.MAX_SAFE_INTEGER], ['boot', Number.MAX_SAFE_INTEGER + 1], ['boot', NaN], ['boot', Infinity], ['boot', '3'], ['boot', undefined], ['boot', -0],
  ['seq', 0], ['seq', 1], ['seq', -5], ['seq', undefined],
  ['uptimeMs', 0], ['uptimeMs', -1], ['uptimeMs', null],
  ['wallTime', undefined], ['wallTime', null], ['wallTime', -1], ['wallTime', 0],
  ['type', 999], ['type', EVENT.COLLECT], ['type', 1.5], ['type', undefined],
  ['locker', 0], ['locker', 63], ['locker', 64], ['locker', -1], ['locker', 2.5], ['locker', undefined], ['locker', null],
  ['person', 0], ['person', -1], ['person', undefined], ['person', 'p'],
  ['badge', new Uint8Array(7)], ['badge', new Uint8Array(9)], ['badge', [1, 2, 3, 4, 5, 6, 7, 8]], ['badge', undefined], ['badge', 'abcdefgh'],
  ['detail', 255], ['detail', 256], ['detail', 0], ['detail', undefined],
  ['actor', -1], ['actor', undefined], ['witness', 1.25], ['witness', undefined],
];

function cases(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [{ ...valid }];
  for (const [field, value] of variants) {
    out.push({ ...valid, [field]: value });
    const without: Record<string, unknown> = { ...valid };
    delete without[field];
    out.push(without);
    // Present, and the only optional field.
    out.push({ station: 's', boot: 1, seq: 1, uptimeMs: 0, type: EVENT.BOOT ?? EVENT.DEPOSIT, [field]: value });
  }
  return out;
}

describe('the ingest hand check of an event frame', () => {
  test('accepts what the schema accepts and returns the same frame, keys in the same order', () => {
    let accepted = 0;
    for (const named of cases()) {
      const parsed = EventFrameSchema.safeParse(named);
      const quick = checkedFrame(named);
      if (quick) {
        accepted++;
        expect(parsed.success, JSON.stringify(named)).toBe(true);
        expect(quick).toStrictEqual(parsed.data);
        expect(Object.keys(quick)).toEqual(Object.keys(parsed.data!));
      } else if (!Object.values(named).includes(undefined)) {
        // Undefined fields are left to the schema; anything else it refuses, the schema refuses.
        expect(parsed.success, JSON.stringify(named)).toBe(false);
      }
    }
    expect(accepted).toBeGreaterThan(20);
  });

  test('a refused frame is decoded with the schema reason', () => {
    const frame = new Map<number, unknown>([[FRAME.STATION, 'st-1'], [FRAME.BOOT, 1], [FRAME.SEQ, 0], [FRAME.UPTIME_MS, 5], [FRAME.TYPE, EVENT.DEPOSIT], [FRAME.LOCKER, 70]]);
    const result = decodeEventFrame(cborEncode(frame));
    expect(result.ok).toBe(false);
    const parsed = EventFrameSchema.safeParse({ station: 'st-1', boot: 1, seq: 0, uptimeMs: 5, type: EVENT.DEPOSIT, locker: 70 });
    expect(result).toEqual({ ok: false, reason: parsed.error!.issues.map((issue) => `${issue.path.join('.') || 'frame'}: ${issue.message}`).join('; ') });
  });
});
