// Starting the chain's worker thread (audit/chain-worker.ts) and hearing back from it.
import { Worker } from 'node:worker_threads';
import type { ChainResult, ChainWalk } from './chain';
import type { ChainWorkerData, ChainWorkerMessage } from './chain-worker';

/**
 * The chain walked in a worker on its own connection to `file`: its result, or null when the
 * worker's snapshot did not have the same head (a commit came between) or the worker failed
 * to start: the caller then walks the chain itself.
 */
export function walkChainInWorker(file: string, walk: ChainWalk): Promise<ChainResult | null> {
  const data: ChainWorkerData = { file, walk: { head: walk.head, start: walk.start, heads: walk.heads } };
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: ChainResult | null) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    let worker: Worker;
    try {
      worker = new Worker(new URL('./chain-worker.mjs', import.meta.url), { workerData: data });
    } catch {
      settle(null);
      return;
    }
    worker.on('message', (message: ChainWorkerMessage) => {
      if ('progress' in message) walk.onProgress?.(message.progress, message.total);
      else if ('result' in message) settle(message.result);
      else settle(null);
    });
    worker.on('error', () => settle(null));
    worker.on('exit', () => settle(null));
  });
}
