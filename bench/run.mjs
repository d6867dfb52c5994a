#!/usr/bin/env node
// npm run bench: every benchmark in one run, figures printed side by side. Nothing is asserted:
// goals are read off the table (see README "Performance").
import { register } from 'tsx/esm/api';

register();
const { runAll } = await import('./all.ts');
await runAll(process.argv.slice(2));
