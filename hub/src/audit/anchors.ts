// Records anchored in the audit chain: every change to a row of the charges ledger, phone custody,
// loans, the station events, holds, alerts, people, badges, spare cards or day cards is written with an audit record that holds the row's digest
// (SHA-256 of its fields, 128 bits) under its key, or null once the row is deleted. `audit
// verify` folds those records into what each table must hold now and compares it with what it
// does hold: a row edited, deleted or inserted by anyone but the hub is named, with the audit
// record that last anchored it.
//
// Which rows a transaction changed is caught by triggers into a pending list, read at commit
// (the database's beforeCommit) and turned into one `records.anchored` record in the same
// transaction. On SQLite the triggers and the list are TEMP objects of the hub's own connection:
// a change made through any other connection (the sqlite3 shell) is never anchored. On
// PostgreSQL they are the tables' owner's (migration 8), which the hub's role cannot drop or
// disable when it does not own the tables (README "PostgreSQL").
import crypto from 'node:crypto';
import type { SqlDatabase } from '../db/sql';
import { BADGE_KEYS, badgeKeySql, badgeShown, hasBadgeKeys } from './badge-keys';

export interface AnchoredTable {
  name: string;
  /** The key's columns: `id`, or station events' (station_id, board, boot, seq). */
  key: string[];
  /** The columns a digest covers, in order (a column added later is not covered until listed). */
  columns: string[];
  /** Byte columns, written as hex in the row's text. */
  bytes?: string[];
}

export const ANCHORED_TABLES: AnchoredTable[] = [
  { name: 'charges', key: ['id'], columns: ['id', 'person_id', 'entry', 'amount_pence', 'reason', 'asset_id', 'loan_id', 'corrects_id', 'term', 'created_at', 'created_by'] },
  {
    name: 'phone_custody',
    key: ['id'],
    columns: ['id', 'person_id', 'station_id', 'locker', 'deposited_at', 'collected_at', 'deposit_boot', 'deposit_seq', 'collected_by', 'uncollected_at', 'disposal_due_at', 'disposed_at', 'disposed_by', 'disposal_note'],
  },
  {
    name: 'loans',
    key: ['id'],
    columns: ['id', 'asset_id', 'person_id', 'lent_at', 'due_at', 'station_id', 'locker', 'lend_boot', 'lend_seq', 'closed_at', 'outcome', 'closed_by', 'return_boot', 'return_seq', 'crime_number', 'declaration', 'found_at'],
  },
  {
    name: 'station_events',
    key: ['station_id', 'board', 'boot', 'seq'],
    columns: ['station_id', 'board', 'boot', 'seq', 'type', 'locker', 'person_id', 'actor_id', 'witness_id', 'badge_hash', 'detail', 'uptime_ms', 'wall_time', 'received_at'],
    bytes: ['badge_hash'],
  },
  {
    name: 'holds',
    key: ['id'],
    columns: ['id', 'kind', 'person_id', 'asset_id', 'station_id', 'locker', 'placed_at', 'placed_by', 'details', 'released_at', 'released_by', 'witness_id', 'receipt', 'set_boot', 'set_seq', 'release_boot', 'release_seq'],
  },
  { name: 'alerts', key: ['id'], columns: ['id', 'at', 'kind', 'role', 'subject', 'message', 'acknowledged_at', 'acknowledged_by'] },
  {
    name: 'people',
    key: ['id'],
    columns: ['id', 'external_id', 'name', 'kind', 'role', 'form', 'medical_exempt', 'left_on', 'year_group', 'staff_code', 'email', 'source', 'updated_at', 'purged_at', 'school'],
  },
  // A badge's key is its keyed hash, written as hex (the same on both databases).
  { name: 'badges', key: ['hash'], columns: ['hash', 'person_id', 'enrolled_at', 'revoked_at', 'expires_at'], bytes: ['hash'] },
  { name: 'spare_cards', key: ['id'], columns: ['id', 'label', 'hash', 'added_at', 'retired_at'], bytes: ['hash'] },
  { name: 'day_cards', key: ['id'], columns: ['id', 'spare_card_id', 'person_id', 'issued_at', 'expires_at', 'issued_by', 'ended_at', 'ended_how'] },
];

/** The tables anchored since migration 8; holds and alerts were added by migration 11. */
export const FIRST_ANCHORED = ['charges', 'phone_custody', 'loans', 'station_events'];
/** The tables migration 11 anchored on PostgreSQL (its text must not change with later tables). */
const ANCHORED_BY_11 = [...FIRST_ANCHORED, 'holds', 'alerts'];
/** The tables migration 18 anchored: people, their badges, the spare cards and the day cards. */
export const ANCHORED_BY_18 = ['people', 'badges', 'spare_cards', 'day_cards'];

export const ANCHOR_ACTION = 'records.anchored';
/** A deleted row's digest in an anchor record. */
export const DELETED = '-';
/**
 * Between a row's new digest and the digest it had before the transaction changed it, in an
 * anchor record (`key=new<old`): verify checks the old one against the row's previous anchor, so
 * a row edited outside the hub and then changed by the hub is still reported, not laundered.
 */
export const WAS = '<';

type Dialect = SqlDatabase['kind'];

/** SQL for the key as text, the same on both databases (integers print the same; bytes as lower-case hex). */
export function keySql(table: AnchoredTable, alias: string, dialect: Dialect): string {
  return table.key
    .map((column) => {
      if (table.bytes?.includes(column)) return dialect === 'postgres' ? `encode(${alias}.${column}, 'hex')` : `lower(hex(${alias}.${column}))`;
      return column === 'station_id' ? `${alias}.${column}` : `CAST(${alias}.${column} AS TEXT)`;
    })
    .join(" || '/' || ");
}

/**
 * SQL for a row's text, the JSON array of its columns, made by the database itself: by the
 * triggers as a row is written (no reading back) and by `audit verify` over the table. The two
 * databases print JSON differently, but each always prints it the same way.
 */
export function rowSql(table: AnchoredTable, alias: string, dialect: Dialect, replaced: Record<string, string> = {}): string {
  const values = table.columns.map((column) => {
    const value = replaced[column] ?? `${alias}.${column}`;
    if (!table.bytes?.includes(column)) return value;
    return dialect === 'postgres' ? `encode(${value}, 'hex')` : `lower(hex(${value}))`;
  });
  // hex(NULL) is '' on SQLite: a NULL stays NULL.
  const fixed = dialect === 'sqlite' ? values.map((value, i) => (table.bytes?.includes(table.columns[i]) ? `CASE WHEN ${alias}.${table.columns[i]} IS NULL THEN NULL ELSE ${value} END` : value)) : values;
  return dialect === 'postgres' ? `json_build_array(${fixed.join(', ')})::text` : `json_array(${fixed.join(', ')})`;
}

const sha256 = (text: string): string => (typeof crypto.hash === 'function' ? crypto.hash('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex'));

/** A row's digest from its text (rowSql): 128 bits of SHA-256. */
export function rowDigest(text: string): string {
  return sha256(text).slice(0, 32);
}

/** PostgreSQL's part of migration 8: the pending list and the owner's triggers that fill it (the first four tables). */
export function postgresAnchorMigration(): string {
  const triggers = ANCHORED_TABLES.filter((table) => FIRST_ANCHORED.includes(table.name)).map((table) => {
    const fn = `handover_anchor_${table.name}`;
    // anchor_pending's xact defaults to the writing transaction's id: the hub anchors only its own.
    const upsertNew = `INSERT INTO anchor_pending (tbl, k, row) SELECT '${table.name}', ${keySql(table, 'n', 'postgres')}, ${rowSql(table, 'n', 'postgres')} FROM new_rows n ON CONFLICT (xact, tbl, k) DO UPDATE SET row = excluded.row;`;
    const upsertGone = (except: string) =>
      `INSERT INTO anchor_pending (tbl, k, row) SELECT '${table.name}', ${keySql(table, 'o', 'postgres')}, NULL FROM old_rows o ${except} ON CONFLICT (xact, tbl, k) DO UPDATE SET row = NULL;`;
    const newKeys = `WHERE ${keySql(table, 'o', 'postgres')} NOT IN (SELECT ${keySql(table, 'n', 'postgres')} FROM new_rows n)`;
    return `
    CREATE FUNCTION ${fn}_ins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${upsertNew} RETURN NULL; END $$;
    CREATE FUNCTION ${fn}_upd() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${upsertGone(newKeys)} ${upsertNew} RETURN NULL; END $$;
    CREATE FUNCTION ${fn}_del() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${upsertGone('')} RETURN NULL; END $$;
    CREATE TRIGGER ${table.name}_anchor_ins AFTER INSERT ON ${table.name} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_ins();
    CREATE TRIGGER ${table.name}_anchor_upd AFTER UPDATE ON ${table.name} REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_upd();
    CREATE TRIGGER ${table.name}_anchor_del AFTER DELETE ON ${table.name} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_del();`;
  }).join('\n');
  return `
    CREATE UNLOGGED TABLE anchor_pending (xact BIGINT NOT NULL DEFAULT txid_current(), tbl TEXT NOT NULL, k TEXT NOT NULL, row TEXT, PRIMARY KEY (xact, tbl, k));
    ${triggers}`;
}

/**
 * The pending list's writes for one table, for a row written (`n`) or gone (`o`): a row's first
 * change in a transaction keeps what it held before (`old`, null for a row new in it); later
 * changes replace only what it holds now.
 */
function pendingWrites(table: AnchoredTable, dialect: Dialect, written: string, gone: string): { written: string; gone: string } {
  const conflict = dialect === 'postgres' ? '(xact, tbl, k)' : '(tbl, k)';
  return {
    written: `INSERT INTO anchor_pending (tbl, k, row) ${written === 'NEW' ? 'VALUES (' : 'SELECT '}'${table.name}', ${keySql(table, written, dialect)}, ${rowSql(table, written, dialect)}${written === 'NEW' ? ')' : ` FROM new_rows ${written}`} ON CONFLICT ${conflict} DO UPDATE SET row = excluded.row;`,
    gone: `INSERT INTO anchor_pending (tbl, k, row, old) ${gone === 'OLD' ? 'VALUES (' : 'SELECT '}'${table.name}', ${keySql(table, gone, dialect)}, NULL, ${rowSql(table, gone, dialect)}${gone === 'OLD' ? ')' : ` FROM old_rows ${gone}`} ON CONFLICT ${conflict} DO UPDATE SET row = NULL;`,
  };
}

/**
 * PostgreSQL's part of migration 11: the pending list keeps each row's previous contents, every
 * table's functions are replaced to fill it, and holds and alerts are anchored too.
 */
export function postgresAnchorMigration11(): string {
  return postgresAnchorFunctions(ANCHORED_BY_11, ['ALTER TABLE anchor_pending ADD COLUMN old TEXT;']);
}

/** PostgreSQL’s part of migration 18: people, badges, spare cards and day cards anchored too. */
export function postgresAnchorMigration18(): string {
  return postgresAnchorFunctions(ANCHORED_BY_18, []);
}

/** The named tables' anchoring functions (replaced), and triggers for those not anchored since migration 8. */
function postgresAnchorFunctions(names: string[], parts: string[]): string {
  for (const table of ANCHORED_TABLES.filter((anchored) => names.includes(anchored.name))) {
    const fn = `handover_anchor_${table.name}`;
    const sql = pendingWrites(table, 'postgres', 'n', 'o');
    parts.push(`
    CREATE OR REPLACE FUNCTION ${fn}_ins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${sql.written} RETURN NULL; END $$;
    CREATE OR REPLACE FUNCTION ${fn}_upd() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${sql.gone} ${sql.written} RETURN NULL; END $$;
    CREATE OR REPLACE FUNCTION ${fn}_del() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${sql.gone} RETURN NULL; END $$;`);
    if (FIRST_ANCHORED.includes(table.name)) continue;
    parts.push(`
    CREATE TRIGGER ${table.name}_anchor_ins AFTER INSERT ON ${table.name} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_ins();
    CREATE TRIGGER ${table.name}_anchor_upd AFTER UPDATE ON ${table.name} REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_upd();
    CREATE TRIGGER ${table.name}_anchor_del AFTER DELETE ON ${table.name} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_del();`);
  }
  return parts.join('\n');
}

/**
 * The anchored tables this database has, with every column a digest covers. The hub always
 * opens a database migrated to the end, so that is all of them; a database left at an earlier
 * step (an upgrade test) lacks the later ones. A table dropped outside the hub is missing too:
 * `audit verify` then names its anchored rows as deleted.
 */
export async function anchoredTablesIn(db: SqlDatabase): Promise<AnchoredTable[]> {
  const columns =
    db.kind === 'postgres'
      ? await db.all<{ tbl: string; col: string }>('SELECT table_name AS tbl, column_name AS col FROM information_schema.columns WHERE table_schema = current_schema()')
      : await db.all<{ tbl: string; col: string }>("SELECT m.name AS tbl, p.name AS col FROM main.sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'");
  const have = new Set(columns.map((row) => `${row.tbl}.${row.col}`));
  return ANCHORED_TABLES.filter((table) => table.columns.every((column) => have.has(`${table.name}.${column}`)));
}

/** SQLite: the pending list and its triggers, TEMP objects of this connection only. */
export function sqliteAnchorObjects(tables: AnchoredTable[]): string {
  const parts = ['CREATE TEMP TABLE IF NOT EXISTS anchor_pending (tbl TEXT NOT NULL, k TEXT NOT NULL, row TEXT, old TEXT, PRIMARY KEY (tbl, k)) WITHOUT ROWID;'];
  for (const table of tables) {
    const sql = pendingWrites(table, 'sqlite', 'NEW', 'OLD');
    parts.push(`CREATE TEMP TRIGGER IF NOT EXISTS ${table.name}_anchor_ins AFTER INSERT ON main.${table.name} BEGIN ${sql.written} END;`);
    parts.push(`CREATE TEMP TRIGGER IF NOT EXISTS ${table.name}_anchor_upd AFTER UPDATE ON main.${table.name} BEGIN ${sql.gone} ${sql.written} END;`);
    parts.push(`CREATE TEMP TRIGGER IF NOT EXISTS ${table.name}_anchor_del AFTER DELETE ON main.${table.name} BEGIN ${sql.gone} END;`);
  }
  return parts.join('\n');
}

// PendingRow lives in badge-keys.ts (which keys its badge rows) so the two modules import one way only.
export type { PendingRow } from './badge-keys';

/** A text key's column values, for paging (station ids have no '/'). */
function keyValues(table: AnchoredTable, key: string): Array<string | number | Uint8Array> {
  if (table.key.length === 1) return [table.bytes?.includes(table.key[0]) ? Buffer.from(key, 'hex') : Number(key)];
  // station/board/boot/seq: the numbers from the end, the station id (which has no '/') is the rest.
  const parts = key.split('/');
  const numbers = table.key.slice(1).map(() => Number(parts.pop())).reverse();
  return [parts.join('/'), ...numbers];
}

const ROWS_PAGE = 5000;

/**
 * SQL for a row's digest: PostgreSQL hashes on the server (sha256, PostgreSQL 11 and later: less
 * to send, and the work done beside the hub's); SQLite has no SHA-256, so the row's text is sent
 * and hashed here (digestOf).
 */
export function digestSql(table: AnchoredTable, alias: string, dialect: Dialect): string {
  const row = rowSql(table, alias, dialect);
  return dialect === 'postgres' ? `substr(encode(sha256(convert_to(${row}, 'UTF8')), 'hex'), 1, 32)` : row;
}

/** A page's second column as a digest (see digestSql). */
export const digestOf = (dialect: Dialect, value: unknown): string => (dialect === 'postgres' ? (value as string) : rowDigest(value as string));

/**
 * Every row of a table as [key, digest text or row text] arrays (digestOf), a page at a time; the
 * next page is asked for before this one is handed over. SQLite reads each table in its storage
 * order (rowid): a table keyed by other columns (station events, badges) read in key order costs a
 * look-up in the table for every row of its index, about four times the work at a million rows.
 * PostgreSQL pages in key order. The comparison looks rows up by key, so the order is free.
 */
export async function* tableRows(db: SqlDatabase, table: AnchoredTable): AsyncGenerator<unknown[][]> {
  const select = `SELECT ${await anchorKeySql(db, table)} AS k, ${digestSql(table, 't', db.kind)} AS d`;
  let pageAfter: (after: unknown[] | null) => Promise<unknown[][]>;
  let cursor: (page: unknown[][]) => unknown[];
  if (db.kind === 'sqlite') {
    pageAfter = (after) => db.allArrays(`${select}, t.rowid FROM ${table.name} t WHERE t.rowid > ? ORDER BY t.rowid LIMIT ${ROWS_PAGE}`, [after === null ? -Infinity : (after[2] as number)]);
    cursor = (page) => page[page.length - 1];
  } else {
    const order = table.key.map((column) => `t.${column}`).join(', ');
    // The key's own columns as text, for the next page (a badge's anchor key is not its hash).
    pageAfter = (after) => {
      const where: string = after === null ? '' : `WHERE (${order}) > (${table.key.map(() => '?').join(', ')})`;
      return db.allArrays(`${select}, ${keySql(table, 't', db.kind)} FROM ${table.name} t ${where} ORDER BY ${order} LIMIT ${ROWS_PAGE}`, (after ?? []) as Array<string | number | Uint8Array>);
    };
    cursor = (page) => keyValues(table, page[page.length - 1][2] as string);
  }
  const ask = (after: unknown[] | null) => {
    const pending = pageAfter(after);
    pending.catch(() => {});
    return pending;
  };
  let next = ask(null);
  for (;;) {
    const page = await next;
    const full = page.length === ROWS_PAGE;
    if (full) next = ask(cursor(page));
    yield page;
    if (!full) return;
    // SQLite answers at once: let the event loop run between pages (a worker's messages, a signal).
    if (db.kind === 'sqlite') await new Promise(setImmediate);
  }
}

/**
 * SQL for a row's key as the anchors hold it: keySql's, except a badge's, which is the random key
 * it is anchored under where it has one (audit/badge-keys.ts).
 */
async function anchorKeySql(db: SqlDatabase, table: AnchoredTable): Promise<string> {
  const raw = keySql(table, 't', db.kind);
  return table.name === 'badges' && (await hasBadgeKeys(db)) ? badgeKeySql('t', raw) : raw;
}

/** Rows of a table by key, as [key, digest text or row text] (the keys from keyValues). */
async function rowsByKey(db: SqlDatabase, table: AnchoredTable, keys: string[]): Promise<unknown[][]> {
  if (table.name === 'badges' && (await hasBadgeKeys(db))) {
    // A badge anchored under a key of its own is found through the key; one under its hash, by it.
    const hashes = keys.filter((key) => /^[0-9a-f]*$/.test(key));
    const own = keys.filter((key) => !hashes.includes(key));
    const where = [own.length ? `t.hash IN (SELECT hash FROM ${BADGE_KEYS} WHERE anchor_key IN (${own.map(() => '?').join(', ')}))` : '', hashes.length ? `t.hash IN (${hashes.map(() => '?').join(', ')})` : ''].filter(Boolean).join(' OR ');
    return db.allArrays(`SELECT ${await anchorKeySql(db, table)} AS k, ${digestSql(table, 't', db.kind)} AS d FROM badges t WHERE ${where}`, [...own, ...hashes.map((key) => Buffer.from(key, 'hex'))]);
  }
  const tuple = `(${table.key.map(() => '?').join(', ')})`;
  const where = table.key.length === 1 ? `t.${table.key[0]} IN (${keys.map(() => '?').join(', ')})` : `(${table.key.map((column) => `t.${column}`).join(', ')}) IN (${keys.map(() => tuple).join(', ')})`;
  return db.allArrays(`SELECT ${keySql(table, 't', db.kind)} AS k, ${digestSql(table, 't', db.kind)} AS d FROM ${table.name} t WHERE ${where}`, keys.flatMap((key) => keyValues(table, key)));
}

/** A row's key for a message: a badge's hash, not the key it is anchored under. */
const shownKey = (db: SqlDatabase, table: string, key: string): Promise<string> => (table === 'badges' ? badgeShown(db, key) : Promise.resolve(key));

/** Set by migration 10 when it turned station_events.detail from text into an integer. */
export const REANCHOR_DETAIL = 'reanchor:station_events.detail';

export type RowProblem = { kind: 'row-altered' | 'row-removed' | 'row-inserted'; seq: number; table: string; key: string; message: string };

/**
 * Key -> digest for one table, keyed by what the key holds: a number for an integer id; for station
 * events, per "station/board/boot" a map by sequence number; else the text. A million entries
 * keyed by text cost several times the time of a million keyed by number (hashing and comparing
 * the strings, and the collector keeping them), and the trail's fold holds one per anchored row.
 */
/** A key's decimal digits as a number without making a string first (NaN for anything else, as Number()). */
function digitsOf(text: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return Number(text.slice(from, to));
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number(text.slice(from, to));
    value = value * 10 + digit;
  }
  return value;
}

/**
 * Digests by a whole-number key: in an array indexed by the number while the keys are ids and
 * sequence numbers as the hub hands them out (from 1 up, dense), so a million rows cost no hashing
 * of keys and no map entries (the fold's `set` and the comparison's `get` were a fifth of a full
 * verify's time with maps); any other number (negative, fractional, huge, NaN) in a map beside it.
 */
class DigestsByNumber {
  private dense: Array<string | undefined> = [];
  private sparse: Map<number, string> | null = null;
  size = 0;

  get(key: number): string | undefined {
    const dense = isDense(key) ? this.dense[key] : undefined;
    return dense ?? this.sparse?.get(key);
  }

  set(key: number, digest: string): void {
    // A key far past the array's end would make it sparse (a dictionary): such keys go to the map,
    // and stay there once in it.
    if (isDense(key) && key <= this.dense.length + DENSE_GAP && !this.sparse?.has(key)) {
      while (this.dense.length < key) this.dense.push(undefined);
      if (this.dense[key] === undefined) this.size++;
      this.dense[key] = digest;
      return;
    }
    this.sparse ??= new Map();
    if (!this.sparse.has(key)) this.size++;
    this.sparse.set(key, digest);
  }

  *entries(): IterableIterator<[number, string]> {
    for (let key = 0; key < this.dense.length; key++) {
      const digest = this.dense[key];
      if (digest !== undefined) yield [key, digest];
    }
    if (this.sparse) yield* this.sparse.entries();
  }

  *values(): IterableIterator<string> {
    for (const digest of this.dense) if (digest !== undefined) yield digest;
    if (this.sparse) yield* this.sparse.values();
  }
}
const DENSE_GAP = 1 << 16;
const isDense = (key: number): boolean => key >= 0 && key < 2 ** 31 && Number.isInteger(key);

export class DigestsByKey {
  private byNumber: DigestsByNumber | null = null;
  private byPrefix: Map<string, DigestsByNumber> | null = null;
  private byText: Map<string, string> | null = null;

  constructor(table: AnchoredTable) {
    if (table.key.length > 1) this.byPrefix = new Map();
    else if (table.bytes?.includes(table.key[0])) this.byText = new Map();
    else this.byNumber = new DigestsByNumber();
  }

  get(key: string): string | undefined {
    if (this.byNumber) return this.byNumber.get(digitsOf(key, 0, key.length));
    if (this.byText) return this.byText.get(key);
    const slash = key.lastIndexOf('/');
    return this.byPrefix!.get(key.slice(0, slash))?.get(digitsOf(key, slash + 1, key.length));
  }

  set(key: string, digest: string): void {
    if (this.byNumber) this.byNumber.set(digitsOf(key, 0, key.length), digest);
    else if (this.byText) this.byText.set(key, digest);
    else {
      const slash = key.lastIndexOf('/');
      const prefix = key.slice(0, slash);
      let inner = this.byPrefix!.get(prefix);
      if (!inner) this.byPrefix!.set(prefix, (inner = new DigestsByNumber()));
      inner.set(digitsOf(key, slash + 1, key.length), digest);
    }
  }

  get size(): number {
    if (this.byNumber) return this.byNumber.size;
    if (this.byText) return this.byText.size;
    let size = 0;
    for (const inner of this.byPrefix!.values()) size += inner.size;
    return size;
  }

  *values(): IterableIterator<string> {
    if (this.byNumber) yield* this.byNumber.values();
    else if (this.byText) yield* this.byText.values();
    else for (const inner of this.byPrefix!.values()) yield* inner.values();
  }

  *entries(): IterableIterator<[string, string]> {
    if (this.byNumber) for (const [key, digest] of this.byNumber.entries()) yield [String(key), digest];
    else if (this.byText) yield* this.byText.entries();
    else for (const [prefix, inner] of this.byPrefix!) for (const [seq, digest] of inner.entries()) yield [`${prefix}/${seq}`, digest];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  *keys(): IterableIterator<string> {
    for (const [key] of this.entries()) yield key;
  }
}

/** What the anchors say each table holds now: per table, key -> digest (DELETED once deleted). */
export class AnchorFold {
  private tables = new Map<string, DigestsByKey>();

  /**
   * The first row found changed outside the hub before the hub changed it again: its anchor's
   * previous digest is not what the chain had anchored for it.
   */
  laundered: RowProblem | null = null;

  /**
   * @param complete the fold starts at the chain's first record, so a previous digest can be
   *   checked (an incremental verify's fold starts part way and cannot).
   */
  constructor(private complete = true) {
    for (const table of ANCHORED_TABLES) this.tables.set(table.name, new DigestsByKey(table));
  }

  /** The keys anchored so far, per table (an incremental verify compares just these). */
  keys(table: string): DigestsByKey {
    return this.tables.get(table)!;
  }

  /** One anchor record's details (record `seq`), in chain order. */
  add(details: string, seq = 0): void {
    const parsed = JSON.parse(details) as Record<string, string>;
    for (const name in parsed) {
      const rows = this.tables.get(name);
      if (!rows) continue;
      const text = parsed[name];
      // "key=digest key=digest<previous ...", walked without splitting into an array first.
      let from = 0;
      while (from < text.length) {
        let end = text.indexOf(' ', from);
        if (end < 0) end = text.length;
        const at = text.lastIndexOf('=', end);
        const key = text.slice(from, at);
        // A digest is 32 hex digits or DELETED: a previous one follows it after WAS.
        const was = at + 1 + (text.charCodeAt(at + 1) === 45 /* - */ ? 1 : 32);
        if (was >= end) {
          rows.set(key, text.slice(at + 1, end));
        } else {
          if (this.complete && this.laundered === null) {
            const had = rows.get(key);
            if (had !== text.slice(was + 1, end)) this.laundered = { kind: had === undefined || had === DELETED ? 'row-inserted' : 'row-altered', seq, table: name, key, message: '' };
          }
          rows.set(key, text.slice(at + 1, was));
        }
        from = end + 1;
      }
    }
  }

  /** The laundered row's problem with its message (the anchor before the hub's change looked up). */
  async launderedProblem(db: SqlDatabase): Promise<RowProblem | null> {
    const problem = this.laundered;
    if (!problem) return null;
    const { table, seq } = problem;
    const before = await this.lastAnchor(db, table, problem.key, seq);
    const key = await shownKey(db, table, problem.key);
    const message =
      problem.kind === 'row-inserted'
        ? `${table} ${key} was inserted outside the hub before audit record ${seq} changed it: no earlier audit record holds it`
        : `${table} ${key} was altered outside the hub before audit record ${seq} changed it: it no longer matched audit record ${before}`;
    return { ...problem, key, message };
  }

  /** The last anchor record before `below` (all when 0) that holds the row. */
  private async lastAnchor(db: SqlDatabase, table: string, key: string, below = 0): Promise<number> {
    const needle = ` ${key}=`;
    let seq = 0;
    let after = 0;
    for (;;) {
      const page = await db.all<{ seq: number; details: string }>('SELECT seq, details FROM audit_log WHERE seq > ? AND action = ? ORDER BY seq LIMIT 1000', [after, ANCHOR_ACTION]);
      for (const record of page) {
        if (below > 0 && Number(record.seq) >= below) return seq;
        const text = (JSON.parse(record.details) as Record<string, string>)[table];
        if (text !== undefined && ` ${text}`.includes(needle)) seq = Number(record.seq);
        after = Number(record.seq);
      }
      if (page.length < 1000) return seq;
    }
  }

  /**
   * Compares every anchored table with the anchors: the first row found edited, inserted or
   * deleted outside the hub, or null. `onRow` is told each row read, for progress.
   */
  async compare(db: SqlDatabase, onRow?: (rows: number) => void): Promise<RowProblem | null> {
    const problem = await this.compareTables(db, onRow);
    if (problem) return { ...problem, ...(await this.anchoredBy(db, problem)) };
    return this.strayPending(db);
  }

  private async strayPending(db: SqlDatabase): Promise<RowProblem | null> {
    if (db.kind !== 'postgres') return null;
    // PostgreSQL: a change committed by another connection (its triggers still standing) is left
    // in the pending list, which only the hub's own transactions empty.
    const stray = await db.get<{ tbl: string; k: string }>('SELECT tbl, k FROM anchor_pending ORDER BY tbl, k LIMIT 1');
    if (!stray) return null;
    return { kind: 'row-altered', seq: 0, table: stray.tbl, key: stray.k, message: `${stray.tbl} ${stray.k} was changed outside the hub: the change was never anchored in the audit trail` };
  }

  /** The message with the audit record that last anchored the row (looked up only for a problem). */
  private async anchoredBy(db: SqlDatabase, problem: RowProblem): Promise<Pick<RowProblem, 'seq' | 'key' | 'message'>> {
    const seq = await this.lastAnchor(db, problem.table, problem.key);
    const { table } = problem;
    const key = await shownKey(db, table, problem.key);
    switch (problem.kind) {
      case 'row-inserted':
        return { seq, key, message: `${table} ${key} was inserted outside the hub: no audit record holds it${seq ? ` (audit record ${seq} recorded its deletion)` : ''}` };
      case 'row-altered':
        return { seq, key, message: `${table} ${key} was altered: it no longer matches audit record ${seq}` };
      default:
        return { seq, key, message: `${table} ${key} was deleted outside the hub: audit record ${seq} holds it` };
    }
  }

  private async compareTables(db: SqlDatabase, onRow?: (rows: number) => void): Promise<RowProblem | null> {
    let read = 0;
    const present = new Set((await anchoredTablesIn(db)).map((table) => table.name));
    for (const table of ANCHORED_TABLES) {
      const anchors = this.tables.get(table.name)!;
      const problem = (kind: RowProblem['kind'], key: string): RowProblem => ({ kind, seq: 0, table: table.name, key, message: '' });
      // A table this database does not have (or no longer has whole): each row anchored in it was deleted.
      if (!present.has(table.name)) {
        for (const [key, digest] of anchors) if (digest !== DELETED) return problem('row-removed', key);
        continue;
      }
      // Each row must be anchored, as it is now; then as many rows as the anchors hold, or one
      // was deleted outside the hub (found by a second read, only then).
      let matched = 0;
      const hashed = db.kind === 'sqlite';
      for await (const page of tableRows(db, table)) {
        for (const row of page) {
          const key = row[0] as string;
          const digest = anchors.get(key);
          if (digest === undefined || digest === DELETED) return problem('row-inserted', key);
          // The anchored digest is the first 32 hex digits of the row's SHA-256.
          if (hashed ? digest.length !== 32 || !sha256(row[1] as string).startsWith(digest) : digest !== row[1]) return problem('row-altered', key);
          matched++;
        }
        read += page.length;
        onRow?.(read);
      }
      let live = 0;
      for (const digest of anchors.values()) if (digest !== DELETED) live++;
      if (matched !== live) {
        const present = new Set<string>();
        for await (const page of tableRows(db, table)) for (const row of page) present.add(row[0] as string);
        for (const [key, digest] of anchors) if (digest !== DELETED && !present.has(key)) return problem('row-removed', key);
      }
    }
    return null;
  }

  /**
   * An incremental verify's comparison: only the rows anchored in the records it walked, looked
   * up by key, must hold what their last anchor says (or be gone when it says deleted).
   */
  async compareAnchored(db: SqlDatabase, onRow?: (rows: number) => void): Promise<RowProblem | null> {
    let read = 0;
    let problem: RowProblem | null = null;
    for (const table of ANCHORED_TABLES) {
      const anchors = this.tables.get(table.name)!;
      const keys = [...anchors.keys()];
      for (let i = 0; i < keys.length && !problem; i += 500) {
        const batch = keys.slice(i, i + 500);
        const found = new Map<string, string>();
        for (const [k, d] of await rowsByKey(db, table, batch)) found.set(k as string, digestOf(db.kind, d));
        for (const key of batch) {
          const digest = anchors.get(key)!;
          const now = found.get(key);
          if (now === undefined && digest !== DELETED) problem = { kind: 'row-removed', seq: 0, table: table.name, key, message: '' };
          else if (now !== undefined && digest === DELETED) problem = { kind: 'row-inserted', seq: 0, table: table.name, key, message: '' };
          else if (now !== undefined && now !== digest) problem = { kind: 'row-altered', seq: 0, table: table.name, key, message: '' };
          if (problem) break;
        }
        read += batch.length;
        onRow?.(read);
      }
      if (problem) break;
    }
    if (problem) return { ...problem, ...(await this.anchoredBy(db, problem)) };
    return this.strayPending(db);
  }
}
