// Safeguarding (P5) as a property of the data: a phone that a safeguarding hold kept in its locker
// belongs to a child-protection matter, so wherever that custody appears — the end-of-day lists,
// reports, a person's page, a subject access export — a reader whose role may not see P5 details
// (rules/permissions.ts, `holds.safeguarding`) must not be able to tell whose it is. Callers ask
// `safeguardedCustody` which custody records are concerned and show `RESTRICTED` instead of the
// pupil, or leave the record out where the pupil is the subject (their own page or export).
import type { SqlDatabase } from '../db/sql';

/** What a reader without P5 rights sees in place of the pupil. */
export const RESTRICTED = '(restricted: DSL or headteacher)';

/**
 * Phone custody records (ids) that a safeguarding hold touched: the hold was placed on that locker
 * while the phone was in it. Optionally only one pupil's.
 */
export async function safeguardedCustody(db: SqlDatabase, personId?: number): Promise<Set<number>> {
  const rows = await db.all<{ id: number }>(
    `SELECT DISTINCT c.id FROM phone_custody c JOIN holds h
       ON h.kind = 'safeguarding' AND h.station_id = c.station_id AND h.locker = c.locker
      AND h.placed_at >= c.deposited_at AND (c.collected_at IS NULL OR h.placed_at <= c.collected_at)
     ${personId === undefined ? '' : 'WHERE c.person_id = ?'}`,
    personId === undefined ? [] : [personId],
  );
  return new Set(rows.map((row) => Number(row.id)));
}

/**
 * The same for the phones in lockers now only (the phones_in table of migration 16): what "who
 * holds what", end of day and the uncollected lists need, without reading a term's custody.
 */
export async function safeguardedPhonesIn(db: SqlDatabase): Promise<Set<number>> {
  const rows = await db.all<{ id: number }>(
    `SELECT DISTINCT c.custody_id AS id FROM holds h JOIN phones_in c
       ON c.station_id = h.station_id AND c.locker = h.locker AND h.placed_at >= c.deposited_at
     WHERE h.kind = 'safeguarding'`,
  );
  return new Set(rows.map((row) => Number(row.id)));
}

/** Safeguarding holds (ids) on a pupil, or all of them. */
export async function safeguardingHolds(db: SqlDatabase, personId?: number): Promise<Set<number>> {
  const rows = await db.all<{ id: number }>(`SELECT id FROM holds WHERE kind = 'safeguarding' ${personId === undefined ? '' : 'AND person_id = ?'}`, personId === undefined ? [] : [personId]);
  return new Set(rows.map((row) => Number(row.id)));
}
