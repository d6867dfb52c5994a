// Safeguarding (P5) as a property of the data: a phone that a safeguarding hold kept in its locker
// belongs to a child-protection matter, so wherever that custody appears — the end-of-day lists,
// reports, a person's page, a subject access export — a reader whose role may not see P5 details
// (rules/permissions.ts, `holds.safeguarding`) must not be able to tell whose it is. Callers ask
// `safeguardedCustody` which custody records are concerned and show `RESTRICTED` instead of the
// pupil, or leave the record out where the pupil is the subject (their own page or export).
import type { SqlDatabase } from '../db/sql';

/**
 * A hold `h` set on custody `c` by the station's own order of events: custody is dated by the
 * station's clock and a hold by the hub's, so a station running ahead can date the deposit after
 * the hold (a phone put straight into a hold from the DSL's hand is one event). In one boot the
 * hold was set on the phone last deposited in that locker at or before it.
 */
const HELD_BY_SEQUENCE = `(h.set_boot = c.deposit_boot AND h.set_seq >= c.deposit_seq AND NOT EXISTS (
  SELECT 1 FROM phone_custody later WHERE later.station_id = c.station_id AND later.locker = c.locker
    AND later.deposit_boot = c.deposit_boot AND later.deposit_seq > c.deposit_seq AND later.deposit_seq <= h.set_seq))`;

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
      AND ((h.placed_at >= c.deposited_at AND (c.collected_at IS NULL OR h.placed_at <= c.collected_at)) OR ${HELD_BY_SEQUENCE})
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
    `SELECT DISTINCT p.custody_id AS id FROM holds h JOIN phones_in p ON p.station_id = h.station_id AND p.locker = h.locker
       JOIN phone_custody c ON c.id = p.custody_id
     WHERE h.kind = 'safeguarding' AND (h.placed_at >= p.deposited_at OR ${HELD_BY_SEQUENCE})`,
  );
  return new Set(rows.map((row) => Number(row.id)));
}

/** Safeguarding holds (ids) on a pupil, or all of them. */
export async function safeguardingHolds(db: SqlDatabase, personId?: number): Promise<Set<number>> {
  const rows = await db.all<{ id: number }>(`SELECT id FROM holds WHERE kind = 'safeguarding' ${personId === undefined ? '' : 'AND person_id = ?'}`, personId === undefined ? [] : [personId]);
  return new Set(rows.map((row) => Number(row.id)));
}

/**
 * When the phones a safeguarding hold touched were in one locker (withheldSpan): station events at
 * that locker in these spans concern the held pupil.
 */
export async function safeguardedSpansAt(db: SqlDatabase, stationId: string, locker: number): Promise<Array<{ from: string; until: string }>> {
  const held = await safeguardedCustody(db);
  const rows = await db.all<{ id: number; deposited_at: string; collected_at: string | null }>('SELECT id, deposited_at, collected_at FROM phone_custody WHERE station_id = ? AND locker = ?', [stationId, locker]);
  return rows.filter((row) => held.has(Number(row.id))).map(withheldSpan);
}

const DAY_MS = 86_400_000;

/**
 * The arrival times (station events' received_at, audit records' at) that may concern a custody:
 * custody is dated by the station's clock, which may run ahead or behind the hub's, and events
 * replayed after an outage arrive late, so a day either side.
 */
export function withheldSpan(custody: { deposited_at: string; collected_at: string | null }): { from: string; until: string } {
  return {
    from: new Date(Date.parse(custody.deposited_at) - DAY_MS).toISOString(),
    until: custody.collected_at ? new Date(Date.parse(custody.collected_at) + DAY_MS).toISOString() : '9999-12-31',
  };
}
