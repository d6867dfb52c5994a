// A large people import through the office page, as a school uploads it: a MIS export of about
// 20 MB (BENCH_IMPORT_MB; 2 MB with --quick) with the many columns such exports carry, uploaded over
// HTTP to a real hub in this process. Figures: the hub's resident memory before and at its peak
// (the goal: under +100 MB for a 20 MB file), the longest the event loop stalled, and the slowest
// answer to another page request sent every 100 ms while the import ran (the hub keeps answering);
// then four such files uploaded at once (they queue: one import at a time per school).
// `npm run bench -- import` (BENCH_IMPORT_MB, BENCH_IMPORT_CONCURRENT=0 for the single file only).
// The raw JS heap peak counts garbage not yet collected: run under `node --expose-gc` (with
// BENCH_IMPORT_GC=1) to also sample the heap after a full collection each second, the memory the
// import really holds; BENCH_IMPORT_SNAPSHOT=<seconds> writes a heap snapshot that long into it.
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import { Session } from 'node:inspector/promises';
import { startHub, type HubHarness } from '../test/support/hub-harness';
import { WebClient } from '../test/web/client';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';

const HEADER = 'UPN,Legal Forename,Legal Surname,Preferred Forename,Reg Group,Year Group,Gender,Date of Birth,Admission Date,Address 1,Address 2,Town,Postcode,Contact 1 Name,Contact 1 Phone,Contact 1 Email,SEN Status,FSM,EAL,Medical Notes,Card Chip ID,Email';

/**
 * Writes the export to a file (uploaded from disk, so the client's copy is not in the hub's figures),
 * a line at a time: a 20 MB string built here would be in the process's heap when the hub's is measured.
 */
function exportFile(dir: string, megabytes: number, prefix: string): string {
  const file = path.join(dir, `export-${prefix}.csv`);
  const fd = fs.openSync(file, 'w');
  try {
    let pending = HEADER;
    let size = HEADER.length;
    // Decimal megabytes: 20 MB stays under the hub's 20 MiB upload limit.
    for (let i = 0; size < megabytes * 1_000_000; i++) {
      const line = exportLine(i, prefix);
      pending += `\r\n${line}`;
      size += line.length + 2;
      if (pending.length > 64 * 1024) {
        fs.writeSync(fd, pending);
        pending = '';
      }
    }
    fs.writeSync(fd, pending);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

function exportLine(i: number, prefix: string): string {
  const year = 7 + (i % 5);
  return `${prefix}${String(i).padStart(6, '0')},First${i},"Surname, ${i}",Pref${i},${year}${'ABCDEF'[i % 6]},Year ${year},${i % 2 ? 'F' : 'M'},2014-0${1 + (i % 9)}-1${i % 10},2025-09-0${1 + (i % 9)},${i} Long Street Name,Some District,Townsville,AB${i % 90} ${i % 9}CD,Parent Of ${i},07700 9${String(i).padStart(5, '0')},parent${i}@example.test,${i % 7 ? 'N' : 'K'},${i % 4 ? 'N' : 'Y'},${i % 9 ? 'N' : 'Y'},"${i % 11 ? '' : 'Asthma; inhaler kept in bag, ""blue"" one'}",${(0x04000000 + i).toString(16).padStart(8, '0')},pupil${i}@school.example`;
}

async function measure(harness: HubHarness, office: WebClient, files: string[]): Promise<Row> {
  const cookie = () => [...office.cookies].map(([key, value]) => `${key}=${value}`).join('; ');
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  let peakRss = rssBefore;
  let peakHeap = heapBefore;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  }, 25);
  // Opt-in: the heap after a full collection (what is retained), sampled each second.
  const gc = process.env.BENCH_IMPORT_GC === '1' ? (globalThis as { gc?: () => void }).gc : undefined;
  if (process.env.BENCH_IMPORT_GC === '1' && !gc) throw new Error('BENCH_IMPORT_GC=1 needs node --expose-gc');
  gc?.();
  const retainedBefore = process.memoryUsage().heapUsed;
  let retainedPeak = retainedBefore;
  const collector = gc
    ? setInterval(() => {
        gc();
        retainedPeak = Math.max(retainedPeak, process.memoryUsage().heapUsed);
      }, 1000)
    : undefined;
  // Opt-in: where the memory that outlives young-generation collections is allocated (a sampling
  // heap profile, objects a full collection freed included), written to BENCH_IMPORT_PROFILE.
  const profiler = process.env.BENCH_IMPORT_PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true } as never);
  }
  const snapshotAfter = Number(process.env.BENCH_IMPORT_SNAPSHOT ?? 0);
  const snapshot = snapshotAfter > 0 ? setTimeout(() => console.log(`heap snapshot: ${v8.writeHeapSnapshot()}`), snapshotAfter * 1000) : undefined;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let slowest = 0;
  let answered = 0;
  let failed = 0;
  let running = true;
  const prober = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const response = await office.get('/api/session', 'json');
        await response.arrayBuffer();
        if (response.ok) answered++;
        else failed++;
      } catch {
        failed++;
      }
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const started = performance.now();
  const jobs = await Promise.all(
    files.map(async (file) => {
      const body = new FormData();
      body.set('kind', 'people');
      body.set('file', await fs.openAsBlob(file, { type: 'text/csv' }), path.basename(file));
      const response = await fetch(`${harness.hub.httpUrl}/imports`, { method: 'POST', body, headers: { cookie: cookie(), accept: 'application/json', 'x-csrf-token': office.csrfToken } });
      if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { job: { id: string } }).job.id;
    }),
  );
  for (const id of jobs) {
    for (;;) {
      const { job } = (await (await office.get(`/api/imports/${id}`, 'json')).json()) as { job: { state: string; error: string | null; refused: number | null } };
      if (job.state === 'failed') throw new Error(`import failed: ${job.error}`);
      if (job.state === 'done' && job.refused) throw new Error(`the import refused ${job.refused} rows: the bench's file is wrong`);
      if (job.state === 'done') break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const seconds = (performance.now() - started) / 1000;
  running = false;
  await prober;
  clearInterval(sampler);
  clearInterval(collector);
  clearTimeout(snapshot);
  if (profiler) {
    const { profile } = (await profiler.post('HeapProfiler.stopSampling')) as { profile: unknown };
    fs.writeFileSync(process.env.BENCH_IMPORT_PROFILE!, JSON.stringify(profile));
    profiler.disconnect();
  }
  loop.disable();
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
  return {
    files: files.length,
    'MB each': (fs.statSync(files[0]).size / 1_000_000).toFixed(1),
    seconds: seconds.toFixed(1),
    'RSS before MB': mb(rssBefore),
    'RSS peak MB': mb(peakRss),
    'RSS growth MB': mb(peakRss - rssBefore),
    'JS heap growth MB': mb(peakHeap - heapBefore),
    ...(gc ? { 'JS heap retained growth MB (after GC)': mb(retainedPeak - retainedBefore) } : {}),
    'longest loop stall ms': (loop.max / 1e6).toFixed(0),
    'slowest other request ms': slowest.toFixed(0),
    'other requests answered': answered,
    'other requests failed': failed,
  };
}

export async function benchImport(options: BenchOptions): Promise<void> {
  const megabytes = Number(process.env.BENCH_IMPORT_MB ?? (options.quick ? 2 : 20));
  const harness = await startHub({ demo: false });
  try {
    const office = await WebClient.as(harness.hub, 'office');
    await office.page('/imports');
    const rows: Row[] = [];
    rows.push(await measure(harness, office, [exportFile(harness.dataDir, megabytes, 'A')]));
    // Four at once, each of other pupils (the mass-leaver guard keeps each from making the others
    // leavers); BENCH_IMPORT_CONCURRENT=0 leaves this out (four 20 MB files take a while).
    if (process.env.BENCH_IMPORT_CONCURRENT !== '0') rows.push(await measure(harness, office, ['B', 'C', 'D', 'E'].map((prefix) => exportFile(harness.dataDir, megabytes, prefix))));
    printTable('People import through the office page (upload, stream, apply)', rows);
  } finally {
    await harness.stop();
  }
}
