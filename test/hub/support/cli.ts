// Runs the `handover` command against a test's own database, the way an administrator does, and
// gives back its exit code and output: by default as a child process (bin/handover.mjs, Node and
// tsx starting each time), or with { inProcess: true } by calling the same entry point (cli.ts's
// main) in this process with its output captured — the same code and the same real database,
// without a second or more of process start-up per command, for suites that run hundreds of
// commands (the rulebook's matrix and crawl). The real binary stays tested by the suites that spawn.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { format } from 'node:util';
import type { TestDatabaseTarget } from '../../support/test-database';

const BIN = path.resolve(__dirname, '../../../bin/handover.mjs');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The settings the command reads from its environment, as an administrator's shell on the hub would have them. */
function environment(target: TestDatabaseTarget): Record<string, string> {
  return { HANDOVER_DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', HANDOVER_SITE: 'demo' };
}

function spawned(target: TestDatabaseTarget, argv: string[]): Promise<Run> {
  const env = { ...process.env, ...environment(target) };
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { env, cwd: target.dataDir, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

// One in-process command at a time: each takes over this process's environment, working directory,
// console and exit code while it runs.
let queue: Promise<unknown> = Promise.resolve();

function inProcess(target: TestDatabaseTarget, argv: string[]): Promise<Run> {
  const run = queue.then(() => runInProcess(target, argv));
  queue = run.catch(() => undefined);
  return run;
}

async function runInProcess(target: TestDatabaseTarget, argv: string[]): Promise<Run> {
  const { main } = await import('../../../hub/src/cli');
  const stdout: string[] = [];
  const stderr: string[] = [];
  const text = (args: unknown[]) => `${format(...args)}\n`;
  const chunk = (data: unknown) => (typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString('utf8'));
  const saved = {
    env: Object.fromEntries(Object.keys(environment(target)).map((name) => [name, process.env[name]])),
    cwd: process.cwd(),
    exitCode: process.exitCode,
    log: console.log,
    info: console.info,
    warn: console.warn,
    error: console.error,
    stdoutWrite: process.stdout.write,
    stderrWrite: process.stderr.write,
  };
  Object.assign(process.env, environment(target));
  process.chdir(target.dataDir);
  process.exitCode = undefined;
  console.log = console.info = (...args: unknown[]) => void stdout.push(text(args));
  console.warn = console.error = (...args: unknown[]) => void stderr.push(text(args));
  process.stdout.write = ((data: unknown) => stdout.push(chunk(data)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((data: unknown) => stderr.push(chunk(data)) > 0) as typeof process.stderr.write;
  let code: number;
  try {
    await main(argv);
    code = Number(process.exitCode ?? 0);
  } catch (error) {
    // main answers every failure with a line and exit code 1; anything escaping it is a crash, as a child's would be.
    stderr.push(`${(error as Error).stack ?? error}\n`);
    code = 1;
  } finally {
    for (const [name, value] of Object.entries(saved.env)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    process.chdir(saved.cwd);
    process.exitCode = saved.exitCode;
    Object.assign(console, { log: saved.log, info: saved.info, warn: saved.warn, error: saved.error });
    process.stdout.write = saved.stdoutWrite;
    process.stderr.write = saved.stderrWrite;
  }
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

export function commandLine(target: () => TestDatabaseTarget, options: { inProcess?: boolean } = {}) {
  return {
    handover(...argv: string[]): Promise<Run> {
      return options.inProcess ? inProcess(target(), argv) : spawned(target(), argv);
    },
    /** Writes a file into the data folder and returns its path. */
    file(name: string, text: string): string {
      const full = path.join(target().dataDir, name);
      fs.writeFileSync(full, text);
      return full;
    },
  };
}
