// Imports: upload a CSV of pupils and staff (as the MIS or Wonde exports it) or of assets, see its
// progress, and read the row-level report — each refused row with its line and reason, while the
// good rows still import. The importing itself is the records' (hub/src/import/).
import type { MultipartFile } from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actorFor } from '../../accounts/roles';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ASSET_COLUMNS, importAssetsFrom } from '../../import/assets';
import { csvFileRecords } from '../../import/csv-reader';
import { importPeopleFrom, PEOPLE_COLUMNS } from '../../import/people';
import type { WebContext } from '../context';
import { TRUST } from '../../records/schools';
import { explain, PageError } from '../errors';
import { html, timeTag, type Html } from '../html';
import { KEEP_JOBS, type ImportJob, type ImportKind, type ImportOutcome } from '../imports-runner';

function columnsHelp(columns: Record<string, readonly string[]>): Html {
  return html`<ul class="columns">${Object.entries(columns).map(([, spellings]) => html`<li><strong>${spellings[0]}</strong>${spellings.length > 1 ? html` <span class="muted">(or ${spellings.slice(1, 5).join(', ')}${spellings.length > 5 ? ', …' : ''})</span>` : null}</li>`)}</ul>`;
}

const ORDINALS = ['', 'next', '2nd', '3rd'];

/** Where a job is, in words: its place in line, or how far it has got. */
export function progressWords(job: ImportJob, placeInLine: number | null): string {
  if (job.state === 'queued') {
    const ahead = Math.max(1, placeInLine ?? 1);
    return `waiting: ${ahead <= 3 ? ORDINALS[ahead] : `${ahead}th`} in line (${ahead === 1 ? '1 import' : `${ahead} imports`} ahead of it; one import runs at a time)`;
  }
  const { done, total, stage } = job.progress;
  if (stage === 'reading') {
    const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    return `reading the file: ${total ? `${mb(done)} of ${mb(total)} MB` : `${mb(done)} MB`}`;
  }
  return `${stage === 'importing' ? 'importing: ' : ''}${done}${total ? ` of ${total}` : ''} rows`;
}

function jobSummary(job: ImportJob, placeInLine: number | null): string {
  if (job.state === 'running' || job.state === 'queued') return progressWords(job, placeInLine);
  if (job.state === 'failed') return `failed: ${job.error}`;
  const refused = job.outcome?.problems.length ?? 0;
  return `${job.dryRun ? 'checked (nothing changed); ' : ''}${job.outcome!.summary.map(([label, count]) => countedLabel(count, label)).join(', ')}; ${refused} row${refused === 1 ? '' : 's'} refused`;
}

export function registerImports(app: FastifyInstance, context: WebContext): void {
  const { records } = context;

  app.get('/imports', { config: { permission: 'imports.run' } }, async (request, reply) => {
    const schools = await context.records.schools.list();
    const own = await context.records.schools.ofAccount(request.account!.id);
    const jobs = await jobsInScope(await context.imports.recent(20, own === TRUST || schools.length < 2 ? null : own), request);
    await context.audit(request, 'web.viewed', { details: { page: '/imports' } });
    return context.render(request, reply, {
      title: 'Imports',
      section: '/imports',
      body: html`
        <section aria-labelledby="upload-title"><h2 id="upload-title">Upload a CSV file</h2>
          <form method="post" action="/imports?_csrf=${reply.generateCsrf()}" enctype="multipart/form-data" data-upload>
            <div class="field-row">
              ${own === TRUST && schools.length > 1
                ? html`<p><label for="school">School</label>
                <select id="school" name="school" required><option value="">— choose —</option>${schools.map((school) => html`<option value="${school.id}">${school.name} (${school.id})</option>`)}</select></p>`
                : null}
              <p><label for="kind">What the file holds</label>
                <select id="kind" name="kind"><option value="people">Pupils and staff (MIS or Wonde export)</option><option value="assets">Assets (USB sticks, laptops)</option></select></p>
              <p><label for="defaultKind">Rows without a role are</label>
                <select id="defaultKind" name="defaultKind"><option value="">told from the row (form or staff code)</option><option value="pupil">pupils</option><option value="staff">staff</option></select></p>
            </div>
            <p><label for="file">CSV file</label><input id="file" name="file" type="file" accept=".csv,text/csv" required></p>
            <p><label class="inline"><input type="checkbox" name="dryRun" value="yes"> Check only: report what would happen, change nothing</label></p>
            <p><label class="inline"><input type="checkbox" name="allowMassLeavers" value="yes"> People missing from the file may be marked as leavers even if that is more than half of them</label></p>
            <p><button type="submit" class="primary">Upload and import</button></p>
            <progress value="0" max="1" aria-label="Upload"></progress>
            <p data-upload-status role="status" aria-live="polite"></p>
          </form>
          <details><summary>Columns the hub reads (any order; common spellings accepted)</summary>
            <h3>Pupils and staff</h3>${columnsHelp(PEOPLE_COLUMNS)}
            <p class="hint">Re-importing applies changes; people of the same kind missing from the file are marked as leavers, never deleted. Card chip ids are stored only as a keyed hash.</p>
            <h3>Assets</h3>${columnsHelp(ASSET_COLUMNS)}
          </details>
        </section>
        <section aria-labelledby="recent-title"><h2 id="recent-title">Recent imports</h2>
          ${jobs.length
            ? html`<ul>${jobs.map((job) => html`<li><a href="/imports/${job.id}">${job.fileName}</a> (${job.kind}, ${timeTag(job.startedAt)} by ${job.account}): ${jobSummary(job, context.imports.placeInLine(job.id))}</li>`)}</ul>`
            : html`<p class="empty">None yet.</p>`}
        </section>`,
    });
  });

  app.post('/imports', { config: { permission: 'imports.run' } }, async (request, reply) => {
    if (!request.isMultipart()) throw new PageError(415, 'Send the file with the upload form.');
    const fields: Record<string, string> = {};
    // The upload goes to a private temporary file as it arrives (never whole in memory); the
    // import reads it from there as a stream and deletes it when done.
    let file: { name: string; path: string; bytes: number; blank: boolean } | null = null;
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-import-'));
    const cleanUp = () => fs.rmSync(folder, { recursive: true, force: true });
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          const upload = part as MultipartFile;
          const target = path.join(folder, 'upload.csv');
          let bytes = 0;
          let blank = true;
          await pipeline(
            upload.file,
            new Transform({
              transform(chunk: Buffer, _encoding, done) {
                bytes += chunk.length;
                if (blank && /[^\s\ufeff]/.test(chunk.toString('utf8'))) blank = false;
                done(null, chunk);
              },
            }),
            fs.createWriteStream(target, { mode: 0o600 }),
          );
          if (upload.file.truncated) throw new PageError(413, 'The file is larger than the hub accepts (20 MB).');
          file = { name: upload.filename || 'upload.csv', path: target, bytes, blank };
        } else {
          fields[part.fieldname] = String(part.value ?? '');
        }
      }
      if (!file || file.blank) throw new PageError(422, 'Choose a CSV file to upload (the one chosen is empty).');
    } catch (error) {
      cleanUp();
      throw error;
    }
    const upload = file;
    const kind: ImportKind = fields.kind === 'assets' ? 'assets' : 'people';
    const dryRun = fields.dryRun === 'yes';
    if (dryRun && kind === 'assets') {
      cleanUp();
      throw new PageError(422, 'Check-only is for people imports; an asset import applies its good rows.');
    }
    const actor = actorFor(request.account!);
    // The school the file is of: the account's own, or the one a trust account chose (issue 16).
    const own = await context.records.schools.ofAccount(request.account!.id);
    let school: string;
    try {
      school = own === TRUST ? await context.records.schools.resolve(fields.school || null) : own;
    } catch (error) {
      cleanUp();
      throw new PageError(422, (error as Error).message);
    }
    await context.audit(request, 'web.import-started', { details: { kind, dryRun, bytes: upload.bytes, file: upload.name.slice(0, 120) } });
    const job = await context.imports.start(
      { kind, fileName: upload.name.slice(0, 120), dryRun, account: request.account!.username, school },
      async (onProgress): Promise<ImportOutcome> => {
        onProgress({ stage: 'reading', done: 0, total: upload.bytes });
        if (kind === 'people') {
          const result = await importPeopleFrom(records, (pass) => csvFileRecords(upload.path, pass === 1 ? (read) => onProgress({ stage: 'reading', done: read.bytesRead, total: read.totalBytes }) : undefined), {
            actor,
            dryRun,
            defaultKind: fields.defaultKind === 'pupil' || fields.defaultKind === 'staff' ? fields.defaultKind : undefined,
            allowMassLeavers: fields.allowMassLeavers === 'yes',
            onProgress: (stage, done, total) => stage === 'importing' && onProgress({ stage, done, total }),
            school,
          });
          return {
            summary: [
              ['rows', result.rows],
              ['added', result.added],
              ['updated', result.updated],
              ['unchanged', result.unchanged],
              ['rejoined', result.rejoined],
              ['marked as leavers', result.leavers],
              ['cards enrolled', result.cardsIssued],
            ],
            problems: result.problems,
            warnings: [...result.warnings, ...(result.leaversSkipped ? [`${result.leaversSkipped} people missing from the file were not marked as leavers (more than half of them would have been); tick the box to allow it`] : [])],
            unusedColumns: result.unusedColumns,
          };
        }
        const result = await importAssetsFrom(records, csvFileRecords(upload.path, (read) => onProgress({ stage: 'reading', done: read.bytesRead, total: read.totalBytes })), actor, (done, total) => onProgress({ stage: 'importing', done, total }), school);
        return { summary: [['rows', result.rows], ['added', result.added], ['updated', result.updated]], problems: result.problems, warnings: [], unusedColumns: result.unusedColumns };
      },
      (error) => {
        const explained = explain(error);
        if (explained.internal) context.log.warn(`import ${upload.name} failed`, error);
        // A whole-file problem (no id column, empty file) is the importer's own sentence.
        return explained.internal && error instanceof Error && !/\n\s+at /.test(error.message) ? error.message : explained.message;
      },
      // How it ended is in the audit trail too, under the account that started it.
      (finished) =>
        context.audit(request, 'web.import-finished', {
          subject: `import:${finished.id}`,
          details: { kind, dryRun, state: finished.state, summary: Object.fromEntries(finished.outcome?.summary ?? []), refused: finished.outcome?.problems.length ?? null },
        }),
      cleanUp,
    );
    if ((request.headers.accept ?? '').includes('application/json')) return reply.code(202).send({ job: { id: job.id, state: job.state, placeInLine: context.imports.placeInLine(job.id) } });
    return reply.redirect(`/imports/${job.id}`, 303);
  });

  /** A school's account sees the imports of its school's files only (one stored before jobs kept their school: its school's accounts'). */
  async function jobsInScope(jobs: ImportJob[], request: FastifyRequest): Promise<ImportJob[]> {
    const own = await context.records.schools.ofAccount(request.account!.id);
    if (own === TRUST || !(await context.records.schools.isTrust())) return jobs;
    const kept: ImportJob[] = [];
    for (const job of jobs) {
      if (job.school !== null) {
        if (job.school === own) kept.push(job);
        continue;
      }
      const account = await context.accounts.byUsername(job.account);
      if (account && (await context.records.schools.ofAccount(Number(account.id))) === own) kept.push(job);
    }
    return kept;
  }

  async function jobOf(id: string, request: FastifyRequest): Promise<ImportJob> {
    const found = await context.imports.get(id);
    const job = found && (await jobsInScope([found], request))[0];
    if (!job) throw new PageError(404, `There is no such import (the hub keeps the reports of the last ${KEEP_JOBS}).`);
    return job;
  }

  app.get('/api/imports/:id', { config: { permission: 'imports.run' } }, async (request) => {
    const job = await jobOf((request.params as { id: string }).id, request);
    const place = context.imports.placeInLine(job.id);
    return { job: { id: job.id, state: job.state, progress: job.progress, placeInLine: place, description: progressWords(job, place), error: job.error, refused: job.outcome?.problems.length ?? null } };
  });

  app.get('/imports/:id', { config: { permission: 'imports.run' } }, async (request, reply) => {
    const job = await jobOf((request.params as { id: string }).id, request);
    await context.audit(request, 'web.viewed', { subject: `import:${job.id}`, details: { page: '/imports/:id' } });
    const outcome = job.outcome;
    return context.render(request, reply, {
      title: `Import: ${job.fileName}`,
      section: '/imports',
      body: html`
        <p>${job.kind === 'people' ? 'Pupils and staff' : 'Assets'}, started ${timeTag(job.startedAt)} by ${job.account}${job.dryRun ? ' — check only, nothing changed' : ''}.</p>
        ${job.state === 'running' || job.state === 'queued'
          ? html`<div data-import-job="${job.id}" class="panel">
              <p><label for="import-progress">Progress</label><progress id="import-progress" value="${job.progress.done}" max="${job.progress.total ?? 1}"></progress></p>
              <p data-import-progress role="status" aria-live="polite">${progressWords(job, context.imports.placeInLine(job.id))}</p>
              <noscript><p>Reload this page to see the report when it is done.</p></noscript>
            </div>`
          : null}
        ${job.state === 'failed' ? html`<div class="problem" role="alert"><p>The file was not imported: ${job.error}</p></div>` : null}
        ${outcome
          ? html`<div class="${outcome.problems.length ? 'confirm' : 'done'}" role="status">
              <p><strong>${outcome.summary.map(([label, count]) => countedLabel(count, label)).join(', ')}; ${outcome.problems.length} row${outcome.problems.length === 1 ? '' : 's'} refused.</strong></p>
              ${outcome.warnings.map((warning) => html`<p>Note: ${warning}</p>`)}
              ${outcome.unusedColumns.length ? html`<p>Columns not used: ${outcome.unusedColumns.join(', ')}.</p>` : null}
            </div>
            <section aria-labelledby="rows-title"><h2 id="rows-title">Row report</h2>
              ${outcome.problems.length
                ? html`<p>These rows were not imported; every other row was.</p>
                  <div class="table-wrap"><table class="data row-report"><thead><tr><th scope="col">Line</th><th scope="col">Why it was refused</th></tr></thead>
                  <tbody>${outcome.problems.map((problem) => html`<tr class="row-refused"><td>${problem.line}</td><td>${problem.reason}</td></tr>`)}</tbody></table></div>`
                : html`<p>Every row was read without a problem.</p>`}
            </section>`
          : null}
        <p><a href="/imports">Imports</a></p>`,
    });
  });
}

/** "1 row", "1 card enrolled": the summary's labels are written for several. */
function countedLabel(count: number, label: string): string {
  const singular: Record<string, string> = { rows: 'row', 'cards enrolled': 'card enrolled' };
  return count === 1 && singular[label] ? `1 ${singular[label]}` : `${count} ${label}`;
}
