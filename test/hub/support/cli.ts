// Runs the `handover` command as a child process against a test's own database, the way an
// administrator does, and gives back its exit code and output.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestDatabaseTarget } from '../../support/test-database';

const BIN = path.resolve(__dirname, '../../../bin/handover.mjs');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function commandLine(target: () => TestDatabaseTarget) {
  return {
    handover(...argv: string[]): Promise<Run> {
      const { dataDir, databaseUrl } = target();
      const env = { ...process.env, HANDOVER_DATA_DIR: dataDir, DATABASE_URL: databaseUrl ?? '', HANDOVER_SITE: 'demo' };
      return new Promise((resolve) => {
        execFile(process.execPath, [BIN, ...argv], { env, cwd: dataDir, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
          resolve({ code: error ? Number((error as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      });
    },
    /** Writes a file into the data folder and returns its path. */
    file(name: string, text: string): string {
      const full = path.join(target().dataDir, name);
      fs.writeFileSync(full, text);
      return full;
    },
  };
}
