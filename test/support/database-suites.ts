// Which test files CI's PostgreSQL pass runs: every file that can reach a database, told from its
// imports, so a new suite that opens one is picked up without anyone listing it. A file is in when
// anything it runs — itself and every module of this repository it imports, directly or through
// others, statically or with import() (esbuild's import graph, as tsx and the bundler see it) — is
// the settings that choose the database (hub/src/settings.ts reads DATABASE_URL; the hub, its command
// line and its tools load them) or the tests' database harness (test/support/test-database.ts), or
// names, outside a whole-line comment, DATABASE_URL or the `handover` binary (a child process that
// is given or inherits the setting). A file that reaches none of these cannot tell the two passes
// apart — the firmware, simulator, codec and fuzz suites, and the station rig's hub parts (broker,
// station link) that never open records — so it runs in the first pass only.
// test/database-suites.test.ts holds the rule to the suites that do open records.
// Run as a script it prints the chosen files, one a line (.ci/run passes them to vitest);
// with --why, every test file and the reason it is in or out.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const DATABASE_MODULES = ['hub/src/settings.ts', 'test/support/test-database.ts'];
const DATABASE_WORDS = /DATABASE_URL|handover\.mjs/;
/** Whole-line comments: a word in one is not a use (code with a comment after it is read whole). */
const COMMENT_LINE = /^\s*(\/\/|\/\*|\*).*$/gm;

/** Every test file vitest runs (vitest.config.ts: test/**\/*.test.ts), relative to the repository. */
export function testFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const relative = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(relative);
      else if (entry.name.endsWith('.test.ts')) found.push(relative);
    }
  };
  walk('test');
  return found.sort();
}

async function importGraph(files: string[]): Promise<Metafile['inputs']> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: files,
    bundle: true,
    write: false,
    metafile: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    outdir: path.join(ROOT, '.database-suites'),
    logLevel: 'silent',
  });
  return result.metafile.inputs;
}

/** For each test file, why it needs the database pass (the first module found that reaches one), or null. */
export async function databaseReasons(files = testFiles()): Promise<Map<string, string | null>> {
  const inputs = await importGraph(files);
  const reasons = new Map<string, string | null>();
  for (const file of files) {
    const seen = new Set<string>();
    const pending = [file];
    let reason: string | null = null;
    while (pending.length > 0 && reason === null) {
      const module = pending.pop()!;
      if (seen.has(module)) continue;
      seen.add(module);
      if (DATABASE_MODULES.includes(module)) {
        reason = `imports ${module}`;
        break;
      }
      const word = fs.readFileSync(path.join(ROOT, module), 'utf8').replace(COMMENT_LINE, '').match(DATABASE_WORDS);
      if (word) reason = `${module} names ${word[0]}`;
      for (const imported of inputs[module]?.imports ?? []) if (!imported.external) pending.push(imported.path);
    }
    reasons.set(file, reason);
  }
  return reasons;
}

/**
 * The suites that drive the office page in Chromium test what a browser shows and does (layout at
 * 390 px, keyboard, accessibility, the demo walked from the buttons); the records behind every page
 * and action are tested over HTTP, the API and the command line on both databases (pages, desk,
 * rules-matrix, safeguarding-crawl, ...). They run in the first pass only: together they are about
 * a fifth of the suite's time, and CI must stay under 30 minutes.
 */
export const BROWSER_ONLY = ['test/web/browser.test.ts', 'test/web/desk-browser.test.ts', 'test/web/tour-browser.test.ts', 'test/web/day-card-browser.test.ts'];

export async function databaseSuites(): Promise<string[]> {
  return [...(await databaseReasons())].filter(([file, reason]) => reason !== null && !BROWSER_ONLY.includes(file)).map(([file]) => file);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--why')) for (const [file, reason] of await databaseReasons()) console.log(`${file}: ${BROWSER_ONLY.includes(file) ? 'in Chromium: first pass only' : (reason ?? 'no database: first pass only')}`);
  else for (const file of await databaseSuites()) console.log(file);
}
