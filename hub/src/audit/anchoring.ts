// Writing the anchor records (anchors.ts says what is anchored and how a row's digest is made):
// at each commit, the rows the transaction changed, in one `records.anchored` audit record; once
// per database, a baseline of every row that existed before anchoring began.
import type { SqlDatabase } from '../db/sql';
import { ANCHOR_ACTION, ANCHORED_TABLES, DELETED, rowDigest, sqliteAnchorObjects, tableRows } from './anchors';
import { AuditTrail, type AuditEntry } from './trail';

/** Rows per anchor record (a baseline of many rows is written as several records). */
const ROWS_PER_RECORD = 2000;
/** hub_secrets row set once the rows that existed before anchoring began have been anchored. */
const BASELINE_FLAG = 'records-anchored-since';

/** Anchor records for rows given as (table, key, row text or null when deleted). */
function anchorEntries(rows: Array<{ tbl: string; k: string; row: string | null }>): AuditEntry[] {
  const entries: AuditEntry[] = [];
  // Per table, "key=digest" separated by spaces (keys have no spaces): one string per table keeps
  // the record's details flat, which is quick to write and to hash.
  let details: Record<string, string> = {};
  let count = 0;
  const push = () => {
    if (count > 0) entries.push({ actor: 'system', action: ANCHOR_ACTION, subject: null, details });
    details = {};
    count = 0;
  };
  for (const { tbl, k, row } of rows) {
    const item = `${k}=${row === null ? DELETED : rowDigest(row)}`;
    details[tbl] = details[tbl] === undefined ? item : `${details[tbl]} ${item}`;
    if (++count >= ROWS_PER_RECORD) push();
  }
  push();
  return entries;
}

/** At commit: the rows this transaction changed, anchored in one audit record (or a few). */
export async function anchorPending(tx: SqlDatabase, audit: AuditTrail): Promise<void> {
  const pending =
    tx.kind === 'postgres'
      ? await tx.all<{ tbl: string; k: string; row: string | null }>('DELETE FROM anchor_pending WHERE xact = txid_current() RETURNING tbl, k, row')
      : await tx.all<{ tbl: string; k: string; row: string | null }>('SELECT tbl, k, row FROM temp.anchor_pending');
  if (pending.length === 0) return;
  if (tx.kind === 'sqlite') await tx.run('DELETE FROM temp.anchor_pending');
  await audit.appendMany(anchorEntries(pending), tx);
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
      const rows: Array<{ tbl: string; k: string; row: string }> = [];
      for (const table of ANCHORED_TABLES) {
        for await (const page of tableRows(tx, table)) for (const { k, row } of page) rows.push({ tbl: table.name, k, row });
      }
      await audit.appendMany(anchorEntries(rows), tx);
      await tx.run('INSERT INTO hub_secrets (name, value) VALUES (?, ?)', [BASELINE_FLAG, new Date().toISOString()]);
    });
  }
  db.beforeCommit = (tx) => anchorPending(tx, audit);
}
