// People and their badges. A badge is stored only as the keyed hash of its UID (P16): the same
// derivation the stations use, so a tap can be matched without any station holding a UID.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { ROLE } from '../../../protocol/wire';
import { BADGE_FLAG, BADGE_HASH_BYTES, encodeBadgeList, type BadgeRecord } from '../../../protocol/badge-list';
import type { SqlDatabase } from '../db/sql';
import { NotFoundError, RuleError, type Actor } from './access';
import type { Role } from './actor';

export { ROLES, type Role } from './actor';

const ROLE_CODES: Record<Role, number> = {
  pupil: ROLE.PUPIL,
  staff: ROLE.STAFF,
  headteacher: ROLE.HEADTEACHER,
  deputy: ROLE.DEPUTY,
  dsl: ROLE.DSL,
  ict: ROLE.ICT,
  office: ROLE.OFFICE,
};

export interface PersonRow {
  id: number;
  external_id: string;
  name: string;
  kind: 'pupil' | 'staff';
  role: Role;
  form: string | null;
  year_group: string | null;
  staff_code: string | null;
  email: string | null;
  medical_exempt: number;
  left_on: string | null;
  source: string | null;
  updated_at: string | null;
  purged_at: string | null;
}

export interface NewPerson {
  externalId: string;
  name: string;
  role: Role;
  form?: string | null;
  medicalExempt?: boolean;
}

/** Parses a card chip id as schools export it: hex, with or without separators. */
export function parseUid(text: string): Uint8Array {
  const hex = text.replace(/[\s:-]/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length % 2 !== 0) throw new Error(`card id ${JSON.stringify(text)} is not hex bytes`);
  const bytes = Buffer.from(hex, 'hex');
  if (![4, 7, 10].includes(bytes.length)) throw new Error(`card id ${JSON.stringify(text)} has ${bytes.length} bytes; UIDs have 4, 7 or 10`);
  return new Uint8Array(bytes);
}

export function badgeHash(badgeKey: Uint8Array, uid: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHmac('sha256', badgeKey).update(uid).digest().subarray(0, BADGE_HASH_BYTES));
}

export async function schoolBadgeKey(db: SqlDatabase): Promise<Uint8Array> {
  const row = await db.get<{ value: string }>("SELECT value FROM hub_secrets WHERE name = 'badge_key'");
  if (row) return new Uint8Array(Buffer.from(row.value, 'hex'));
  const key = crypto.randomBytes(32).toString('hex');
  await db.run("INSERT INTO hub_secrets (name, value) VALUES ('badge_key', ?) ON CONFLICT DO NOTHING", [key]);
  return schoolBadgeKey(db);
}

export class People {
  private db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.db = db;
  }

  async add(person: NewPerson): Promise<number> {
    const kind = person.role === 'pupil' ? 'pupil' : 'staff';
    // In a transaction: people rows are anchored in the audit chain at commit (audit/anchoring.ts).
    return this.db.transaction((tx) =>
      tx.insert('INSERT INTO people (external_id, name, kind, role, form, medical_exempt) VALUES (?, ?, ?, ?, ?, ?)', [
        person.externalId,
        person.name,
        kind,
        person.role,
        person.form ?? null,
        person.medicalExempt ? 1 : 0,
      ]),
    );
  }

  async get(id: number, tx: SqlDatabase = this.db): Promise<PersonRow | undefined> {
    return tx.get<PersonRow>('SELECT * FROM people WHERE id = ?', [id]);
  }

  /**
   * Finds a person as staff type them: their MIS id (external id), their staff code, or `#<id>`
   * (the hub's own number, as reports print it).
   */
  async resolve(ref: string, tx: SqlDatabase = this.db): Promise<PersonRow> {
    const text = ref.trim();
    const byId = /^#(\d+)$/.exec(text);
    const row = byId
      ? await tx.get<PersonRow>('SELECT * FROM people WHERE id = ?', [Number(byId[1])])
      : ((await tx.get<PersonRow>('SELECT * FROM people WHERE external_id = ?', [text])) ?? (await this.byStaffCode(text, tx)));
    if (!row) throw new NotFoundError(`no person ${JSON.stringify(text)} (give a MIS id, a staff code, or #<number>)`);
    return row;
  }

  /**
   * The person a staff code names: the one on roll before a leaver. Staff codes are each school's
   * own (issue 16), so a code on roll at two schools of a trust names nobody for certain: refused.
   */
  private async byStaffCode(code: string, tx: SqlDatabase): Promise<PersonRow | undefined> {
    const rows = await tx.all<PersonRow & { school: string }>('SELECT * FROM people WHERE staff_code IS NOT NULL AND UPPER(staff_code) = UPPER(?) ORDER BY left_on IS NOT NULL, id', [code]);
    if (new Set(rows.filter((row) => !row.left_on).map((row) => row.school)).size > 1) {
      throw new RuleError('schools', `staff code ${code.toUpperCase()} is used at more than one school of the trust: give the MIS id instead`);
    }
    return rows[0];
  }

  /** The acting staff member named by `ref`, as an Actor for the rules. */
  async actor(ref: string): Promise<Actor> {
    const person = await this.resolve(ref);
    if (person.kind !== 'staff') throw new NotFoundError(`${ref} is a pupil, not a member of staff`);
    if (person.left_on) throw new NotFoundError(`${ref} has left (${person.left_on})`);
    return { personId: Number(person.id), role: person.role };
  }

  async enrolBadge(personId: number, uid: Uint8Array): Promise<Uint8Array> {
    const hash = badgeHash(await schoolBadgeKey(this.db), uid);
    await this.db.transaction((tx) => tx.run('INSERT INTO badges (hash, person_id, enrolled_at) VALUES (?, ?, ?)', [hash, personId, new Date().toISOString()]));
    return hash;
  }

  /**
   * The badge-list file every station holds: active badges of people who have not left.
   * `schools`: only the people of these schools (people.school values; issue 16), else everyone.
   * It is rebuilt every few seconds while cards change (a large import), so it is read lean: each
   * row as an array, each hash as hex text written into one buffer (not a Buffer per row, which
   * costs memory outside the JS heap until a full collection), each role's classes worked out once.
   */
  async stationBadgeList(version: number, schools?: string[]): Promise<Uint8Array> {
    // Which asset classes each role may borrow (P12): bit (code - 1) of the record's class mask.
    const classes = (await this.db.all<{ code: number; borrower_roles: string }>('SELECT code, borrower_roles FROM asset_classes')).map((c) => ({ bit: 1 << (Number(c.code) - 1), roles: c.borrower_roles.split(',') }));
    const masks = new Map<Role, number>();
    const classMask = (role: Role) => {
      let mask = masks.get(role);
      if (mask === undefined) {
        mask = classes.reduce((bits, c) => (c.roles.includes(role) ? bits | c.bit : bits), 0);
        masks.set(role, mask);
      }
      return mask;
    };
    const hex = this.db.kind === 'postgres' ? "encode(b.hash, 'hex')" : 'hex(b.hash)';
    const rows = await this.db.allArrays(
      `SELECT ${hex}, b.person_id, p.role, p.medical_exempt FROM badges b JOIN people p ON p.id = b.person_id
       WHERE b.revoked_at IS NULL AND p.left_on IS NULL${schools ? ` AND p.school IN (${schools.map(() => '?').join(', ')})` : ''}`,
      schools ?? [],
    );
    const hashes = Buffer.alloc(rows.length * BADGE_HASH_BYTES);
    const records: BadgeRecord[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [hash, person, role, medicalExempt] = rows[i] as [string, number, Role, number];
      const at = i * BADGE_HASH_BYTES;
      hashes.write(hash, at, BADGE_HASH_BYTES, 'hex');
      records[i] = { hash: hashes.subarray(at, at + BADGE_HASH_BYTES), person: Number(person), role: ROLE_CODES[role], assetClasses: classMask(role), flags: Number(medicalExempt) ? BADGE_FLAG.MEDICAL_EXEMPT : 0 };
    }
    rows.length = 0; // the rows may go while the list is sorted
    return encodeBadgeList(records, version, (data) => zlib.crc32(data));
  }
}
