// Import jobs started from the office page: the uploaded CSV goes to the records' importer
// (hub/src/import/) in the background; the page polls the job for its progress and, when it is
// done, shows the row-level report (each refused row's line and reason; counts of the rest).
import crypto from 'node:crypto';

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
}

export interface ImportJob {
  id: string;
  kind: ImportKind;
  fileName: string;
  dryRun: boolean;
  /** The account that started it (only it and other importers see it). */
  account: string;
  startedAt: string;
  finishedAt: string | null;
  state: 'running' | 'done' | 'failed';
  progress: ImportProgress;
  outcome: ImportOutcome | null;
  error: string | null;
}

const KEEP_JOBS = 20;

export class Imports {
  private jobs = new Map<string, ImportJob>();

  /** Starts a job and returns it at once; `run` carries on in the background. */
  start(
    details: { kind: ImportKind; fileName: string; dryRun: boolean; account: string },
    run: (onProgress: (progress: ImportProgress) => void) => Promise<ImportOutcome>,
    describeFailure: (error: unknown) => string,
  ): ImportJob {
    const job: ImportJob = {
      id: crypto.randomBytes(9).toString('base64url'),
      ...details,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      state: 'running',
      progress: { done: 0, total: null },
      outcome: null,
      error: null,
    };
    this.jobs.set(job.id, job);
    while (this.jobs.size > KEEP_JOBS) this.jobs.delete(this.jobs.keys().next().value!);
    // Let the upload's answer go out first.
    setImmediate(() => {
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
        .finally(() => (job.finishedAt = new Date().toISOString()));
    });
    return job;
  }

  get(id: string): ImportJob | undefined {
    return this.jobs.get(id);
  }

  recent(): ImportJob[] {
    return [...this.jobs.values()].reverse();
  }
}
