// The phones in lockers now (phones_in, migration 16) a page at a time, oldest first: "who holds
// what", end of day and /api/custody at a trust's size (issue 16: 50,000 phones in). A page is
// read by key (the deposit time and custody number of the row before it), never by an offset, so
// the last page costs what the first does (indexes of migration 20); the count is one more query.
// The account's schools are SQL conditions (Scope.where), not ids read into memory.
import type { SqlDatabase, SqlValue } from '../db/sql';
import type { Scope } from './schools';

export interface PhoneInRow {
  custodyId: number;
  personId: number;
  personName: string;
  externalId: string;
  form: string | null;
  stationId: string;
  locker: number;
  depositedAt: string;
  uncollectedAt: string | null;
  disposalDueAt: string | null;
}

export interface PhonesInFilter {
  scope: Scope;
  /** Pupils of this form only (exactly, as the MIS writes it). */
  form?: string | null;
  /** A name or MIS id containing this (any case). */
  search?: string | null;
  /** Still in today (not yet uncollected at a cut-off), or uncollected only; absent: both. */
  only?: 'today' | 'uncollected' | null;
  /** Uncollected phones whose lost-property period is over by this moment (ISO): due for disposal. */
  disposalDueBy?: string | null;
  /**
   * A locker a safeguarding hold keeps is left out (the lists that name the pupil to everyone), or
   * listed (the uncollected list, which hides the pupil itself from those who may not see P5).
   */
  heldLockers: 'leave-out' | 'list';
}

/** Where a page starts or ends: the row's deposit time and custody number. */
export interface PageKey {
  depositedAt: string;
  custodyId: number;
}

export interface PhonesInPage {
  rows: PhoneInRow[];
  /** Every phone in the filter, on any page. */
  total: number;
  /** The key to read the next (later) page after, or null on the last. */
  next: PageKey | null;
  /** The key to read the previous (earlier) page before, or null on the first. */
  previous: PageKey | null;
}

export const PAGE_SIZES = { default: 100, max: 500 };

/** A key as it goes in a link (`after=` / `before=`): the time, a tilde, the custody number. */
export function formatPageKey(key: PageKey): string {
  return `${key.depositedAt}~${key.custodyId}`;
}

/** A key read back from a link; null for anything that is not one. */
export function parsePageKey(text: unknown): PageKey | null {
  if (typeof text !== 'string' || text.length > 60) return null;
  const match = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)~(\d{1,15})$/.exec(text);
  return match ? { depositedAt: match[1], custodyId: Number(match[2]) } : null;
}

function conditions(kind: SqlDatabase['kind'], filter: PhonesInFilter): { sql: string; params: SqlValue[]; people: boolean } {
  const sql: string[] = [];
  const params: SqlValue[] = [];
  let people = false;
  if (filter.only === 'today') sql.push('c.uncollected_at IS NULL');
  if (filter.only === 'uncollected') sql.push('c.uncollected_at IS NOT NULL');
  if (filter.disposalDueBy) {
    sql.push('c.disposal_due_at <= ?');
    params.push(filter.disposalDueBy);
  }
  if (!filter.scope.everything) {
    const school = filter.scope.where('p.school');
    const site = filter.scope.where('s.site');
    // The school's stations first, then their lockers' phones by index (phones_in_locker): as an
    // array on PostgreSQL, whose planner otherwise joins the stations to a scan of every phone in.
    const stations = `SELECT s.id FROM stations s WHERE ${site.sql}`;
    sql.push(school.sql, kind === 'postgres' ? `c.station_id = ANY(ARRAY(${stations}))` : `c.station_id IN (${stations})`);
    params.push(...school.params, ...site.params);
    people = true;
  }
  if (filter.form) {
    sql.push('p.form = ?');
    params.push(filter.form);
    people = true;
  }
  if (filter.search) {
    const like = `%${filter.search.toLowerCase()}%`;
    sql.push('(LOWER(p.name) LIKE ? OR LOWER(p.external_id) LIKE ?)');
    params.push(like, like);
    people = true;
  }
  return { sql: sql.length ? sql.join(' AND ') : '1 = 1', params, people };
}

const HELD = "EXISTS (SELECT 1 FROM lockers l WHERE l.station_id = c.station_id AND l.locker = c.locker AND l.state = 'safeguarding-held')";

/** How many phones in the filter. The held lockers are counted apart (a few) and taken off: no look-up per phone. */
export async function countPhonesIn(db: SqlDatabase, filter: PhonesInFilter): Promise<number> {
  const where = conditions(db.kind, filter);
  const people = where.people ? 'JOIN people p ON p.id = c.person_id' : '';
  const all = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM phones_in c ${people} WHERE ${where.sql}`, where.params);
  if (filter.heldLockers === 'list') return Number(all?.n ?? 0);
  const held = await db.get<{ n: number }>(
    `SELECT COUNT(*) AS n FROM lockers l JOIN phones_in c ON c.station_id = l.station_id AND c.locker = l.locker ${people}
     WHERE l.state = 'safeguarding-held' AND ${where.sql}`,
    where.params,
  );
  return Number(all?.n ?? 0) - Number(held?.n ?? 0);
}

type Row = { custody_id: number; person_id: number; name: string; external_id: string; form: string | null; station_id: string; locker: number; deposited_at: string; uncollected_at: string | null; disposal_due_at: string | null };

async function readRows(db: SqlDatabase, filter: PhonesInFilter, from: { after?: PageKey | null; before?: PageKey | null }, limit: number): Promise<PhoneInRow[]> {
  const where = conditions(db.kind, filter);
  const sql = [where.sql];
  const params = [...where.params];
  if (filter.heldLockers === 'leave-out') sql.push(`NOT ${HELD}`);
  // The first column alone bounds the index range; the OR then settles rows of the same moment.
  if (from.after) {
    sql.push('c.deposited_at >= ? AND (c.deposited_at > ? OR c.custody_id > ?)');
    params.push(from.after.depositedAt, from.after.depositedAt, from.after.custodyId);
  }
  if (from.before) {
    sql.push('c.deposited_at <= ? AND (c.deposited_at < ? OR c.custody_id < ?)');
    params.push(from.before.depositedAt, from.before.depositedAt, from.before.custodyId);
  }
  const direction = from.before ? 'DESC' : 'ASC';
  const rows = await db.all<Row>(
    `SELECT c.custody_id, c.person_id, p.name, p.external_id, p.form, c.station_id, c.locker, c.deposited_at, c.uncollected_at, c.disposal_due_at
     FROM phones_in c JOIN people p ON p.id = c.person_id
     WHERE ${sql.join(' AND ')}
     ORDER BY c.deposited_at ${direction}, c.custody_id ${direction} LIMIT ${Math.floor(limit)}`,
    params,
  );
  return rows.map((row) => ({
    custodyId: Number(row.custody_id),
    personId: Number(row.person_id),
    personName: row.name,
    externalId: row.external_id,
    form: row.form,
    stationId: row.station_id,
    locker: Number(row.locker),
    depositedAt: row.deposited_at,
    uncollectedAt: row.uncollected_at,
    disposalDueAt: row.disposal_due_at,
  }));
}

const keyOf = (row: PhoneInRow): PageKey => ({ depositedAt: row.depositedAt, custodyId: row.custodyId });

/** One page: the first, the one after `after`, or the one before `before`. */
export async function phonesInPage(db: SqlDatabase, filter: PhonesInFilter, page: { after?: PageKey | null; before?: PageKey | null; size?: number }): Promise<PhonesInPage> {
  const size = Math.max(1, Math.min(PAGE_SIZES.max, Math.floor(page.size ?? PAGE_SIZES.default)));
  if (page.before) {
    const [found, total] = await Promise.all([readRows(db, filter, { before: page.before }, size + 1), countPhonesIn(db, filter)]);
    // Back at the start (fewer earlier rows than a page): the first page, filled.
    if (found.length <= size) return phonesInPage(db, filter, { size });
    const rows = found.slice(0, size).reverse();
    return { rows, total, previous: keyOf(rows[0]), next: keyOf(rows[rows.length - 1]) };
  }
  const [found, total] = await Promise.all([readRows(db, filter, { after: page.after }, size + 1), countPhonesIn(db, filter)]);
  const rows = found.slice(0, size);
  return {
    rows,
    total,
    next: found.length > size ? keyOf(rows[rows.length - 1]) : null,
    // Past the end (the rows after the key were collected meanwhile): back from the key itself.
    previous: page.after ? (rows.length ? keyOf(rows[0]) : page.after) : null,
  };
}

/** Every phone in the filter, oldest first, a batch at a time (the CSV export: nothing held but one batch). */
export async function* allPhonesIn(db: SqlDatabase, filter: PhonesInFilter, batch = 1000): AsyncGenerator<PhoneInRow[]> {
  let after: PageKey | null = null;
  for (;;) {
    const rows = await readRows(db, filter, { after }, batch);
    if (rows.length) yield rows;
    if (rows.length < batch) return;
    after = keyOf(rows[rows.length - 1]);
  }
}
