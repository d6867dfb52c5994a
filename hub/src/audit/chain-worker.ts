// The chain walked in a worker thread (SQLite: one connection per thread, and better-sqlite3 is
// synchronous), beside the main thread's comparison of the anchored tables. The worker opens its
// own connection to the file and its own read snapshot; it walks only if that snapshot has the
// head the main thread's has (no commit came between the two), else says so and the main thread
// walks the chain itself.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteDatabase } from '../db/sql';
import { walkChain, type ChainWalk } from './chain';

export interface ChainWorkerData {
  file: string;
  walk: Omit<ChainWalk, 'onProgress' | 'onAnchor'>;
}

export type ChainWorkerMessage = { progress: number; total: number } | { result: Awaited<ReturnType<typeof walkChain>> | null } | { error: string };

const { file, walk } = workerData as ChainWorkerData;
const post = (message: ChainWorkerMessage) => parentPort!.postMessage(message);
const db = new SqliteDatabase(file);
try {
  const result = await db.snapshot(async (tx) => {
    const head = await tx.get<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
    if (!head || Number(head.seq) !== walk.head.seq || head.hash !== walk.head.hash) return null;
    return walkChain(tx, { ...walk, onProgress: (progress, total) => post({ progress, total }) });
  });
  post({ result });
} catch (error) {
  post({ error: error instanceof Error ? error.message : String(error) });
} finally {
  await db.close();
}
