// Writing the anchor records (anchors.ts says what is anchored and how a row's digest is made):
// at each commit, the rows the transaction changed (with what each held before), in one
// `records.anchored` audit record; once per database (and per table anchored later), a baseline of
// every row that existed before anchoring began; after migration 10, the converted event rows.
import type { SqlDatabase } from '../db/sql';
import {
  ANCHOR_ACTION,
  ANCHORED_TABLES,
  AnchorFold,
  anchoredTablesIn,
  DELETED,
  FIRST_ANCHORED,
  REANCHOR_DETAIL,
  WAS,
  digestOf,
  digestSql,
  keySql,
  rowDigest,
  rowSql,
  sqliteAnchorObjects,
  tableRows,
  type AnchoredTable,
  type PendingRow,
} from './anchors';
import { BADGE_KEYS, hasBadgeKeys, keyPendingBadges, newBadgeKey } from './badge-keys';
import { AuditTrail, type AuditEntry } from './trail';

/** hub_secrets row set once the badges anchored under their hash have keys of their own. */
const BADGES_REKEYED = 'badges-anchored-by-key';

/** Rows per anchor record (a baseline of many rows is written as several records). */
const ROWS_PER_RECORD = 2000;
/** hub_secrets row set once the rows that existed before anchoring began have been anchored. */
const BASELINE_FLAG = 'records-anchored-since';

/** Anchor records for rows given as (table, key, row text or null when deleted, and what it held before). */
function anchorEntries(rows: PendingRow[]): AuditEntry[] {
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
  for (const { tbl, k, row, old, digest, oldDigest } of rows) {
    const was = oldDigest ?? (old === null || old === undefined ? null : rowDigest(old));
    const item = `${k}=${digest ?? (row === null ? DELETED : rowDigest(row))}${was === null ? '' : `${WAS}${was}`}`;
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
      ? await tx.all<PendingRow>('DELETE FROM anchor_pending WHERE xact = txid_current() RETURNING tbl, k, row, old')
      : await tx.all<PendingRow>('SELECT tbl, k, row, old FROM temp.anchor_pending');
  if (pending.length === 0) return;
  if (tx.kind === 'sqlite') await tx.run('DELETE FROM temp.anchor_pending');
  await audit.appendMany(anchorEntries(await keyPendingBadges(tx, pending)), tx);
}

/**
 * After migration: the triggers (SQLite: this connection's), the commit hook, and once per
 * database an anchor for every row that existed before anchoring began (an upgraded database).
 */
export async function installAnchors(db: SqlDatabase): Promise<void> {
  const audit = new AuditTrail(db);
  const present = await anchoredTablesIn(db);
  if (db.kind === 'sqlite') await db.exec(sqliteAnchorObjects(present));
  // The first four tables share one flag; a table anchored later has its own.
  const flagOf = (table: AnchoredTable) => (FIRST_ANCHORED.includes(table.name) ? BASELINE_FLAG : `${BASELINE_FLAG}:${table.name}`);
  const unbaselined = async (on: SqlDatabase) => {
    const flags = new Set((await on.all<{ name: string }>('SELECT name FROM hub_secrets WHERE name LIKE ?', [`${BASELINE_FLAG}%`])).map((row) => row.name));
    return present.filter((table) => !flags.has(flagOf(table)));
  };
  if ((await unbaselined(db)).length > 0) {
    await db.transaction(async (tx) => {
      const tables = await unbaselined(tx);
      const rows: PendingRow[] = [];
      for (const table of tables) {
        for await (const page of tableRows(tx, table)) for (const [k, d] of page) rows.push({ tbl: table.name, k: k as string, row: null, digest: digestOf(tx.kind, d) });
      }
      await audit.appendMany(anchorEntries(rows), tx);
      for (const flag of new Set(tables.map(flagOf))) await tx.run('INSERT INTO hub_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [flag, new Date().toISOString()]);
    });
  }
  await reanchorConverted(db, audit);
  await rekeyBadges(db, audit, present);
  db.beforeCommit = (tx) => anchorPending(tx, audit);
}

/**
 * Once per database (migration 20): each badge anchored under its hash is given a key of its own
 * and anchored under it (audit/badge-keys.ts) — `hash=-<digest key=digest`, a change of the hub's,
 * so verify still checks the digest the badge had against its anchor under the hash.
 */
async function rekeyBadges(db: SqlDatabase, audit: AuditTrail, present: AnchoredTable[]): Promise<void> {
  const table = present.find((anchored) => anchored.name === 'badges');
  if (!table || !(await hasBadgeKeys(db)) || (await db.get('SELECT value FROM hub_secrets WHERE name = ?', [BADGES_REKEYED]))) return;
  await db.transaction(async (tx) => {
    if (await tx.get('SELECT value FROM hub_secrets WHERE name = ?', [BADGES_REKEYED])) return;
    const rows = await tx.allArrays(`SELECT ${keySql(table, 't', tx.kind)}, ${digestSql(table, 't', tx.kind)} FROM badges t WHERE NOT EXISTS (SELECT 1 FROM ${BADGE_KEYS} m WHERE m.hash = t.hash)`);
    const pending: PendingRow[] = [];
    for (const [hash, made] of rows) {
      const digest = digestOf(tx.kind, made);
      pending.push({ tbl: 'badges', k: hash as string, row: null, digest: DELETED, oldDigest: digest }, { tbl: 'badges', k: await newBadgeKey(tx, hash as string), row: null, digest });
    }
    await audit.appendMany(anchorEntries(pending), tx);
    await tx.run('INSERT INTO hub_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [BADGES_REKEYED, new Date().toISOString()]);
  });
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
    const rows = await tx.all<{ k: string; now: string; was: string }>(`SELECT ${keySql(table, 't', tx.kind)} AS k, ${rowSql(table, 't', tx.kind)} AS now, ${oldRow} AS was FROM station_events t WHERE t.detail IS NOT NULL`);
    const converted = rows.filter((row) => fold.keys(table.name).get(row.k) === rowDigest(row.was)).map((row) => ({ tbl: table.name, k: row.k, row: row.now }));
    await audit.appendMany(anchorEntries(converted), tx);
    await tx.run('DELETE FROM hub_secrets WHERE name = ?', [REANCHOR_DETAIL]);
  });
}
