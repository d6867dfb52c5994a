// Phones left behind (P1, P13). At the end-of-day cut-off every phone still in a locker becomes
// uncollected; an uncollected phone not collected within the lost-property period (one term by
// default) is due for disposal, which a member of staff records — nothing is disposed of by itself.
import type { SqlDatabase } from '../db/sql';
import type { AuditEntry, AuditTrail } from '../audit/trail';
import { actorLabel, NotFoundError, requirePermission, RuleError, SYSTEM, type Actor } from './access';
import { addDays, latestCutoff, nextCutoff } from './time';

export interface LostPropertyRules {
  /** HH:MM, hub local time. */
  dayCutoff: string;
  lostPropertyDays: number;
}

export class LostProperty {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
    private rules: LostPropertyRules,
  ) {}

  /**
   * Marks every phone deposited before the latest cut-off and still in as uncollected. Returns how
   * many. Each is uncollected as of the first cut-off after its deposit (not the sweep's own
   * time), so a hub that was off over a weekend or a holiday still dates it, and its disposal, right.
   */
  async markUncollected(now = new Date(), actor: Actor = SYSTEM): Promise<number> {
    const latest = latestCutoff(now, this.rules.dayCutoff).toISOString();
    return this.db.transaction(async (tx) => {
      const rows = await tx.all<{ id: number; person_id: number; station_id: string; locker: number; deposited_at: string }>(
        'SELECT custody_id AS id, person_id, station_id, locker, deposited_at FROM phones_in WHERE uncollected_at IS NULL AND deposited_at < ? ORDER BY deposited_at, custody_id',
        [latest],
      );
      if (rows.length === 0) return 0;
      const entries: AuditEntry[] = [];
      for (const row of rows) {
        const uncollectedAt = nextCutoff(new Date(row.deposited_at), this.rules.dayCutoff).toISOString();
        const disposalDue = addDays(uncollectedAt, this.rules.lostPropertyDays);
        await tx.run('UPDATE phone_custody SET uncollected_at = ?, disposal_due_at = ? WHERE id = ? AND uncollected_at IS NULL', [uncollectedAt, disposalDue, row.id]);
        entries.push({ actor: actorLabel(actor), action: 'phone.uncollected', subject: `custody:${row.id}`, personId: Number(row.person_id), at: uncollectedAt, details: { custody: Number(row.id), station: row.station_id, locker: Number(row.locker), disposalDue } });
      }
      await this.audit.appendMany(entries, tx);
      return rows.length;
    });
  }

  /** Phones uncollected now (still in a locker after a cut-off). */
  async uncollected() {
    return this.db.all<{ id: number; person_id: number; name: string; form: string | null; station_id: string; locker: number; deposited_at: string; uncollected_at: string; disposal_due_at: string }>(
      `SELECT c.custody_id AS id, c.person_id, p.name, p.form, c.station_id, c.locker, c.deposited_at, c.uncollected_at, c.disposal_due_at
       FROM phones_in c JOIN people p ON p.id = c.person_id WHERE c.uncollected_at IS NOT NULL ORDER BY c.deposited_at, c.custody_id`,
    );
  }

  /** Uncollected phones whose lost-property period is over: due for disposal. */
  async dueForDisposal(now = new Date()) {
    return (await this.uncollected()).filter((row) => row.disposal_due_at <= now.toISOString());
  }

  /** A member of staff records that an unclaimed phone was disposed of (P13). */
  async dispose(custodyId: number, note: string, actor: Actor, now = new Date()): Promise<void> {
    requirePermission(actor, 'lost-property.dispose', 'disposing of lost property');
    if (!note.trim()) throw new RuleError('P13', 'record how the phone was disposed of (e.g. "returned to parent", "recycled")');
    const at = now.toISOString();
    await this.db.transaction(async (tx) => {
      const row = await tx.get<{ id: number; person_id: number; station_id: string; locker: number; collected_at: string | null; disposal_due_at: string | null }>('SELECT * FROM phone_custody WHERE id = ?', [custodyId]);
      if (!row) throw new NotFoundError(`no phone custody record ${custodyId}`);
      if (row.collected_at) throw new RuleError('P13', `phone ${custodyId} is no longer in a locker`);
      const held = await tx.get<{ kind: string }>('SELECT kind FROM holds WHERE station_id = ? AND locker = ? AND released_at IS NULL', [row.station_id, row.locker]);
      if (held) throw new RuleError('P13', `phone ${custodyId} cannot be disposed of while its locker is held`);
      if (!row.disposal_due_at || row.disposal_due_at > at) throw new RuleError('P13', `phone ${custodyId} is not due for disposal${row.disposal_due_at ? ` until ${row.disposal_due_at.slice(0, 10)}` : ' (it has not been uncollected at a cut-off)'}`);
      await tx.run('UPDATE phone_custody SET disposed_at = ?, disposed_by = ?, disposal_note = ?, collected_at = ?, collected_by = ? WHERE id = ?', [at, actor.personId, note.trim(), at, actor.personId, custodyId]);
      await tx.run("UPDATE lockers SET state = 'free', person_id = NULL, since = ? WHERE station_id = ? AND locker = ?", [at, row.station_id, row.locker]);
      await this.audit.append({ actor: actorLabel(actor), action: 'phone.disposed', subject: `custody:${custodyId}`, personId: Number(row.person_id), at, details: { custody: custodyId } }, tx);
    });
  }
}
