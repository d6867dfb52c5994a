// Records anchored in the audit chain: every change to a row of the charges ledger, phone custody,
// loans or the station events is written with an audit record that holds the row's digest
// (SHA-256 of its fields, 128 bits) under its key, or null once the row is deleted. `audit
// verify` folds those records into what each table must hold now and compares it with what it
// does hold: a row edited, deleted or inserted by anyone but the hub is named, with the audit
// record that last anchored it.
//
// Which rows a transaction changed is caught by triggers into a pending list, read at commit
// (the database's beforeCommit) and turned into one `records.anchored` record in the same
// transaction. On SQLite the triggers and the list are TEMP objects of the hub's own connection:
// a change made through any other connection (the sqlite3 shell) is never anchored. On
// PostgreSQL they are the tables' owner's (migration 5), which the hub's role cannot drop or
// disable when it does not own the tables (README "PostgreSQL").
import crypto from 'node:crypto';
import { rowsAsTable, type BulkColumn } from '../db/bulk';
import type { SqlDatabase } from '../db/sql';
import { AuditTrail, type AuditEntry } from './trail';

export interface AnchoredTable {
  name: string;
  /** The key's columns: `id`, or station events' (station_id, boot, seq). */
  key: string[];
  /** The columns a digest covers, in order (a column added later is not covered until listed). */
  columns: string[];
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
    key: ['station_id', 'boot', 'seq'],
    columns: ['station_id', 'boot', 'seq', 'type', 'locker', 'person_id', 'actor_id', 'witness_id', 'badge_hash', 'detail', 'uptime_ms', 'wall_time', 'received_at'],
  },
];

export const ANCHOR_ACTION = 'records.anchored';
/** Rows per anchor record (a baseline of many rows is written as several records). */
const ROWS_PER_RECORD = 2000;
/** hub_secrets row set once the rows that existed before anchoring began have been anchored. */
const BASELINE_FLAG = 'records-anchored-since';

/** The text key of a row: the id, or `station/boot/seq`. */
export function rowKey(table: AnchoredTable, row: Record<string, unknown>): string {
  if (table.key.length === 1) return String(row[table.key[0]]);
  return table.key.map((column) => String(row[column])).join('/');
}

function normalise(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (typeof value === 'bigint') return Number(value);
  return value;
}

const sha256 = (text: string): string => (typeof crypto.hash === 'function' ? crypto.hash('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex'));

export function rowDigest(table: AnchoredTable, row: Record<string, unknown>): string {
  const values: unknown[] = [];
  for (const column of table.columns) values.push(normalise(row[column]));
  return sha256(JSON.stringify(values)).slice(0, 32);
}

/** SQL for the key as text, the same on both databases (integers print the same). */
function keyExpression(table: AnchoredTable, alias: string): string {
  return table.key.map((column) => (column === 'station_id' ? `${alias}.${column}` : `CAST(${alias}.${column} AS TEXT)`)).join(" || '/' || ");
}

/** PostgreSQL's part of migration 5: the pending list and the owner's triggers that fill it. */
export function postgresAnchorMigration(): string {
  const triggers = ANCHORED_TABLES.map((table) => {
    const fn = `handover_anchor_${table.name}`;
    const fromNew = `SELECT '${table.name}', ${keyExpression(table, 'n')} FROM new_rows n`;
    const fromOld = `SELECT '${table.name}', ${keyExpression(table, 'o')} FROM old_rows o`;
    const body = (sql: string) => `BEGIN INSERT INTO anchor_pending (tbl, k) ${sql} ON CONFLICT DO NOTHING; RETURN NULL; END`;
    return `
    CREATE FUNCTION ${fn}_ins() RETURNS trigger LANGUAGE plpgsql AS $$ ${body(fromNew)} $$;
    CREATE FUNCTION ${fn}_upd() RETURNS trigger LANGUAGE plpgsql AS $$ ${body(`${fromNew} UNION ${fromOld}`)} $$;
    CREATE FUNCTION ${fn}_del() RETURNS trigger LANGUAGE plpgsql AS $$ ${body(fromOld)} $$;
    CREATE TRIGGER ${table.name}_anchor_ins AFTER INSERT ON ${table.name} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_ins();
    CREATE TRIGGER ${table.name}_anchor_upd AFTER UPDATE ON ${table.name} REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_upd();
    CREATE TRIGGER ${table.name}_anchor_del AFTER DELETE ON ${table.name} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_del();`;
  }).join('\n');
  return `
    CREATE TABLE anchor_pending (tbl TEXT NOT NULL, k TEXT NOT NULL, PRIMARY KEY (tbl, k));
    ${triggers}`;
}

/** SQLite: the pending list and its triggers, TEMP objects of this connection only. */
function sqliteAnchorObjects(): string {
  const parts = ['CREATE TEMP TABLE IF NOT EXISTS anchor_pending (tbl TEXT NOT NULL, k TEXT NOT NULL, PRIMARY KEY (tbl, k)) WITHOUT ROWID;'];
  for (const table of ANCHORED_TABLES) {
    const insert = (alias: string) => `INSERT OR IGNORE INTO anchor_pending (tbl, k) VALUES ('${table.name}', ${keyExpression(table, alias)});`;
    parts.push(`CREATE TEMP TRIGGER IF NOT EXISTS ${table.name}_anchor_ins AFTER INSERT ON main.${table.name} BEGIN ${insert('NEW')} END;`);
    parts.push(`CREATE TEMP TRIGGER IF NOT EXISTS ${table.name}_anchor_upd AFTER UPDATE ON main.${table.name} BEGIN ${insert('OLD')} ${insert('NEW')} END;`);
    parts.push(`CREATE TEMP TRIGGER IF NOT EXISTS ${table.name}_anchor_del AFTER DELETE ON main.${table.name} BEGIN ${insert('OLD')} END;`);
  }
  return parts.join('\n');
}

/** The rows of `table` with these keys, as they are now (deleted ones absent). */
async function rowsByKey(tx: SqlDatabase, table: AnchoredTable, keys: string[]): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const columns = table.columns.map((column) => `t.${column}`).join(', ');
  for (let start = 0; start < keys.length; start += 500) {
    const chunk = keys.slice(start, start + 500);
    let rows: Record<string, unknown>[];
    if (table.key.length === 1) {
      rows = await tx.all(`SELECT ${columns} FROM ${table.name} t WHERE t.id IN (${chunk.map(() => '?').join(', ')})`, chunk.map(Number));
    } else {
      const keyColumns: BulkColumn[] = [['station_id', 'text'], ['boot', 'bigint'], ['seq', 'bigint']];
      const wanted = rowsAsTable(
        tx,
        'wanted',
        keyColumns,
        chunk.map((text) => {
          const parts = text.split('/');
          const seq = Number(parts.pop());
          const boot = Number(parts.pop());
          return [parts.join('/'), boot, seq];
        }),
      );
      rows = await tx.all(`${wanted.sql} SELECT ${columns} FROM ${table.name} t JOIN wanted w ON t.station_id = w.station_id AND t.boot = w.boot AND t.seq = w.seq`, wanted.params);
    }
    for (const row of rows) found.set(rowKey(table, row), row);
  }
  return found;
}

/** Anchor entries for the given keys of each table: their digests now, null for those deleted. */
async function anchorEntries(tx: SqlDatabase, keysByTable: Map<string, string[]>): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let details: Record<string, Record<string, string | null>> = {};
  let count = 0;
  const push = () => {
    if (count > 0) entries.push({ actor: 'system', action: ANCHOR_ACTION, subject: null, details });
    details = {};
    count = 0;
  };
  for (const table of ANCHORED_TABLES) {
    const keys = keysByTable.get(table.name);
    if (!keys?.length) continue;
    const rows = await rowsByKey(tx, table, keys);
    for (const key of keys) {
      const row = rows.get(key);
      (details[table.name] ??= {})[key] = row ? rowDigest(table, row) : null;
      if (++count >= ROWS_PER_RECORD) push();
    }
  }
  push();
  return entries;
}

/** At commit: the rows this transaction changed, anchored in one audit record (or a few). */
export async function anchorPending(tx: SqlDatabase, audit: AuditTrail): Promise<void> {
  const pending =
    tx.kind === 'postgres'
      ? await tx.all<{ tbl: string; k: string }>('DELETE FROM anchor_pending RETURNING tbl, k')
      : await tx.all<{ tbl: string; k: string }>('SELECT tbl, k FROM temp.anchor_pending');
  if (pending.length === 0) return;
  if (tx.kind === 'sqlite') await tx.run('DELETE FROM temp.anchor_pending');
  const keysByTable = new Map<string, string[]>();
  for (const { tbl, k } of pending) {
    const keys = keysByTable.get(tbl);
    if (keys) keys.push(k);
    else keysByTable.set(tbl, [k]);
  }
  await audit.appendMany(await anchorEntries(tx, keysByTable), tx);
}

/**
 * After migration: the triggers (SQLite: this connection's), the commit hook, and once per
 * database an anchor for every row that existed before anchoring began (an upgraded database).
 */
export async function installAnchors(db: SqlDatabase): Promise<void> {
  const audit = new AuditTrail(db);
  if (db.kind === 'sqlite') await db.exec(sqliteAnchorObjects());
  const baselined = await db.get<{ value: string }>('SELECT value FROM hub_secrets WHERE name = ?', [BASELINE_FLAG]);
  if (!baselined) {
    await db.transaction(async (tx) => {
      if (await tx.get('SELECT value FROM hub_secrets WHERE name = ?', [BASELINE_FLAG])) return;
      const keysByTable = new Map<string, string[]>();
      for (const table of ANCHORED_TABLES) {
        const rows = await tx.all<Record<string, unknown>>(`SELECT ${table.key.join(', ')} FROM ${table.name}`);
        if (rows.length) keysByTable.set(table.name, rows.map((row) => rowKey(table, row)));
      }
      await audit.appendMany(await anchorEntries(tx, keysByTable), tx);
      await tx.run('INSERT INTO hub_secrets (name, value) VALUES (?, ?)', [BASELINE_FLAG, new Date().toISOString()]);
    });
  }
  db.beforeCommit = (tx) => anchorPending(tx, audit);
}

export type RowProblem = { kind: 'row-altered' | 'row-removed' | 'row-inserted'; seq: number; table: string; key: string; message: string };

/** What the anchors say each table holds now: per table, key -> [digest or null, anchoring record]. */
export class AnchorFold {
  private tables = new Map<string, Map<string, [string | null, number]>>();

  constructor() {
    for (const table of ANCHORED_TABLES) this.tables.set(table.name, new Map());
  }

  /** One anchor record's details, in chain order. */
  add(seq: number, details: string): void {
    const parsed = JSON.parse(details) as Record<string, Record<string, string | null>>;
    for (const name in parsed) {
      const rows = this.tables.get(name);
      if (!rows) continue;
      const anchored = parsed[name];
      for (const key in anchored) rows.set(key, [anchored[key], seq]);
    }
  }

  /**
   * Compares every anchored table with the anchors: the first row found edited, inserted or
   * deleted outside the hub, or null. `onRow` is told each row read, for progress.
   */
  async compare(db: SqlDatabase, onRow?: (rows: number) => void): Promise<RowProblem | null> {
    let read = 0;
    for (const table of ANCHORED_TABLES) {
      const anchors = this.tables.get(table.name)!;
      const seen = new Set<string>();
      const columns = table.columns.join(', ');
      const order = table.key.join(', ');
      // Paged by key; the first page's condition is an always-true one on the first key column.
      let after: unknown[] | null = null;
      for (;;) {
        const where: string = after === null ? '' : `WHERE (${order}) > (${table.key.map(() => '?').join(', ')})`;
        const page: Record<string, unknown>[] = await db.all<Record<string, unknown>>(`SELECT ${columns} FROM ${table.name} ${where} ORDER BY ${order} LIMIT 20000`, (after ?? []) as never[]);
        for (const row of page) {
          const key = rowKey(table, row);
          seen.add(key);
          const anchor = anchors.get(key);
          if (!anchor || anchor[0] === null) {
            const since = anchor ? ` after record ${anchor[1]} recorded its deletion` : '';
            return { kind: 'row-inserted', seq: anchor?.[1] ?? 0, table: table.name, key, message: `${table.name} ${key} was inserted outside the hub: no audit record holds it${since}` };
          }
          if (anchor[0] !== rowDigest(table, row)) {
            return { kind: 'row-altered', seq: anchor[1], table: table.name, key, message: `${table.name} ${key} was altered: it no longer matches audit record ${anchor[1]}` };
          }
        }
        read += page.length;
        onRow?.(read);
        if (page.length < 20000) break;
        const last = page[page.length - 1];
        after = table.key.map((column) => last[column]);
      }
      for (const [key, [digest, seq]] of anchors) {
        if (digest !== null && !seen.has(key)) {
          return { kind: 'row-removed', seq, table: table.name, key, message: `${table.name} ${key} was deleted outside the hub: audit record ${seq} holds it` };
        }
      }
    }
    return null;
  }
}
