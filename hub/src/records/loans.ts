// Loans of school assets (P6, P7, P8, P9, P10, P11, P12): opened and closed by station events,
// reported lost, stolen or damaged by staff, and settled when someone leaves.
//   lost      -> the holder is charged the replacement price (per asset, else per class; £10.00
//                for a stick by default), linked to the loan; the headteacher is alerted (P7, P11)
//   stolen    -> needs a crime number; nothing is charged; the headteacher is alerted (P8, P11)
//   damaged   -> the last holder is charged the price-list item (P7)
//   found     -> whatever is outstanding of the loss charge is reversed (a new ledger entry)
//   leaver    -> every open loan is listed; laptops must come back (P10); a stick may be retained
//                with a recorded declaration and is then written off without charge (P9)
import type { SqlDatabase } from '../db/sql';
import type { AuditTrail } from '../audit/trail';
import { AccessError, actorLabel, NotFoundError, requirePermission, RuleError, type Actor } from './access';
import type { Alerts, RaiseAlert } from './alerts';
import { assetStatusWords, type Assets, type AssetRow } from './assets';
import type { Holds } from './holds';
import type { Ledger } from './ledger';
import type { PersonRow, Role } from './people';
import { formatPence, parseDay } from './time';

function notOwnLeaver(leaverId: number, actor: Actor, what: string): void {
  if (actor.personId !== null && actor.personId === leaverId) throw new AccessError('leavers', actor.role, '', `nobody may ${what}: another member of staff must`);
}

export interface LoanRow {
  id: number;
  asset_id: number;
  person_id: number;
  lent_at: string;
  due_at: string;
  station_id: string | null;
  locker: number | null;
  lend_boot: number | null;
  lend_seq: number | null;
  closed_at: string | null;
  outcome: 'returned' | 'lost' | 'stolen' | 'retained' | null;
  closed_by: number | null;
  crime_number: string | null;
  declaration: string | null;
  found_at: string | null;
}

export interface StationLoanEvent {
  stationId: string;
  locker: number;
  personId: number | null;
  actorId: number | null;
  boot: number;
  seq: number;
  at: string;
  /** RETURN only: the station held the laptop for a health check. */
  healthCheckHeld?: boolean;
}

export interface LeaverLoan {
  loan: LoanRow;
  asset: AssetRow;
  /** What must happen before the person may leave. */
  required: 'return' | 'return-or-declare';
}

/** How a loss charge's reason begins (found() reverses those, and only those, of the loan). */
const LOSS_REASON = 'replacement of lost ';

export class LeaverBlockedError extends RuleError {
  constructor(readonly outstanding: LeaverLoan[]) {
    super('P9/P10', `cannot complete the leaver: ${outstanding.map((item) => `${item.asset.tag} (${item.required === 'return' ? 'laptop: must be returned' : 'stick: return it or record a declaration'})`).join(', ')}`);
    this.name = 'LeaverBlockedError';
  }
}

export class Loans {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
    private assets: Assets,
    private ledger: Ledger,
    private holds: Holds,
    private alerts: Alerts,
  ) {}

  async get(id: number, tx: SqlDatabase = this.db): Promise<LoanRow | undefined> {
    return tx.get<LoanRow>('SELECT * FROM loans WHERE id = ?', [id]);
  }

  async openLoanOf(assetId: number, tx: SqlDatabase = this.db): Promise<LoanRow | undefined> {
    return tx.get<LoanRow>('SELECT * FROM loans WHERE asset_id = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1', [assetId]);
  }

  async lastLoanOf(assetId: number, tx: SqlDatabase = this.db): Promise<LoanRow | undefined> {
    return tx.get<LoanRow>('SELECT * FROM loans WHERE asset_id = ? ORDER BY id DESC LIMIT 1', [assetId]);
  }

  async openLoansOf(personId: number, tx: SqlDatabase = this.db): Promise<LoanRow[]> {
    return tx.all<LoanRow>('SELECT * FROM loans WHERE person_id = ? AND closed_at IS NULL ORDER BY lent_at', [personId]);
  }

  // ---- from station events ----

  /** LOAN: the item at this home locker went out to the person who tapped (P6, P12 checked here too). */
  async fromStationLoan(event: StationLoanEvent, tx: SqlDatabase, alert: RaiseAlert): Promise<number | null> {
    const asset = await this.assets.atHome(event.stationId, event.locker, tx);
    const where = `locker:${event.stationId}/${event.locker}`;
    if (!asset) {
      await alert('loan-unknown-asset', 'ict', where, `a loan from ${event.stationId} locker ${event.locker}, which is home to no registered asset`);
      return null;
    }
    if (event.personId === null) {
      await alert('loan-without-borrower', 'ict', `asset:${asset.id}`, `${asset.tag} went out with no borrower named`);
      return null;
    }
    const borrower = await tx.get<{ role: Role; left_on: string | null }>('SELECT role, left_on FROM people WHERE id = ?', [event.personId]);
    const lendable = await this.assets.lendable(asset, tx);
    if (!lendable.ok) await alert('loan-not-lendable', 'ict', `asset:${asset.id}`, `${asset.tag} went out although ${lendable.reason}`);
    if (!borrower || !(await this.assets.mayBorrow(borrower.role, asset, tx))) {
      await alert('loan-not-permitted', 'ict', `asset:${asset.id}`, `${asset.tag} went out to person #${event.personId}, whose role may not borrow a ${(await this.assets.assetClass(asset.class_id, tx)).name.toLowerCase()} (P12)`);
    }
    // An earlier loan never closed (a missed return): close it as returned now, noted in the trail.
    const stale = await this.openLoanOf(Number(asset.id), tx);
    if (stale) {
      await tx.run("UPDATE loans SET closed_at = ?, outcome = 'returned' WHERE id = ?", [event.at, stale.id]);
      await this.audit.append({ actor: `station:${event.stationId}`, action: 'loan.closed-unseen', subject: `loan:${stale.id}`, personId: Number(stale.person_id), at: event.at, details: { loan: Number(stale.id) } }, tx);
    }
    const dueAt = await this.assets.loanDueAt(asset, event.at, tx);
    const id = await tx.insert(
      `INSERT INTO loans (asset_id, person_id, lent_at, due_at, station_id, locker, lend_boot, lend_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [asset.id, event.personId, event.at, dueAt, event.stationId, event.locker, event.boot, event.seq],
    );
    await this.assets.setStatus(Number(asset.id), 'on-loan', tx, event.at);
    await this.audit.append({ actor: `person:${event.personId}`, action: 'loan.opened', subject: `loan:${id}`, personId: event.personId, at: event.at, details: { loan: id, asset: Number(asset.id), due: dueAt, station: event.stationId, boot: event.boot, seq: event.seq } }, tx);
    return id;
  }

  /** RETURN: the item is back in its home locker; a laptop due a check stays held (P10). */
  async fromStationReturn(event: StationLoanEvent, tx: SqlDatabase, alert: RaiseAlert): Promise<number | null> {
    const asset = await this.assets.atHome(event.stationId, event.locker, tx);
    if (!asset) {
      await alert('return-unknown-asset', 'ict', `locker:${event.stationId}/${event.locker}`, `a return to ${event.stationId} locker ${event.locker}, which is home to no registered asset`);
      return null;
    }
    const loan = await this.openLoanOf(Number(asset.id), tx);
    const heldForCheck = event.healthCheckHeld || (await this.assets.healthCheckDue(asset, event.at, tx));
    if (loan) {
      await tx.run("UPDATE loans SET closed_at = ?, outcome = 'returned', closed_by = ?, return_boot = ?, return_seq = ? WHERE id = ?", [event.at, event.actorId, event.boot, event.seq, loan.id]);
      await this.audit.append({ actor: event.actorId ? `person:${event.actorId}` : `station:${event.stationId}`, action: 'loan.returned', subject: `loan:${loan.id}`, personId: Number(loan.person_id), at: event.at, details: { loan: Number(loan.id), asset: Number(asset.id), heldForCheck } }, tx);
    } else if (asset.status === 'lost' || asset.status === 'stolen') {
      // A lost item put back in its locker has been found.
      await this.markFound(asset, { personId: event.actorId, role: 'system' }, event.at, tx, true);
    } else {
      await alert('return-without-loan', 'ict', `asset:${asset.id}`, `${asset.tag} was returned but no loan of it was open`);
    }
    if (heldForCheck && (await this.assets.healthCheckDueAt(asset, tx)) !== null) {
      await this.holds.placeHealthCheck(Number(asset.id), event.stationId, event.locker, loan ? Number(loan.person_id) : null, event.at, tx);
      await this.assets.setStatus(Number(asset.id), 'health-check', tx, event.at);
    } else if (asset.status !== 'written-off' && asset.status !== 'retired') {
      await this.assets.setStatus(Number(asset.id), 'available', tx, event.at);
    }
    return loan ? Number(loan.id) : null;
  }

  /** HOLD_RELEASED with HEALTH_CHECK_CLEARED: ICT checked the laptop; it may go out again. */
  async fromHealthCheckCleared(event: StationLoanEvent, tx: SqlDatabase): Promise<void> {
    const asset = await this.assets.atHome(event.stationId, event.locker, tx);
    await this.holds.releaseHealthCheck(event.stationId, event.locker, event.actorId, event.at, tx);
    if (!asset) return;
    await this.assets.recordHealthCheck(Number(asset.id), { personId: event.actorId, role: 'ict' }, event.at, tx);
    if (asset.status === 'health-check') await this.assets.setStatus(Number(asset.id), 'available', tx, event.at);
  }

  // ---- reports by staff ----

  private async loanForReport(tag: string, tx: SqlDatabase): Promise<{ asset: AssetRow; loan: LoanRow }> {
    const asset = await this.assets.byTag(tag, tx);
    const loan = await this.openLoanOf(Number(asset.id), tx);
    if (!loan) throw new RuleError('P7', `${tag} is not on loan (it is ${assetStatusWords(asset.status)}): only an open loan can be reported lost or stolen`);
    return { asset, loan };
  }

  /** Reports an item on loan lost (P7): charges the holder its replacement price and alerts the headteacher (P11). */
  async reportLost(tag: string, actor: Actor, at = new Date().toISOString()): Promise<{ loanId: number; chargeId: number | null; amountPence: number }> {
    requirePermission(actor, 'charges.report', 'reporting a loss');
    return this.db.transaction(async (tx) => {
      const { asset, loan } = await this.loanForReport(tag, tx);
      await tx.run("UPDATE loans SET closed_at = ?, outcome = 'lost', closed_by = ? WHERE id = ?", [at, actor.personId, loan.id]);
      await this.assets.setStatus(Number(asset.id), 'lost', tx, at);
      await this.audit.append({ actor: actorLabel(actor), action: 'loan.reported-lost', subject: `loan:${loan.id}`, personId: Number(loan.person_id), at, details: { loan: Number(loan.id), asset: Number(asset.id) } }, tx);
      const amountPence = await this.assets.replacementPence(asset, tx);
      const chargeId =
        amountPence > 0
          ? await this.ledger.charge(tx, { personId: Number(loan.person_id), amountPence, reason: `${LOSS_REASON}${await this.assets.describe(asset, tx)}`, assetId: Number(asset.id), loanId: Number(loan.id), actor, at })
          : null;
      await this.alerts.raise(tx, { kind: 'asset-lost', role: 'headteacher', subject: `loan:${loan.id}`, message: `${asset.tag} (${(await this.assets.assetClass(asset.class_id, tx)).name}) reported lost${chargeId ? `; ${formatPence(amountPence)} charged` : ''}`, at });
      return { loanId: Number(loan.id), chargeId, amountPence: chargeId ? amountPence : 0 };
    });
  }

  /** Reports an item on loan stolen (P8): refused without a crime number; nothing is charged. */
  async reportStolen(tag: string, crimeNumber: string | undefined, actor: Actor, at = new Date().toISOString()): Promise<{ loanId: number }> {
    requirePermission(actor, 'charges.report', 'reporting a theft');
    const crime = (crimeNumber ?? '').trim();
    if (!crime) throw new RuleError('P8', 'a theft must be reported with the police crime number');
    return this.db.transaction(async (tx) => {
      const { asset, loan } = await this.loanForReport(tag, tx);
      await tx.run("UPDATE loans SET closed_at = ?, outcome = 'stolen', closed_by = ?, crime_number = ? WHERE id = ?", [at, actor.personId, crime, loan.id]);
      await this.assets.setStatus(Number(asset.id), 'stolen', tx, at);
      await this.audit.append({ actor: actorLabel(actor), action: 'loan.reported-stolen', subject: `loan:${loan.id}`, personId: Number(loan.person_id), at, details: { loan: Number(loan.id), asset: Number(asset.id), crimeNumber: crime } }, tx);
      await this.alerts.raise(tx, { kind: 'asset-stolen', role: 'headteacher', subject: `loan:${loan.id}`, message: `${asset.tag} (${(await this.assets.assetClass(asset.class_id, tx)).name}) reported stolen, crime number ${crime}`, at });
      return { loanId: Number(loan.id) };
    });
  }

  /** Damage (P7): the holder of the current or last loan is charged the price-list item. */
  async reportDamage(tag: string, item: string, actor: Actor, at = new Date().toISOString()): Promise<{ loanId: number; chargeId: number; amountPence: number }> {
    requirePermission(actor, 'charges.report', 'reporting damage');
    return this.db.transaction(async (tx) => {
      const asset = await this.assets.byTag(tag, tx);
      const loan = await this.lastLoanOf(Number(asset.id), tx);
      if (!loan) throw new RuleError('P7', `${tag} has never been lent: there is no one to charge`);
      const price = await tx.get<{ pence: number }>('SELECT pence FROM price_list WHERE class_id = ? AND item = ?', [asset.class_id, item]);
      if (!price) {
        const items = (await tx.all<{ item: string }>('SELECT item FROM price_list WHERE class_id = ? ORDER BY item', [asset.class_id])).map((row) => row.item);
        throw new RuleError('P7', `no price for ${JSON.stringify(item)} in the ${asset.class_id} price list${items.length ? ` (it has: ${items.join(', ')})` : ' (it is empty)'}`);
      }
      await this.audit.append({ actor: actorLabel(actor), action: 'loan.reported-damaged', subject: `loan:${loan.id}`, personId: Number(loan.person_id), at, details: { loan: Number(loan.id), asset: Number(asset.id), item } }, tx);
      const amountPence = Number(price.pence);
      if (amountPence <= 0) throw new RuleError('P7', `${item} is priced at nothing in the ${asset.class_id} price list`);
      const chargeId = await this.ledger.charge(tx, { personId: Number(loan.person_id), amountPence, reason: `damage to ${await this.assets.describe(asset, tx)}: ${item}`, assetId: Number(asset.id), loanId: Number(loan.id), actor, at });
      return { loanId: Number(loan.id), chargeId, amountPence };
    });
  }

  private async markFound(asset: AssetRow, actor: Actor, at: string, tx: SqlDatabase, backInItsLocker = false): Promise<number[]> {
    const loan = await tx.get<LoanRow>("SELECT * FROM loans WHERE asset_id = ? AND outcome IN ('lost', 'stolen') AND found_at IS NULL ORDER BY id DESC LIMIT 1", [asset.id]);
    await this.assets.setStatus(Number(asset.id), 'available', tx, at);
    const reversals: number[] = [];
    if (loan) {
      await tx.run('UPDATE loans SET found_at = ? WHERE id = ?', [at, loan.id]);
      await this.audit.append({ actor: actorLabel(actor), action: 'loan.found', subject: `loan:${loan.id}`, personId: Number(loan.person_id), at, details: { loan: Number(loan.id), asset: Number(asset.id) } }, tx);
      // Only the loss charge is reversed: damage charged on the same loan stands (the item was
      // damaged whether or not it was later found). reportLost is the only writer of this reason.
      const charges = await tx.all<{ id: number }>("SELECT id FROM charges WHERE loan_id = ? AND entry = 'charge' AND reason LIKE ? ORDER BY id", [loan.id, `${LOSS_REASON}%`]);
      for (const charge of charges) {
        if ((await this.ledger.outstanding(Number(charge.id), tx)) > 0) reversals.push(await this.ledger.reverseFound(Number(charge.id), `${asset.tag} was found`, actor, at, tx, backInItsLocker));
      }
    }
    return reversals;
  }

  /** A lost or stolen item is found: its loss charge is reversed by a new ledger entry. */
  async found(tag: string, actor: Actor, at = new Date().toISOString()): Promise<{ reversals: number[] }> {
    requirePermission(actor, 'charges.report', 'recording a found item');
    return this.db.transaction(async (tx) => {
      const asset = await this.assets.byTag(tag, tx);
      if (asset.status !== 'lost' && asset.status !== 'stolen') throw new RuleError('P7', `${tag} is ${assetStatusWords(asset.status)}, not lost or stolen`);
      return { reversals: await this.markFound(asset, actor, at, tx) };
    });
  }

  // ---- leavers (P9, P10) ----

  async leaverLoans(personId: number, tx: SqlDatabase = this.db): Promise<LeaverLoan[]> {
    const loans = await this.openLoansOf(personId, tx);
    const result: LeaverLoan[] = [];
    for (const loan of loans) {
      const asset = (await this.assets.get(Number(loan.asset_id), tx))!;
      const assetClass = await this.assets.assetClass(asset.class_id, tx);
      result.push({ loan, asset, required: assetClass.requires_encryption ? 'return-or-declare' : 'return' });
    }
    return result;
  }

  /**
   * A leaver keeps a stick after declaring school information deleted (P9): written off, no charge.
   * Only a loan of that leaver's, and never by the leaver themselves (it would let anyone write off
   * their own stick instead of paying for it).
   */
  async retainWithDeclaration(leaverId: number, tag: string, declaration: string, actor: Actor, at = new Date().toISOString()): Promise<{ loanId: number }> {
    requirePermission(actor, 'leavers.act', 'recording a leaver declaration');
    notOwnLeaver(leaverId, actor, 'record their own leaver declaration');
    if (declaration.trim().length < 10) throw new RuleError('P9', 'record the declaration itself (that school information on the stick has been deleted), not just a word');
    return this.db.transaction(async (tx) => {
      const asset = await this.assets.byTag(tag, tx);
      const assetClass = await this.assets.assetClass(asset.class_id, tx);
      if (!assetClass.requires_encryption) throw new RuleError('P10', `${tag} is a ${assetClass.name}: it must be returned, it cannot be retained`);
      const loan = await this.openLoanOf(Number(asset.id), tx);
      if (!loan) throw new RuleError('P9', `${tag} is not on loan`);
      if (Number(loan.person_id) !== leaverId) throw new RuleError('P9', `${tag} is not on loan to person #${leaverId}: a declaration closes only the leaver's own loans`);
      await tx.run("UPDATE loans SET closed_at = ?, outcome = 'retained', closed_by = ?, declaration = ? WHERE id = ?", [at, actor.personId, declaration.trim(), loan.id]);
      await this.assets.setStatus(Number(asset.id), 'written-off', tx, at);
      await this.audit.append({ actor: actorLabel(actor), action: 'loan.retained-by-leaver', subject: `loan:${loan.id}`, personId: Number(loan.person_id), at, details: { loan: Number(loan.id), asset: Number(asset.id), writtenOff: true } }, tx);
      return { loanId: Number(loan.id) };
    });
  }

  /** Completes a leaver: refused while a laptop is out or a stick is neither back nor declared. */
  async completeLeaver(person: PersonRow, leftOn: string, actor: Actor): Promise<void> {
    requirePermission(actor, 'leavers.act', 'completing a leaver');
    notOwnLeaver(Number(person.id), actor, 'complete themselves as a leaver');
    const day = parseDay(leftOn, 'leaving date', { maxYearsBack: 10, maxYearsAhead: 1 });
    if (!day.ok) throw new RuleError('P9', day.problem);
    await this.db.transaction(async (tx) => {
      const outstanding = await this.leaverLoans(Number(person.id), tx);
      if (outstanding.length > 0) throw new LeaverBlockedError(outstanding);
      await tx.run('UPDATE people SET left_on = ?, updated_at = ? WHERE id = ?', [leftOn, new Date().toISOString(), person.id]);
      await tx.run('UPDATE badges SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL', [new Date().toISOString(), person.id]);
      await this.audit.append({ actor: actorLabel(actor), action: 'person.left', subject: `person:${person.id}`, personId: Number(person.id), details: { person: Number(person.id), leftOn } }, tx);
    });
  }

  /** Loans past their due date and still out, most overdue first. */
  async overdue(at = new Date().toISOString()) {
    return this.db.all<LoanRow & { tag: string; class_id: string; name: string; external_id: string }>(
      `SELECT l.*, a.tag, a.class_id, p.name, p.external_id FROM loans l JOIN assets a ON a.id = l.asset_id JOIN people p ON p.id = l.person_id
       WHERE l.closed_at IS NULL AND l.due_at < ? ORDER BY l.due_at, l.id`,
      [at],
    );
  }
}
