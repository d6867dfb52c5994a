// What a command or a form names — an asset tag, a person, a station, a phone in a locker — checked
// against the acting account's schools (issue 16): another school's is refused as if it did not
// exist (NotFoundError, the page's 404), so nothing tells a school what another one holds. The one
// check the Desk page, its JSON API and the command line share.
import type { SqlDatabase } from '../db/sql';
import { NotFoundError } from './access';
import type { People } from './people';
import type { Scope } from './schools';

export interface ScopeRefs {
  /** Asset tags (matched as written and upper-cased, as the register stores them). */
  tags?: (string | null | undefined)[];
  /** MIS ids, staff codes or #numbers; one that names nobody is left to the action to refuse. */
  people?: (string | null | undefined)[];
  stations?: (string | null | undefined)[];
  /** Spare cards by label: one out as someone's day card must be out to someone of these schools. */
  spareCards?: (string | null | undefined)[];
  /** phone_custody ids. */
  custody?: (number | null | undefined)[];
}

export async function requireInScope(records: { db: SqlDatabase; people: Pick<People, 'resolve'> }, scope: Scope, refs: ScopeRefs): Promise<void> {
  if (scope.everything) return;
  const { db, people } = records;
  for (const raw of refs.tags ?? []) {
    const tag = raw?.trim();
    if (!tag) continue;
    const assets = await db.all<{ id: number }>('SELECT id FROM assets WHERE tag = ? OR tag = ?', [tag, tag.toUpperCase()]);
    if (assets.some((asset) => !scope.asset(asset.id))) throw new NotFoundError(`no asset ${tag}`);
  }
  for (const raw of refs.people ?? []) {
    const ref = raw?.trim();
    if (!ref) continue;
    const person = await people.resolve(ref).catch(() => null);
    if (person && !scope.person(person.id)) throw new NotFoundError(`no person ${ref}`);
  }
  for (const raw of refs.stations ?? []) {
    const station = raw?.trim();
    if (station && !scope.station(station)) throw new NotFoundError(`no station ${station}`);
  }
  for (const raw of refs.spareCards ?? []) {
    const label = raw?.trim();
    if (!label) continue;
    const out = await db.all<{ person_id: number }>('SELECT d.person_id FROM day_cards d JOIN spare_cards s ON s.id = d.spare_card_id WHERE s.label = ? AND d.ended_at IS NULL', [label]);
    if (out.some((row) => !scope.person(row.person_id))) throw new NotFoundError(`no day card on spare card ${label}`);
  }
  for (const id of refs.custody ?? []) {
    if (id === null || id === undefined) continue;
    const row = await db.get<{ person_id: number; station_id: string }>('SELECT person_id, station_id FROM phone_custody WHERE id = ?', [id]);
    if (row && !(scope.person(row.person_id) && scope.station(row.station_id))) throw new NotFoundError(`no phone custody record ${id}`);
  }
}
