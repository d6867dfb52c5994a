// A worker thread's entry (audit/chain-worker.ts): the hub's TypeScript through tsx's loader, as
// bin/handover.mjs runs it; a worker does not inherit the loader its parent registered.
import { register } from 'tsx/esm/api';

register();
await import('./chain-worker.ts');
