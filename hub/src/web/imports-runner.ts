// Import jobs started from the office page: the uploaded CSV goes to the records' importer
// (hub/src/import/) in the background; the page polls the job for its progress and, when it is
// done, shows the row-level report (each refused row's line and reason; counts of the rest).
// Each job is kept in the hub's database (web_imports, created here like the accounts' tables),
// so its report is still there after the hub restarts; a job that was running (or waiting) when the
// hub stopped is shown as stopped. One import runs at a time per school: the others wait in line,
// in the order they were uploaded, and their place is shown.
import crypto from 'node:crypto';
import { forDialect } from '../db/migrations';
import type { SqlDatabase } from '../db/sql';

export type ImportKind = 'people' | 'assets';

export interface ImportProblemRow {
  line: number;
  reason: string;
}

export interface ImportOutcome {
  /** What happened to the rows, as [label, count] in reading order. */
  summary: Array<[string, number]>;
  problems: ImportProblemRow[];
  warnings: string[];
  unusedColumns: string[];
}

export interface ImportProgress {
  done: number;
  total: number | null;
  /** Reading the file (done and total in bytes) or applying it (in rows). */
  stage?: 'reading' | 'importing';
}

export interface ImportJob {
  id: string;
  kind: ImportKind;
  fileName: string;
  dryRun: boolean;
  /** The account that started it (only it and other importers see it). */
  account: string;
  /** The school the file is of (issue 16): its office sees the report, whoever ran it. Null for a job stored before schools were kept. */
  school: string | null;
  startedAt: string;
  finishedAt: string | null;
  state: 'queued' | 'running' | 'done' | 'failed';
  progress: ImportProgress;
  outcome: ImportOutcome | null;
  error: string | null;
}

/** Reports kept (the oldest beyond this are deleted as new imports start). */
export const KEEP_JOBS = 50;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS web_imports (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  file_name TEXT NOT NULL,
  dry_run INTEGER NOT NULL,
  account TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  state TEXT NOT NULL,
  progress TEXT NOT NULL,
  outcome TEXT,
  error TEXT,
  school TEXT
);
`;

interface ImportRow {
  id: string;
  kind: ImportKind;
  file_name: string;
  dry_run: number;
  account: string;
  started_at: string;
  finished_at: string | null;
  state: ImportJob['state'];
  progress: string;
  outcome: string | null;
  error: string | null;
  school?: string | null;
}

export const STOPPED_MESSAGE = 'the hub stopped before this import finished. Rows read before then may have been applied; upload the file again (an import only applies what has changed).';

function fromRow(row: ImportRow): ImportJob {
  return {
    id: row.id,
    kind: row.kind,
    fileName: row.file_name,
    dryRun: Number(row.dry_run) === 1,
    account: row.account,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    state: row.state,
    progress: JSON.parse(row.progress) as ImportProgress,
    outcome: row.outcome ? (JSON.parse(row.outcome) as ImportOutcome) : null,
    error: row.error,
    school: row.school ?? null,
  };
}

export class Imports {
  /** Jobs running in this process (their progress changes too often to write each step). */
  private running = new Map<string, ImportJob>();
  /** Per school: the job running and the ones waiting, in order (each with how to start it). */
  private lines = new Map<string, Array<{ job: ImportJob; launch: () => void }>>();
  /** Settles when the table is there and jobs a previous run left running are marked stopped. */
  private ready: Promise<void>;

  /**
   * `hubName`: one of several hubs (HANDOVER_HUB_NAME), which share the table. Its jobs' ids start
   * with its name, and at start it marks stopped only its own: another hub's may be running.
   */
  constructor(
    private db: SqlDatabase,
    private hubName: string | null = null,
  ) {
    this.ready = this.prepare();
    this.ready.catch(() => {});
  }

  private async prepare(): Promise<void> {
    await this.db.transaction(async (tx) => {
      if (tx.kind === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(7215033)');
      await tx.exec(forDialect(SCHEMA, tx.kind));
      // A table made before jobs kept their school gains the column (the table is this module's own, not a migration's).
      const hasSchool = await tx.get(
        tx.kind === 'postgres'
          ? "SELECT 1 AS found FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'web_imports' AND column_name = 'school'"
          : "SELECT 1 AS found FROM pragma_table_info('web_imports') WHERE name = 'school'",
      );
      if (!hasSchool) await tx.exec('ALTER TABLE web_imports ADD COLUMN school TEXT');
    });
    const mine = this.hubName ? ' AND id LIKE ?' : '';
    await this.db.run(`UPDATE web_imports SET state = 'failed', error = ?, finished_at = ? WHERE state IN ('running', 'queued')${mine}`, [STOPPED_MESSAGE, new Date().toISOString(), ...(this.hubName ? [`${this.hubName}.%`] : [])]);
  }

  /** Settles once the table is ready (the web server waits for it before it listens). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  private async save(job: ImportJob): Promise<void> {
    await this.db.run(
      `INSERT INTO web_imports (id, kind, file_name, dry_run, account, started_at, finished_at, state, progress, outcome, error, school) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at, state = excluded.state, progress = excluded.progress, outcome = excluded.outcome, error = excluded.error`,
      [job.id, job.kind, job.fileName, job.dryRun ? 1 : 0, job.account, job.startedAt, job.finishedAt, job.state, JSON.stringify(job.progress), job.outcome ? JSON.stringify(job.outcome) : null, job.error, job.school],
    );
  }

  /**
   * Starts a job, stored before this returns; `run` carries on in the background — at once, or
   * when the imports ahead of it for the same school have finished. `cleanUp` runs after it ends.
   */
  async start(
    details: { kind: ImportKind; fileName: string; dryRun: boolean; account: string; school?: string },
    run: (onProgress: (progress: ImportProgress) => void) => Promise<ImportOutcome>,
    describeFailure: (error: unknown) => string,
    onFinished: (job: ImportJob) => Promise<void> = async () => {},
    cleanUp: () => void = () => {},
  ): Promise<ImportJob> {
    await this.ready;
    const school = details.school ?? '';
    const line = this.lines.get(school) ?? [];
    this.lines.set(school, line);
    const job: ImportJob = {
      id: `${this.hubName ? `${this.hubName}.` : ''}${crypto.randomBytes(9).toString('base64url')}`,
      kind: details.kind,
      fileName: details.fileName,
      dryRun: details.dryRun,
      account: details.account,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      state: line.length > 0 ? 'queued' : 'running',
      progress: { done: 0, total: null },
      outcome: null,
      error: null,
      school: details.school ?? null,
    };
    await this.save(job);
    // The reports kept per school, so one school's imports do not push out another's.
    const old = await this.db.all<{ id: string }>(
      `SELECT id FROM web_imports WHERE ${job.school === null ? 'school IS NULL' : 'school = ?'} ORDER BY started_at DESC, id DESC LIMIT 1000 OFFSET ?`,
      job.school === null ? [KEEP_JOBS] : [job.school, KEEP_JOBS],
    );
    for (const row of old) await this.db.run('DELETE FROM web_imports WHERE id = ?', [row.id]);
    this.running.set(job.id, job);
    const launch = () => {
      job.state = 'running';
      run((progress) => (job.progress = progress))
        .then((outcome) => {
          job.outcome = outcome;
          job.state = 'done';
          if (job.progress.total !== null) job.progress.done = job.progress.total;
        })
        .catch((error) => {
          job.error = describeFailure(error);
          job.state = 'failed';
        })
        .then(async () => {
          job.finishedAt = new Date().toISOString();
          await this.save(job);
          await onFinished(job);
        })
        .catch(() => {})
        .finally(() => {
          this.running.delete(job.id);
          try {
            cleanUp();
          } catch {
            // a temporary file already gone
          }
          line.shift();
          // The next in line starts once this one has finished.
          if (line.length > 0) setImmediate(line[0].launch);
        });
    };
    line.push({ job, launch });
    // Let the upload's answer go out first.
    if (line.length === 1) setImmediate(launch);
    return job;
  }

  /** 0 for a job running, 1 for the next in line, and so on; null when it is not waiting or running. */
  placeInLine(id: string): number | null {
    for (const line of this.lines.values()) {
      const index = line.findIndex((entry) => entry.job.id === id);
      if (index >= 0) return index;
    }
    return null;
  }

  async get(id: string): Promise<ImportJob | undefined> {
    const live = this.running.get(id);
    if (live) return live;
    await this.ready;
    const row = await this.db.get<ImportRow>('SELECT * FROM web_imports WHERE id = ?', [id]);
    return row ? fromRow(row) : undefined;
  }

  /** The latest jobs, newest first: of one school (and those stored before jobs kept their school), or of every school. */
  async recent(limit = 20, school: string | null = null): Promise<ImportJob[]> {
    await this.ready;
    const rows = await this.db.all<ImportRow>(
      `SELECT * FROM web_imports ${school === null ? '' : 'WHERE school = ? OR school IS NULL'} ORDER BY started_at DESC, id DESC LIMIT ?`,
      school === null ? [limit] : [school, limit],
    );
    return rows.map((row) => this.running.get(row.id) ?? fromRow(row));
  }
}
