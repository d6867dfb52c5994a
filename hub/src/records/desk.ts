// The office desk (issue 17): lending and returning an item without a station (the station is down,
// or the item lives in a cupboard), and ICT's health check of a laptop (P10). Each action has a
// `check…` that reads ahead and says in sentences what it will do (the page's and the command's
// confirmation step), and the action itself, which checks again inside its transaction. A loan made
// here is an ordinary loan (no station, locker or event sequence): overdue, lost, stolen, damage and
// a later return at a station treat it exactly as one made at a station.
import type { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import { actorLabel, requirePermission, RuleError, type Actor } from './access';
import { roleWords } from './actor';
import { assetStatusWords, type Assets, type AssetRow } from './assets';
import type { Holds } from './holds';
import type { Ledger } from './ledger';
import type { Loans, LoanRow } from './loans';
import type { People, PersonRow } from './people';
import { formatPence, parseDay } from './time';

export const RETURN_CONDITIONS = ['good', 'damaged'] as const;
export type ReturnCondition = (typeof RETURN_CONDITIONS)[number];

export interface LendInput {
  tag: string;
  borrower: string;
  /** YYYY-MM-DD; empty: the class's loan period. */
  due?: string;
}

export interface ReturnInput {
  tag: string;
  condition: ReturnCondition;
  /** The price-list item charged for damage (empty: the damage is noted, nothing charged). */
  item?: string;
  note?: string;
}

export interface Plan {
  effects: string[];
}

const describePerson = (person: PersonRow) => `${person.name} (${person.external_id})`;

export class Desk {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
    private people: People,
    private assets: Assets,
    private loans: Loans,
    private ledger: Ledger,
    private holds: Holds,
  ) {}

  // ---- lend ----

  private async lendPlan(input: LendInput, at: string, tx: SqlDatabase, actor: Actor): Promise<{ asset: AssetRow; borrower: PersonRow; dueAt: string; effects: string[] }> {
    const tag = input.tag.trim();
    if (!tag) throw new RuleError('P6', 'give the asset tag of the item (it is on its label, e.g. STK-004)');
    if (!input.borrower.trim()) throw new RuleError('P12', 'give the borrower: their MIS id or staff code');
    const asset = await this.assets.byTag(tag, tx);
    const borrower = await this.people.resolve(input.borrower, tx);
    if (borrower.left_on) throw new RuleError('P12', `${describePerson(borrower)} has left (${borrower.left_on}): nothing can be lent to them`);
    const assetClass = await this.assets.assetClass(asset.class_id, tx);
    if (!(await this.assets.mayBorrow(borrower.role, asset, tx))) {
      throw new RuleError('P12', `${describePerson(borrower)} is ${borrower.role === 'pupil' ? 'a pupil' : `staff (${roleWords(borrower.role)})`}, and that role may not borrow a ${assetClass.name.toLowerCase()} (P12)`);
    }
    const lendable = await this.assets.lendable(asset, tx);
    if (!lendable.ok) {
      const open = asset.status === 'on-loan' ? await this.loans.openLoanOf(Number(asset.id), tx) : undefined;
      const holder = open ? await this.people.get(Number(open.person_id), tx) : undefined;
      throw new RuleError('P6', holder ? `${asset.tag} is already on loan to ${describePerson(holder)}: return it first` : `${asset.tag} cannot be lent: ${lendable.reason}`);
    }
    let dueAt = await this.assets.loanDueAt(asset, at, tx);
    if (input.due?.trim()) {
      if (actor.personId !== null && Number(borrower.id) === actor.personId) throw new RuleError('P14', 'you cannot set the due date of your own loan: leave it to the class’s loan period, or ask another member of staff');
      const day = parseDay(input.due, 'due date', { notBefore: at.slice(0, 10), maxYearsAhead: 1, today: at.slice(0, 10) });
      if (!day.ok) throw new RuleError('P6', day.problem);
      dueAt = new Date(`${day.day}T23:59:00`).toISOString();
    }
    const effects = [
      `${assetClass.name} ${asset.tag}${asset.serial ? ` (serial ${asset.serial})` : ''} is lent to ${describePerson(borrower)} from the desk, due back ${new Date(dueAt).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' })}.`,
      `From then on it is an ordinary loan: overdue after that day, and it can be reported lost (${formatPence(await this.assets.replacementPence(asset, tx))} charged), stolen or damaged, or returned at the desk or its locker.`,
    ];
    if (asset.home_station !== null && asset.home_locker !== null) effects.push(`Its home is ${asset.home_station} locker ${Number(asset.home_locker) + 1}: take it from there by hand if the station is down.`);
    return { asset, borrower, dueAt, effects };
  }

  async checkLend(input: LendInput, actor: Actor, at = new Date().toISOString()): Promise<Plan> {
    requirePermission(actor, 'desk.lend');
    return { effects: (await this.lendPlan(input, at, this.db, actor)).effects };
  }

  async lend(input: LendInput, actor: Actor, at = new Date().toISOString()): Promise<{ loanId: number; dueAt: string }> {
    requirePermission(actor, 'desk.lend');
    return this.db.transaction(async (tx) => {
      const { asset, borrower, dueAt } = await this.lendPlan(input, at, tx, actor);
      const id = await tx.insert('INSERT INTO loans (asset_id, person_id, lent_at, due_at) VALUES (?, ?, ?, ?)', [asset.id, borrower.id, at, dueAt]);
      await this.assets.setStatus(Number(asset.id), 'on-loan', tx, at);
      await this.audit.append({ actor: actorLabel(actor), action: 'loan.opened', subject: `loan:${id}`, personId: Number(borrower.id), at, details: { loan: id, asset: Number(asset.id), due: dueAt, desk: true } }, tx);
      return { loanId: id, dueAt };
    });
  }

  // ---- return ----

  private async returnPlan(input: ReturnInput, at: string, tx: SqlDatabase, actor: Actor): Promise<{ asset: AssetRow; loan: LoanRow; holdForCheck: boolean; pence: number | null; effects: string[] }> {
    const tag = input.tag.trim();
    if (!tag) throw new RuleError('P6', 'give the asset tag of the item being returned');
    if (!RETURN_CONDITIONS.includes(input.condition)) throw new RuleError('P7', 'say what condition the item is in: good or damaged');
    const asset = await this.assets.byTag(tag, tx);
    const loan = await this.loans.openLoanOf(Number(asset.id), tx);
    if (!loan) throw new RuleError('P7', `${asset.tag} is not on loan (it is ${assetStatusWords(asset.status)}): there is nothing to return${asset.status === 'lost' || asset.status === 'stolen' ? '; if it has turned up, record it found under Charges' : ''}`);
    // Separation of duties: the desk's word on the condition (and so on any charge) is another's.
    if (actor.personId !== null && Number(loan.person_id) === actor.personId) throw new RuleError('P14', `${asset.tag} is on loan to you: another member of staff takes it back at the desk (or return it to its locker)`);
    const holder = (await this.people.get(Number(loan.person_id), tx))!;
    const assetClass = await this.assets.assetClass(asset.class_id, tx);
    const effects = [`The loan of ${assetClass.name.toLowerCase()} ${asset.tag} to ${describePerson(holder)} (since ${new Date(loan.lent_at).toLocaleDateString('en-GB')}) is closed as returned at the desk, in ${input.condition} condition.`];
    let pence: number | null = null;
    if (input.condition === 'damaged' && input.item?.trim()) {
      const price = (await this.assets.priceList(asset.class_id)).find((entry) => entry.item === input.item!.trim());
      if (!price) throw new RuleError('P7', `no price for ${JSON.stringify(input.item)} in the ${assetClass.name.toLowerCase()} price list`);
      pence = Number(price.pence);
      effects.push(`${describePerson(holder)} is charged ${formatPence(pence)} for “${price.item}” (price list).`);
    } else if (input.condition === 'damaged') {
      effects.push('The damage is noted; nothing is charged (choose a price-list item to charge for it).');
    }
    const holdForCheck = await this.assets.healthCheckDue(asset, at, tx);
    effects.push(holdForCheck ? `Its health check is due: it is held for ICT and cannot be lent until ICT records the check (P10).` : `It is available to lend again.`);
    return { asset, loan, holdForCheck, pence, effects };
  }

  async checkReturn(input: ReturnInput, actor: Actor, at = new Date().toISOString()): Promise<Plan> {
    requirePermission(actor, 'desk.lend');
    return { effects: (await this.returnPlan(input, at, this.db, actor)).effects };
  }

  async return(input: ReturnInput, actor: Actor, at = new Date().toISOString()): Promise<{ loanId: number; chargeId: number | null; heldForCheck: boolean }> {
    requirePermission(actor, 'desk.lend');
    return this.db.transaction(async (tx) => {
      const { asset, loan, holdForCheck, pence } = await this.returnPlan(input, at, tx, actor);
      await tx.run("UPDATE loans SET closed_at = ?, outcome = 'returned', closed_by = ? WHERE id = ?", [at, actor.personId, loan.id]);
      await this.assets.setStatus(Number(asset.id), holdForCheck ? 'health-check' : 'available', tx, at);
      const note = (input.note ?? '').trim().slice(0, 500);
      await this.audit.append({ actor: actorLabel(actor), action: 'loan.returned', subject: `loan:${loan.id}`, personId: Number(loan.person_id), at, details: { loan: Number(loan.id), asset: Number(asset.id), heldForCheck: holdForCheck, desk: true, condition: input.condition, ...(note ? { note } : {}) } }, tx);
      let chargeId: number | null = null;
      if (pence !== null && pence > 0) {
        chargeId = await this.ledger.charge(tx, { personId: Number(loan.person_id), amountPence: pence, reason: `damage to ${await this.assets.describe(asset, tx)}: ${input.item!.trim()}`, assetId: Number(asset.id), loanId: Number(loan.id), actor, at });
      }
      return { loanId: Number(loan.id), chargeId, heldForCheck: holdForCheck };
    });
  }

  // ---- health check (P10) ----

  private async healthCheckPlan(tag: string, at: string, tx: SqlDatabase): Promise<{ asset: AssetRow; effects: string[] }> {
    if (!tag.trim()) throw new RuleError('P10', 'give the asset tag of the laptop');
    const asset = await this.assets.byTag(tag.trim(), tx);
    const assetClass = await this.assets.assetClass(asset.class_id, tx);
    const days = asset.health_check_days ?? assetClass.health_check_days;
    if (days === null || days === undefined) throw new RuleError('P10', `${asset.tag} is a ${assetClass.name.toLowerCase()}: its class has no health checks`);
    if (!['available', 'on-loan', 'health-check'].includes(asset.status)) throw new RuleError('P10', `${asset.tag} is ${assetStatusWords(asset.status)}: only a laptop the school has can be checked`);
    const due = await this.assets.healthCheckDueAt(asset, tx);
    const effects = [
      `A health check of ${asset.tag} is recorded now under your name (it was ${due && due <= at ? `due since ${new Date(due).toLocaleDateString('en-GB')}` : due ? `next due ${new Date(due).toLocaleDateString('en-GB')}` : 'never checked'}).`,
      `The next one falls due in ${Number(days)} days.`,
    ];
    if (asset.status === 'health-check') effects.push('It was held for ICT: it is released and may be lent again.');
    return { asset, effects };
  }

  async checkHealthCheck(tag: string, actor: Actor, at = new Date().toISOString()): Promise<Plan> {
    requirePermission(actor, 'assets.health-check');
    return { effects: (await this.healthCheckPlan(tag, at, this.db)).effects };
  }

  async recordHealthCheck(tag: string, note: string, actor: Actor, at = new Date().toISOString()): Promise<{ assetId: number; released: boolean }> {
    requirePermission(actor, 'assets.health-check');
    return this.db.transaction(async (tx) => {
      const { asset } = await this.healthCheckPlan(tag, at, tx);
      await this.assets.recordHealthCheck(Number(asset.id), actor, at, tx);
      if (note.trim()) await this.audit.append({ actor: actorLabel(actor), action: 'asset.health-check-note', subject: `asset:${asset.id}`, at, details: { asset: Number(asset.id), note: note.trim().slice(0, 500) } }, tx);
      const released = asset.status === 'health-check';
      if (released) {
        if (asset.home_station !== null && asset.home_locker !== null) await this.holds.releaseHealthCheck(asset.home_station, Number(asset.home_locker), actor.personId, at, tx);
        await this.assets.setStatus(Number(asset.id), 'available', tx, at);
      }
      return { assetId: Number(asset.id), released };
    });
  }
}
