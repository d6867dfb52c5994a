// The audit trail (P14, P17): every state change and every administrative action, and every read
// of a person's records, is one append-only record chained to the one before it:
//   hash = SHA-256(previous hash + this record's fields)
// `audit_head` holds the last sequence number and hash; appending takes its row lock, so records
// are numbered and chained in one order even with several writers (PostgreSQL).
// Details are JSON with ids only — never names or card numbers — so pseudonymising a person
// (purge) leaves every record, and so the chain, untouched.
import crypto from 'node:crypto';
import { insertRows, type BulkColumn } from '../db/bulk';
import type { SqlDatabase } from '../db/sql';
import { ANCHOR_ACTION, AnchorFold, type RowProblem } from './anchors';
import { phonesInProblem } from './holdings-check';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEntry {
  /** Who: `person:<id>`, `station:<id>`, `system`, or `cli` (an unnamed operator). */
  actor: string;
  /** What, dotted: `event.deposit`, `charge.waiver`, `person.read`, ... */
  action: string;
  /** What it is about: `loan:12`, `locker:room-12/3`, `person:5`, ... */
  subject?: string | null;
  /** Whose personal records this concerns (for subject access export), if anyone's. */
  personId?: number | null;
  details?: Record<string, unknown>;
  at?: string;
}

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

/** JSON with keys in a fixed order, so the same details always hash the same. */
export function canonicalJson(value: unknown): string {
  return flatCanonicalJson(value) ?? generalCanonicalJson(value);
}

/**
 * The same text for the common case (an event's details: one plain object of numbers, strings,
 * booleans and nulls) without the replacer's object per level; undefined for anything else.
 */
function flatCanonicalJson(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  let out = '{';
  for (const key of keys) {
    // An integer-like key would be moved ahead of the others by the general path's object.
    const first = key.charCodeAt(0);
    if (first >= 48 && first <= 57) return undefined;
    const item = object[key];
    const kind = typeof item;
    if (kind === 'undefined') continue;
    if (item !== null && kind !== 'number' && kind !== 'string' && kind !== 'boolean') return undefined;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(key)}:${JSON.stringify(item)}`;
  }
  return `${out}}`;
}

function generalCanonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item) => {
    if (item instanceof Uint8Array) return Buffer.from(item).toString('hex');
    if (item && typeof item === 'object' && !Array.isArray(item)) {
      return Object.fromEntries(Object.keys(item).sort().map((key) => [key, (item as Record<string, unknown>)[key]]));
    }
    return item;
  });
}

/** One-shot hashing where Node has it (20.12 and later): no Hash object per record. */
const sha256Hex: (text: string) => string = typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');

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

export type VerifyProblem =
  | { kind: 'altered'; seq: number; message: string }
  | { kind: 'removed'; seq: number; message: string }
  | { kind: 'inserted'; seq: number; message: string }
  | { kind: 'rewritten'; seq: number; message: string }
  | RowProblem;

export interface VerifyResult {
  ok: boolean;
  records: number;
  headSeq: number;
  headHash: string;
  problem: VerifyProblem | null;
  /** Rows of the anchored tables compared with the chain. */
  rows: number;
  /** Checkpoints the chain was found to match. */
  checkpoints: number;
  /** 0 for a full verify; else the verified checkpoint's record it started after (incremental). */
  from: number;
}

/** A head the chain had once (a keyed checkpoint, its MAC already checked): it must still have it. */
export interface TrustedHead {
  seq: number;
  hash: string;
  /** Where it comes from, for the message: `checkpoint of 2026-12-07T10:00:00Z`. */
  label: string;
}

export interface VerifyOptions {
  onProgress?: (stage: 'records' | 'rows', done: number, total: number) => void;
  heads?: TrustedHead[];
  /**
   * Incremental: a checkpoint a full verify passed at (its MAC checked): only the records after
   * it are walked, and only the rows they anchor compared. Without it, everything (full).
   */
  from?: TrustedHead;
}

const AUDIT_COLUMNS: BulkColumn[] = [
  ['seq', 'bigint'], ['at', 'text'], ['actor', 'text'], ['action', 'text'], ['subject', 'text'], ['person_id', 'bigint'], ['details', 'text'], ['prev_hash', 'text'], ['hash', 'text'],
];
const VERIFY_PAGE = 2000;

export class AuditTrail {
  constructor(private db: SqlDatabase) {}

  /** Appends one record; inside `tx` when given (so it commits with the change it records). */
  async append(entry: AuditEntry, tx?: SqlDatabase): Promise<number> {
    const [seq] = await this.appendMany([entry], tx);
    return seq;
  }

  async appendMany(entries: AuditEntry[], tx?: SqlDatabase): Promise<number[]> {
    if (entries.length === 0) return [];
    if (!tx) return this.db.transaction((inner) => this.appendMany(entries, inner));
    // The UPDATE takes the head's row lock (PostgreSQL) and returns the values under it.
    const head = await tx.get<{ seq: number; hash: string }>('UPDATE audit_head SET seq = seq + ? WHERE id = 1 RETURNING seq, hash', [entries.length]);
    if (!head) throw new Error('audit trail has no head record');
    let seq = Number(head.seq) - entries.length;
    let prev = head.hash;
    const now = new Date().toISOString();
    const records: AuditRecord[] = entries.map((entry) => {
      seq++;
      const record = {
        seq,
        at: entry.at ?? now,
        actor: entry.actor,
        action: entry.action,
        subject: entry.subject ?? null,
        person_id: entry.personId ?? null,
        details: canonicalJson(entry.details ?? {}),
        prev_hash: prev,
        hash: '',
      };
      record.hash = recordHash(prev, record);
      prev = record.hash;
      return record;
    });
    await insertRows(tx, 'audit_log', AUDIT_COLUMNS, records.map((r) => [r.seq, r.at, r.actor, r.action, r.subject, r.person_id, r.details, r.prev_hash, r.hash]));
    await tx.run('UPDATE audit_head SET hash = ? WHERE id = 1', [prev]);
    return records.map((record) => record.seq);
  }

  /** Records about one person (subject access), oldest first. */
  async forPerson(personId: number): Promise<AuditRecord[]> {
    return this.db.all<AuditRecord>('SELECT * FROM audit_log WHERE person_id = ? ORDER BY seq', [personId]);
  }

  async forSubject(subject: string): Promise<AuditRecord[]> {
    return this.db.all<AuditRecord>('SELECT * FROM audit_log WHERE subject = ? ORDER BY seq', [subject]);
  }

  /**
   * Walks the whole chain and reports the first record that was altered, removed or inserted;
   * then that it still has each trusted head (a checkpoint); then compares the anchored tables
   * with what the chain says they hold (audit/anchors.ts). One read snapshot throughout.
   */
  async verify(options: VerifyOptions | ((checked: number) => void) = {}): Promise<VerifyResult> {
    const opts: VerifyOptions = typeof options === 'function' ? { onProgress: (stage, done) => stage === 'records' && options(done) } : options;
    return this.db.snapshot((db) => this.verifyIn(db, opts));
  }

  /** Records put in after `previous`: a later record is chained straight to it. */
  private async insertedAfter(db: SqlDatabase, previous: { seq: number; hash: string }): Promise<VerifyProblem | null> {
    const resumed = await db.get<{ seq: number }>('SELECT seq FROM audit_log WHERE prev_hash = ? AND seq > ? ORDER BY seq LIMIT 1', [previous.hash, previous.seq + 1]);
    if (!resumed) return null;
    const first = previous.seq + 1;
    const last = Number(resumed.seq) - 1;
    return { kind: 'inserted', seq: first, message: `record ${first}${last > first ? `..${last}` : ''} was inserted: record ${Number(resumed.seq)} is chained to record ${previous.seq}` };
  }

  /** A record not chained to the one before it: what happened (inserted, removed or altered). */
  private async brokenLink(db: SqlDatabase, record: AuditRecord, previous: { seq: number; hash: string }): Promise<VerifyProblem> {
    if (record.prev_hash !== previous.hash) {
      const earlier = await db.get<{ seq: number }>('SELECT seq FROM audit_log WHERE hash = ? AND seq < ? ORDER BY seq DESC LIMIT 1', [record.prev_hash, previous.seq]);
      if (earlier || (record.prev_hash === GENESIS_HASH && previous.seq > 0)) {
        const after = earlier ? Number(earlier.seq) : 0;
        return { kind: 'inserted', seq: after + 1, message: `record ${after + 1} was inserted: record ${record.seq} follows record ${after} in the chain, but records ${after + 1}..${previous.seq} stand between them` };
      }
      if (record.seq > previous.seq + 1) {
        return { kind: 'removed', seq: previous.seq + 1, message: `record ${previous.seq + 1}${record.seq - 1 > previous.seq + 1 ? `..${record.seq - 1}` : ''} removed: the chain goes from record ${previous.seq} to record ${record.seq}` };
      }
      const inserted = await this.insertedAfter(db, previous);
      if (inserted) return inserted;
      // A record whose own hash is wrong was altered itself; otherwise the one before it was.
      if (recordHash(record.prev_hash, record) !== record.hash) {
        return { kind: 'altered', seq: record.seq, message: `record ${record.seq} was altered: it is not chained to record ${previous.seq} and its contents do not match its hash` };
      }
      return { kind: 'altered', seq: previous.seq, message: `record ${previous.seq} was altered: record ${record.seq} was chained to a different record ${previous.seq}` };
    }
    return { kind: 'removed', seq: previous.seq + 1, message: `record ${previous.seq + 1} removed: numbering jumps from ${previous.seq} to ${record.seq}` };
  }

  private async verifyIn(db: SqlDatabase, options: VerifyOptions): Promise<VerifyResult> {
    const head = await db.get<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
    if (!head) throw new Error('audit trail has no head record');
    const headSeq = Number(head.seq);
    const heads = [...(options.heads ?? [])].sort((a, b) => a.seq - b.seq);
    const start = options.from ?? { seq: 0, hash: GENESIS_HASH, label: '' };
    const incremental = start.seq > 0;
    // Checkpoints at or before the start were matched by the verify that vouched for it.
    let nextHead = heads.findIndex((trusted) => trusted.seq > start.seq);
    if (nextHead < 0) nextHead = heads.length;
    let matched = 0;
    const fold = new AnchorFold(!incremental);
    let previous: { seq: number; hash: string } = { seq: start.seq, hash: start.hash };
    let checked = 0;
    const fail = (problem: VerifyProblem, rows = 0): VerifyResult => ({ ok: false, records: checked, headSeq, headHash: head.hash, problem, rows, checkpoints: matched, from: start.seq });
    if (incremental) {
      const at = await db.get<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = ?', [start.seq]);
      if (!at || at.hash !== start.hash) {
        return fail({ kind: 'rewritten', seq: start.seq, message: `the chain was rewritten: record ${start.seq} is ${at ? 'not the one' : 'gone, not the one'} the ${start.label} saw` });
      }
    }
    const checkHead = (seq: number, hash: string): VerifyProblem | null => {
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
    const pageAfter = (seq: number) => {
      const pending = db.allArrays(`SELECT seq, prev_hash, hash, CASE WHEN action = ? THEN details END, ${hashedSql(db.kind)} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, [ANCHOR_ACTION, seq, VERIFY_PAGE]);
      pending.catch(() => {});
      return pending;
    };
    const recordAt = async (seq: number): Promise<AuditRecord> => {
      const record = (await db.get<AuditRecord>('SELECT * FROM audit_log WHERE seq = ?', [seq]))!;
      return { ...record, seq: Number(record.seq), person_id: record.person_id === null ? null : Number(record.person_id) };
    };
    const hashesHere = async (seq: number, hash: string) => {
      const record = await recordAt(seq);
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
        if (prevHash !== previous.hash || seq !== previous.seq + 1) {
          const problem = await this.brokenLink(db, await recordAt(seq), previous);
          return fail(problem);
        }
        const matches = serverHashes ? row[4] === hash : sha256Hex(row[4] as string) === hash;
        if (!matches && !(await hashesHere(seq, hash))) {
          const inserted = await this.insertedAfter(db, previous);
          return fail(inserted ?? { kind: 'altered', seq, message: `record ${seq} was altered: its contents do not match its hash` });
        }
        if (nextHead < heads.length) {
          const rewritten = checkHead(seq, hash);
          if (rewritten) return fail(rewritten);
        }
        if (row[3] !== null) fold.add(row[3] as string, seq);
        previous = { seq, hash };
        checked++;
      }
      options.onProgress?.('records', checked, headSeq - start.seq);
      if (!full) break;
    }
    if (previous.seq !== headSeq || previous.hash !== head.hash) {
      if (previous.seq < headSeq) {
        return fail({ kind: 'removed', seq: previous.seq + 1, message: `record ${previous.seq + 1}${headSeq > previous.seq + 1 ? `..${headSeq}` : ''} removed: the trail ends at record ${previous.seq} but ${headSeq} were written` });
      }
      if (previous.seq > headSeq) {
        return fail({ kind: 'inserted', seq: headSeq + 1, message: `record ${headSeq + 1} was inserted: only ${headSeq} records were written` });
      }
      return fail({ kind: 'altered', seq: previous.seq, message: `record ${previous.seq} was altered: it is not the last record that was written` });
    }
    // A checkpoint beyond the end: the chain's tail (and its head) was cut back.
    if (nextHead < heads.length) {
      const lost = heads[heads.length - 1];
      return fail({ kind: 'removed', seq: previous.seq + 1, message: `record ${previous.seq + 1}..${lost.seq} removed: the trail ends at record ${previous.seq} but the ${lost.label} saw record ${lost.seq}` });
    }
    const laundered = await fold.launderedProblem(db);
    if (laundered) return fail(laundered);
    let rows = 0;
    const onRow = (read: number) => {
      rows = read;
      options.onProgress?.('rows', read, 0);
    };
    const rowProblem = incremental ? await fold.compareAnchored(db, onRow) : await fold.compare(db, onRow);
    if (rowProblem) return fail(rowProblem, rows);
    const derived = await phonesInProblem(db);
    if (derived) return fail(derived, rows);
    return { ok: true, records: checked, headSeq, headHash: head.hash, problem: null, rows, checkpoints: matched, from: start.seq };
  }
}
