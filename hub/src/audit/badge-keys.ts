// A badge is anchored in the audit chain under a random key (`k` and 32 hex digits), not under its
// hash: the chain is never pruned, and a badge hash names a card, so a purged person's would stay
// readable in the file for good (anyone holding the file holds the badge key, and with the card
// can work the hash out). Which badge each key stands for is kept in badge_anchor_keys, beside the
// badge, and deleted with it when the hub deletes the badge (purge): the chain then holds only a
// key nothing leads to, as it holds only a digest of a purged person's name.
//
// A badge anchored under its hash before migration 20 is anchored again once under a key of its
// own (rekeyBadges); a badge no key stands for (one inserted outside the hub) is anchored under
// its hash as before, so verify's check of its earlier digest still names it.
import crypto from 'node:crypto';
import type { SqlDatabase } from '../db/sql';

/** A row to anchor: its text (null once deleted) or its digest already made, and what it held before. */
export type PendingRow = { tbl: string; k: string; row: string | null; old?: string | null; digest?: string; oldDigest?: string };

export const BADGE_KEYS = 'badge_anchor_keys';
const KEY_PREFIX = 'k';
const hex = (bytes: unknown): string => Buffer.from(bytes as Uint8Array).toString('hex');

/** Whether this database has the keys' table (a database left at an earlier migration has not). */
export async function hasBadgeKeys(db: SqlDatabase): Promise<boolean> {
  const found =
    db.kind === 'postgres'
      ? await db.get("SELECT 1 AS found FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'badge_anchor_keys'")
      : await db.get("SELECT 1 AS found FROM main.sqlite_master WHERE type = 'table' AND name = 'badge_anchor_keys'");
  return found !== undefined;
}

/**
 * SQL for a badge row's key in the anchors, for reading the table against them: its random key,
 * or its hash in hex where none stands for it.
 */
export function badgeKeySql(alias: string, rawKey: string): string {
  return `COALESCE((SELECT m.anchor_key FROM ${BADGE_KEYS} m WHERE m.hash = ${alias}.hash), ${rawKey})`;
}

/** A badge's hash (hex) for a message, from the key it is anchored under (itself if it is a hash). */
export async function badgeShown(db: SqlDatabase, key: string): Promise<string> {
  if (!key.startsWith(KEY_PREFIX)) return key;
  const row = await db.get<{ hash: Uint8Array }>(`SELECT hash FROM ${BADGE_KEYS} WHERE anchor_key = ?`, [key]).catch(() => undefined);
  return row ? hex(row.hash) : key;
}

/**
 * At commit: the pending badge rows' keys (their hash in hex, as the triggers write it) turned
 * into the keys they are anchored under. A new badge is given one; a badge the hub deleted loses
 * its (after this commit nothing leads from the key to the card).
 */
export async function keyPendingBadges(tx: SqlDatabase, rows: PendingRow[]): Promise<PendingRow[]> {
  const badges = rows.filter((row) => row.tbl === 'badges');
  if (badges.length === 0) return rows;
  const keys = new Map<string, string>();
  for (let i = 0; i < badges.length; i += 500) {
    const batch = badges.slice(i, i + 500);
    const found = await tx.all<{ hash: Uint8Array; anchor_key: string }>(`SELECT hash, anchor_key FROM ${BADGE_KEYS} WHERE hash IN (${batch.map(() => '?').join(', ')})`, batch.map((row) => Buffer.from(row.k, 'hex')));
    for (const row of found) keys.set(hex(row.hash), row.anchor_key);
  }
  const out: PendingRow[] = [];
  for (const row of rows) {
    if (row.tbl !== 'badges') {
      out.push(row);
      continue;
    }
    const existed = row.old !== null && row.old !== undefined;
    // Inserted and deleted in one transaction: nothing to anchor (and no hash to write down).
    if (row.row === null && !existed) continue;
    let key = keys.get(row.k);
    if (key === undefined && !existed) key = await newBadgeKey(tx, row.k);
    if (key !== undefined && row.row === null) await tx.run(`DELETE FROM ${BADGE_KEYS} WHERE anchor_key = ?`, [key]);
    out.push({ ...row, k: key ?? row.k });
  }
  return out;
}

/** A new random key for a badge (its hash in hex), written down beside it. */
export async function newBadgeKey(tx: SqlDatabase, hash: string): Promise<string> {
  const key = `${KEY_PREFIX}${crypto.randomBytes(16).toString('hex')}`;
  await tx.run(`INSERT INTO ${BADGE_KEYS} (hash, anchor_key) VALUES (?, ?)`, [Buffer.from(hash, 'hex'), key]);
  return key;
}
