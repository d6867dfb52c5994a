// The audit trail (P14, P17): every state change and every administrative action, and every read
// of a person's records, is one append-only record chained to the one before it:
//   hash = SHA-256(previous hash + this record's fields)
// `audit_head` holds the last sequence number and hash; appending takes its row lock, so records
// are numbered and chained in one order even with several writers (PostgreSQL).
// Details are JSON with ids only — never names or card numbers — so pseudonymising a person
// (purge) leaves every record, and so the chain, untouched.
import { insertRows, type BulkColumn } from '../db/bulk';
import type { SqlDatabase } from '../db/sql';
import { ANCHOR_ACTION, AnchorFold, type RowProblem } from './anchors';
import { GENESIS_HASH, recordHash, walkChain, type AuditRecord, type ChainProblem, type ChainResult, type ChainWalk, type TrustedHead } from './chain';
import { walkChainInWorker } from './chain-thread';
import { auditRecordsOfPerson } from './person-records';
import { phonesInProblem } from './holdings-check';

export { GENESIS_HASH, recordHash, type AuditRecord, type TrustedHead };

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

export type VerifyProblem = ChainProblem | RowProblem;

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
    return auditRecordsOfPerson(this.db, personId);
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

  private async verifyIn(db: SqlDatabase, options: VerifyOptions): Promise<VerifyResult> {
    const head = await db.get<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
    if (!head) throw new Error('audit trail has no head record');
    const headSeq = Number(head.seq);
    const start = options.from ?? { seq: 0, hash: GENESIS_HASH, label: '' };
    const incremental = start.seq > 0;
    const fold = new AnchorFold(!incremental);
    let chain: ChainResult = { problem: null, checked: 0, matched: 0 };
    const fail = (problem: VerifyProblem, rows = 0): VerifyResult => ({ ok: false, records: chain.checked, headSeq, headHash: head.hash, problem, rows, checkpoints: chain.matched, from: start.seq });
    if (incremental) {
      const at = await db.get<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = ?', [start.seq]);
      if (!at || at.hash !== start.hash) {
        return fail({ kind: 'rewritten', seq: start.seq, message: `the chain was rewritten: record ${start.seq} is ${at ? 'not the one' : 'gone, not the one'} the ${start.label} saw` });
      }
    }
    const walk: ChainWalk = { head: { seq: headSeq, hash: head.hash }, start: { seq: start.seq, hash: start.hash }, heads: options.heads ?? [], onProgress: (done, total) => options.onProgress?.('records', done, total) };
    let rows = 0;
    const onRow = (read: number) => {
      rows = read;
      options.onProgress?.('rows', read, 0);
    };
    const walkBeside = !incremental && chainBeside(db, headSeq);
    if (!walkBeside) {
      // In line: the chain walked first, each anchor record folded as it passes.
      chain = await walkChain(db, { ...walk, onAnchor: (details, seq) => fold.add(details, seq) });
      if (chain.problem) return fail(chain.problem);
      const laundered = await fold.launderedProblem(db);
      if (laundered) return fail(laundered);
      const rowProblem = incremental ? await fold.compareAnchored(db, onRow) : await fold.compare(db, onRow);
      if (rowProblem) return fail(rowProblem, rows);
    } else {
      // Beside: the chain walked in another thread or connection while this one folds the anchor
      // records (read straight from the trail) and compares the tables. A broken chain is still
      // what is reported first; the fold's findings stand only once the chain is whole.
      const walking = walkBeside(walk);
      walking.catch(() => {});
      let laundered: RowProblem | null = null;
      let rowProblem: RowProblem | null = null;
      // An anchor record altered into something unreadable fails the fold, but the chain names it.
      let unreadable: unknown = null;
      try {
        await foldAnchors(db, fold);
        laundered = await fold.launderedProblem(db);
        if (!laundered) rowProblem = await fold.compare(db, onRow);
      } catch (error) {
        unreadable = error;
      }
      chain = (await walking) ?? (await walkChain(db, walk));
      if (chain.problem) return fail(chain.problem);
      if (unreadable) throw unreadable;
      if (laundered) return fail(laundered);
      if (rowProblem) return fail(rowProblem, rows);
    }
    const derived = await phonesInProblem(db);
    if (derived) return fail(derived, rows);
    return { ok: true, records: chain.checked, headSeq, headHash: head.hash, problem: null, rows, checkpoints: chain.matched, from: start.seq };
  }
}

/** Every anchor record's details, in chain order, into the fold (without walking the chain). */
async function foldAnchors(db: SqlDatabase, fold: AnchorFold): Promise<void> {
  const page = (after: number) => {
    const pending = db.allArrays('SELECT seq, details FROM audit_log WHERE action = ? AND seq > ? ORDER BY seq LIMIT 200', [ANCHOR_ACTION, after]);
    pending.catch(() => {});
    return pending;
  };
  let next = page(0);
  for (;;) {
    const records = await next;
    if (records.length === 200) next = page(Number(records[records.length - 1][0]));
    for (const [seq, details] of records) fold.add(details as string, Number(seq));
    if (records.length < 200) return;
    if (db.kind === 'sqlite') await new Promise(setImmediate);
  }
}

/**
 * Below this many records a full verify walks the chain in line: a worker thread's start (its own
 * loader and connection, about half a second) would cost more than it saves.
 * HANDOVER_VERIFY_BESIDE=1 walks it beside at any size (the tests), 0 never.
 */
const BESIDE_FROM_RECORDS = 100_000;

/** How the chain can be walked beside this snapshot, or false (then in line). */
function chainBeside(db: SqlDatabase, records: number): false | ((walk: ChainWalk) => Promise<ChainResult | null>) {
  const forced = process.env.HANDOVER_VERIFY_BESIDE;
  if (forced === '0' || (forced !== '1' && records < BESIDE_FROM_RECORDS)) return false;
  if (db.beside) {
    const beside = db.beside.bind(db);
    return (walk) => beside((other) => walkChain(other, walk));
  }
  const file = db.sqliteFile;
  if (file) return (walk) => walkChainInWorker(file, walk);
  return false;
}
