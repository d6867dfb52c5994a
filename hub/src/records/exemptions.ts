// Medical exemptions (P3): a pupil who manages a condition with an app keeps the phone, after a
// risk assessment. The exemption names the assessment and a review date; while one is active the
// pupil's badge carries the exemption flag, so the station records "exempt" and opens nothing.
import type { SqlDatabase } from '../db/sql';
import type { AuditTrail } from '../audit/trail';
import { actorLabel, NotFoundError, requirePermission, RuleError, type Actor } from './access';
import { parseDay } from './time';

export interface ExemptionRow {
  id: number;
  person_id: number;
  reference: string;
  review_on: string;
  granted_at: string;
  granted_by: number | null;
  ended_at: string | null;
  ended_by: number | null;
}


export class Exemptions {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
  ) {}

  async grant(personId: number, reference: string, reviewOn: string, actor: Actor, at = new Date().toISOString()): Promise<number> {
    requirePermission(actor, 'exemptions.manage', 'granting a medical exemption');
    if (!reference.trim()) throw new RuleError('P3', 'a medical exemption needs the reference of its risk assessment');
    const day = parseDay(reviewOn, 'review date', { notBefore: at.slice(0, 10), maxYearsAhead: 5, today: at.slice(0, 10) });
    if (!day.ok) throw new RuleError('P3', day.problem);
    return this.db.transaction(async (tx) => {
      const person = await tx.get<{ kind: string }>('SELECT kind FROM people WHERE id = ?', [personId]);
      if (!person) throw new NotFoundError(`no person #${personId}`);
      if (person.kind !== 'pupil') throw new RuleError('P3', 'medical exemptions are for pupils');
      await tx.run('UPDATE medical_exemptions SET ended_at = ?, ended_by = ? WHERE person_id = ? AND ended_at IS NULL', [at, actor.personId, personId]);
      const id = await tx.insert('INSERT INTO medical_exemptions (person_id, reference, review_on, granted_at, granted_by) VALUES (?, ?, ?, ?, ?)', [personId, reference.trim(), reviewOn, at, actor.personId]);
      await tx.run('UPDATE people SET medical_exempt = 1, updated_at = ? WHERE id = ?', [at, personId]);
      await this.audit.append({ actor: actorLabel(actor), action: 'exemption.granted', subject: `exemption:${id}`, personId, at, details: { exemption: id, reviewOn } }, tx);
      return id;
    });
  }

  async end(personId: number, actor: Actor, at = new Date().toISOString()): Promise<void> {
    requirePermission(actor, 'exemptions.manage', 'ending a medical exemption');
    await this.db.transaction(async (tx) => {
      const changed = await tx.run('UPDATE medical_exemptions SET ended_at = ?, ended_by = ? WHERE person_id = ? AND ended_at IS NULL', [at, actor.personId, personId]);
      if (changed.changes === 0) throw new NotFoundError(`person #${personId} has no active medical exemption`);
      await tx.run('UPDATE people SET medical_exempt = 0, updated_at = ? WHERE id = ?', [at, personId]);
      await this.audit.append({ actor: actorLabel(actor), action: 'exemption.ended', subject: `person:${personId}`, personId, at, details: { person: personId } }, tx);
    });
  }

  async active(personId: number): Promise<ExemptionRow | undefined> {
    return this.db.get<ExemptionRow>('SELECT * FROM medical_exemptions WHERE person_id = ? AND ended_at IS NULL', [personId]);
  }

  /** Active exemptions whose review date has come (the day given, YYYY-MM-DD, or earlier). */
  async dueForReview(onOrBefore: string) {
    return this.db.all<ExemptionRow & { name: string }>(
      'SELECT e.*, p.name FROM medical_exemptions e JOIN people p ON p.id = e.person_id WHERE e.ended_at IS NULL AND e.review_on <= ? ORDER BY e.review_on',
      [onOrBefore],
    );
  }
}
