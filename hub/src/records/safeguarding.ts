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

/**
 * When the phones a safeguarding hold touched were in one locker: from each deposit to a day after
 * its collection (late replays), or open while it is still in. Station events at that locker in
 * these spans concern the held pupil.
 */
export async function safeguardedSpansAt(db: SqlDatabase, stationId: string, locker: number): Promise<Array<{ from: string; until: string }>> {
  const held = await safeguardedCustody(db);
  const rows = await db.all<{ id: number; deposited_at: string; collected_at: string | null }>('SELECT id, deposited_at, collected_at FROM phone_custody WHERE station_id = ? AND locker = ?', [stationId, locker]);
  return rows
    .filter((row) => held.has(Number(row.id)))
    .map((row) => ({ from: row.deposited_at, until: row.collected_at ? new Date(Date.parse(row.collected_at) + 86_400_000).toISOString() : '9999-12-31' }));
}
