// Keyed checkpoints of the audit chain's head. The chain alone proves only that its records fit
// together: someone who can write the database can rewrite all of it, or cut its tail and the
// head, and still have a chain that fits. A checkpoint is the head (sequence number and hash) at
// a moment, with an HMAC-SHA256 under a key that is not in the database:
//   HANDOVER_AUDIT_KEY   (64 hex digits) when set, else the key file audit.key in the data
//                        directory, made on first use with mode 0600
// Each is kept in audit_checkpoints and appended as one JSON line to the export file
// (HANDOVER_CHECKPOINT_FILE, default audit-checkpoints.jsonl in the data directory) that the
// office copies somewhere else. `audit verify` checks the chain still has every checkpoint's
// head: a rewrite or a cut tail since an earlier checkpoint is reported, and a checkpoint without
// the right MAC is reported as forged.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { SqlDatabase } from '../db/sql';
import type { Settings } from '../settings';
import type { TrustedHead } from './trail';

export interface Checkpoint {
  seq: number;
  hash: string;
  at: string;
  mac: string;
}

export const KEY_FILE = 'audit.key';
export const CHECKPOINT_FILE = 'audit-checkpoints.jsonl';

type KeySettings = Pick<Settings, 'dataDir'> & { auditKey?: string | null };
type CheckpointSettings = KeySettings & { checkpointFile?: string | null };

/** The checkpoint key: the setting, or the data directory's key file (made 0600 on first use). */
export function checkpointKey(settings: KeySettings): Buffer {
  if (settings.auditKey) return Buffer.from(settings.auditKey, 'hex');
  const file = path.join(settings.dataDir, KEY_FILE);
  fs.mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    fs.writeSync(fd, `${crypto.randomBytes(32).toString('hex')}\n`);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  fs.chmodSync(file, 0o600);
  const text = fs.readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/i.test(text)) throw new Error(`${file} is not a checkpoint key (64 hex digits)`);
  return Buffer.from(text, 'hex');
}

export function checkpointFile(settings: CheckpointSettings): string {
  return settings.checkpointFile || path.join(settings.dataDir, CHECKPOINT_FILE);
}

export function checkpointMac(key: Buffer, checkpoint: Omit<Checkpoint, 'mac'>): string {
  return crypto.createHmac('sha256', key).update(`handover audit checkpoint 1\n${checkpoint.seq}\n${checkpoint.hash}\n${checkpoint.at}`).digest('hex');
}

function macMatches(key: Buffer, checkpoint: Checkpoint): boolean {
  const expected = Buffer.from(checkpointMac(key, checkpoint), 'hex');
  const given = Buffer.from(String(checkpoint.mac), 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

/**
 * Takes a checkpoint of the head now (unless the last one already has this head): stored in the
 * database and appended to the export file. Returns it, or null when the trail is empty.
 */
export async function takeCheckpoint(db: SqlDatabase, settings: CheckpointSettings, at = new Date()): Promise<Checkpoint | null> {
  const key = checkpointKey(settings);
  const head = await db.get<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
  if (!head || Number(head.seq) === 0) return null;
  const last = await db.get<Checkpoint>('SELECT seq, at, hash, mac FROM audit_checkpoints ORDER BY seq DESC LIMIT 1');
  if (last && Number(last.seq) === Number(head.seq)) return { ...last, seq: Number(last.seq) };
  const checkpoint: Checkpoint = { seq: Number(head.seq), hash: head.hash, at: at.toISOString(), mac: '' };
  checkpoint.mac = checkpointMac(key, checkpoint);
  await db.run('INSERT INTO audit_checkpoints (seq, at, hash, mac) VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING', [checkpoint.seq, checkpoint.at, checkpoint.hash, checkpoint.mac]);
  const file = checkpointFile(settings);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(checkpoint)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return checkpoint;
}

/** Checkpoints from an export file (lines that are not checkpoints are reported as forged). */
export function readCheckpointFile(file: string): Array<Checkpoint | { line: number; bad: string }> {
  const out: Array<Checkpoint | { line: number; bad: string }> = [];
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (!text.trim()) return;
      try {
        const parsed = JSON.parse(text) as Checkpoint;
        if (!Number.isInteger(parsed.seq) || typeof parsed.hash !== 'string' || typeof parsed.at !== 'string' || typeof parsed.mac !== 'string') throw new Error('not a checkpoint');
        out.push(parsed);
      } catch {
        out.push({ line: i + 1, bad: text.slice(0, 40) });
      }
    });
  return out;
}

export interface TrustedHeads {
  heads: TrustedHead[];
  /** Checkpoints that do not carry the key's MAC: forged, or made with another key. */
  forged: string[];
}

/** Every checkpoint in the database and in `files`, checked against the key. */
export async function trustedHeads(db: SqlDatabase, settings: KeySettings, files: string[]): Promise<TrustedHeads> {
  const key = checkpointKey(settings);
  const heads: TrustedHead[] = [];
  const forged: string[] = [];
  const consider = (checkpoint: Checkpoint, where: string) => {
    const seq = Number(checkpoint.seq);
    if (!macMatches(key, { ...checkpoint, seq })) forged.push(`the checkpoint of record ${seq} (${checkpoint.at}) ${where} does not carry the audit key's MAC: it was forged or made with another key`);
    else heads.push({ seq, hash: checkpoint.hash, label: `checkpoint of ${checkpoint.at} ${where}` });
  };
  for (const row of await db.all<Checkpoint>('SELECT seq, at, hash, mac FROM audit_checkpoints ORDER BY seq')) consider(row, 'in the database');
  for (const file of files) {
    for (const item of readCheckpointFile(file)) {
      if ('bad' in item) forged.push(`line ${item.line} of ${file} is not a checkpoint`);
      else consider(item, `in ${path.basename(file)}`);
    }
  }
  return { heads, forged };
}

/** Takes a checkpoint every `minutes` while the hub runs (and one at start and stop). */
export class CheckpointSchedule {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private db: SqlDatabase,
    private settings: CheckpointSettings,
    private minutes: number,
    private warn: (message: string) => void,
  ) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.minutes * 60_000);
    this.timer.unref();
  }

  /** Whether this hub takes the checkpoints (cluster/leadership.ts: one of several hubs does). */
  leading: () => boolean = () => true;

  tick(): Promise<unknown> {
    if (!this.leading()) return this.running;
    this.running = this.running.then(() => takeCheckpoint(this.db, this.settings)).catch((error) => this.warn(`audit checkpoint failed: ${(error as Error).message}`));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.tick();
  }
}

/**
 * The head at which a full `audit verify` last passed, kept in hub_secrets with an HMAC under the
 * checkpoint key, so an incremental verify can start there. Without the key it cannot be forged
 * or moved: a mark that does not carry the MAC is ignored (and the verify is a full one).
 */
const VERIFIED = 'audit-verified-through';

function verifiedMac(key: Buffer, mark: Omit<Checkpoint, 'mac'>): string {
  return crypto.createHmac('sha256', key).update(`handover audit verified 1\n${mark.seq}\n${mark.hash}\n${mark.at}`).digest('hex');
}

export async function markVerified(db: SqlDatabase, settings: KeySettings, head: { seq: number; hash: string }, at = new Date()): Promise<void> {
  if (head.seq === 0) return;
  const mark: Checkpoint = { seq: head.seq, hash: head.hash, at: at.toISOString(), mac: '' };
  mark.mac = verifiedMac(checkpointKey(settings), mark);
  await db.run('INSERT INTO hub_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [VERIFIED, JSON.stringify(mark)]);
}

/** Where the last full verify passed, or why an incremental verify cannot start from it. */
export async function lastVerified(db: SqlDatabase, settings: KeySettings): Promise<TrustedHead | { none: string }> {
  const row = await db.get<{ value: string }>('SELECT value FROM hub_secrets WHERE name = ?', [VERIFIED]);
  if (!row) return { none: 'no full verify has passed yet' };
  let mark: Checkpoint;
  try {
    mark = JSON.parse(row.value) as Checkpoint;
  } catch {
    return { none: 'the mark of the last full verify is not readable' };
  }
  const expected = Buffer.from(verifiedMac(checkpointKey(settings), mark), 'hex');
  const given = Buffer.from(String(mark.mac), 'hex');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return { none: 'the mark of the last full verify does not carry the audit key\'s MAC (forged, or made with another key)' };
  return { seq: Number(mark.seq), hash: mark.hash, label: `full verify of ${mark.at}` };
}
