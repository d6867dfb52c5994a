// Reports for the office, as rows for the command line (a table) or a CSV file:
//   holdings     who holds what: phones in lockers, items on loan, held lockers
//   overdue      loans past their due date
//   uncollected  phones still in a locker after the end-of-day cut-off (P1, P13)
//   holds        confiscation, safeguarding and health-check holds (P4, P5, P10)
//   charges      the charges ledger totalled per person and term (P7)
//   ledger       every ledger entry, with what it corrects
//   disposal     lost property due for disposal (P13)
//   leavers      people who have left with loans still open (P9, P10)
//   exemptions   medical exemptions due for review (P3)
// A safeguarding hold's pupil, and the custody of the phone it holds, appear only for DSL and
// headteacher (P5): for anyone else the pupil, id and form read RESTRICTED. Running a report is
// itself an audit record (P14).
import type { Records } from '../records';
import { actorLabel, maySeeSafeguarding, requirePermission, type Actor } from '../records/access';
import type { Permission } from '../rules/permissions';
import { RESTRICTED, safeguardedPhonesIn } from '../records/safeguarding';
import { formatPence } from '../records/time';
import type { Cell } from './csv';
import { Scope } from '../records/schools';
import { roleWords } from '../records/actor';
import { holdKindWords, lockerStateWords } from '../records/words';

export interface Report {
  name: string;
  title: string;
  columns: string[];
  rows: Array<Record<string, Cell>>;
}

export const REPORTS: Record<string, string> = {
  holdings: 'who holds what: phones in lockers, items on loan, held lockers',
  overdue: 'loans past their due date',
  uncollected: 'phones still in a locker after the end-of-day cut-off',
  holds: 'open holds (--all: every hold)',
  charges: 'charges per person and term: charged, corrected, balance',
  ledger: 'every charges-ledger entry',
  disposal: 'lost property due for disposal',
  leavers: 'leavers with loans still open',
  exemptions: 'medical exemptions due for review',
};

/** What reading each report needs (rules/permissions.ts); the rest need `people.view`. */
export const REPORT_PERMISSIONS: Record<string, Permission> = { charges: 'charges.view', ledger: 'charges.view', leavers: 'leavers.view' };

export interface ReportOptions {
  actor: Actor;
  now?: Date;
  all?: boolean;
  /** charges/ledger: only this person (people.id). */
  personId?: number;
  /** charges: only this term label, e.g. "2025-26 autumn". */
  term?: string;
  /** The schools whose records it covers (issue 16; absent: every school). */
  scope?: Scope;
}

const scopeOf = (options: ReportOptions) => options.scope ?? Scope.all();

function pounds(pence: number | null | undefined): string {
  return formatPence(Number(pence ?? 0));
}

/** A locker as the doors and the page number it, from 1: "locker 4 at form-7a" (the records count from 0). */
function lockerAt(stationId: string, locker: number): string {
  return `locker ${Number(locker) + 1} at ${stationId}`;
}

/** An item by its tag and its class's name, as the page shows it: "STK-001 (Encrypted USB stick)". */
function itemWords(tag: string, classId: string, classNames: Record<string, string>): string {
  return `${tag} (${classNames[classId] ?? classId})`;
}

export class Reports {
  constructor(private records: Records) {}

  async run(name: string, options: ReportOptions): Promise<Report> {
    const build = (this as unknown as Record<string, (options: ReportOptions) => Promise<Omit<Report, 'name' | 'title'>>>)[name];
    if (!(name in REPORTS) || typeof build !== 'function') throw new Error(`no report ${JSON.stringify(name)}; there are: ${Object.keys(REPORTS).join(', ')}`);
    // A named member of staff or account is held to the rulebook; the operator at the hub's own
    // console (no --by) has the database anyway, and sees no safeguarding details.
    if (options.actor.role !== 'system') requirePermission(options.actor, REPORT_PERMISSIONS[name] ?? 'people.view', `reading the ${name} report`);
    const report = await build.call(this, options);
    await this.records.audit.append({ actor: actorLabel(options.actor), action: 'report.read', subject: `report:${name}`, personId: options.personId ?? null, details: { report: name, rows: report.rows.length } });
    return { name, title: REPORTS[name], ...report };
  }

  /** Who holds what: every phone in a locker, every item out on loan, every held locker. */
  async holdings(options: ReportOptions) {
    const db = this.records.db;
    const restricted = maySeeSafeguarding(options.actor) ? new Set<number>() : await safeguardedPhonesIn(db);
    const phones = await db.all<{ id: number; person_id: number; name: string; external_id: string; form: string | null; station_id: string; locker: number; deposited_at: string; state: string | null }>(
      `SELECT c.custody_id AS id, c.person_id, p.name, p.external_id, p.form, c.station_id, c.locker, c.deposited_at, l.state
       FROM phones_in c JOIN people p ON p.id = c.person_id
       LEFT JOIN lockers l ON l.station_id = c.station_id AND l.locker = c.locker
       ORDER BY c.station_id, c.locker`,
    ).then((found) => scopeOf(options).rows(found));
    const loans = await db.all<{ person_id: number; name: string; external_id: string; role: string; tag: string; class_id: string; lent_at: string; due_at: string; station_id: string | null; locker: number | null }>(
      `SELECT l.person_id, p.name, p.external_id, p.role, a.tag, a.class_id, l.lent_at, l.due_at, l.station_id, l.locker
       FROM loans l JOIN people p ON p.id = l.person_id JOIN assets a ON a.id = l.asset_id
       WHERE l.closed_at IS NULL ORDER BY p.name, l.lent_at`,
    ).then((found) => scopeOf(options).rows(found));
    const classNames = await this.records.assets.classNames();
    const rows: Array<Record<string, Cell>> = [];
    for (const phone of phones) {
      const hidden = restricted.has(Number(phone.id));
      rows.push({
        holder: lockerAt(phone.station_id, phone.locker),
        item: 'phone',
        owner: hidden ? RESTRICTED : phone.name,
        id: hidden ? '' : phone.external_id,
        group: hidden ? '' : phone.form,
        since: phone.deposited_at,
        due: '',
        state: lockerStateWords(phone.state ?? 'phone-in'),
      });
    }
    for (const loan of loans) {
      rows.push({ holder: loan.name, item: itemWords(loan.tag, loan.class_id, classNames), owner: 'school', id: loan.external_id, group: roleWords(loan.role), since: loan.lent_at, due: loan.due_at, state: 'On loan' });
    }
    return { columns: ['holder', 'item', 'owner', 'id', 'group', 'since', 'due', 'state'], rows };
  }

  async overdue(options: ReportOptions) {
    const now = (options.now ?? new Date()).toISOString();
    const classNames = await this.records.assets.classNames();
    const rows = scopeOf(options).rows(await this.records.loans.overdue(now)).map((loan) => ({
      loan: Number(loan.id),
      holder: loan.name,
      id: loan.external_id,
      item: itemWords(loan.tag, loan.class_id, classNames),
      lent: loan.lent_at,
      due: loan.due_at,
      'days overdue': Math.floor((Date.parse(now) - Date.parse(loan.due_at)) / 86_400_000),
    }));
    return { columns: ['loan', 'holder', 'id', 'item', 'lent', 'due', 'days overdue'], rows };
  }

  private async restrictedCustody(actor: Actor): Promise<Set<number>> {
    return maySeeSafeguarding(actor) ? new Set<number>() : safeguardedPhonesIn(this.records.db);
  }

  async uncollected(options: ReportOptions) {
    const restricted = await this.restrictedCustody(options.actor);
    const rows = scopeOf(options).rows(await this.records.lostProperty.uncollected()).map((phone) => ({
      custody: Number(phone.id),
      pupil: restricted.has(Number(phone.id)) ? RESTRICTED : phone.name,
      form: restricted.has(Number(phone.id)) ? '' : phone.form,
      locker: lockerAt(phone.station_id, phone.locker),
      deposited: phone.deposited_at,
      uncollected: phone.uncollected_at,
      'disposal due': phone.disposal_due_at,
    }));
    return { columns: ['custody', 'pupil', 'form', 'locker', 'deposited', 'uncollected', 'disposal due'], rows };
  }

  async disposal(options: ReportOptions) {
    const restricted = await this.restrictedCustody(options.actor);
    const rows = scopeOf(options).rows(await this.records.lostProperty.dueForDisposal(options.now ?? new Date())).map((phone) => ({
      custody: Number(phone.id),
      pupil: restricted.has(Number(phone.id)) ? RESTRICTED : phone.name,
      form: restricted.has(Number(phone.id)) ? '' : phone.form,
      locker: lockerAt(phone.station_id, phone.locker),
      deposited: phone.deposited_at,
      'disposal due': phone.disposal_due_at,
    }));
    return { columns: ['custody', 'pupil', 'form', 'locker', 'deposited', 'disposal due'], rows };
  }

  async holds(options: ReportOptions) {
    const rows = scopeOf(options).rows(await this.records.holds.list(options.actor, { open: !options.all })).map((hold) => ({
      hold: hold.id,
      kind: holdKindWords(hold.kind),
      locker: lockerAt(hold.stationId, hold.locker),
      pupil: hold.restricted ? RESTRICTED : hold.personName,
      placed: hold.placedAt,
      'placed by': hold.placedBy,
      released: hold.releasedAt,
      'released by': hold.releasedBy,
      witness: hold.witness,
    }));
    return { columns: ['hold', 'kind', 'locker', 'pupil', 'placed', 'placed by', 'released', 'released by', 'witness'], rows };
  }

  async charges(options: ReportOptions) {
    const params: (string | number)[] = [];
    let where = '';
    if (options.personId !== undefined) {
      where += ' AND c.person_id = ?';
      params.push(options.personId);
    }
    if (options.term) {
      where += ' AND c.term = ?';
      params.push(options.term);
    }
    const rows = await this.records.db.all<{ person_id: number; name: string; external_id: string; term: string; charged: number; corrected: number; balance: number; entries: number }>(
      `SELECT c.person_id, p.name, p.external_id, c.term,
              SUM(CASE WHEN c.entry = 'charge' THEN c.amount_pence ELSE 0 END) AS charged,
              SUM(CASE WHEN c.entry <> 'charge' THEN c.amount_pence ELSE 0 END) AS corrected,
              SUM(c.amount_pence) AS balance, COUNT(*) AS entries
       FROM charges c JOIN people p ON p.id = c.person_id WHERE 1 = 1 ${where}
       GROUP BY c.person_id, p.name, p.external_id, c.term ORDER BY c.term, p.name`,
      params,
    ).then((found) => scopeOf(options).rows(found));
    return {
      columns: ['person', 'id', 'term', 'charged', 'corrected', 'balance', 'entries'],
      rows: rows.map((row) => ({ person: row.name, id: row.external_id, term: row.term, charged: pounds(row.charged), corrected: pounds(row.corrected), balance: pounds(row.balance), entries: Number(row.entries) })),
    };
  }

  async ledger(options: ReportOptions) {
    const rows = await this.records.db.all<{ id: number; person_id: number; created_at: string; name: string; external_id: string; entry: string; amount_pence: number; reason: string; tag: string | null; loan_id: number | null; corrects_id: number | null; by_name: string | null; term: string }>(
      `SELECT c.id, c.person_id, c.created_at, p.name, p.external_id, c.entry, c.amount_pence, c.reason, a.tag, c.loan_id, c.corrects_id, b.name AS by_name, c.term
       FROM charges c JOIN people p ON p.id = c.person_id LEFT JOIN assets a ON a.id = c.asset_id LEFT JOIN people b ON b.id = c.created_by
       ${options.personId !== undefined ? 'WHERE c.person_id = ?' : ''} ORDER BY c.id`,
      options.personId !== undefined ? [options.personId] : [],
    ).then((found) => scopeOf(options).rows(found));
    return {
      columns: ['entry', 'date', 'person', 'id', 'kind', 'amount', 'reason', 'asset', 'loan', 'corrects', 'by', 'term'],
      rows: rows.map((row) => ({
        entry: Number(row.id),
        date: row.created_at,
        person: row.name,
        id: row.external_id,
        kind: row.entry,
        amount: pounds(row.amount_pence),
        reason: row.reason,
        asset: row.tag,
        loan: row.loan_id === null ? null : Number(row.loan_id),
        corrects: row.corrects_id === null ? null : Number(row.corrects_id),
        by: row.by_name,
        term: row.term,
      })),
    };
  }

  async leavers(options: ReportOptions) {
    const rows = await this.records.db.all<{ person_id: number; name: string; external_id: string; left_on: string; tag: string; class_id: string; lent_at: string; requires_encryption: number }>(
      `SELECT l.person_id, p.name, p.external_id, p.left_on, a.tag, a.class_id, l.lent_at, c.requires_encryption
       FROM loans l JOIN people p ON p.id = l.person_id JOIN assets a ON a.id = l.asset_id JOIN asset_classes c ON c.id = a.class_id
       WHERE l.closed_at IS NULL AND p.left_on IS NOT NULL ORDER BY p.left_on, p.name`,
    ).then((found) => scopeOf(options).rows(found));
    const classNames = await this.records.assets.classNames();
    return {
      columns: ['person', 'id', 'left', 'item', 'lent', 'required'],
      rows: rows.map((row) => ({ person: row.name, id: row.external_id, left: row.left_on, item: itemWords(row.tag, row.class_id, classNames), lent: row.lent_at, required: row.requires_encryption ? 'return, or declaration and write-off' : 'return' })),
    };
  }

  async exemptions(options: ReportOptions) {
    const day = (options.now ?? new Date()).toISOString().slice(0, 10);
    const rows = scopeOf(options).rows(await this.records.exemptions.dueForReview(options.all ? '9999-12-31' : day)).map((row) => ({ pupil: row.name, reference: row.reference, 'review on': row.review_on, granted: row.granted_at }));
    return { columns: ['pupil', 'reference', 'review on', 'granted'], rows };
  }
}
