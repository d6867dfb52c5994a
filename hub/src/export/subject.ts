// Subject access (P16): everything the hub holds about one person, as one JSON document. Card
// ids appear only as their keyed hashes (the hub never has more). Safeguarding hold details are
// included only when a DSL or the headteacher runs the export; otherwise the hold is listed with
// its details withheld for their review. The export is itself an audit record.
import { actorLabel, SAFEGUARDING_READERS, type Actor } from '../records/access';
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
  const mayReadSafeguarding = actor.role !== 'system' && SAFEGUARDING_READERS.includes(actor.role);
  const holds = await db.all<Record<string, unknown> & { kind: string }>('SELECT * FROM holds WHERE person_id = ? ORDER BY id', [id]);
  const document = {
    format: 'handover subject access export, version 1',
    generatedAt: new Date().toISOString(),
    generatedBy: actorLabel(actor),
    person: { ...person, id },
    badges: clean(await db.all('SELECT hash, enrolled_at, revoked_at FROM badges WHERE person_id = ? ORDER BY enrolled_at', [id])),
    phoneCustody: clean(await db.all('SELECT * FROM phone_custody WHERE person_id = ? ORDER BY id', [id])),
    medicalExemptions: clean(await db.all('SELECT * FROM medical_exemptions WHERE person_id = ? ORDER BY id', [id])),
    loans: clean(await db.all('SELECT l.*, a.tag AS asset_tag, a.class_id AS asset_class FROM loans l JOIN assets a ON a.id = l.asset_id WHERE l.person_id = ? ORDER BY l.id', [id])),
    charges: clean(await db.all('SELECT * FROM charges WHERE person_id = ? ORDER BY id', [id])),
    holds: clean(
      holds.map((hold) =>
        hold.kind === 'safeguarding' && !mayReadSafeguarding ? { ...hold, details: hold.details === null ? null : '(withheld: for the DSL to review before release)', receipt: hold.receipt === null ? null : '(withheld)' } : hold,
      ),
    ),
    holdsPlacedOrReleased: clean(await db.all('SELECT id, kind, station_id, locker, placed_at, released_at FROM holds WHERE (placed_by = ? OR released_by = ? OR witness_id = ?) AND (person_id IS NULL OR person_id <> ?) ORDER BY id', [id, id, id, id])),
    stationEvents: clean(
      await db.all(
        'SELECT station_id, board, boot, seq, type, locker, person_id, actor_id, witness_id, badge_hash, detail, received_at FROM station_events WHERE person_id = ? OR actor_id = ? OR witness_id = ? ORDER BY received_at, station_id, board, boot, seq',
        [id, id, id],
      ),
    ),
    auditRecords: await records.audit.forPerson(id),
  };
  await records.audit.append({ actor: actorLabel(actor), action: 'person.exported', subject: `person:${id}`, personId: id, details: { person: id, sections: Object.keys(document).length } });
  return document;
}
