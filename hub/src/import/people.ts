// Pupils and staff from a CSV as schools export it from their MIS (SIMS, Arbor, Bromcom) or
// Wonde. Columns are found by their header, in any order, with the usual spellings (README
// "Importing people"). Each bad row is reported with its line and reason; the good rows still
// import. Re-importing applies changes; people of the same kind (pupils, staff) who are missing
// from the file are marked as leavers — nothing is ever deleted. Card chip ids are stored only as
// their keyed hash (P16).
import type { SqlDatabase } from '../db/sql';
import type { Records } from '../records';
import { actorLabel, requireCardRight, requirePermission, RuleError, type Actor } from '../records/access';
import { badgeHash, parseUid, ROLES, schoolBadgeKey, type PersonRow, type Role } from '../records/people';
import { csvFileRecords, matchColumns, type CsvProgress, type CsvRecord } from './csv-reader';
import { HeapBudget } from './heap-budget';
import { parseDay } from '../records/time';

export const PEOPLE_COLUMNS = {
  externalId: ['MIS ID', 'UPN', 'Admission Number', 'Adno', 'External ID', 'ID', 'Person ID', 'Wonde ID', 'SIMS ID', 'Arbor ID', 'Student ID', 'Pupil ID', 'Staff ID', 'Employee ID', 'Unique ID'],
  name: ['Name', 'Full Name', 'Display Name', 'Pupil Name', 'Student Name', 'Staff Name'],
  firstName: ['Forename', 'First Name', 'Preferred Forename', 'Legal Forename', 'Given Name', 'First'],
  lastName: ['Surname', 'Last Name', 'Preferred Surname', 'Legal Surname', 'Family Name', 'Last'],
  role: ['Role', 'Type', 'Person Type', 'Category', 'User Type', 'Staff Role'],
  form: ['Form', 'Reg Group', 'Registration Group', 'Tutor Group', 'Form Group', 'Reg Form', 'Class', 'Registration'],
  year: ['Year', 'Year Group', 'NC Year', 'National Curriculum Year', 'Yr'],
  staffCode: ['Staff Code', 'Teacher Code', 'Initials', 'Code'],
  card: ['Card Chip ID', 'Card ID', 'Card UID', 'Chip ID', 'Card', 'RFID', 'UID', 'MIFARE UID', 'Card Number', 'Card Serial', 'Badge ID', 'Badge'],
  leavingDate: ['Leaving Date', 'Leave Date', 'Date of Leaving', 'End Date', 'Left Date', 'DOL'],
  email: ['Email', 'Email Address', 'School Email', 'Work Email'],
} as const;

type Field = keyof typeof PEOPLE_COLUMNS;

const ROLE_WORDS: Record<string, Role> = {
  pupil: 'pupil', student: 'pupil', learner: 'pupil', child: 'pupil',
  staff: 'staff', teacher: 'staff', teaching: 'staff', support: 'staff', supportstaff: 'staff', teachingstaff: 'staff', employee: 'staff', ta: 'staff',
  headteacher: 'headteacher', head: 'headteacher', principal: 'headteacher', executiveheadteacher: 'headteacher',
  deputy: 'deputy', deputyhead: 'deputy', deputyheadteacher: 'deputy', assistanthead: 'deputy', viceprincipal: 'deputy',
  dsl: 'dsl', designatedsafeguardinglead: 'dsl', safeguardinglead: 'dsl', safeguarding: 'dsl',
  ict: 'ict', it: 'ict', ictlead: 'ict', networkmanager: 'ict', ictsupport: 'ict', itsupport: 'ict',
  office: 'office', admin: 'office', administrator: 'office', reception: 'office', schooloffice: 'office', officemanager: 'office',
};

export interface ImportProblem {
  line: number;
  reason: string;
}

export interface PeopleImportResult {
  rows: number;
  added: number;
  updated: number;
  unchanged: number;
  rejoined: number;
  leavers: number;
  /** Leavers found but not marked (the mass-leaver guard). */
  leaversSkipped: number;
  cardsIssued: number;
  problems: ImportProblem[];
  unusedColumns: string[];
  warnings: string[];
}

export interface PeopleImportOptions {
  actor: Actor;
  /** Role for rows without a role column value when it cannot be told from the row. */
  defaultKind?: 'pupil' | 'staff';
  dryRun?: boolean;
  /** Mark leavers even when more than half of the kind would leave at once. */
  allowMassLeavers?: boolean;
  today?: string;
  onProgress?: (stage: 'reading' | 'importing', done: number, total: number) => void;
  /** The school the file is of (issue 16): needed when the deployment holds several. */
  school?: string | null;
}

interface PersonInput {
  line: number;
  externalId: string;
  name: string;
  role: Role;
  kind: 'pupil' | 'staff';
  form: string | null;
  year: string | null;
  staffCode: string | null;
  email: string | null;
  cardHash: Uint8Array | null;
  /** The file has a card column (so a row without a card is worth a warning). */
  cardColumn: boolean;
  leftOn: string | null;
}

function parseDate(text: string): string | null {
  const value = text.trim();
  if (!value) return null;
  const iso = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  const uk = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(value); // UK day/month/year
  const day = iso ? `${iso[1]}-${iso[2]}-${iso[3]}` : uk ? `${uk[3]}-${uk[2].padStart(2, '0')}-${uk[1].padStart(2, '0')}` : null;
  if (!day) throw new Error(`leaving date ${JSON.stringify(value)} is not a date (use YYYY-MM-DD or DD/MM/YYYY)`);
  const checked = parseDay(day, 'leaving date', { maxYearsBack: 50, maxYearsAhead: 2 });
  if (!checked.ok) throw new Error(checked.problem);
  return day;
}

/**
 * Rows applied per transaction. SQLite's statements run synchronously, so a batch runs without a
 * break: small batches, with a yield after each, keep the hub's other requests waiting at most a
 * batch's time (bench/import.bench.ts).
 */
const CHUNK = 100;
/** Rows read between yields in the first pass (reading only). */
const READ_CHUNK = 1000;

/**
 * Where the rows come from: called once per pass (the importer reads the file twice, never holding
 * it); reading progress is worth showing on the first pass only.
 */
export type CsvSource = (pass: 1 | 2) => AsyncIterable<CsvRecord> | Iterable<CsvRecord>;

/** Lets the hub answer other requests between batches. */
const yieldToOthers = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function importPeople(records: Records, file: string, options: PeopleImportOptions): Promise<PeopleImportResult> {
  return importPeopleFrom(records, (pass) => csvFileRecords(file, pass === 1 ? (progress: CsvProgress) => options.onProgress?.('reading', progress.bytesRead, progress.totalBytes) : undefined), options);
}

export async function importPeopleRecords(records: Records, csv: CsvRecord[], options: PeopleImportOptions): Promise<PeopleImportResult> {
  return importPeopleFrom(records, () => csv, options);
}

interface RowReader {
  columns: Partial<Record<Field, number>>;
  unused: string[];
  /** The row as a person, or an error saying why not; `firstLineOf` says where an id was first seen. */
  read(record: CsvRecord, firstLineOf: (id: string) => number | undefined, onCard: (key: string) => void): PersonInput;
}

function rowReader(header: CsvRecord, key: Uint8Array, today: string, options: PeopleImportOptions): RowReader {
  const { columns, unused } = matchColumns<Field>(header.fields, PEOPLE_COLUMNS as unknown as Record<Field, string[]>);
  if (columns.externalId === undefined) throw new Error(`no id column: name one ${PEOPLE_COLUMNS.externalId.map((s) => `"${s}"`).join(', ')}`);
  if (columns.name === undefined && (columns.firstName === undefined || columns.lastName === undefined)) throw new Error('no name column: give "Name", or "Forename" and "Surname"');
  const cell = (record: CsvRecord, field: Field) => (columns[field] === undefined ? '' : (record.fields[columns[field]!] ?? '').trim());
  return {
    columns,
    unused,
    read(record, firstLineOf, onCard) {
      const externalId = cell(record, 'externalId');
      if (!externalId) throw new Error('no id');
      const first = firstLineOf(externalId);
      if (first !== undefined) throw new Error(`id ${externalId} already on line ${first}`);
      const name = cell(record, 'name') || [cell(record, 'firstName'), cell(record, 'lastName')].filter(Boolean).join(' ');
      if (!name) throw new Error('no name');
      const roleText = cell(record, 'role');
      let role: Role;
      if (roleText) {
        const word = roleText.toLowerCase().replace(/[^a-z]/g, '');
        const known = ROLE_WORDS[word] ?? ((ROLES as readonly string[]).includes(word) ? (word as Role) : undefined);
        if (!known) throw new Error(`role ${JSON.stringify(roleText)} is not one of pupil, staff, headteacher, deputy, dsl, ict, office`);
        role = known;
      } else if (cell(record, 'staffCode') && !cell(record, 'year')) role = 'staff';
      else if (cell(record, 'year') || cell(record, 'form')) role = 'pupil';
      else if (options.defaultKind) role = options.defaultKind;
      else throw new Error('cannot tell pupil from staff: add a role, year or staff code column, or import with --kind');
      const cardText = cell(record, 'card');
      let cardHash: Uint8Array | null = null;
      if (cardText) {
        cardHash = badgeHash(key, parseUid(cardText));
        onCard(Buffer.from(cardHash).toString('base64'));
      }
      const leaving = parseDate(cell(record, 'leavingDate'));
      return {
        line: record.line,
        externalId,
        name,
        role,
        kind: role === 'pupil' ? 'pupil' : 'staff',
        form: cell(record, 'form') || null,
        year: cell(record, 'year') || null,
        staffCode: cell(record, 'staffCode') || null,
        email: cell(record, 'email') || null,
        cardHash,
        cardColumn: columns.card !== undefined,
        leftOn: leaving && leaving <= today ? leaving : null,
      };
    },
  };
}

// The card id itself never goes into a report (P16): parseUid's message is replaced.
const problemOf = (error: unknown) => (error as Error).message.replace(/card id "[^"]*"/, 'card id');

/**
 * Two passes over the file, neither holding it: the first learns every id the file names (so a
 * person named even on a refused row is not a leaver), where each id first appears and which cards
 * are on more than one row; the second reads it again and applies it in batches of CHUNK rows,
 * yielding between batches so the hub keeps answering.
 */
export async function importPeopleFrom(records: Records, source: CsvSource, options: PeopleImportOptions): Promise<PeopleImportResult> {
  const result: PeopleImportResult = { rows: 0, added: 0, updated: 0, unchanged: 0, rejoined: 0, leavers: 0, leaversSkipped: 0, cardsIssued: 0, problems: [], unusedColumns: [], warnings: [] };
  const key = await schoolBadgeKey(records.db);
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  // Everyone in the file is of this school; leavers are looked for among its people only.
  const school = records.schools.stored(await records.schools.resolve(options.school));

  let reader: RowReader | null = null;
  // Every id the file names, with the line of its first row that reads (0 while only refused rows
  // name it): one entry per row of a large file, so one Map rather than a Set and a Map.
  const named = new Map<string, number>();
  // Each card's first line, and every line of a card given on more than one row.
  const cardFirst = new Map<string, number>();
  const cardShared = new Map<string, number[]>();
  const heap = new HeapBudget();
  for await (const record of source(1)) {
    if (!reader) {
      reader = rowReader(record, key, today, options);
      continue;
    }
    result.rows++;
    try {
      const input = reader.read(record, (id) => named.get(id) || (named.set(id, 0), undefined), (card) => {
        const first = cardFirst.get(card);
        if (first === undefined) cardFirst.set(card, record.line);
        else cardShared.set(card, [...(cardShared.get(card) ?? [first]), record.line]);
      });
      if (!named.get(input.externalId)) named.set(input.externalId, input.line);
    } catch {
      // Reported by the second pass.
    }
    if (result.rows % READ_CHUNK === 0) {
      heap.check();
      await yieldToOthers();
    }
  }
  if (!reader) throw new Error('the file is empty');
  cardFirst.clear();
  result.unusedColumns = reader.unused;
  if (reader.columns.card === undefined) result.warnings.push('no card column: nobody in this file can use a station until a card is enrolled');

  const apply = async (db: SqlDatabase) => {
    const actor = actorLabel(options.actor);
    const now = new Date().toISOString();
    const kinds = new Set<'pupil' | 'staff'>();
    let batch: PersonInput[] = [];
    let done = 0;
    const flush = async () => {
      await applyBatch(db, records, batch, result, actor, options.actor, now, school);
      done += batch.length;
      batch = [];
      options.onProgress?.('importing', done, result.rows);
      heap.check();
      await yieldToOthers();
    };
    let header = true;
    for await (const record of source(2)) {
      if (header) {
        header = false;
        continue;
      }
      let input: PersonInput;
      let cardKey: string | null = null;
      try {
        input = reader!.read(record, (id) => {
          const first = named.get(id);
          return first && first < record.line ? first : undefined;
        }, (card) => (cardKey = card));
      } catch (error) {
        result.problems.push({ line: record.line, reason: problemOf(error) });
        continue;
      }
      const shared = cardKey ? cardShared.get(cardKey) : undefined;
      if (shared) {
        // A card on more than one row belongs to none of them until the file is put right.
        const others = shared.filter((other) => other !== input.line);
        result.problems.push({ line: input.line, reason: `the same card as line${others.length > 1 ? 's' : ''} ${others.join(', ')}: a card belongs to one person, so none of these rows was imported` });
        continue;
      }
      kinds.add(input.kind);
      batch.push(input);
      if (batch.length >= CHUNK) await flush();
    }
    if (batch.length) await flush();
    await markLeavers(db, records, [...kinds], named, result, options, actor, now, today, school);
  };

  if (!options.dryRun) {
    await apply(records.db);
    result.problems.sort((a, b) => a.line - b.line);
    return result;
  }
  // A dry run does exactly what the real run would, in one transaction that is then rolled back:
  // its counts, refusals and warnings are the real run's.
  const rollback = new Error('dry run: rolled back');
  try {
    await records.db.transaction(async (tx) => {
      await apply(tx);
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  }
  result.warnings.push('dry run: nothing was written');
  result.problems.sort((a, b) => a.line - b.line);
  return result;
}

async function applyBatch(db: SqlDatabase, records: Records, batch: PersonInput[], result: PeopleImportResult, actor: string, by: Actor, now: string, school: string): Promise<void> {
  await db.transaction(async (tx) => {
    for (const input of batch) {
      // A refused row's writes are rolled back, and so is what it had counted.
      const counted = { added: result.added, updated: result.updated, unchanged: result.unchanged, rejoined: result.rejoined, leavers: result.leavers, cardsIssued: result.cardsIssued };
      const warned = result.warnings.length;
      try {
        await tx.transaction((inner) => applyPerson(inner, input, result, actor, by, now, records, school));
      } catch (error) {
        Object.assign(result, counted);
        result.warnings.length = warned;
        result.problems.push({ line: input.line, reason: (error as Error).message });
      }
    }
  });
}

async function markLeavers(db: SqlDatabase, records: Records, kinds: Array<'pupil' | 'staff'>, present: Map<string, number>, result: PeopleImportResult, options: PeopleImportOptions, actor: string, now: string, today: string, school: string): Promise<void> {
  // Missing from the file: a leaver (P9). Only for the kinds the file holds, so a staff file
  // does not make every pupil a leaver.
  await db.transaction(async (tx) => {
    for (const kind of kinds) {
      const active = await tx.all<{ id: number; external_id: string }>('SELECT id, external_id FROM people WHERE kind = ? AND school = ? AND left_on IS NULL AND purged_at IS NULL', [kind, school]);
      const missing = active.filter((person) => !present.has(person.external_id));
      if (missing.length === 0) continue;
      if (!options.allowMassLeavers && active.length >= 20 && missing.length * 2 > active.length) {
        result.leaversSkipped += missing.length;
        result.warnings.push(`${missing.length} of ${active.length} ${kind}s are missing from the file: not marked as leavers (is the file complete? import with --allow-mass-leavers if it is)`);
        continue;
      }
      for (const person of missing) {
        await tx.run('UPDATE people SET left_on = ?, updated_at = ? WHERE id = ?', [today, now, person.id]);
        await tx.run('UPDATE badges SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL', [now, person.id]);
        await records.audit.append({ actor, action: 'person.left', subject: `person:${person.id}`, personId: Number(person.id), details: { person: Number(person.id), leftOn: today, reason: 'missing from import' } }, tx);
        result.leavers++;
      }
    }
    await records.audit.append(
      { actor, action: 'import.people', subject: 'people', details: { rows: result.rows, added: result.added, updated: result.updated, leavers: result.leavers, rejoined: result.rejoined, problems: result.problems.length, ...(school ? { school } : {}) } },
      tx,
    );
  });
}

/** Roles that carry rights in the rulebook: given, taken away or carded only as the Desk allows. */
const hasRights = (role: string) => role !== 'pupil' && role !== 'staff';

async function applyPerson(tx: SqlDatabase, input: PersonInput, result: PeopleImportResult, actor: string, by: Actor, now: string, records: Records, school: string): Promise<void> {
  const existing = await tx.get<PersonRow & { school: string }>('SELECT * FROM people WHERE external_id = ?', [input.externalId]);
  // MIS ids are unique across the trust's records: one of another school is never taken over.
  if (existing && existing.school !== school) throw new Error(`id ${input.externalId} belongs to a person of school ${records.schools.fromStored(existing.school)}: not changed`);
  // The Desk's rules (register.ts), for the row's role: the administrator's shell (no --by) sets up the first staff.
  if (by.role !== 'system' && (existing ? existing.role !== input.role && (hasRights(existing.role) || hasRights(input.role)) : hasRights(input.role))) {
    requirePermission(by, 'roles.assign');
    if (existing && by.personId !== null && Number(existing.id) === by.personId) throw new RuleError('roles.assign', 'nobody changes their own role');
  }
  let personId: number;
  if (!existing) {
    personId = await tx.insert(
      `INSERT INTO people (external_id, name, kind, role, form, year_group, staff_code, email, left_on, source, updated_at, school) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'import', ?, ?)`,
      [input.externalId, input.name, input.kind, input.role, input.form, input.year, input.staffCode, input.email, input.leftOn, now, school],
    );
    await records.audit.append({ actor, action: 'person.added', subject: `person:${personId}`, personId, details: { person: personId, role: input.role } }, tx);
    result.added++;
  } else {
    personId = Number(existing.id);
    if (existing.purged_at) throw new Error(`id ${input.externalId} belongs to a purged record`);
    const changed: string[] = [];
    const compare: Array<[string, unknown, unknown]> = [
      ['name', existing.name, input.name],
      ['role', existing.role, input.role],
      ['form', existing.form, input.form],
      ['year_group', existing.year_group, input.year],
      ['staff_code', existing.staff_code, input.staffCode],
      ['email', existing.email, input.email],
    ];
    for (const [field, before, after] of compare) if ((before ?? null) !== (after ?? null)) changed.push(field);
    const rejoining = existing.left_on !== null && input.leftOn === null;
    const leaving = existing.left_on === null && input.leftOn !== null;
    if (changed.length > 0 || rejoining || leaving) {
      await tx.run('UPDATE people SET name = ?, kind = ?, role = ?, form = ?, year_group = ?, staff_code = ?, email = ?, left_on = ?, updated_at = ? WHERE id = ?', [
        input.name, input.kind, input.role, input.form, input.year, input.staffCode, input.email, input.leftOn, now, personId,
      ]);
      await records.audit.append({ actor, action: rejoining ? 'person.rejoined' : leaving ? 'person.left' : 'person.updated', subject: `person:${personId}`, personId, details: { person: personId, fields: changed } }, tx);
      // A leaving date that has come makes a leaver, counted as one (a dry run says so too).
      if (rejoining) result.rejoined++;
      else if (leaving) result.leavers++;
      else result.updated++;
    } else {
      result.unchanged++;
    }
  }
  if (input.leftOn) {
    await tx.run('UPDATE badges SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL', [now, personId]);
    return;
  }
  if (!input.cardHash && input.cardColumn) {
    const badge = await tx.get<{ hash: Uint8Array }>('SELECT hash FROM badges WHERE person_id = ? AND revoked_at IS NULL', [personId]);
    if (!badge) result.warnings.push(`line ${input.line}: ${input.externalId} has no card: they cannot use a station until one is enrolled`);
  }
  if (input.cardHash) {
    const card = await tx.get<{ person_id: number; revoked_at: string | null; school: string }>('SELECT badges.person_id, badges.revoked_at, people.school FROM badges JOIN people ON people.id = badges.person_id WHERE badges.hash = ?', [input.cardHash]);
    if (card && Number(card.person_id) === personId && card.revoked_at === null) return;
    if (card && card.school !== school) throw new Error(`${input.externalId}'s card is enrolled to a person of school ${records.schools.fromStored(card.school)}: not moved`);
    if (by.role !== 'system') requireCardRight(by, { id: personId, role: input.role });
    // A new card replaces the person's old one (lost cards); a card passed on from someone else is theirs now.
    await tx.run('UPDATE badges SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL', [now, personId]);
    if (card) await tx.run('UPDATE badges SET person_id = ?, enrolled_at = ?, revoked_at = NULL WHERE hash = ?', [personId, now, input.cardHash]);
    else await tx.run('INSERT INTO badges (hash, person_id, enrolled_at) VALUES (?, ?, ?)', [input.cardHash, personId, now]);
    await records.audit.append({ actor, action: 'badge.enrolled', subject: `person:${personId}`, personId, details: { person: personId, previousHolder: card && Number(card.person_id) !== personId ? Number(card.person_id) : null } }, tx);
    result.cardsIssued++;
  }
}
