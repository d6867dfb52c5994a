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
// PostgreSQL they are the tables' owner's (migration 8), which the hub's role cannot drop or
// disable when it does not own the tables (README "PostgreSQL"). Writing the anchor records is
// anchoring.ts's part (it appends to the trail, which reads them back through AnchorFold here).
import crypto from 'node:crypto';
import type { SqlDatabase } from '../db/sql';

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
];

export const ANCHOR_ACTION = 'records.anchored';
/** A deleted row's digest in an anchor record. */
export const DELETED = '-';

type Dialect = SqlDatabase['kind'];

/** SQL for the key as text, the same on both databases (integers print the same). */
export function keySql(table: AnchoredTable, alias: string): string {
  return table.key.map((column) => (column === 'station_id' ? `${alias}.${column}` : `CAST(${alias}.${column} AS TEXT)`)).join(" || '/' || ");
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

/** PostgreSQL's part of migration 8: the pending list and the owner's triggers that fill it. */
export function postgresAnchorMigration(): string {
  const triggers = ANCHORED_TABLES.map((table) => {
    const fn = `handover_anchor_${table.name}`;
    // anchor_pending's xact defaults to the writing transaction's id: the hub anchors only its own.
    const upsertNew = `INSERT INTO anchor_pending (tbl, k, row) SELECT '${table.name}', ${keySql(table, 'n')}, ${rowSql(table, 'n', 'postgres')} FROM new_rows n ON CONFLICT (xact, tbl, k) DO UPDATE SET row = excluded.row;`;
    const upsertGone = (except: string) =>
      `INSERT INTO anchor_pending (tbl, k, row) SELECT '${table.name}', ${keySql(table, 'o')}, NULL FROM old_rows o ${except} ON CONFLICT (xact, tbl, k) DO UPDATE SET row = NULL;`;
    const newKeys = `WHERE ${keySql(table, 'o')} NOT IN (SELECT ${keySql(table, 'n')} FROM new_rows n)`;
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

/** SQLite: the pending list and its triggers, TEMP objects of this connection only. */
export function sqliteAnchorObjects(): string {
  const parts = ['CREATE TEMP TABLE IF NOT EXISTS anchor_pending (tbl TEXT NOT NULL, k TEXT NOT NULL, row TEXT, PRIMARY KEY (tbl, k)) WITHOUT ROWID;'];
  for (const table of ANCHORED_TABLES) {
    const written = `INSERT INTO anchor_pending (tbl, k, row) VALUES ('${table.name}', ${keySql(table, 'NEW')}, ${rowSql(table, 'NEW', 'sqlite')}) ON CONFLICT (tbl, k) DO UPDATE SET row = excluded.row;`;
    const gone = `INSERT INTO anchor_pending (tbl, k, row) VALUES ('${table.name}', ${keySql(table, 'OLD')}, NULL) ON CONFLICT (tbl, k) DO UPDATE SET row = NULL;`;
    parts.push(`CREATE TEMP TRIGGER IF NOT EXISTS ${table.name}_anchor_ins AFTER INSERT ON main.${table.name} BEGIN ${written} END;`);
    parts.push(`CREATE TEMP TRIGGER IF NOT EXISTS ${table.name}_anchor_upd AFTER UPDATE ON main.${table.name} BEGIN ${gone} ${written} END;`);
    parts.push(`CREATE TEMP TRIGGER IF NOT EXISTS ${table.name}_anchor_del AFTER DELETE ON main.${table.name} BEGIN ${gone} END;`);
  }
  return parts.join('\n');
}

/** A text key's column values, for paging (station ids have no '/'). */
function keyValues(table: AnchoredTable, key: string): Array<string | number> {
  if (table.key.length === 1) return [Number(key)];
  // station/board/boot/seq: the numbers from the end, the station id (which has no '/') is the rest.
  const parts = key.split('/');
  const numbers = table.key.slice(1).map(() => Number(parts.pop())).reverse();
  return [parts.join('/'), ...numbers];
}

const ROWS_PAGE = 20000;

/** Every row of a table as (key, row text), in key order, a page at a time. */
export async function* tableRows(db: SqlDatabase, table: AnchoredTable): AsyncGenerator<Array<{ k: string; row: string }>> {
  const order = table.key.map((column) => `t.${column}`).join(', ');
  const select = `SELECT ${keySql(table, 't')} AS k, ${rowSql(table, 't', db.kind)} AS row FROM ${table.name} t`;
  let after: Array<string | number> | null = null;
  for (;;) {
    const where: string = after === null ? '' : `WHERE (${order}) > (${table.key.map(() => '?').join(', ')})`;
    const page: Array<{ k: string; row: string }> = await db.all(`${select} ${where} ORDER BY ${order} LIMIT ${ROWS_PAGE}`, after ?? []);
    yield page;
    if (page.length < ROWS_PAGE) return;
    after = keyValues(table, page[page.length - 1].k);
  }
}

/** Set by migration 10 when it turned station_events.detail from text into an integer. */
export const REANCHOR_DETAIL = 'reanchor:station_events.detail';

export type RowProblem = { kind: 'row-altered' | 'row-removed' | 'row-inserted'; seq: number; table: string; key: string; message: string };

/** What the anchors say each table holds now: per table, key -> digest (DELETED once deleted). */
export class AnchorFold {
  private tables = new Map<string, Map<string, string>>();

  constructor() {
    for (const table of ANCHORED_TABLES) this.tables.set(table.name, new Map());
  }

  /** The digest the anchors give `key` of `table` now (undefined: never anchored). */
  digest(table: string, key: string): string | undefined {
    return this.tables.get(table)?.get(key);
  }

  /** One anchor record's details, in chain order. */
  add(details: string): void {
    const parsed = JSON.parse(details) as Record<string, string>;
    for (const name in parsed) {
      const rows = this.tables.get(name);
      if (!rows) continue;
      const text = parsed[name];
      // "key=digest key=digest ...", walked without splitting into an array first.
      let from = 0;
      while (from < text.length) {
        let end = text.indexOf(' ', from);
        if (end < 0) end = text.length;
        const at = text.lastIndexOf('=', end);
        rows.set(text.slice(from, at), text.slice(at + 1, end));
        from = end + 1;
      }
    }
  }

  /**
   * Compares every anchored table with the anchors: the first row found edited, inserted or
   * deleted outside the hub, or null. `onRow` is told each row read, for progress.
   */
  async compare(db: SqlDatabase, onRow?: (rows: number) => void): Promise<RowProblem | null> {
    const problem = await this.compareTables(db, onRow);
    if (problem) return { ...problem, ...(await this.anchoredBy(db, problem)) };
    if (db.kind !== 'postgres') return null;
    // PostgreSQL: a change committed by another connection (its triggers still standing) is left
    // in the pending list, which only the hub's own transactions empty.
    const stray = await db.get<{ tbl: string; k: string }>('SELECT tbl, k FROM anchor_pending ORDER BY tbl, k LIMIT 1');
    if (!stray) return null;
    return { kind: 'row-altered', seq: 0, table: stray.tbl, key: stray.k, message: `${stray.tbl} ${stray.k} was changed outside the hub: the change was never anchored in the audit trail` };
  }

  /** The message with the audit record that last anchored the row (looked up only for a problem). */
  private async anchoredBy(db: SqlDatabase, problem: RowProblem): Promise<Pick<RowProblem, 'seq' | 'message'>> {
    const needle = `${problem.key}=`;
    let seq = 0;
    let after = 0;
    for (;;) {
      const page = await db.all<{ seq: number; details: string }>('SELECT seq, details FROM audit_log WHERE seq > ? AND action = ? ORDER BY seq LIMIT 1000', [after, ANCHOR_ACTION]);
      for (const record of page) {
        const text = (JSON.parse(record.details) as Record<string, string>)[problem.table];
        if (text !== undefined && (` ${text}`).includes(` ${needle}`)) seq = Number(record.seq);
        after = Number(record.seq);
      }
      if (page.length < 1000) break;
    }
    const { table, key } = problem;
    switch (problem.kind) {
      case 'row-inserted':
        return { seq, message: `${table} ${key} was inserted outside the hub: no audit record holds it${seq ? ` (audit record ${seq} recorded its deletion)` : ''}` };
      case 'row-altered':
        return { seq, message: `${table} ${key} was altered: it no longer matches audit record ${seq}` };
      default:
        return { seq, message: `${table} ${key} was deleted outside the hub: audit record ${seq} holds it` };
    }
  }

  private async compareTables(db: SqlDatabase, onRow?: (rows: number) => void): Promise<RowProblem | null> {
    let read = 0;
    for (const table of ANCHORED_TABLES) {
      const anchors = this.tables.get(table.name)!;
      const problem = (kind: RowProblem['kind'], key: string): RowProblem => ({ kind, seq: 0, table: table.name, key, message: '' });
      for await (const page of tableRows(db, table)) {
        for (const { k: key, row } of page) {
          const digest = anchors.get(key);
          if (digest === undefined || digest === DELETED) return problem('row-inserted', key);
          if (digest !== rowDigest(row)) return problem('row-altered', key);
          // Seen: what is left afterwards, other than deletions, was deleted outside the hub.
          anchors.delete(key);
        }
        read += page.length;
        onRow?.(read);
      }
      for (const [key, digest] of anchors) if (digest !== DELETED) return problem('row-removed', key);
    }
    return null;
  }
}
