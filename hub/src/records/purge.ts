// Retention (P16): personal records older than the retention period are removed or
// pseudonymised, while the charges ledger (a financial record) and the audit trail stay whole and
// verifiable. The audit trail and the ledger refer to people by number only, so pseudonymising the
// person's own row is enough to keep them and still unlink them from the person:
//   people who left more than retentionDays ago: name, MIS id, form, year, staff code and email
//     replaced ("purged person #12"), badges deleted, exemptions deleted, hold details cleared,
//     their phone custody deleted and the badge hashes in their station events cleared
//   everyone: phone custody, exemptions and holds closed more than retentionDays ago are deleted
//     (holds linked to nothing the ledger needs), and phone station events older than that too
// Loans and charges are kept (pseudonymised through the person). Nothing in audit_log or charges
// is touched, so `handover audit verify` passes after a purge. A deleted badge takes with it what
// its key in the audit chain stood for (audit/badge-keys.ts), so the chain holds no badge hash. Afterwards the database is
// compacted (SQLite: secure_delete, VACUUM and an emptied WAL), so the old text is not left in
// free pages of the file.
import { actorLabel, requirePermission, type Actor } from './access';
import type { Records } from './index';
import type { Scope } from './schools';
import { addDays } from './time';
import { EVENT } from '../../../protocol/wire';

export interface PurgeResult {
  cutoff: string;
  peoplePseudonymised: number;
  badgesDeleted: number;
  phoneCustodyDeleted: number;
  exemptionsDeleted: number;
  holdsDeleted: number;
  stationEventsDeleted: number;
  notificationsDeleted: number;
  dryRun: boolean;
}

const PHONE_EVENTS = [EVENT.DEPOSIT, EVENT.COLLECT, EVENT.EXEMPT, EVENT.UNKNOWN_BADGE, EVENT.REFUSED, EVENT.DEPOSIT_CANCELLED, EVENT.COLLECT_CANCELLED];

/**
 * `scope` (issue 16): a school's purge touches only its people, its stations' records and the
 * e-mails to its people's addresses; absent, every school.
 */
export async function purge(records: Records, options: { actor: Actor; retentionDays: number; now?: Date; dryRun?: boolean; scope?: Scope }): Promise<PurgeResult> {
  requirePermission(options.actor, 'records.purge', 'purging personal records');
  const now = (options.now ?? new Date()).toISOString();
  const cutoff = addDays(now, -options.retentionDays);
  const cutoffDay = cutoff.slice(0, 10);
  const dryRun = options.dryRun ?? false;
  const result: PurgeResult = { cutoff, peoplePseudonymised: 0, badgesDeleted: 0, phoneCustodyDeleted: 0, exemptionsDeleted: 0, holdsDeleted: 0, stationEventsDeleted: 0, notificationsDeleted: 0, dryRun };
  const school = options.scope?.where('school') ?? { sql: '1 = 1', params: [] };
  const site = options.scope?.where('site') ?? { sql: '1 = 1', params: [] };
  const everySchool = !options.scope || options.scope.everything;
  // The rows of the schools in scope: by their person, or by their station.
  const ofPeople = everySchool ? { sql: '', params: [] } : { sql: ` AND person_id IN (SELECT id FROM people WHERE ${school.sql})`, params: school.params };
  const ofStations = everySchool ? { sql: '', params: [] } : { sql: ` AND station_id IN (SELECT id FROM stations WHERE ${site.sql})`, params: site.params };
  // E-mails name no school: a school's are those to its people's addresses (as the Notifications page shows them).
  const ofRecipients = everySchool ? { sql: '', params: [] } : { sql: ` AND LOWER(recipient) IN (SELECT LOWER(email) FROM people WHERE email IS NOT NULL AND ${school.sql})`, params: school.params };
  const work = async (tx: typeof records.db) => {
    // E-mails name people in their bodies and addresses: those past retention go (not one still
    // waiting to be sent); first, while the leavers about to be pseudonymised still have their address.
    result.notificationsDeleted += (await tx.run(`DELETE FROM notifications WHERE created_at < ? AND state <> 'waiting'${ofRecipients.sql}`, [cutoff, ...ofRecipients.params])).changes;
    const people = await tx.all<{ id: number }>(`SELECT id FROM people WHERE left_on IS NOT NULL AND left_on < ? AND purged_at IS NULL AND ${school.sql} ORDER BY id`, [cutoffDay, ...school.params]);
    for (const { id } of people) {
      const person = Number(id);
      result.badgesDeleted += (await tx.run('DELETE FROM badges WHERE person_id = ?', [person])).changes;
      result.exemptionsDeleted += (await tx.run('DELETE FROM medical_exemptions WHERE person_id = ?', [person])).changes;
      result.phoneCustodyDeleted += (await tx.run('DELETE FROM phone_custody WHERE person_id = ?', [person])).changes;
      await tx.run('UPDATE holds SET details = NULL, receipt = NULL WHERE person_id = ?', [person]);
      await tx.run(
        "UPDATE people SET name = ?, external_id = ?, form = NULL, year_group = NULL, staff_code = NULL, email = NULL, medical_exempt = 0, purged_at = ?, updated_at = ? WHERE id = ?",
        [`purged person #${person}`, `purged:${person}`, now, now, person],
      );
      await records.audit.append({ actor: actorLabel(options.actor), action: 'person.pseudonymised', subject: `person:${person}`, personId: person, details: { person } }, tx);
      result.peoplePseudonymised++;
    }
    // Their badges' hashes in the station events, in one pass over the table (station events have
    // no index by person: migration 23), as the deletion below makes one.
    if (people.length) await tx.run('UPDATE station_events SET badge_hash = NULL WHERE badge_hash IS NOT NULL AND person_id IN (SELECT id FROM people WHERE purged_at = ?)', [now]);
    result.phoneCustodyDeleted += (await tx.run(`DELETE FROM phone_custody WHERE collected_at IS NOT NULL AND collected_at < ?${ofStations.sql}`, [cutoff, ...ofStations.params])).changes;
    result.exemptionsDeleted += (await tx.run(`DELETE FROM medical_exemptions WHERE ended_at IS NOT NULL AND ended_at < ?${ofPeople.sql}`, [cutoff, ...ofPeople.params])).changes;
    result.holdsDeleted += (await tx.run(`DELETE FROM holds WHERE released_at IS NOT NULL AND released_at < ?${ofStations.sql}`, [cutoff, ...ofStations.params])).changes;
    result.stationEventsDeleted += (await tx.run(`DELETE FROM station_events WHERE received_at < ? AND type IN (${PHONE_EVENTS.map(() => '?').join(', ')})${ofStations.sql}`, [cutoff, ...PHONE_EVENTS, ...ofStations.params])).changes;
    await records.audit.append({ actor: actorLabel(options.actor), action: 'purge.run', subject: 'retention', details: { ...result } }, tx);
    if (dryRun) throw new DryRunRollback();
  };
  try {
    await records.db.transaction(work);
  } catch (error) {
    if (!(error instanceof DryRunRollback)) throw error;
    return result;
  }
  // Deleted and overwritten rows leave no personal text in the database's storage.
  await records.db.compact(['people', 'badges', 'medical_exemptions', 'phone_custody', 'holds', 'station_events', 'notifications']);
  return result;
}

class DryRunRollback extends Error {}
