// The charges ledger (P7, P8, P9): the only code that writes `charges`. Entries are never edited
// or deleted (the database refuses it too, migration 4): a correction is a new entry — a reversal
// (an item was found, a charge was raised in error) or a waiver (with a reason and who waived) —
// that points at the charge it corrects and takes off what is still outstanding of it.
// Every charge names the loan and asset it arises from, so `evidence()` can show the custody
// chain that justifies it. Personal phones are never charged (P2): a charge needs a school asset.
import type { SqlDatabase } from '../db/sql';
import type { AuditTrail } from '../audit/trail';
import { AccessError, actorLabel, NotFoundError, requirePermission, RuleError, type Actor } from './access';
import { formatPence, termOf } from './time';

export interface ChargeRow {
  id: number;
  person_id: number;
  entry: 'charge' | 'reversal' | 'waiver';
  amount_pence: number;
  reason: string;
  asset_id: number | null;
  loan_id: number | null;
  corrects_id: number | null;
  term: string;
  created_at: string;
  created_by: number | null;
}

export interface NewCharge {
  personId: number;
  amountPence: number;
  reason: string;
  assetId: number;
  loanId: number | null;
  actor: Actor;
  at: string;
}

export class Ledger {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
  ) {}

  /** Raises a charge (inside the caller's transaction, with the loss or damage it records). */
  async charge(tx: SqlDatabase, charge: NewCharge): Promise<number> {
    if (!Number.isInteger(charge.amountPence) || charge.amountPence <= 0) throw new RuleError('P7', `a charge must be a positive number of pence, got ${charge.amountPence}`);
    const asset = await tx.get<{ id: number }>('SELECT id FROM assets WHERE id = ?', [charge.assetId]);
    if (!asset) throw new RuleError('P2', 'a charge must arise from a school asset: personal devices are never charged');
    const id = await tx.insert(
      `INSERT INTO charges (person_id, entry, amount_pence, reason, asset_id, loan_id, corrects_id, term, created_at, created_by)
       VALUES (?, 'charge', ?, ?, ?, ?, NULL, ?, ?, ?)`,
      [charge.personId, charge.amountPence, charge.reason, charge.assetId, charge.loanId, termOf(charge.at), charge.at, charge.actor.personId],
    );
    await this.audit.append(
      { actor: actorLabel(charge.actor), action: 'charge.raised', subject: `charge:${id}`, personId: charge.personId, at: charge.at, details: { charge: id, amountPence: charge.amountPence, reason: charge.reason, asset: charge.assetId, loan: charge.loanId } },
      tx,
    );
    return id;
  }

  /** What is still owed on one charge: its amount less every correction of it. */
  async outstanding(chargeId: number, tx: SqlDatabase = this.db): Promise<number> {
    const row = await tx.get<{ total: number | null }>('SELECT SUM(amount_pence) AS total FROM charges WHERE id = ? OR corrects_id = ?', [chargeId, chargeId]);
    return Number(row?.total ?? 0);
  }

  private async correct(entry: 'reversal' | 'waiver', chargeId: number, reason: string, actor: Actor, at: string, tx: SqlDatabase, backInItsLocker = false): Promise<number> {
    const original = await tx.get<ChargeRow>('SELECT * FROM charges WHERE id = ?', [chargeId]);
    if (!original) throw new NotFoundError(`no charge ${chargeId}`);
    // Separation of duties: nobody corrects a charge raised against themselves (but an item the
    // station saw put back in its own locker is found, whoever put it there).
    if (!backInItsLocker && actor.personId !== null && Number(original.person_id) === actor.personId) {
      throw new AccessError(`${entry === 'waiver' ? 'waiving' : 'reversing'} a charge`, actor.role, '', `nobody may ${entry === 'waiver' ? 'waive' : 'reverse'} a charge raised against themselves: charge ${chargeId} is yours`);
    }
    if (original.entry !== 'charge') throw new RuleError('P7', `entry ${chargeId} is a ${original.entry}, not a charge: correct the charge it refers to (${original.corrects_id})`);
    const owed = await this.outstanding(chargeId, tx);
    if (owed <= 0) throw new RuleError('P7', `charge ${chargeId} has nothing outstanding to ${entry === 'waiver' ? 'waive' : 'reverse'}`);
    const id = await tx.insert(
      `INSERT INTO charges (person_id, entry, amount_pence, reason, asset_id, loan_id, corrects_id, term, created_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [original.person_id, entry, -owed, reason, original.asset_id, original.loan_id, chargeId, termOf(at), at, actor.personId],
    );
    await this.audit.append(
      { actor: actorLabel(actor), action: `charge.${entry}`, subject: `charge:${chargeId}`, personId: Number(original.person_id), at, details: { entry: id, corrects: chargeId, amountPence: -owed, reason } },
      tx,
    );
    return id;
  }

  /** Takes back what is outstanding of a charge (an item found, a charge raised in error). */
  async reverse(chargeId: number, reason: string, actor: Actor, at: string, tx?: SqlDatabase): Promise<number> {
    requirePermission(actor, 'charges.reverse', 'reversing a charge');
    if (!reason.trim()) throw new RuleError('P7', 'a reversal needs a reason');
    if (!tx) return this.db.transaction((inner) => this.reverse(chargeId, reason, actor, at, inner));
    return this.correct('reversal', chargeId, reason.trim(), actor, at, tx);
  }

  /**
   * Reverses the loss charge of an item found (loans.markFound). Whoever may report an item found
   * (`charges.report`, checked by the caller) may do this without the right to reverse any charge;
   * `backInItsLocker`: the station saw it put back, which is proof enough even from its borrower.
   */
  async reverseFound(chargeId: number, reason: string, actor: Actor, at: string, tx: SqlDatabase, backInItsLocker: boolean): Promise<number> {
    return this.correct('reversal', chargeId, reason, actor, at, tx, backInItsLocker);
  }

  /** Waives what is outstanding of a charge; needs a reason and a named office or senior member of staff. */
  async waive(chargeId: number, reason: string, actor: Actor, at: string): Promise<number> {
    requirePermission(actor, 'charges.waive', 'waiving a charge');
    if (!reason.trim()) throw new RuleError('P7', 'a waiver needs a reason');
    return this.db.transaction((tx) => this.correct('waiver', chargeId, reason.trim(), actor, at, tx));
  }

  async get(chargeId: number): Promise<ChargeRow | undefined> {
    return this.db.get<ChargeRow>('SELECT * FROM charges WHERE id = ?', [chargeId]);
  }

  async entries(filter: { personId?: number; loanId?: number } = {}): Promise<ChargeRow[]> {
    if (filter.personId !== undefined) return this.db.all<ChargeRow>('SELECT * FROM charges WHERE person_id = ? ORDER BY id', [filter.personId]);
    if (filter.loanId !== undefined) return this.db.all<ChargeRow>('SELECT * FROM charges WHERE loan_id = ? ORDER BY id', [filter.loanId]);
    return this.db.all<ChargeRow>('SELECT * FROM charges ORDER BY id');
  }

  async balance(personId: number): Promise<number> {
    const row = await this.db.get<{ total: number | null }>('SELECT SUM(amount_pence) AS total FROM charges WHERE person_id = ?', [personId]);
    return Number(row?.total ?? 0);
  }

  /**
   * The custody chain behind a charge: the charge and its corrections, the loan, the asset, the
   * station events of the loan (lend, return, and anything at that locker in between) and the
   * audit records about the loan and the charge.
   */
  async evidence(chargeId: number) {
    const charge = await this.get(chargeId);
    if (!charge) throw new NotFoundError(`no charge ${chargeId}`);
    const root = charge.entry === 'charge' ? charge : await this.get(Number(charge.corrects_id));
    const corrections = await this.db.all<ChargeRow>('SELECT * FROM charges WHERE corrects_id = ? ORDER BY id', [root!.id]);
    const loan = root!.loan_id === null ? undefined : await this.db.get<Record<string, unknown> & { station_id: string | null; locker: number | null; lent_at: string; closed_at: string | null }>('SELECT * FROM loans WHERE id = ?', [root!.loan_id]);
    const asset = root!.asset_id === null ? undefined : await this.db.get('SELECT id, tag, serial, class_id, encryption FROM assets WHERE id = ?', [root!.asset_id]);
    const stationEvents = loan?.station_id
      ? await this.db.all(
          `SELECT station_id, board, boot, seq, type, locker, person_id, actor_id, witness_id, detail, received_at FROM station_events
           WHERE station_id = ? AND (locker = ? OR locker IS NULL) AND received_at >= ? AND received_at <= ?
           ORDER BY received_at, boot, seq`,
          [loan.station_id, loan.locker, loan.lent_at, loan.closed_at ?? '9999-12-31T23:59:59.999Z'],
        )
      : [];
    // What was recorded about the loan and about this charge (raised, waived, reversed), in order.
    const auditRecords = [...(loan ? await this.audit.forSubject(`loan:${root!.loan_id}`) : []), ...(await this.audit.forSubject(`charge:${root!.id}`))].sort((a, b) => Number(a.seq) - Number(b.seq));
    return { charge: root!, corrections, outstandingPence: await this.outstanding(root!.id), loan: loan ?? null, asset: asset ?? null, stationEvents, auditRecords };
  }

  describe(row: ChargeRow): string {
    return `${row.entry} ${row.id}: ${formatPence(Number(row.amount_pence))} ${row.reason}`;
  }
}
