// Imports from the office page, over HTTP as the upload form sends them: "Check only" says exactly
// what the real run then does (a file whose leaving dates make 10 leavers says so in both), one
// import at a time with the others waiting in line and their place shown, the hub answering other
// requests while a large file imports, and the asset CSV's lockers counted from 1 like the doors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';
import { WebClient } from './client';

interface JobState {
  id: string;
  state: string;
  placeInLine: number | null;
  description: string;
  refused: number | null;
}

describe(`imports from the page (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 240_000 }, () => {
  let harness: HubHarness;
  let office: WebClient;

  beforeAll(async () => {
    harness = await startHub({ demo: false });
    await harness.hub.records.stations.add(harness.hub.settings.site, 'loans-1', 8);
    office = await WebClient.as(harness.hub, 'office');
    await office.page('/imports');
  }, 120_000);
  afterAll(async () => {
    await harness?.stop();
  });

  async function upload(csv: string, fields: Record<string, string>, name = 'file.csv'): Promise<Response> {
    const body = new FormData();
    for (const [key, value] of Object.entries(fields)) body.set(key, value);
    body.set('file', new Blob([csv], { type: 'text/csv' }), name);
    const cookie = [...office.cookies].map(([key, value]) => `${key}=${value}`).join('; ');
    return fetch(`${harness.hub.httpUrl}/imports`, { method: 'POST', body, headers: { cookie, accept: 'application/json', 'x-csrf-token': office.csrfToken } });
  }
  async function started(csv: string, fields: Record<string, string>, name?: string): Promise<JobState> {
    const response = await upload(csv, fields, name);
    expect(response.status).toBe(202);
    return ((await response.json()) as { job: JobState }).job;
  }
  const stateOf = async (id: string) => ((await (await office.get(`/api/imports/${id}`, 'json')).json()) as { job: JobState }).job;
  const finished = (id: string) =>
    eventually(async () => {
      const job = await stateOf(id);
      return job.state !== 'running' && job.state !== 'queued' && job;
    }, 180_000, `import ${id} to finish`) as Promise<JobState>;
  const summaryOf = async (id: string) => /<strong>([^<]*row[^<]*refused\.)<\/strong>/.exec((await office.page(`/imports/${id}`)).html)?.[1];

  const HEADER = 'UPN,Forename,Surname,Reg Group,Year Group,Leaving Date';
  const pupils = (count: number, leaving: (i: number) => string = () => '') => Array.from({ length: count }, (_, i) => `L${String(i).padStart(5, '0')},Pupil,Number${i},8C,Year 8,${leaving(i)}`);

  it('says in a check-only run the leavers the real run then marks (leaving dates that have come)', async () => {
    const first = await started([HEADER, ...pupils(30)].join('\r\n'), { kind: 'people' }, 'year8.csv');
    expect((await finished(first.id)).state).toBe('done');
    // The MIS now gives ten of them a leaving date last summer.
    const csv = [HEADER, ...pupils(30, (i) => (i < 10 ? '20/07/2026' : ''))].join('\r\n');
    const check = await started(csv, { kind: 'people', dryRun: 'yes' }, 'year8-again.csv');
    expect((await finished(check.id)).state).toBe('done');
    const checked = await summaryOf(check.id);
    expect(checked).toBe('30 rows, 0 added, 0 updated, 20 unchanged, 0 rejoined, 10 marked as leavers, 0 cards enrolled; 0 rows refused.');
    expect(await harness.hub.db.all("SELECT id FROM people WHERE external_id LIKE 'L%' AND left_on IS NOT NULL")).toHaveLength(0);

    const real = await started(csv, { kind: 'people' }, 'year8-again.csv');
    expect((await finished(real.id)).state).toBe('done');
    expect(await summaryOf(real.id)).toBe(checked);
    expect(await harness.hub.db.all("SELECT id FROM people WHERE external_id LIKE 'L%' AND left_on IS NOT NULL")).toHaveLength(10);
  });

  it('runs one import at a time, shows the others their place in line, and answers meanwhile', async () => {
    const big = [HEADER.replace(',Leaving Date', ''), ...Array.from({ length: 4000 }, (_, i) => `Q${String(i).padStart(6, '0')},Big,Import${i},9Q,Year 9`)].join('\n');
    const first = await started(big, { kind: 'people', defaultKind: 'pupil' }, 'big.csv');
    const second = await started('Asset Tag,Class,Encryption,Station,Locker\nSTK-100,USB stick,AES-256,loans-1,1\n', { kind: 'assets' }, 'one-stick.csv');
    const third = await started('Staff ID,Name,Role\nT-900,Tess Teacher,Teacher\n', { kind: 'people' }, 'one-teacher.csv');
    expect(first.placeInLine).toBe(0);
    expect(second).toMatchObject({ state: 'queued', placeInLine: 1 });
    expect(third).toMatchObject({ state: 'queued', placeInLine: 2 });
    const waiting = await office.page(`/imports/${third.id}`);
    expect(waiting.html).toContain('waiting: 2nd in line (2 imports ahead of it; one import runs at a time)');
    // The hub answers other requests while the big file imports.
    const lockers = await office.get('/lockers');
    expect(lockers.status).toBe(200);
    expect((await stateOf(first.id)).state).toBe('running');

    const done = [await finished(first.id), await finished(second.id), await finished(third.id)];
    expect(done.map((job) => job.state)).toEqual(['done', 'done', 'done']);
    expect(await summaryOf(first.id)).toMatch(/^4000 rows, 4000 added/);
    expect(await harness.hub.db.get("SELECT name FROM people WHERE external_id = 'T-900'")).toEqual({ name: 'Tess Teacher' });
    // Each ran after the one before it had finished.
    const rows = await harness.hub.db.all<{ id: string; started_at: string; finished_at: string }>('SELECT id, started_at, finished_at FROM web_imports WHERE id IN (?, ?, ?)', [first.id, second.id, third.id]);
    const at = (id: string) => rows.find((row) => row.id === id)!;
    expect(at(first.id).finished_at <= at(second.id).finished_at && at(second.id).finished_at <= at(third.id).finished_at).toBe(true);
  });

  it('counts asset CSV lockers from 1, like the doors: locker 8 is the last door, 0 is refused with a reason', async () => {
    const csv = ['Asset Tag,Class,Encryption,Station,Locker', 'STK-108,USB stick,AES-256,loans-1,8', 'STK-109,USB stick,AES-256,loans-1,0', 'STK-110,USB stick,AES-256,loans-1,9'].join('\n');
    const job = await started(csv, { kind: 'assets' }, 'sticks.csv');
    expect((await finished(job.id)).state).toBe('done');
    expect(await harness.hub.db.get("SELECT home_locker FROM assets WHERE tag = 'STK-108'")).toEqual({ home_locker: 7 });
    const report = await office.page(`/imports/${job.id}`);
    expect(report.html).toContain('3 rows, 1 added, 0 updated; 2 rows refused.');
    expect(report.html).toContain('<td>3</td><td>locker 0: lockers count from 1, like the doors (the first locker is 1); a file numbered from 0 must have 1 added to every locker</td>');
    expect(report.html).toContain('<td>4</td><td>locker 9 does not exist at loans-1 (1 to 8)</td>');
  });
});
