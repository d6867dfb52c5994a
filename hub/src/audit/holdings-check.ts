// `audit verify` cross-checks the phones in lockers now (phones_in, migration 16) against phone
// custody. phones_in is derived (kept by triggers on phone_custody), not anchored: custody itself
// is anchored, so a row of phones_in that differs from the open custody it stands for was edited,
// inserted or deleted in phones_in directly, and "who holds what" would show it.
import type { SqlDatabase } from '../db/sql';
import type { RowProblem } from './anchors';

const SAME = `i.person_id = c.person_id AND i.station_id = c.station_id AND i.locker = c.locker AND i.deposited_at = c.deposited_at
  AND COALESCE(i.uncollected_at, '') = COALESCE(c.uncollected_at, '') AND COALESCE(i.disposal_due_at, '') = COALESCE(c.disposal_due_at, '')`;

/** The first phone in a locker that phones_in does not show as phone custody holds it, or null. */
export async function phonesInProblem(db: SqlDatabase): Promise<RowProblem | null> {
  const missing = await db.get<{ id: number; listed: number | null }>(
    `SELECT c.id, i.custody_id AS listed FROM phone_custody c LEFT JOIN phones_in i ON i.custody_id = c.id
     WHERE c.collected_at IS NULL AND (i.custody_id IS NULL OR NOT (${SAME})) ORDER BY c.id LIMIT 1`,
  );
  if (missing) {
    const key = String(Number(missing.id));
    return missing.listed === null
      ? { kind: 'row-removed', seq: 0, table: 'phones_in', key, message: `phones_in ${key} was deleted outside the hub: phone custody ${key} is still in a locker, and "who holds what" leaves it out` }
      : { kind: 'row-altered', seq: 0, table: 'phones_in', key, message: `phones_in ${key} was altered outside the hub: it no longer matches phone custody ${key}` };
  }
  const stray = await db.get<{ id: number }>(
    `SELECT i.custody_id AS id FROM phones_in i LEFT JOIN phone_custody c ON c.id = i.custody_id WHERE c.id IS NULL OR c.collected_at IS NOT NULL ORDER BY i.custody_id LIMIT 1`,
  );
  if (!stray) return null;
  const key = String(Number(stray.id));
  return { kind: 'row-inserted', seq: 0, table: 'phones_in', key, message: `phones_in ${key} was inserted outside the hub: no phone custody ${key} is in a locker` };
}
