#!/usr/bin/env node
// npm run bench: every benchmark in one run, figures printed side by side. Nothing is timed against
// a goal here: goals are read off the table (see README "Performance"). The exit code says whether
// every benchmark ran and printed its figures (CI runs `npm run bench -- --quick`).
import { register } from 'tsx/esm/api';

register();
const { runAll } = await import('./all.ts');
let broken;
try {
  broken = await runAll(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(2);
}
// Exit explicitly: a benchmark that broke half-way may have left a socket or timer open.
process.exit(broken > 0 ? 1 : 0);
