// Adding and correcting one person, one card or one asset by hand (issue 17: the office's desk),
// beside the imports. Every input is checked first with a sentence a person can act on — required
// fields, real calendar days, known roles and classes, duplicates refused (an MIS id, a staff code,
// an asset tag or serial, a card someone else holds) — and each check returns what will change, for
// the confirmation step. In a correction an empty field keeps its current value.
import type { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import { actorLabel, NotFoundError, requireCardRight, requirePermission, RuleError, type Actor } from './access';
import { roleWords } from './actor';
import type { AssetInput, AssetRow, Assets } from './assets';
import { badgeHash, parseUid, ROLES, schoolBadgeKey, type People, type PersonRow, type Role } from './people';
import { formatPence, parseDay, parsePounds } from './time';

export type Mode = 'add' | 'correct';

export interface PersonForm {
  mode: Mode;
  externalId: string;
  name?: string;
  role?: string;
  form?: string;
  yearGroup?: string;
  staffCode?: string;
  email?: string;
}

export interface AssetForm {
  mode: Mode;
  tag: string;
  classId?: string;
  serial?: string;
  model?: string;
  encryption?: string;
  /** Pounds, e.g. 10.00 or £10. */
  replacement?: string;
  healthCheckDays?: string;
  /** YYYY-MM-DD */
  lastHealthCheck?: string;
  homeStation?: string;
  /** Counted from 1, as on the doors. */
  homeLocker?: string;
  tagUid?: string;
}

const text = (value: string | undefined) => (value ?? '').trim();
const problem = (message: string) => new RuleError('register', message);

const PERSON_FIELDS: Array<[keyof PersonRow, string]> = [
  ['name', 'name'],
  ['role', 'role'],
  ['form', 'form'],
  ['year_group', 'year'],
  ['staff_code', 'staff code'],
  ['email', 'e-mail'],
];

export class Register {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
    private people: People,
    private assets: Assets,
  ) {}

  // ---- people ----

  private async personPlan(input: PersonForm, tx: SqlDatabase, actor: Actor): Promise<{ existing: PersonRow | undefined; row: Omit<PersonRow, 'id' | 'medical_exempt' | 'left_on' | 'source' | 'updated_at' | 'purged_at'>; effects: string[] }> {
    if (input.mode !== 'add' && input.mode !== 'correct') throw problem('choose whether to add a new person or correct one');
    const externalId = text(input.externalId);
    if (!externalId) throw problem('give the MIS id (UPN, admission number or staff id)');
    if (externalId.length > 40 || !/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(externalId)) throw problem(`MIS id ${JSON.stringify(externalId)}: use letters, digits, dots, dashes or slashes, at most 40`);
    const existing = await tx.get<PersonRow>('SELECT * FROM people WHERE external_id = ?', [externalId]);
    if (input.mode === 'add' && existing) throw problem(`MIS id ${externalId} is already ${existing.name}: choose “Correct” to change their details`);
    if (input.mode === 'correct' && !existing) throw new NotFoundError(`no person with MIS id ${externalId} (choose “Add” for someone new)`);
    if (existing?.purged_at) throw problem(`person ${externalId} has been purged`);
    const keep = <T>(value: string, current: T) => (value ? value : current);
    const name = keep(text(input.name), existing?.name ?? '');
    if (!name) throw problem('give the person’s name');
    if (name.length > 100) throw problem('a name is at most 100 characters');
    const role = keep(text(input.role).toLowerCase(), existing?.role ?? '') as Role;
    if (!(ROLES as readonly string[]).includes(role)) throw problem(`choose a role: ${ROLES.join(', ')}`);
    const form = keep(text(input.form), existing?.form ?? null);
    const yearGroup = keep(text(input.yearGroup), existing?.year_group ?? null);
    const staffCode = keep(text(input.staffCode).toUpperCase(), existing?.staff_code ?? null);
    const email = keep(text(input.email), existing?.email ?? null);
    if (form && form.length > 20) throw problem('a form is at most 20 characters');
    if (yearGroup && !/^(R|N|[1-9]|1[0-4])$/i.test(yearGroup)) throw problem(`year ${JSON.stringify(yearGroup)}: give a year group such as 7 or 11 (R for Reception)`);
    if (staffCode && !/^[A-Z0-9]{1,8}$/.test(staffCode)) throw problem(`staff code ${JSON.stringify(staffCode)}: letters and digits, at most 8`);
    if (role === 'pupil' && staffCode) throw problem('a pupil has no staff code');
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw problem(`e-mail ${JSON.stringify(email)} is not an e-mail address`);
    if (staffCode) {
      // Staff codes are each school's own: two schools of a trust may both have an OFF.
      const school = existing ? ((existing as PersonRow & { school?: string }).school ?? '') : (actor.school ?? '');
      const clash = await tx.get<{ name: string; external_id: string }>('SELECT name, external_id FROM people WHERE UPPER(staff_code) = ? AND left_on IS NULL AND external_id <> ? AND school = ?', [staffCode, externalId, school]);
      if (clash) throw problem(`staff code ${staffCode} is already ${clash.name}’s (${clash.external_id})`);
    }
    // A role beyond pupil and plain staff is a set of rights in the rulebook (on the command line a
    // member of staff acts with their MIS role): only the headteacher gives or takes it, never their own.
    const plain = (value: string | undefined) => value === undefined || value === 'pupil' || value === 'staff';
    if (role !== existing?.role && !(plain(role) && plain(existing?.role))) {
      requirePermission(actor, 'roles.assign');
      if (existing && actor.personId !== null && Number(existing.id) === actor.personId) throw new RuleError('roles.assign', 'nobody changes their own role');
    }
    const row = { external_id: externalId, name, kind: role === 'pupil' ? ('pupil' as const) : ('staff' as const), role, form, year_group: yearGroup, staff_code: staffCode, email };
    let effects: string[];
    if (!existing) {
      effects = [`${name} (${externalId}) is added as ${role === 'pupil' ? `a pupil${form ? ` in ${form}` : ''}` : `staff (${roleWords(role)})`}. They have no card yet: enrol one below, or give a day card.`];
    } else {
      const changes = PERSON_FIELDS.filter(([key]) => (existing[key] ?? null) !== (row[key as keyof typeof row] ?? null)).map(([key, label]) => `${label}: ${existing[key] ?? '—'} → ${row[key as keyof typeof row] ?? '—'}`);
      if (changes.length === 0) throw problem(`nothing to correct: ${existing.name}’s details are already as given`);
      effects = [`${existing.name} (${externalId}) is corrected — ${changes.join('; ')}.`];
      if (row.role !== existing.role) effects.push('Their role changes on every station within seconds (what they may borrow follows it).');
    }
    return { existing, row, effects };
  }

  async checkPerson(input: PersonForm, actor: Actor): Promise<{ effects: string[] }> {
    requirePermission(actor, 'register.edit');
    return { effects: (await this.personPlan(input, this.db, actor)).effects };
  }

  async savePerson(input: PersonForm, actor: Actor, at = new Date().toISOString()): Promise<{ personId: number; created: boolean }> {
    requirePermission(actor, 'register.edit');
    return this.db.transaction(async (tx) => {
      const { existing, row } = await this.personPlan(input, tx, actor);
      const values = [row.name, row.kind, row.role, row.form, row.year_group, row.staff_code, row.email];
      if (existing) {
        await tx.run('UPDATE people SET name = ?, kind = ?, role = ?, form = ?, year_group = ?, staff_code = ?, email = ?, updated_at = ? WHERE id = ?', [...values, at, existing.id]);
        await this.audit.append({ actor: actorLabel(actor), action: 'person.corrected', subject: `person:${existing.id}`, personId: Number(existing.id), at, details: { person: Number(existing.id), fields: PERSON_FIELDS.filter(([key]) => (existing[key] ?? null) !== (row[key as keyof typeof row] ?? null)).map(([key]) => key) } }, tx);
        return { personId: Number(existing.id), created: false };
      }
      const id = await tx.insert("INSERT INTO people (name, kind, role, form, year_group, staff_code, email, external_id, source, updated_at, school) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'desk', ?, ?)", [...values, row.external_id, at, actor.school ?? '']);
      await this.audit.append({ actor: actorLabel(actor), action: 'person.added', subject: `person:${id}`, personId: id, at, details: { person: id, role: row.role } }, tx);
      return { personId: id, created: true };
    });
  }

  // ---- cards ----

  private async cardPlan(personRef: string, uidText: string, tx: SqlDatabase, actor: Actor): Promise<{ person: PersonRow; hash: Uint8Array; replaced: number; effects: string[] }> {
    if (!text(personRef)) throw problem('give the person: their MIS id or staff code');
    if (!text(uidText)) throw problem('give the card id (the UID the card reader shows, in hex)');
    const person = await this.people.resolve(personRef, tx);
    if (person.left_on) throw problem(`${person.name} has left (${person.left_on}): no card can be enrolled`);
    let uid: Uint8Array;
    try {
      uid = parseUid(uidText);
    } catch {
      throw problem('the card id is not a card UID: give 4, 7 or 10 bytes in hex (e.g. 04A1B2C3), as the card reader shows it');
    }
    const hash = badgeHash(await schoolBadgeKey(tx), uid);
    const holder = await tx.get<{ person_id: number; name: string; external_id: string; school: string }>('SELECT b.person_id, p.name, p.external_id, p.school FROM badges b JOIN people p ON p.id = b.person_id WHERE b.hash = ? AND b.revoked_at IS NULL', [hash]);
    if (holder && Number(holder.person_id) === Number(person.id)) throw problem(`that card is already ${person.name}’s`);
    // Another school's holder is not named to this one (issue 16).
    if (holder && actor.school !== undefined && holder.school !== actor.school) throw problem('that card is already enrolled to someone at another school of the trust: one card opens for one person');
    if (holder) throw problem(`that card is already enrolled to ${holder.name} (${holder.external_id}): one card opens for one person`);
    if (await tx.get('SELECT id FROM spare_cards WHERE hash = ? AND retired_at IS NULL', [hash])) throw problem('that card is one of the spare cards: give it as a day card instead');
    const old = await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM badges WHERE person_id = ? AND revoked_at IS NULL AND expires_at IS NULL', [person.id]);
    const replaced = Number(old?.n ?? 0);
    const effects = [`The card is enrolled to ${person.name} (${person.external_id}); every station is sent the new badge list within seconds.`];
    if (replaced) effects.push(`Their old card${replaced === 1 ? '' : 's'} stop${replaced === 1 ? 's' : ''} opening anything (${replaced} revoked).`);
    return { person, hash, replaced, effects };
  }

  async checkCard(personRef: string, uid: string, actor: Actor): Promise<{ effects: string[] }> {
    requirePermission(actor, 'register.edit');
    const plan = await this.cardPlan(personRef, uid, this.db, actor);
    requireCardRight(actor, plan.person);
    return { effects: plan.effects };
  }

  async enrolCard(personRef: string, uid: string, actor: Actor, at = new Date().toISOString()): Promise<{ personId: number; replaced: number }> {
    requirePermission(actor, 'register.edit');
    return this.db.transaction(async (tx) => {
      const { person, hash, replaced } = await this.cardPlan(personRef, uid, tx, actor);
      requireCardRight(actor, person);
      await tx.run('UPDATE badges SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL AND expires_at IS NULL', [at, person.id]);
      await tx.run(
        `INSERT INTO badges (hash, person_id, enrolled_at) VALUES (?, ?, ?)
         ON CONFLICT (hash) DO UPDATE SET person_id = excluded.person_id, enrolled_at = excluded.enrolled_at, revoked_at = NULL, expires_at = NULL`,
        [hash, person.id, at],
      );
      await this.audit.append({ actor: actorLabel(actor), action: 'badge.enrolled', subject: `person:${person.id}`, personId: Number(person.id), at, details: { person: Number(person.id), replaced } }, tx);
      return { personId: Number(person.id), replaced };
    });
  }

  // ---- assets ----

  private async assetPlan(input: AssetForm, tx: SqlDatabase, actor: Actor): Promise<{ asset: AssetInput; existing: AssetRow | undefined; effects: string[] }> {
    if (input.mode !== 'add' && input.mode !== 'correct') throw problem('choose whether to add a new asset or correct one');
    const tag = text(input.tag).toUpperCase();
    if (!tag) throw problem('give the asset tag (it is on the label, e.g. STK-004)');
    if (tag.length > 40 || !/^[A-Z0-9][A-Z0-9._/-]*$/.test(tag)) throw problem(`asset tag ${JSON.stringify(tag)}: use letters, digits, dots, dashes or slashes, at most 40`);
    const existing = await tx.get<AssetRow>('SELECT * FROM assets WHERE UPPER(tag) = ?', [tag]);
    if (input.mode === 'add' && existing) {
      const existingClass = await tx.get<{ name: string }>('SELECT name FROM asset_classes WHERE id = ?', [existing.class_id]);
      throw problem(`asset tag ${existing.tag} is already registered (${existingClass?.name ?? existing.class_id}): choose “Correct” to change it`);
    }
    if (input.mode === 'correct' && !existing) throw new NotFoundError(`no asset with tag ${tag} (choose “Add” for a new one)`);
    const classId = text(input.classId) || existing?.class_id || '';
    if (!classId) throw problem('choose the asset’s class');
    const assetClass = await tx.get<{ id: string; name: string }>('SELECT id, name FROM asset_classes WHERE id = ?', [classId]);
    if (!assetClass) throw problem(`there is no asset class ${JSON.stringify(classId)}`);
    const serial = text(input.serial) || existing?.serial || null;
    if (serial) {
      const clash = await tx.get<{ tag: string; school: string }>('SELECT tag, school FROM assets WHERE serial = ? AND UPPER(tag) <> ?', [serial, tag]);
      // Another school's item is not named to this one (issue 16).
      if (clash && actor.school !== undefined && clash.school !== actor.school) throw problem(`serial ${serial} is already an item's at another school of the trust`);
      if (clash) throw problem(`serial ${serial} is already ${clash.tag}’s`);
    }
    let replacementPence = existing?.replacement_pence ?? null;
    if (text(input.replacement)) {
      try {
        replacementPence = parsePounds(text(input.replacement));
      } catch (error) {
        throw problem(`replacement price: ${(error as Error).message}`);
      }
      if (replacementPence > 1_000_000) throw problem('a replacement price is at most £10,000.00');
    }
    let healthCheckDays = existing?.health_check_days ?? null;
    if (text(input.healthCheckDays)) {
      if (!/^\d{1,4}$/.test(text(input.healthCheckDays)) || Number(input.healthCheckDays) < 1 || Number(input.healthCheckDays) > 1000) throw problem('health-check interval: a whole number of days, 1 to 1000');
      healthCheckDays = Number(input.healthCheckDays);
    }
    let lastHealthCheck: string | null = null;
    if (text(input.lastHealthCheck)) {
      const today = new Date().toISOString().slice(0, 10);
      const day = parseDay(text(input.lastHealthCheck), 'last health check', { maxYearsBack: 10, maxYearsAhead: 0, today });
      if (!day.ok) throw problem(day.problem);
      if (day.day > today) throw problem(`last health check ${day.day} is in the future`);
      lastHealthCheck = new Date(`${day.day}T12:00:00`).toISOString();
    }
    let homeStation = existing?.home_station ?? null;
    let homeLocker = existing?.home_locker ?? null;
    if (text(input.homeStation) || text(input.homeLocker)) {
      if (!text(input.homeStation) || !text(input.homeLocker)) throw problem('give both the home station and the locker (or neither)');
      if (!/^\d{1,3}$/.test(text(input.homeLocker)) || Number(input.homeLocker) < 1) throw problem(`locker ${JSON.stringify(text(input.homeLocker))}: give the number on the door, from 1`);
      homeStation = text(input.homeStation);
      homeLocker = Number(input.homeLocker) - 1;
      const station = await tx.get<{ lockers: number }>('SELECT lockers FROM stations WHERE id = ?', [homeStation]);
      if (!station) throw problem(`there is no station ${JSON.stringify(homeStation)}`);
      if (homeLocker >= Number(station.lockers)) throw problem(`${homeStation} has lockers 1 to ${Number(station.lockers)}: there is no locker ${homeLocker + 1}`);
    }
    if (text(input.tagUid)) {
      try {
        parseUid(text(input.tagUid));
      } catch {
        throw problem('the item tag id is not a tag UID: give 4, 7 or 10 bytes in hex');
      }
    }
    const asset: AssetInput = {
      tag: existing?.tag ?? tag,
      classId,
      serial,
      model: text(input.model) || existing?.model || null,
      encryption: text(input.encryption) || existing?.encryption || null,
      replacementPence,
      healthCheckDays,
      lastHealthCheck,
      homeStation,
      homeLocker,
      tagUid: text(input.tagUid) || null,
      externalRef: existing?.external_ref ?? null,
    };
    // The register's own rules (P6: a stick needs its encryption; one asset per locker).
    try {
      await this.assets.validate(asset, tx);
    } catch (error) {
      if (error instanceof RuleError || error instanceof NotFoundError) throw problem(error.message.replace(/locker (\S+)\/(\d+)/, (_m, station, locker) => `${station} locker ${Number(locker) + 1}`));
      throw error;
    }
    const describe = [
      `${assetClass.name.toLowerCase()}`,
      asset.serial ? `serial ${asset.serial}` : null,
      asset.encryption ? `encryption ${asset.encryption}` : null,
      asset.replacementPence !== null && asset.replacementPence !== undefined ? `replacement ${formatPence(Number(asset.replacementPence))}` : 'the class’s replacement price',
      asset.homeStation ? `home ${asset.homeStation} locker ${Number(asset.homeLocker) + 1}` : 'no home locker (kept at the desk)',
    ].filter(Boolean);
    const effects = [existing ? `${asset.tag} is corrected: ${describe.join(', ')}.` : `${asset.tag} is registered: ${describe.join(', ')}; it can be lent at once.`];
    if (asset.tagUid) effects.push('Its item tag is stored as a keyed hash, and its station is told at its next configuration.');
    if (lastHealthCheck) effects.push(`Its last health check is recorded as ${text(input.lastHealthCheck)}.`);
    return { asset, existing, effects };
  }

  async checkAsset(input: AssetForm, actor: Actor): Promise<{ effects: string[] }> {
    requirePermission(actor, 'register.edit');
    return { effects: (await this.assetPlan(input, this.db, actor)).effects };
  }

  async saveAsset(input: AssetForm, actor: Actor): Promise<{ assetId: number; created: boolean }> {
    requirePermission(actor, 'register.edit');
    return this.db.transaction(async (tx) => {
      const { asset } = await this.assetPlan(input, tx, actor);
      const result = await this.assets.upsert(actor.school === undefined ? asset : { ...asset, school: actor.school }, actor, tx);
      return { assetId: result.id, created: result.created };
    });
  }
}
