// Writing the anchor records (anchors.ts says what is anchored and how a row's digest is made):
// at each commit, the rows the transaction changed, in one `records.anchored` audit record; once
// per database, a baseline of every row that existed before anchoring began.
import type { SqlDatabase } from '../db/sql';
import { ANCHOR_ACTION, ANCHORED_TABLES, AnchorFold, DELETED, REANCHOR_DETAIL, keySql, rowDigest, rowSql, sqliteAnchorObjects, tableRows } from './anchors';
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
  await reanchorConverted(db, audit);
  db.beforeCommit = (tx) => anchorPending(tx, audit);
}

/**
 * After migration 10: each station event with a detail, anchored as its row read before the
 * conversion (the number as text: "16.0" on SQLite, "16" on PostgreSQL), is anchored again as it
 * reads now, in the audit trail like any change the hub makes. A row whose anchor matches neither
 * (edited outside the hub before the upgrade) is left for `audit verify` to name.
 */
async function reanchorConverted(db: SqlDatabase, audit: AuditTrail): Promise<void> {
  if (!(await db.get('SELECT value FROM hub_secrets WHERE name = ?', [REANCHOR_DETAIL]))) return;
  await db.transaction(async (tx) => {
    const flag = await tx.get<{ value: string }>('SELECT value FROM hub_secrets WHERE name = ?', [REANCHOR_DETAIL]);
    if (!flag) return;
    const table = ANCHORED_TABLES.find((anchored) => anchored.name === 'station_events')!;
    const fold = new AnchorFold();
    for (let after = 0; ; ) {
      const page = await tx.all<{ seq: number; details: string }>('SELECT seq, details FROM audit_log WHERE seq > ? AND action = ? ORDER BY seq LIMIT 1000', [after, ANCHOR_ACTION]);
      for (const record of page) {
        fold.add(record.details);
        after = Number(record.seq);
      }
      if (page.length < 1000) break;
    }
    const before = flag.value === 'sqlite' ? "CAST(CAST(t.detail AS REAL) AS TEXT)" : 'CAST(t.detail AS TEXT)';
    const oldRow = rowSql(table, 't', tx.kind, { detail: before });
    const rows = await tx.all<{ k: string; now: string; was: string }>(`SELECT ${keySql(table, 't')} AS k, ${rowSql(table, 't', tx.kind)} AS now, ${oldRow} AS was FROM station_events t WHERE t.detail IS NOT NULL`);
    const converted = rows.filter((row) => fold.digest(table.name, row.k) === rowDigest(row.was)).map((row) => ({ tbl: table.name, k: row.k, row: row.now }));
    await audit.appendMany(anchorEntries(converted), tx);
    await tx.run('DELETE FROM hub_secrets WHERE name = ?', [REANCHOR_DETAIL]);
  });
}
