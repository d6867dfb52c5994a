// Subject access (P16): everything the hub holds about one person, as one JSON document. Card
// ids appear only as their keyed hashes (the hub never has more). Other people in the subject's
// records (the pupil in a hold a member of staff placed, the member of staff who placed a pupil's)
// are left out: their ids and badge hashes are not the subject's data. A safeguarding matter (P5)
// — the hold, the phone custody it kept, the station events and audit records about them — is in
// the export only when a DSL or the headteacher runs it; for anyone else every export (whether or
// not there is such a matter) says that any would be withheld, so the note itself reveals nothing.
// The export is itself an audit record.
import { actorLabel, maySeeSafeguarding, requirePermission, type Actor } from '../records/access';
import { safeguardedCustody, safeguardingHolds, withheldSpan } from '../records/safeguarding';
import type { Records } from '../records';
import type { PersonRow } from '../records/people';

function hexBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

function clean(rows: unknown[]): Array<Record<string, unknown>> {
  return (rows as Array<Record<string, unknown>>).map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, hexBytes(value)])));
}

export async function subjectAccessExport(records: Records, person: PersonRow, actor: Actor) {
  const db = records.db;
  const id = Number(person.id);
  if (actor.role !== 'system') requirePermission(actor, 'people.view', 'exporting what is held about a person');
  const mayReadSafeguarding = maySeeSafeguarding(actor);
  const heldCustody = mayReadSafeguarding ? new Set<number>() : await safeguardedCustody(db, id);
  const heldHolds = mayReadSafeguarding ? new Set<number>() : await safeguardingHolds(db, id);
  const holds = (await db.all<Record<string, unknown> & { id: number; kind: string }>('SELECT * FROM holds WHERE person_id = ? ORDER BY id', [id])).filter((hold) => !heldHolds.has(Number(hold.id)));
  const custody = (await db.all<{ id: number; station_id: string; locker: number; deposited_at: string; collected_at: string | null }>('SELECT * FROM phone_custody WHERE person_id = ? ORDER BY id', [id])).filter(
    (row) => !heldCustody.has(Number(row.id)),
  );
  // The station events of a withheld custody: everything at that locker from a day before the deposit until a day after the collection.
  const withheldSpans = (await db.all<{ id: number; station_id: string; locker: number; deposited_at: string; collected_at: string | null }>('SELECT id, station_id, locker, deposited_at, collected_at FROM phone_custody WHERE person_id = ?', [id]))
    .filter((row) => heldCustody.has(Number(row.id)))
    .map((row) => ({ station: row.station_id, locker: Number(row.locker), ...withheldSpan(row) }));
  const inWithheldSpan = (station: string, locker: number, at: string) => withheldSpans.some((span) => span.station === station && locker === span.locker && at >= span.from && at <= span.until);
  const events = (
    await db.all<{ station_id: string; locker: number | null; person_id: number | null; actor_id: number | null; witness_id: number | null; badge_hash: Uint8Array | null; received_at: string }>(
      'SELECT station_id, board, boot, seq, type, locker, person_id, actor_id, witness_id, badge_hash, detail, received_at FROM station_events WHERE person_id = ? OR actor_id = ? OR witness_id = ? ORDER BY received_at, station_id, board, boot, seq',
      [id, id, id],
    )
  )
    .filter((event) => !inWithheldSpan(event.station_id, Number(event.locker), event.received_at))
    .map((event) => {
      const own = (value: number | null) => (value !== null && Number(value) === id ? id : null);
      // The badge that tapped is the actor's, or the person's when no actor is named.
      const tapper = event.actor_id ?? event.person_id;
      return { ...event, person_id: own(event.person_id), actor_id: own(event.actor_id), witness_id: own(event.witness_id), badge_hash: tapper !== null && Number(tapper) === id ? event.badge_hash : null };
    });
  const withheldSubjects = new Set([...[...heldHolds].map((hold) => `hold:${hold}`), ...[...heldCustody].map((row) => `custody:${row}`)]);
  const auditRecords = (await records.audit.forPerson(id)).filter((record) => {
    if (mayReadSafeguarding) return true;
    if (record.subject && withheldSubjects.has(record.subject)) return false;
    // The audit records the withheld span's station events wrote (subject `locker:<station>/<n>`, dated as they arrived).
    const locker = /^locker:(.+)\/(\d+)$/.exec(record.subject ?? '');
    if (locker && inWithheldSpan(locker[1], Number(locker[2]), String(record.at))) return false;
    const details = typeof record.details === 'string' ? record.details : JSON.stringify(record.details ?? {});
    return !/"kind":\s*"safeguarding"/.test(details);
  });
  const document = {
    format: 'handover subject access export, version 1',
    generatedAt: new Date().toISOString(),
    generatedBy: actorLabel(actor),
    ...(mayReadSafeguarding
      ? {}
      : { withheld: 'Records of a safeguarding matter (P5), if there are any, are not in this export: the designated safeguarding lead or the headteacher must review them and run the export for a complete copy.' }),
    person: { ...person, id },
    badges: clean(await db.all('SELECT hash, enrolled_at, revoked_at FROM badges WHERE person_id = ? ORDER BY enrolled_at', [id])),
    dayCards: clean(await db.all('SELECT d.id, s.label AS spare_card, d.issued_at, d.expires_at, d.ended_at, d.ended_how FROM day_cards d JOIN spare_cards s ON s.id = d.spare_card_id WHERE d.person_id = ? ORDER BY d.id', [id])),
    phoneCustody: clean(custody),
    medicalExemptions: clean(await db.all('SELECT * FROM medical_exemptions WHERE person_id = ? ORDER BY id', [id])),
    loans: clean(await db.all('SELECT l.*, a.tag AS asset_tag, a.class_id AS asset_class FROM loans l JOIN assets a ON a.id = l.asset_id WHERE l.person_id = ? ORDER BY l.id', [id])),
    charges: clean(await db.all('SELECT * FROM charges WHERE person_id = ? ORDER BY id', [id])),
    holds: clean(holds),
    // E-mails sent to them: what kind and when, not the text (an office digest names other pupils).
    emails: person.email ? clean(await db.all('SELECT id, created_at, kind, state, attempts, sent_at FROM notifications WHERE recipient = ? ORDER BY id', [person.email])) : [],
    holdsPlacedOrReleased: clean(await db.all('SELECT id, kind, station_id, locker, placed_at, released_at FROM holds WHERE (placed_by = ? OR released_by = ? OR witness_id = ?) AND (person_id IS NULL OR person_id <> ?) ORDER BY id', [id, id, id, id])),
    stationEvents: clean(events),
    auditRecords,
  };
  await records.audit.append({ actor: actorLabel(actor), action: 'person.exported', subject: `person:${id}`, personId: id, details: { person: id, sections: Object.keys(document).length } });
  return document;
}
