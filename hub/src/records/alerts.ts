// Alerts for a role (P11: a lost or stolen laptop or stick goes to the headteacher at once and
// tops the office view; anomalies in station events go to whoever must look at them).
import { EventEmitter } from 'node:events';
import type { SqlDatabase } from '../db/sql';
import type { AuditTrail } from '../audit/trail';
import type { Role } from './people';

export interface AlertRow {
  id: number;
  at: string;
  kind: string;
  role: Role;
  subject: string;
  message: string;
  acknowledged_at: string | null;
  acknowledged_by: number | null;
  /** An alert about a loan (a loss, a theft): the loan's asset and borrower, so a school's account sees its own only (issue 16). */
  asset_id?: number;
  person_id?: number;
  /** An alert about a hold: the held locker's station, and the pupil held for. */
  station_id?: string;
}

export type RaiseAlert = (kind: string, role: Role, subject: string, message: string) => Promise<void>;

export class Alerts extends EventEmitter {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
  ) {
    super();
  }

  /** Raises an alert inside `tx`; listeners hear of it (the page, a mailer) once it is written. */
  async raise(tx: SqlDatabase, alert: { kind: string; role: Role; subject: string; message: string; at: string }): Promise<number> {
    const id = await tx.insert('INSERT INTO alerts (at, kind, role, subject, message) VALUES (?, ?, ?, ?, ?)', [alert.at, alert.kind, alert.role, alert.subject, alert.message]);
    await this.audit.append({ actor: 'system', action: 'alert.raised', subject: alert.subject, at: alert.at, details: { alert: id, kind: alert.kind, role: alert.role } }, tx);
    this.emit('alert', { id, ...alert });
    return id;
  }

  /** A raiser bound to one transaction and moment, for the record modules. */
  raiserFor(tx: SqlDatabase, at: string): RaiseAlert {
    return async (kind, role, subject, message) => {
      await this.raise(tx, { kind, role, subject, message, at });
    };
  }

  /** Open alerts, most urgent first: losses and thefts (P11) before anything else. */
  async open(): Promise<AlertRow[]> {
    const alerts = await this.db.all<AlertRow>(
      `SELECT * FROM alerts WHERE acknowledged_at IS NULL
       ORDER BY CASE WHEN kind IN ('asset-lost', 'asset-stolen') THEN 0 ELSE 1 END, at DESC, id DESC`,
    );
    // An alert about a loan or a hold names neither person nor station in its subject: theirs are read, so a school's account sees its own only (issue 16).
    const [loans, holds] = await Promise.all([
      this.subjectsOf(alerts, 'loan', (ids) => `SELECT id, asset_id, person_id FROM loans WHERE id IN (${ids})`),
      this.subjectsOf(alerts, 'hold', (ids) => `SELECT id, person_id, station_id FROM holds WHERE id IN (${ids})`),
    ]);
    return alerts.map((alert) => {
      const loan = loans.get(alert.subject);
      if (loan) return { ...alert, asset_id: Number(loan.asset_id), person_id: Number(loan.person_id) };
      const hold = holds.get(alert.subject);
      if (hold) return { ...alert, station_id: String(hold.station_id), ...(hold.person_id === null ? {} : { person_id: Number(hold.person_id) }) };
      return alert;
    });
  }

  /** The rows an alert's subject `kind:id` names, by subject. */
  private async subjectsOf(alerts: AlertRow[], kind: string, query: (marks: string) => string): Promise<Map<string, Record<string, unknown>>> {
    const pattern = new RegExp(`^${kind}:(\\d+)$`);
    const ids = [...new Set(alerts.map((alert) => pattern.exec(alert.subject)).filter((match) => match !== null).map((match) => Number(match[1])))];
    if (ids.length === 0) return new Map();
    const rows = await this.db.all<Record<string, unknown>>(query(ids.map(() => '?').join(', ')), ids);
    return new Map(rows.map((row) => [`${kind}:${Number(row.id)}`, row]));
  }

  async acknowledge(id: number, personId: number, at = new Date().toISOString()): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run('UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND acknowledged_at IS NULL', [at, personId, id]);
      await this.audit.append({ actor: `person:${personId}`, action: 'alert.acknowledged', subject: `alert:${id}`, at, details: { alert: id } }, tx);
    });
  }
}
