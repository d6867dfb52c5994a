// One hub's ingest in a process of its own, for the trust scenario with several hubs
// (trust.bench.ts): reads its plan as JSON on stdin, subscribes through the hubs' shared
// subscription (as `handover serve` does with HANDOVER_HUB_NAME), prints {"ready":true} once
// subscribed, and on SIGTERM prints its CPU time and commits since it was ready, then exits.
import { openDatabase } from '../hub/src/db/open';
import { Ingest } from '../hub/src/ingest';
import { createLogger } from '../hub/src/log';
import { createRecords } from '../hub/src/records';
import { readStdinJson } from './stdin-json';

interface Plan {
  brokerUrl: string;
  dataDir: string;
  databaseUrl: string | null;
  clientId: string;
  maxBatch: number;
}

async function main(): Promise<void> {
  const plan = await readStdinJson<Plan>();
  const { db } = await openDatabase({ dataDir: plan.dataDir, databaseUrl: plan.databaseUrl });
  const records = createRecords(db);
  const ingest = new Ingest({ brokerUrl: plan.brokerUrl, clientId: plan.clientId, db, custody: records.custody, log: createLogger('ingest', () => {}), maxBatch: plan.maxBatch, shareGroup: 'handover-hubs-bench' });
  await ingest.start();
  const cpuBefore = process.cpuUsage();
  console.log(JSON.stringify({ ready: true }));
  process.once('SIGTERM', () => {
    const cpu = process.cpuUsage(cpuBefore);
    void (async () => {
      const commits = ingest.batches;
      await ingest.stop();
      await db.close();
      console.log(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, commits }));
      process.exit(0);
    })();
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
