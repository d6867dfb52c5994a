// The record-keeping commands of `handover` (hub/src/cli.ts dispatches here): imports, reports,
// the charges ledger, leavers, lost property, exemptions, asset classes, the audit trail, subject
// access export and purge. Each opens the database the settings name, acts through the record
// modules (so the same rules apply as on the page), prints, and closes. Actions by a member of
// staff name them with --by (MIS id, staff code or #number): their role decides what they may do,
// and the audit trail records them.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { checkpointFile, lastVerified, markVerified, takeCheckpoint, trustedHeads } from '../audit/checkpoints';
import type { TrustedHead } from '../audit/trail';
import { progressOn } from './progress';
import { openDatabase } from '../db/open';
import { subjectAccessExport } from '../export/subject';
import { operator } from './operator';
import { importAssetsFile, importAssetsFromSnipeIt } from '../import/assets';
import { importPeople, type ImportProblem } from '../import/people';
import { createRecords, type Records } from '../records';
import { actorLabel, NotFoundError, requirePermission, RuleError, type Actor } from '../records/access';
import type { Scope } from '../records/schools';
import { requireInScope, type ScopeRefs } from '../records/scope-refs';
import type { Permission } from '../rules/permissions';
import { ROLES, type Role } from '../records/people';
import { roleWords } from '../records/actor';
import { purge } from '../records/purge';
import { formatPence, parsePounds } from '../records/time';
import { toCsv, toTable } from '../reports/csv';
import { writePrivateFile } from './private-file';
import { REPORT_PERMISSIONS, REPORTS, Reports } from '../reports/reports';
import { loadSettings, type Settings } from '../settings';

export class RecordsUsageError extends Error {}

export const RECORDS_USAGE = `  import people <file.csv> [--kind pupil|staff] [--dry-run] [--allow-mass-leavers] [--school ID] [--by STAFF]
                                 add and update pupils or staff from an MIS/Wonde export; missing people become leavers
  import assets <file.csv> | --snipe-it URL [--school ID] [--by STAFF]
                                 register assets (Snipe-IT: token in SNIPEIT_TOKEN)
  report <name> [--csv FILE|-] [--all] [--person P] [--term T] [--by STAFF]
                                 ${Object.keys(REPORTS).join(', ')}
  charge list [--person P]       the charges ledger
  charge lost <asset-tag> --by STAFF                  report a loaned item lost: charge its replacement price
  charge stolen <asset-tag> --crime-number N --by STAFF
  charge damage <asset-tag> <price-list item> --by STAFF
  charge found <asset-tag> --by STAFF                 reverse what is outstanding of its loss charge
  charge waive <charge-id> --reason TEXT --by STAFF   (office, headteacher or deputy)
  charge reverse <charge-id> --reason TEXT --by STAFF
  charge evidence <charge-id>    the custody chain behind a charge (JSON)
  leaver <person> [--retain TAG --declaration TEXT] [--complete --left-on YYYY-MM-DD] --by STAFF
  dispose <custody-id> --note TEXT --by STAFF         record disposal of an unclaimed phone
  uncollected                    mark phones still in at the last cut-off as uncollected
  exemption grant <pupil> --reference REF --review YYYY-MM-DD --by STAFF | exemption end <pupil> --by STAFF
  class list | class set <class> [--replacement £] [--loan-days N] [--health-days N|none] [--roles a,b] --by STAFF
  price set <class> <item> <£> --by STAFF
  audit verify [--incremental|--full] [--checkpoints FILE]...
                                 walk the audit trail and the records anchored in it; report the first
                                 record altered, removed or inserted, or a rewrite since a checkpoint;
                                 --incremental: only what came after the last full verify that passed
  audit checkpoint               take a keyed checkpoint of the trail's head now (and export it)
  export subject <person> [--out FILE] [--by STAFF]   everything about one person (JSON)
  purge [--dry-run] --by STAFF   pseudonymise leavers and delete records past HANDOVER_RETENTION_DAYS`;

const COMMANDS = new Set(['import', 'report', 'charge', 'leaver', 'dispose', 'uncollected', 'exemption', 'class', 'price', 'audit', 'export', 'purge']);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Values = Record<string, any>;

function args(argv: string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: { school: { type: 'string' }, ...options, by: { type: 'string' } }, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (error) {
    throw new RecordsUsageError((error as Error).message);
  }
}

async function withRecords<T>(work: (records: Records, settings: Settings) => Promise<T>): Promise<T> {
  const settings = loadSettings();
  const { db } = await openDatabase(settings);
  try {
    return await work(createRecords(db, settings), settings);
  } finally {
    await db.close();
  }
}


/**
 * The member of staff named by --by, refused unless the rulebook lets their role do `permission`.
 * Without --by: refused when `required`, else the operating-system account (which the rulebook
 * gives no role: it sees no safeguarding details).
 */
async function actorFrom(records: Records, by: string | undefined, required: boolean, permission?: Permission): Promise<Actor> {
  if (!by) {
    if (required) throw new RecordsUsageError('name the member of staff acting with --by (MIS id, staff code or #number)');
    return operator();
  }
  const actor = await records.people.actor(by);
  if (permission) requirePermission(actor, permission);
  return actor;
}

/**
 * The acting person's schools (issue 16), the one path every command takes that names a person, an
 * asset, a station or a phone: `scope` is what they see (--by: their school's; the operator: every
 * school's, or --school's), `require` refuses another school's as if it did not exist, and `actor`
 * carries the school what they add belongs to.
 */
export async function actingIn(records: Records, actor: Actor, school?: string | null): Promise<{ actor: Actor; scope: Scope; require(refs: ScopeRefs): Promise<void> }> {
  const scope = await records.schools.scopeForActor(actor, school);
  const home = actor.personId !== null ? await records.schools.ofPerson(actor.personId) : school ? await records.schools.resolve(school) : null;
  return {
    actor: home === null ? actor : { ...actor, school: records.schools.stored(home) },
    scope,
    require: (refs) => requireInScope(records, scope, refs),
  };
}

/** The school an import goes to: a member of staff named with --by imports their own school's files only (issue 16). */
async function importSchool(records: Records, actor: Actor, school: string | undefined): Promise<string | undefined> {
  if (actor.personId === null || !school) return school;
  const own = await records.schools.ofPerson(actor.personId);
  if (school !== own) throw new RuleError('schools', `the member of staff named with --by is of school ${own}: they import their own school's files only`);
  return school;
}

function progressLine(label: string): (done: number, total: number) => void {
  let last = -1;
  return (done, total) => {
    if (!process.stderr.isTTY && total < 2000) return;
    const percent = total > 0 ? Math.floor((100 * done) / total) : 100;
    if (percent === last) return;
    last = percent;
    process.stderr.write(`${label}: ${percent}%${percent === 100 ? '\n' : process.stderr.isTTY ? '\r' : '\n'}`);
  };
}

/** "1 row", "2 rows": a count as a person says it. */
function counted(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function printProblems(problems: ImportProblem[], what = 'line'): void {
  for (const problem of problems) console.log(`  ${what} ${problem.line}: ${problem.reason}`);
}

export async function recordsCommand(command: string, rest: string[]): Promise<boolean> {
  if (!COMMANDS.has(command)) return false;
  switch (command) {
    case 'import':
      await importCommand(rest);
      break;
    case 'report':
      await reportCommand(rest);
      break;
    case 'charge':
      await chargeCommand(rest);
      break;
    case 'leaver':
      await leaverCommand(rest);
      break;
    case 'dispose':
      await disposeCommand(rest);
      break;
    case 'uncollected':
      await withRecords(async (records) => console.log(`${counted(await records.lostProperty.markUncollected(new Date(), operator()), 'phone')} marked uncollected`));
      break;
    case 'exemption':
      await exemptionCommand(rest);
      break;
    case 'class':
    case 'price':
      await classCommand(command, rest);
      break;
    case 'audit':
      await auditCommand(rest);
      break;
    case 'export':
      await exportCommand(rest);
      break;
    case 'purge':
      await purgeCommand(rest);
      break;
  }
  return true;
}

async function importCommand(argv: string[]): Promise<void> {
  const [what, ...rest] = argv;
  if (what === 'people') {
    const { values, positionals } = args(rest, { kind: { type: 'string' }, 'dry-run': { type: 'boolean' }, 'allow-mass-leavers': { type: 'boolean' }, school: { type: 'string' } });
    const file = positionals[0];
    if (!file) throw new RecordsUsageError('import people needs a CSV file');
    if (!fs.existsSync(file)) throw new Error(`no file ${file}`);
    if (values.kind !== undefined && values.kind !== 'pupil' && values.kind !== 'staff') throw new RecordsUsageError('--kind is pupil or staff');
    await withRecords(async (records) => {
      const actor = await actorFrom(records, values.by, false, 'imports.run');
      const reading = progressLine('reading');
      const importing = progressLine('importing');
      const result = await importPeople(records, file, {
        actor,
        defaultKind: values.kind as 'pupil' | 'staff' | undefined,
        dryRun: values['dry-run'],
        allowMassLeavers: values['allow-mass-leavers'],
        school: await importSchool(records, actor, values.school),
        onProgress: (stage, done, total) => (stage === 'reading' ? reading : importing)(done, total),
      });
      console.log(`${path.basename(file)}: ${counted(result.rows, 'row')}; ${result.added} added, ${result.updated} updated, ${result.unchanged} unchanged, ${result.rejoined} rejoined, ${result.leavers} marked as leavers, ${counted(result.cardsIssued, 'card')} enrolled, ${counted(result.problems.length, 'row')} not imported`);
      for (const warning of result.warnings) console.log(`warning: ${warning}`);
      if (result.unusedColumns.length) console.log(`columns not used: ${result.unusedColumns.join(', ')}`);
      printProblems(result.problems);
      if (result.problems.length > 0) process.exitCode = 2;
    });
    return;
  }
  if (what === 'assets') {
    const { values, positionals } = args(rest, { 'snipe-it': { type: 'string' }, category: { type: 'string', multiple: true }, school: { type: 'string' } });
    await withRecords(async (records) => {
      const actor = await actorFrom(records, values.by, false, 'imports.run');
      const school = await importSchool(records, actor, values.school);
      if (values['snipe-it']) {
        const token = process.env.SNIPEIT_TOKEN;
        if (!token) throw new Error('set SNIPEIT_TOKEN to a Snipe-IT API token');
        const result = await importAssetsFromSnipeIt(records, { url: values['snipe-it'], token, categories: values.category, school }, actor, progressLine('reading Snipe-IT'));
        console.log(`Snipe-IT: ${result.rows} assets of known classes (${result.skipped} others skipped); ${result.added} added, ${result.updated} updated, ${result.problems.length} not imported`);
        for (const problem of result.problems) console.log(`  ${problem.reason}`);
        if (result.problems.length > 0) process.exitCode = 2;
        return;
      }
      const file = positionals[0];
      if (!file) throw new RecordsUsageError('import assets needs a CSV file or --snipe-it URL');
      if (!fs.existsSync(file)) throw new Error(`no file ${file}`);
      const result = await importAssetsFile(records, file, actor, progressLine('importing'), school);
      console.log(`${path.basename(file)}: ${counted(result.rows, 'row')}; ${result.added} added, ${result.updated} updated, ${counted(result.problems.length, 'row')} not imported`);
      if (result.unusedColumns.length) console.log(`columns not used: ${result.unusedColumns.join(', ')}`);
      printProblems(result.problems);
      if (result.problems.length > 0) process.exitCode = 2;
    });
    return;
  }
  throw new RecordsUsageError('import people <file> or import assets <file>');
}

async function reportCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { csv: { type: 'string' }, all: { type: 'boolean' }, person: { type: 'string' }, term: { type: 'string' } });
  const name = positionals[0];
  if (!name || !(name in REPORTS)) throw new RecordsUsageError(`report needs one of: ${Object.keys(REPORTS).join(', ')}`);
  await withRecords(async (records) => {
    const actor = await actorFrom(records, values.by, false, REPORT_PERMISSIONS[name] ?? 'people.view');
    // Of the --by person's school (the operator: every school), or of --school (issue 16).
    const scope = await records.schools.scopeForActor(actor, values.school);
    const personId = values.person ? Number((await personInScope(records, values.person, scope)).id) : undefined;
    const report = await new Reports(records).run(name, { actor, all: values.all, personId, term: values.term, scope });
    if (values.csv !== undefined) {
      const csv = toCsv(report.columns, report.rows);
      if (values.csv === '-' || values.csv === '') process.stdout.write(csv);
      else {
        writePrivateFile(values.csv, csv);
        console.log(`${counted(report.rows.length, 'row')} written to ${values.csv}`);
      }
      return;
    }
    console.log(`${report.title} (${counted(report.rows.length, 'row')})\n`);
    console.log(toTable(report.columns, report.rows));
  });
}

async function chargeCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values, positionals } = args(rest, { person: { type: 'string' }, 'crime-number': { type: 'string' }, reason: { type: 'string' } });
  await withRecords(async (records) => {
    const needsActor = action !== 'list' && action !== 'evidence';
    const actor = await actorFrom(records, values.by, needsActor, needsActor ? undefined : 'charges.view');
    const target = positionals[0];
    if (needsActor && !target) throw new RecordsUsageError(`charge ${action} needs ${action === 'waive' || action === 'reverse' ? 'a charge id' : 'an asset tag'}`);
    // What --by names is of their school only (issue 16): another school's asset or charge is not there.
    const { scope, require } = await actingIn(records, actor, values.school);
    if (['lost', 'stolen', 'damage', 'found'].includes(action)) await require({ tags: [target] });
    const chargeId = () => {
      if (!/^\d+$/.test(target)) throw new RecordsUsageError(`${JSON.stringify(target)} is not a charge id`);
      return Number(target);
    };
    if (['waive', 'reverse', 'evidence'].includes(action) && /^\d+$/.test(target ?? '')) {
      const charge = await records.ledger.get(Number(target));
      if (charge && !scope.person(charge.person_id)) throw new NotFoundError(`no charge ${target}`);
    }
    switch (action) {
      case 'list': {
        const personId = values.person ? Number((await personInScope(records, values.person, scope)).id) : undefined;
        const report = await new Reports(records).run('ledger', { actor, personId, scope });
        console.log(toTable(report.columns, report.rows));
        return;
      }
      case 'lost': {
        const result = await records.loans.reportLost(target, actor);
        console.log(result.chargeId ? `loan ${result.loanId} reported lost; charge ${result.chargeId}: ${formatPence(result.amountPence)}` : `loan ${result.loanId} reported lost; nothing charged (no replacement price)`);
        return;
      }
      case 'stolen': {
        const result = await records.loans.reportStolen(target, values['crime-number'], actor);
        console.log(`loan ${result.loanId} reported stolen (crime number ${values['crime-number']}); nothing charged`);
        return;
      }
      case 'damage': {
        const item = positionals[1];
        if (!item) throw new RecordsUsageError('charge damage needs the price-list item, e.g. charge damage LAP-004 screen');
        const result = await records.loans.reportDamage(target, item, actor);
        console.log(`charge ${result.chargeId}: ${formatPence(result.amountPence)} for ${item} (loan ${result.loanId})`);
        return;
      }
      case 'found': {
        const result = await records.loans.found(target, actor);
        console.log(`${target} found; ${result.reversals.length ? `reversal entr${result.reversals.length === 1 ? 'y' : 'ies'} ${result.reversals.join(', ')}` : 'no charge to reverse'}`);
        return;
      }
      case 'waive': {
        const id = await records.ledger.waive(chargeId(), values.reason ?? '', actor, new Date().toISOString());
        console.log(`waiver ${id} recorded against charge ${target}`);
        return;
      }
      case 'reverse': {
        const id = await records.ledger.reverse(chargeId(), values.reason ?? '', actor, new Date().toISOString());
        console.log(`reversal ${id} recorded against charge ${target}`);
        return;
      }
      case 'evidence': {
        if (!target) throw new RecordsUsageError('charge evidence needs a charge id');
        const evidence = await records.ledger.evidence(chargeId());
        // Reading the custody chain behind someone's charge is a read of their records (P14).
        await records.audit.append({ actor: actorLabel(actor), action: 'charge.evidence-read', subject: `charge:${Number(evidence.charge.id)}`, personId: Number(evidence.charge.person_id), details: { charge: Number(evidence.charge.id) } });
        console.log(JSON.stringify(evidence, (_key, value) => (value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value), 2));
        return;
      }
      default:
        throw new RecordsUsageError('charge list|lost|stolen|damage|found|waive|reverse|evidence');
    }
  });
}

async function leaverCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { retain: { type: 'string' }, declaration: { type: 'string' }, complete: { type: 'boolean' }, 'left-on': { type: 'string' } });
  if (!positionals[0]) throw new RecordsUsageError('leaver needs a person (MIS id, staff code or #number)');
  await withRecords(async (records) => {
    const person = await records.people.resolve(positionals[0]);
    const mutating = Boolean(values.retain || values.complete);
    const actor = await actorFrom(records, values.by, mutating, 'leavers.view');
    await (await actingIn(records, actor, values.school)).require({ people: [positionals[0]] });
    if (values.retain) {
      await records.loans.retainWithDeclaration(Number(person.id), values.retain, values.declaration ?? '', actor);
      console.log(`${values.retain} retained by ${person.name} with a declaration; written off without charge`);
    }
    if (values.complete) {
      const leftOn = values['left-on'] ?? new Date().toISOString().slice(0, 10);
      await records.loans.completeLeaver(person, leftOn, actor);
      console.log(`${person.name} has left (${leftOn}); badges revoked`);
      return;
    }
    const open = await records.loans.leaverLoans(Number(person.id));
    await records.audit.append({ actor: actorLabel(actor), action: 'person.read', subject: `person:${Number(person.id)}`, personId: Number(person.id), details: { person: Number(person.id), view: 'leaver loans' } });
    if (open.length === 0) console.log(`${person.name}: no open loans`);
    const classNames = open.length ? await records.assets.classNames() : {};
    for (const item of open) console.log(`${person.name}: ${item.asset.tag} (${classNames[item.asset.class_id] ?? item.asset.class_id}) lent ${item.loan.lent_at.slice(0, 10)}: ${item.required === 'return' ? 'must be returned' : 'return it, or retain it with --retain TAG --declaration TEXT'}`);
  });
}

async function disposeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { note: { type: 'string' } });
  if (!positionals[0] || !/^\d+$/.test(positionals[0])) throw new RecordsUsageError('dispose needs the custody number from "report disposal"');
  await withRecords(async (records) => {
    const acting = await actingIn(records, await actorFrom(records, values.by, true), values.school);
    await acting.require({ custody: [Number(positionals[0])] });
    await records.lostProperty.dispose(Number(positionals[0]), values.note ?? '', acting.actor);
    console.log(`phone ${positionals[0]} recorded as disposed of`);
  });
}

async function exemptionCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values, positionals } = args(rest, { reference: { type: 'string' }, review: { type: 'string' } });
  if (!positionals[0]) throw new RecordsUsageError('exemption grant|end <pupil>');
  await withRecords(async (records) => {
    const { actor, scope } = await actingIn(records, await actorFrom(records, values.by, true), values.school);
    const person = await personInScope(records, positionals[0], scope);
    if (action === 'grant') {
      await records.exemptions.grant(Number(person.id), values.reference ?? '', values.review ?? '', actor);
      console.log(`medical exemption recorded for ${person.name} (review ${values.review}); online stations get it within seconds (the hub sends the new badge list)`);
    } else if (action === 'end') {
      await records.exemptions.end(Number(person.id), actor);
      console.log(`medical exemption ended for ${person.name}`);
    } else throw new RecordsUsageError('exemption grant|end <pupil>');
  });
}

async function classCommand(command: string, argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values, positionals } = args(rest, { replacement: { type: 'string' }, 'loan-days': { type: 'string' }, 'health-days': { type: 'string' }, roles: { type: 'string' } });
  await withRecords(async (records) => {
    if (command === 'class' && action === 'list') {
      const prices = await records.assets.priceList();
      const rows = (await records.assets.classes()).map((c) => ({
        class: c.id,
        name: c.name,
        encrypted: c.requires_encryption ? 'required' : '',
        replacement: formatPence(Number(c.replacement_pence)),
        'loan days': Number(c.loan_days),
        'health check days': c.health_check_days === null ? '' : Number(c.health_check_days),
        borrowers: c.borrower_roles.split(',').map((role) => roleWords(role.trim())).join(', '),
        'price list': prices.filter((p) => p.class_id === c.id).map((p) => `${p.item} ${formatPence(Number(p.pence))}`).join('; '),
      }));
      console.log(toTable(Object.keys(rows[0] ?? {}), rows));
      return;
    }
    const actor = await actorFrom(records, values.by, true);
    if (command === 'class' && action === 'set') {
      const id = positionals[0];
      if (!id) throw new RecordsUsageError('class set needs a class id (see class list)');
      const roles: string[] | undefined = (values.roles as string | undefined)?.split(',').map((r: string) => r.trim());
      if (roles?.some((r: string) => !(ROLES as readonly string[]).includes(r))) throw new RecordsUsageError(`--roles takes ${ROLES.join(', ')}`);
      const days = (text: string | undefined, name: string) => {
        if (text === undefined) return undefined;
        if (!/^\d+$/.test(text) || Number(text) < 1) throw new RecordsUsageError(`${name} must be a whole number of days`);
        return Number(text);
      };
      await records.assets.updateClass(
        id,
        {
          replacementPence: values.replacement === undefined ? undefined : parsePounds(values.replacement),
          loanDays: days(values['loan-days'], '--loan-days'),
          healthCheckDays: values['health-days'] === 'none' ? null : days(values['health-days'], '--health-days'),
          borrowerRoles: roles as Role[] | undefined,
        },
        actor,
      );
      console.log(`asset class ${id} updated`);
      return;
    }
    if (command === 'price' && action === 'set') {
      const [classId, item, amount] = positionals;
      if (!classId || !item || !amount) throw new RecordsUsageError('price set <class> <item> <£>');
      await records.assets.setPrice(classId, item, parsePounds(amount), actor);
      console.log(`${classId} ${item}: ${formatPence(parsePounds(amount))}`);
      return;
    }
    throw new RecordsUsageError('class list | class set <class> ... | price set <class> <item> <£>');
  });
}

async function auditCommand(argv: string[]): Promise<void> {
  const [what, ...rest] = argv;
  if (what === 'checkpoint') {
    await withRecords(async (records, settings) => {
      const checkpoint = await takeCheckpoint(records.db, settings);
      if (!checkpoint) console.log('the audit trail is empty: no checkpoint taken');
      else console.log(`checkpoint of record ${checkpoint.seq} (${checkpoint.at}) written to ${checkpointFile(settings)}`);
    });
    return;
  }
  if (what !== 'verify') throw new RecordsUsageError('audit verify [--incremental] [--checkpoints FILE]... | audit checkpoint');
  const { values } = args(rest, { checkpoints: { type: 'string', multiple: true }, incremental: { type: 'boolean' }, full: { type: 'boolean' } });
  if (values.incremental && values.full) throw new RecordsUsageError('audit verify: --incremental or --full, not both');
  await withRecords(async (records, settings) => {
    const files: string[] = values.checkpoints ?? [];
    for (const file of files) if (!fs.existsSync(file)) throw new Error(`no file ${file}`);
    const exported = checkpointFile(settings);
    if (fs.existsSync(exported) && !files.some((file) => path.resolve(file) === exported)) files.push(exported);
    const { heads, forged } = await trustedHeads(records.db, settings, files);
    // Incremental: from where the last full verify passed (its keyed mark), else a full verify.
    let from: TrustedHead | undefined;
    let fullBecause = '';
    if (values.incremental) {
      const mark = await lastVerified(records.db, settings);
      if ('none' in mark) fullBecause = ` (full, not incremental: ${mark.none})`;
      else from = mark;
    }
    const started = Date.now();
    const progress = progressOn(process.stderr);
    let chain = { done: 0, total: 0 };
    let rowsCompared = 0;
    const result = await records.audit.verify({
      heads,
      from,
      // The chain may be walked beside the table comparison (a full verify of a long trail): one
      // line with both counts then.
      onProgress: (stage, done, total) => {
        if (stage === 'records') chain = { done, total };
        else rowsCompared = done;
        const chainWalking = chain.total > 0 && chain.done < chain.total;
        // The chain's own line while nothing else is counted, and once when it ends.
        if (stage === 'records' && (rowsCompared === 0 || !chainWalking)) progress.update('audit records checked', done, total);
        else if (!chainWalking) progress.update('anchored rows compared', rowsCompared, 0);
        else progress.update('audit records checked', chain.done, chain.total, `anchored rows compared: ${rowsCompared.toLocaleString('en-GB')}`);
      },
    });
    progress.end();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (result.ok && forged.length === 0) {
      if (from) {
        console.log(
          `audit trail intact since record ${from.seq} (incremental verify, from the ${from.label}): records ${from.seq + 1}..${result.headSeq} checked (${result.records}), head hash ${result.headHash}; the ${result.rows} rows they anchor match; ${result.checkpoints} later checkpoint(s) matched (${seconds} s). Rows and records before record ${from.seq + 1} were not re-read: a full verify (the default) checks them`,
        );
        return;
      }
      await markVerified(records.db, settings, { seq: result.headSeq, hash: result.headHash });
      console.log(`audit trail intact: ${result.records} records, last ${result.headSeq}, head hash ${result.headHash}; ${result.rows} anchored rows match; ${result.checkpoints} checkpoint(s) matched (full verify${fullBecause}, ${seconds} s)`);
      return;
    }
    const problems = [...(result.problem ? [`${result.problem.message} (${result.records} records before it verified${from ? `, incremental from record ${from.seq}` : ''})`] : []), ...forged];
    throw new Error(`audit trail broken: ${problems.join('; ')}`);
  });
}

async function exportCommand(argv: string[]): Promise<void> {
  const [what, ...rest] = argv;
  if (what !== 'subject') throw new RecordsUsageError('export subject <person> [--out FILE]');
  const { values, positionals } = args(rest, { out: { type: 'string' } });
  if (!positionals[0]) throw new RecordsUsageError('export subject needs a person (MIS id, staff code or #number)');
  await withRecords(async (records) => {
    const actor = await actorFrom(records, values.by, false, 'people.view');
    const person = await personInScope(records, positionals[0], await records.schools.scopeForActor(actor, values.school));
    const document = await subjectAccessExport(records, person, actor);
    const out = values.out ?? `subject-access-${Number(person.id)}-${new Date().toISOString().slice(0, 10)}.json`;
    writePrivateFile(out, JSON.stringify(document, null, 2) + '\n');
    console.log(`everything held about ${person.name} written to ${out}`);
  });
}

async function purgeCommand(argv: string[]): Promise<void> {
  const { values } = args(argv, { 'dry-run': { type: 'boolean' } });
  await withRecords(async (records, settings) => {
    const { actor, scope } = await actingIn(records, await actorFrom(records, values.by, true), values.school);
    const result = await purge(records, { actor, retentionDays: settings.retentionDays, dryRun: values['dry-run'], scope });
    console.log(
      `${result.dryRun ? 'would purge' : 'purged'} records older than ${result.cutoff.slice(0, 10)} (${settings.retentionDays} days): ${result.peoplePseudonymised} people pseudonymised, ${result.badgesDeleted} badges, ${result.phoneCustodyDeleted} phone custody records, ${result.exemptionsDeleted} exemptions, ${result.holdsDeleted} holds, ${result.stationEventsDeleted} station events and ${result.notificationsDeleted} e-mail notifications deleted; the charges ledger and audit trail are kept`,
    );
  });
}

/** A person named on the command line, if they are of the schools the command sees (else as if there were none). */
async function personInScope(records: Records, ref: string, scope: Scope) {
  const person = await records.people.resolve(ref);
  if (!scope.person(person.id)) throw new NotFoundError(`no person ${ref}`);
  return person;
}
