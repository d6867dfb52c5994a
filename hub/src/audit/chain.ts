// Walking the audit chain: each record must be chained to the one before it and hash to what it
// holds, and the chain must still have each trusted head (a checkpoint). The first record found
// altered, removed or inserted is named. `audit verify` runs this in its own thread, in a worker
// (SQLite, audit/chain-worker.ts) or on a second connection (PostgreSQL), beside the comparison of
// the anchored tables; or in line, handing each anchor record to the fold as it goes.
import crypto from 'node:crypto';
import type { SqlDatabase } from '../db/sql';
import { ANCHOR_ACTION } from './anchors';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string | null;
  person_id: number | null;
  details: string;
  prev_hash: string;
  hash: string;
}

/** One-shot hashing where Node has it (20.12 and later): no Hash object per record. */
export const sha256Hex: (text: string) => string = typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');

export function recordHash(prevHash: string, record: Pick<AuditRecord, 'seq' | 'at' | 'actor' | 'action' | 'subject' | 'person_id' | 'details'>): string {
  const fields = JSON.stringify([record.seq, record.at, record.actor, record.action, record.subject, record.person_id, record.details]);
  return sha256Hex(`${prevHash}\n${fields}`);
}

/**
 * SQL for the text recordHash hashes (previous hash, newline, the JSON array of the fields), as
 * JSON.stringify writes it; on PostgreSQL its SHA-256 in hex, made by the server.
 */
function hashedSql(dialect: SqlDatabase['kind']): string {
  if (dialect === 'sqlite') return 'prev_hash || char(10) || json_array(seq, at, actor, action, subject, person_id, details)';
  const fields = "'[' || seq || ',' || to_json(at) || ',' || to_json(actor) || ',' || to_json(action) || ',' || COALESCE(to_json(subject)::text, 'null') || ',' || COALESCE(person_id::text, 'null') || ',' || to_json(details) || ']'";
  return `encode(sha256(convert_to(prev_hash || E'\\n' || ${fields}, 'UTF8')), 'hex')`;
}

export type ChainProblem =
  | { kind: 'altered'; seq: number; message: string }
  | { kind: 'removed'; seq: number; message: string }
  | { kind: 'inserted'; seq: number; message: string }
  | { kind: 'rewritten'; seq: number; message: string };

/** A head the chain had once (a keyed checkpoint, its MAC already checked): it must still have it. */
export interface TrustedHead {
  seq: number;
  hash: string;
  /** Where it comes from, for the message: `checkpoint of 2026-12-07T10:00:00Z`. */
  label: string;
}

export interface ChainWalk {
  /** The head the trail says it has (audit_head). */
  head: { seq: number; hash: string };
  /** Where the walk starts: the genesis, or an incremental verify's mark (its record already checked to be there). */
  start: { seq: number; hash: string };
  heads: TrustedHead[];
  onProgress?: (checked: number, total: number) => void;
  /** Each anchor record's details, in chain order (the fold of a verify in one thread). */
  onAnchor?: (details: string, seq: number) => void;
}

export interface ChainResult {
  problem: ChainProblem | null;
  /** Records found chained and intact before the problem (all of them without one). */
  checked: number;
  /** Checkpoints the chain was found to match. */
  matched: number;
}

const VERIFY_PAGE = 2000;

/** Records put in after `previous`: a later record is chained straight to it. */
async function insertedAfter(db: SqlDatabase, previous: { seq: number; hash: string }): Promise<ChainProblem | null> {
  const resumed = await db.get<{ seq: number }>('SELECT seq FROM audit_log WHERE prev_hash = ? AND seq > ? ORDER BY seq LIMIT 1', [previous.hash, previous.seq + 1]);
  if (!resumed) return null;
  const first = previous.seq + 1;
  const last = Number(resumed.seq) - 1;
  return { kind: 'inserted', seq: first, message: `record ${first}${last > first ? `..${last}` : ''} was inserted: record ${Number(resumed.seq)} is chained to record ${previous.seq}` };
}

async function recordAt(db: SqlDatabase, seq: number): Promise<AuditRecord> {
  const record = (await db.get<AuditRecord>('SELECT * FROM audit_log WHERE seq = ?', [seq]))!;
  return { ...record, seq: Number(record.seq), person_id: record.person_id === null ? null : Number(record.person_id) };
}

/** A record not chained to the one before it: what happened (inserted, removed or altered). */
async function brokenLink(db: SqlDatabase, record: AuditRecord, previous: { seq: number; hash: string }): Promise<ChainProblem> {
  if (record.prev_hash !== previous.hash) {
    const earlier = await db.get<{ seq: number }>('SELECT seq FROM audit_log WHERE hash = ? AND seq < ? ORDER BY seq DESC LIMIT 1', [record.prev_hash, previous.seq]);
    if (earlier || (record.prev_hash === GENESIS_HASH && previous.seq > 0)) {
      const after = earlier ? Number(earlier.seq) : 0;
      return { kind: 'inserted', seq: after + 1, message: `record ${after + 1} was inserted: record ${record.seq} follows record ${after} in the chain, but records ${after + 1}..${previous.seq} stand between them` };
    }
    if (record.seq > previous.seq + 1) {
      return { kind: 'removed', seq: previous.seq + 1, message: `record ${previous.seq + 1}${record.seq - 1 > previous.seq + 1 ? `..${record.seq - 1}` : ''} removed: the chain goes from record ${previous.seq} to record ${record.seq}` };
    }
    const inserted = await insertedAfter(db, previous);
    if (inserted) return inserted;
    // A record whose own hash is wrong was altered itself; otherwise the one before it was.
    if (recordHash(record.prev_hash, record) !== record.hash) {
      return { kind: 'altered', seq: record.seq, message: `record ${record.seq} was altered: it is not chained to record ${previous.seq} and its contents do not match its hash` };
    }
    return { kind: 'altered', seq: previous.seq, message: `record ${previous.seq} was altered: record ${record.seq} was chained to a different record ${previous.seq}` };
  }
  return { kind: 'removed', seq: previous.seq + 1, message: `record ${previous.seq + 1} removed: numbering jumps from ${previous.seq} to ${record.seq}` };
}

/** Walks the chain from `walk.start` to its end: the first problem, or none. */
export async function walkChain(db: SqlDatabase, walk: ChainWalk): Promise<ChainResult> {
  const { head, start, onAnchor } = walk;
  const heads = [...walk.heads].sort((a, b) => a.seq - b.seq);
  // Checkpoints at or before the start were matched by the verify that vouched for it.
  let nextHead = heads.findIndex((trusted) => trusted.seq > start.seq);
  if (nextHead < 0) nextHead = heads.length;
  let matched = 0;
  let checked = 0;
  let previous = { seq: start.seq, hash: start.hash };
  const fail = (problem: ChainProblem): ChainResult => ({ problem, checked, matched });
  const checkHead = (seq: number, hash: string): ChainProblem | null => {
    while (nextHead < heads.length && heads[nextHead].seq <= seq) {
      const trusted = heads[nextHead];
      if (trusted.seq === seq) {
        if (trusted.hash !== hash) {
          const from = matched > 0 ? heads[nextHead - 1].seq + 1 : 1;
          return { kind: 'rewritten', seq, message: `the chain was rewritten: record ${seq} is not the one the ${trusted.label} saw (changed at or before it, after record ${from - 1})` };
        }
        matched++;
      }
      nextHead++;
    }
    return null;
  };
  // A page is rows of [seq, prev_hash, hash, details (anchor records only), hashed] (no object
  // per record); the next page is asked for before this one is checked. `hashed` is what
  // recordHash hashes, made by the database (SQLite's json_array writes JSON.stringify's text;
  // PostgreSQL hashes it itself): one string per record instead of seven, and no JSON made here.
  // A record whose text the database writes differently (none known) is hashed here instead.
  // Without a fold to feed, anchor records' details are not read at all.
  const details = onAnchor ? 'CASE WHEN action = ? THEN details END' : 'NULL';
  const pageAfter = (seq: number) => {
    const pending = db.allArrays(`SELECT seq, prev_hash, hash, ${details}, ${hashedSql(db.kind)} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, onAnchor ? [ANCHOR_ACTION, seq, VERIFY_PAGE] : [seq, VERIFY_PAGE]);
    pending.catch(() => {});
    return pending;
  };
  const hashesHere = async (seq: number, hash: string) => {
    const record = await recordAt(db, seq);
    return recordHash(record.prev_hash, record) === hash;
  };
  const serverHashes = db.kind === 'postgres';
  let next = pageAfter(previous.seq);
  for (;;) {
    const page = await next;
    const full = page.length === VERIFY_PAGE;
    if (full) next = pageAfter(Number(page[page.length - 1][0]));
    for (const row of page) {
      const seq = Number(row[0]);
      const prevHash = row[1] as string;
      const hash = row[2] as string;
      if (prevHash !== previous.hash || seq !== previous.seq + 1) return fail(await brokenLink(db, await recordAt(db, seq), previous));
      const matches = serverHashes ? row[4] === hash : sha256Hex(row[4] as string) === hash;
      if (!matches && !(await hashesHere(seq, hash))) {
        const inserted = await insertedAfter(db, previous);
        return fail(inserted ?? { kind: 'altered', seq, message: `record ${seq} was altered: its contents do not match its hash` });
      }
      if (nextHead < heads.length) {
        const rewritten = checkHead(seq, hash);
        if (rewritten) return fail(rewritten);
      }
      if (row[3] !== null) onAnchor!(row[3] as string, seq);
      previous = { seq, hash };
      checked++;
    }
    walk.onProgress?.(checked, head.seq - start.seq);
    if (!full) break;
  }
  if (previous.seq !== head.seq || previous.hash !== head.hash) {
    if (previous.seq < head.seq) {
      return fail({ kind: 'removed', seq: previous.seq + 1, message: `record ${previous.seq + 1}${head.seq > previous.seq + 1 ? `..${head.seq}` : ''} removed: the trail ends at record ${previous.seq} but ${head.seq} were written` });
    }
    if (previous.seq > head.seq) {
      return fail({ kind: 'inserted', seq: head.seq + 1, message: `record ${head.seq + 1} was inserted: only ${head.seq} records were written` });
    }
    return fail({ kind: 'altered', seq: previous.seq, message: `record ${previous.seq} was altered: it is not the last record that was written` });
  }
  // A checkpoint beyond the end: the chain's tail (and its head) was cut back.
  if (nextHead < heads.length) {
    const lost = heads[heads.length - 1];
    return fail({ kind: 'removed', seq: previous.seq + 1, message: `record ${previous.seq + 1}..${lost.seq} removed: the trail ends at record ${previous.seq} but the ${lost.label} saw record ${lost.seq}` });
  }
  return { problem: null, checked, matched };
}
