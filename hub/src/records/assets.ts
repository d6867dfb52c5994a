// School assets lent from the staff banks (P6, P10, P12): asset classes with their price lists and
// loan rules, and the asset register. Only registered assets can be lent, and a class that
// requires encryption (USB sticks, P6) lends only assets with a recorded encryption type.
import type { SqlDatabase } from '../db/sql';
import type { AuditTrail } from '../audit/trail';
import { actorLabel, NotFoundError, requirePermission, RuleError, type Actor } from './access';
import { badgeHash, parseUid, ROLES, schoolBadgeKey, type Role } from './people';
import { addDays } from './time';
import { TRUST, type Scope } from './schools';

export interface AssetClassRow {
  id: string;
  name: string;
  code: number;
  requires_encryption: number;
  replacement_pence: number;
  loan_days: number;
  health_check_days: number | null;
  borrower_roles: string;
}

export interface AssetRow {
  id: number;
  tag: string;
  serial: string | null;
  class_id: string;
  model: string | null;
  encryption: string | null;
  replacement_pence: number | null;
  health_check_days: number | null;
  last_health_check: string | null;
  tag_hash: Uint8Array | null;
  home_station: string | null;
  home_locker: number | null;
  status: AssetStatus;
  external_ref: string | null;
  registered_at: string;
  updated_at: string | null;
}

export const ASSET_STATUSES = ['available', 'on-loan', 'health-check', 'lost', 'stolen', 'written-off', 'retired'] as const;
export type AssetStatus = (typeof ASSET_STATUSES)[number];
/** Each status as the page and messages say it. */
export const ASSET_STATUS_WORDS: Record<string, string> = { available: 'available', 'on-loan': 'on loan', 'health-check': 'held for its health check', lost: 'lost', stolen: 'stolen', 'written-off': 'written off', retired: 'retired' };
export const assetStatusWords = (status: string): string => ASSET_STATUS_WORDS[status] ?? status;
/** A class's name inside a sentence: "Laptop" → "laptop", but "Encrypted USB stick" keeps its USB. */
export const classInSentence = (name: string): string => (/^[A-Z][a-z]/.test(name) ? name.charAt(0).toLowerCase() + name.slice(1) : name);
/** The same with its article: "a laptop", "an encrypted USB stick". */
export const aClass = (name: string): string => `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${classInSentence(name)}`;

export interface AssetInput {
  tag: string;
  serial?: string | null;
  classId: string;
  model?: string | null;
  encryption?: string | null;
  replacementPence?: number | null;
  healthCheckDays?: number | null;
  lastHealthCheck?: string | null;
  /** The chip id of the NFC tag stuck on the item (hex); stored only as its keyed hash. */
  tagUid?: string | null;
  homeStation?: string | null;
  homeLocker?: number | null;
  externalRef?: string | null;
  /** The school it belongs to, as assets.school holds it ('' the deployment's own; records/schools.ts). */
  school?: string;
}

/** What a station needs per locker: the item's tag hash, class code and whether a check is due. */
export interface LockerAssetConfig {
  tag: string;
  assetClass: number;
  healthCheckDue: boolean;
}

export function borrowerRoles(assetClass: AssetClassRow): Role[] {
  return assetClass.borrower_roles.split(',').map((role) => role.trim()).filter((role): role is Role => (ROLES as readonly string[]).includes(role));
}

export class Assets {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
    /** The deployment's own site (HANDOVER_SITE): its stations' site, '' in assets.school. */
    private home = 'demo',
  ) {}

  // ---- classes and price lists ----

  async classes(): Promise<AssetClassRow[]> {
    return this.db.all<AssetClassRow>('SELECT * FROM asset_classes ORDER BY code');
  }

  /** Class id → its readable name ("usb-stick" → "Encrypted USB stick"): what pages and messages say. */
  async classNames(): Promise<Record<string, string>> {
    const names: Record<string, string> = {};
    for (const assetClass of await this.classes()) names[assetClass.id] = assetClass.name;
    return names;
  }

  /** An asset as a charge or message names it in a sentence, tag first (tables cut long text): "STK-001 (encrypted USB stick)". */
  async describe(asset: AssetRow, tx: SqlDatabase = this.db): Promise<string> {
    const name = (await this.assetClass(asset.class_id, tx)).name;
    return `${asset.tag} (${/^.[a-z]/.test(name) ? name[0].toLowerCase() + name.slice(1) : name})`;
  }

  async assetClass(id: string, tx: SqlDatabase = this.db): Promise<AssetClassRow> {
    const row = await tx.get<AssetClassRow>('SELECT * FROM asset_classes WHERE id = ?', [id]);
    if (!row) throw new NotFoundError(`no asset class ${JSON.stringify(id)}; there are: ${(await this.classes()).map((c) => c.id).join(', ')}`);
    return row;
  }

  /**
   * Classes and prices are the trust's, one list for every school (issue 16): in a trust, one
   * school's staff must not change what another school's pupils are charged. The trust's own staff
   * (of no one school) and the server's operator (no person) may.
   */
  private async requireTrustStaff(actor: Actor): Promise<void> {
    if (actor.personId === null) return;
    if (!(await this.db.get('SELECT id FROM schools WHERE id <> ?', [this.home]))) return;
    const person = await this.db.get<{ school: string }>('SELECT school FROM people WHERE id = ?', [actor.personId]);
    if (person?.school !== TRUST) throw new RuleError('classes.manage', "asset classes and prices are the trust's, the same at every school: a member of the trust's staff (of no one school) changes them");
  }

  async updateClass(id: string, changes: { replacementPence?: number; loanDays?: number; healthCheckDays?: number | null; borrowerRoles?: Role[] }, actor: Actor): Promise<void> {
    requirePermission(actor, 'classes.manage', 'changing an asset class');
    await this.requireTrustStaff(actor);
    await this.db.transaction(async (tx) => {
      await this.assetClass(id, tx);
      if (changes.replacementPence !== undefined) await tx.run('UPDATE asset_classes SET replacement_pence = ? WHERE id = ?', [changes.replacementPence, id]);
      if (changes.loanDays !== undefined) await tx.run('UPDATE asset_classes SET loan_days = ? WHERE id = ?', [changes.loanDays, id]);
      if (changes.healthCheckDays !== undefined) await tx.run('UPDATE asset_classes SET health_check_days = ? WHERE id = ?', [changes.healthCheckDays, id]);
      if (changes.borrowerRoles !== undefined) await tx.run('UPDATE asset_classes SET borrower_roles = ? WHERE id = ?', [changes.borrowerRoles.join(','), id]);
      await this.audit.append({ actor: actorLabel(actor), action: 'asset-class.changed', subject: `asset-class:${id}`, details: { ...changes } }, tx);
    });
  }

  async setPrice(classId: string, item: string, pence: number, actor: Actor): Promise<void> {
    requirePermission(actor, 'classes.manage', 'changing a price list');
    await this.requireTrustStaff(actor);
    if (!/^[a-z0-9-]{1,40}$/.test(item)) throw new RuleError('P7', `price-list item ${JSON.stringify(item)}: use lower-case letters, digits and dashes`);
    await this.db.transaction(async (tx) => {
      await this.assetClass(classId, tx);
      await tx.run('INSERT INTO price_list (class_id, item, pence) VALUES (?, ?, ?) ON CONFLICT (class_id, item) DO UPDATE SET pence = excluded.pence', [classId, item, pence]);
      await this.audit.append({ actor: actorLabel(actor), action: 'price-list.changed', subject: `asset-class:${classId}`, details: { item, pence } }, tx);
    });
  }

  /** The price list, each entry with its class's readable name (`class_name`) for the page. */
  async priceList(classId?: string): Promise<Array<{ class_id: string; class_name: string; item: string; pence: number }>> {
    const select = 'SELECT p.*, c.name AS class_name FROM price_list p JOIN asset_classes c ON c.id = p.class_id';
    if (classId) return this.db.all(`${select} WHERE p.class_id = ? ORDER BY p.item`, [classId]);
    return this.db.all(`${select} ORDER BY p.class_id, p.item`);
  }

  /** The replacement price charged when this asset is lost (asset's own, else its class's). */
  async replacementPence(asset: AssetRow, tx: SqlDatabase = this.db): Promise<number> {
    if (asset.replacement_pence !== null && asset.replacement_pence !== undefined) return Number(asset.replacement_pence);
    return Number((await this.assetClass(asset.class_id, tx)).replacement_pence);
  }

  // ---- the register ----

  async get(id: number, tx: SqlDatabase = this.db): Promise<AssetRow | undefined> {
    return tx.get<AssetRow>('SELECT * FROM assets WHERE id = ?', [id]);
  }

  async byTag(tag: string, tx: SqlDatabase = this.db): Promise<AssetRow> {
    // As typed at the desk: "stk-004" is the label's STK-004 (the register stores tags upper-cased).
    const row = (await tx.get<AssetRow>('SELECT * FROM assets WHERE tag = ?', [tag])) ?? (await tx.get<AssetRow>('SELECT * FROM assets WHERE tag = ?', [tag.trim().toUpperCase()]));
    if (!row) throw new NotFoundError(`no asset with tag ${JSON.stringify(tag)}`);
    return row;
  }

  async atHome(stationId: string, locker: number, tx: SqlDatabase = this.db): Promise<AssetRow | undefined> {
    return tx.get<AssetRow>('SELECT * FROM assets WHERE home_station = ? AND home_locker = ?', [stationId, locker]);
  }

  /** Every asset, or a scope's schools' (by SQL condition). */
  async list(scope?: Scope): Promise<AssetRow[]> {
    const school = scope?.where('school') ?? { sql: '1 = 1', params: [] };
    return this.db.all<AssetRow>(`SELECT * FROM assets WHERE ${school.sql} ORDER BY tag`, school.params);
  }

  /** Checks an asset row before it is stored; the reason names the field. */
  async validate(input: AssetInput, tx: SqlDatabase = this.db): Promise<void> {
    if (!input.tag.trim()) throw new RuleError('P6', 'asset tag is empty');
    const assetClass = await this.assetClass(input.classId, tx);
    if (assetClass.requires_encryption && !input.encryption?.trim()) {
      throw new RuleError('P6', `${assetClass.name} ${input.tag} has no encryption type: give its encryption (e.g. AES-256 hardware), as only encrypted ones may be registered (P6)`);
    }
    if ((input.homeStation == null) !== (input.homeLocker == null)) throw new RuleError('P6', 'home station and home locker go together');
    if (input.homeStation) {
      const station = await tx.get<{ lockers: number }>('SELECT lockers FROM stations WHERE id = ?', [input.homeStation]);
      if (!station) throw new NotFoundError(`no station ${JSON.stringify(input.homeStation)}`);
      if (!Number.isInteger(input.homeLocker) || input.homeLocker! < 0 || input.homeLocker! >= Number(station.lockers)) {
        throw new RuleError('P6', `locker ${input.homeLocker} does not exist at ${input.homeStation} (0..${Number(station.lockers) - 1})`);
      }
      const there = await this.atHome(input.homeStation, input.homeLocker!, tx);
      if (there && there.tag !== input.tag) throw new RuleError('P6', `locker ${input.homeStation}/${input.homeLocker} is already home to ${there.tag}`);
    }
    if (input.tagUid) await this.validateTag(input.tag, input.tagUid, tx);
  }

  /**
   * A station reads a person's card before an item's tag: a tag that is someone's card (or a spare
   * card) would never return its item, and in a staff session it would act on that person instead.
   */
  private async validateTag(tag: string, tagUid: string, tx: SqlDatabase): Promise<void> {
    let uid: Uint8Array;
    try {
      uid = parseUid(tagUid);
    } catch {
      throw new RuleError('P6', 'the item tag id is not a tag UID: give 4, 7 or 10 bytes in hex');
    }
    const hash = badgeHash(await schoolBadgeKey(tx), uid);
    const holder = await tx.get<{ name: string; external_id: string }>('SELECT p.name, p.external_id FROM badges b JOIN people p ON p.id = b.person_id WHERE b.hash = ? AND b.revoked_at IS NULL', [hash]);
    if (holder) throw new RuleError('P6', `that item tag id is ${holder.name}’s card (${holder.external_id}): give the id of the tag stuck on the item`);
    if (await tx.get('SELECT id FROM spare_cards WHERE hash = ? AND retired_at IS NULL', [hash])) throw new RuleError('P6', 'that item tag id is one of the spare cards: give the id of the tag stuck on the item');
    const tagged = await tx.get<{ tag: string }>('SELECT tag FROM assets WHERE tag_hash = ? AND tag <> ?', [hash, tag]);
    if (tagged) throw new RuleError('P6', `that item tag id is already ${tagged.tag}’s tag`);
  }

  /** Adds or updates one asset by its tag (imports call this once per row). Returns its id and whether it was new. */
  async upsert(input: AssetInput, actor: Actor, tx?: SqlDatabase): Promise<{ id: number; created: boolean }> {
    if (!tx) return this.db.transaction((inner) => this.upsert(input, actor, inner));
    await this.validate(input, tx);
    const now = new Date().toISOString();
    const tagHash = input.tagUid ? badgeHash(await schoolBadgeKey(tx), parseUid(input.tagUid)) : null;
    const existing = await tx.get<AssetRow & { school: string }>('SELECT * FROM assets WHERE tag = ?', [input.tag]);
    const school = input.school ?? existing?.school ?? '';
    // An asset, and the station it lives at, are of one school: another school's are never touched.
    if (existing && existing.school !== school) throw new RuleError('schools', `asset tag ${input.tag} belongs to another school: not changed`);
    if (input.homeStation) {
      const station = await tx.get<{ site: string }>('SELECT site FROM stations WHERE id = ?', [input.homeStation]);
      // The deployment's own school ('') may use any station but another school's (a single school's stations may carry an older site).
      const elsewhere = school === '' ? station && station.site !== this.home && (await tx.get('SELECT id FROM schools WHERE id = ?', [station.site])) : station && station.site !== school;
      if (elsewhere) throw new RuleError('schools', `station ${input.homeStation} is of another school`);
    }
    const values = [
      input.serial ?? null,
      input.classId,
      input.model ?? null,
      input.encryption?.trim() || null,
      input.replacementPence ?? null,
      input.healthCheckDays ?? null,
      input.homeStation ?? null,
      input.homeLocker ?? null,
      input.externalRef ?? null,
    ];
    if (existing) {
      await tx.run(
        `UPDATE assets SET serial = ?, class_id = ?, model = ?, encryption = ?, replacement_pence = ?, health_check_days = ?, home_station = ?, home_locker = ?, external_ref = ?, updated_at = ? WHERE id = ?`,
        [...values, now, existing.id],
      );
      if (tagHash) await tx.run('UPDATE assets SET tag_hash = ? WHERE id = ?', [tagHash, existing.id]);
      if (input.lastHealthCheck) await tx.run('UPDATE assets SET last_health_check = ? WHERE id = ?', [input.lastHealthCheck, existing.id]);
      await this.audit.append({ actor: actorLabel(actor), action: 'asset.updated', subject: `asset:${existing.id}`, details: { tag: input.tag } }, tx);
      return { id: Number(existing.id), created: false };
    }
    const id = await tx.insert(
      `INSERT INTO assets (serial, class_id, model, encryption, replacement_pence, health_check_days, home_station, home_locker, external_ref, tag, tag_hash, last_health_check, status, registered_at, school)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'available', ?, ?)`,
      [...values, input.tag, tagHash, input.lastHealthCheck ?? null, now, school],
    );
    await this.audit.append({ actor: actorLabel(actor), action: 'asset.registered', subject: `asset:${id}`, details: { tag: input.tag, class: input.classId } }, tx);
    return { id, created: true };
  }

  /** Whether the asset may go out on loan now (P6), with the reason when not. */
  async lendable(asset: AssetRow, tx: SqlDatabase = this.db): Promise<{ ok: true } | { ok: false; reason: string }> {
    const assetClass = await this.assetClass(asset.class_id, tx);
    if (assetClass.requires_encryption && !asset.encryption) return { ok: false, reason: `${asset.tag} has no recorded encryption (P6)` };
    if (asset.status !== 'available') return { ok: false, reason: `${asset.tag} is ${assetStatusWords(asset.status)}` };
    return { ok: true };
  }

  async mayBorrow(role: Role, asset: AssetRow, tx: SqlDatabase = this.db): Promise<boolean> {
    return borrowerRoles(await this.assetClass(asset.class_id, tx)).includes(role);
  }

  async loanDueAt(asset: AssetRow, lentAt: string, tx: SqlDatabase = this.db): Promise<string> {
    return addDays(lentAt, Number((await this.assetClass(asset.class_id, tx)).loan_days));
  }

  /** When an asset's next health check is due (P10), or null if it needs none; `classDays`: each class's period, read once for a list. */
  async healthCheckDueAt(asset: AssetRow, tx: SqlDatabase = this.db, classDays?: Map<string, number | null>): Promise<string | null> {
    const days = asset.health_check_days ?? (classDays?.has(asset.class_id) ? classDays.get(asset.class_id) : (await this.assetClass(asset.class_id, tx)).health_check_days);
    if (days === null || days === undefined) return null;
    return asset.last_health_check ? addDays(asset.last_health_check, Number(days)) : asset.registered_at;
  }

  async healthCheckDue(asset: AssetRow, at: string, tx: SqlDatabase = this.db): Promise<boolean> {
    const due = await this.healthCheckDueAt(asset, tx);
    return due !== null && due <= at;
  }

  async setStatus(assetId: number, status: AssetStatus, tx: SqlDatabase, at: string): Promise<void> {
    await tx.run('UPDATE assets SET status = ?, updated_at = ? WHERE id = ?', [status, at, assetId]);
  }

  /** ICT has checked the laptop (P10): the next check is counted from now. */
  async recordHealthCheck(assetId: number, actor: Actor, at: string, tx: SqlDatabase): Promise<void> {
    await tx.run('UPDATE assets SET last_health_check = ?, updated_at = ? WHERE id = ?', [at, at, assetId]);
    await this.audit.append({ actor: actorLabel(actor), action: 'asset.health-checked', subject: `asset:${assetId}`, at, details: { asset: assetId } }, tx);
  }

  /** Per locker of a station, the item it is home to for the station's configuration. */
  async lockerConfig(stationId: string, lockers: number, at = new Date().toISOString()): Promise<Array<LockerAssetConfig | null>> {
    const rows = await this.db.all<AssetRow & { code: number }>(
      `SELECT a.*, c.code FROM assets a JOIN asset_classes c ON c.id = a.class_id WHERE a.home_station = ? AND a.tag_hash IS NOT NULL
       AND a.status IN ('available', 'on-loan', 'health-check')`,
      [stationId],
    );
    const config: Array<LockerAssetConfig | null> = Array.from({ length: lockers }, () => null);
    for (const row of rows) {
      if (row.home_locker === null || row.home_locker >= lockers) continue;
      const lendable = row.status !== 'available' || (await this.lendable(row)).ok;
      if (!lendable) continue;
      config[row.home_locker] = { tag: Buffer.from(row.tag_hash!).toString('hex'), assetClass: Number(row.code), healthCheckDue: await this.healthCheckDue(row, at) };
    }
    return config;
  }

  /** The bit mask of asset classes a role may borrow (P12), for the station's badge list. */
  async classMaskFor(role: Role): Promise<number> {
    let mask = 0;
    for (const assetClass of await this.classes()) if (borrowerRoles(assetClass).includes(role)) mask |= 1 << (Number(assetClass.code) - 1);
    return mask;
  }
}
