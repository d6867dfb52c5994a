#!/usr/bin/env node
// Runs the hub's TypeScript directly through tsx's loader: no separate compile step to go stale.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../hub/src/cli.ts');
await main(process.argv.slice(2));
