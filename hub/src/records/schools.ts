// Schools as tenants (issue 16). A trust deployment holds several schools, each named by the site
// slug its stations use in their MQTT topics; a single school is the deployment's own site
// (HANDOVER_SITE) and needs no configuration. People and assets carry their school ('' in the
// database is the deployment's own school, so rows from before migration 17 stay where they were);
// a station's school is its `site`. An account is of one school or of the whole trust ('*').
//
// What an account may see is one `Scope` (`scopeFor`): the pages, the JSON API, the reports and the
// exports filter every row through it. The permission table (rules/permissions.ts) still decides
// what each role may do; the scope decides of which schools.
import type { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import { RuleError } from './access';

/** An account of the whole trust (trust ICT, trust office, a trust DSL: the role still decides what). */
export const TRUST = '*';

export interface School {
  id: string;
  name: string;
}

/** Which schools' records an account sees: every school (a trust account, or a single-school deployment), or some. */
export class Scope {
  private constructor(
    /** null: every school. */
    readonly schools: string[] | null,
    /** The values people.school, assets.school and stations.site hold for these schools. */
    private stored: string[] | null,
    /** The ids of those schools' people, stations and assets: read only for the per-row checks below (`withIds`). */
    private ids: { people: Set<number>; stations: Set<string>; assets: Set<number> } | null,
  ) {}

  static all(): Scope {
    return new Scope(null, null, null);
  }

  /**
   * The scope of some schools as SQL conditions only (`where`, `hasPerson`…): nothing is read.
   * What the busy pages use, so a request does not load every id of a school.
   */
  static sql(home: string, schools: string[]): Scope {
    const stored = schools.map((school) => (school === home ? '' : school));
    if (stored.includes('')) stored.push(home);
    return new Scope(schools, stored, null);
  }

  /** The scope of some schools with the ids of their people, stations and assets read once, for `person`, `row`, `rows`… */
  static async of(db: SqlDatabase, home: string, schools: string[]): Promise<Scope> {
    return Scope.sql(home, schools).withIds(db);
  }

  /** This scope with its ids read (the per-row checks need them); the same scope when it is every school. */
  async withIds(db: SqlDatabase): Promise<Scope> {
    if (!this.stored || this.ids) return this;
    const marks = this.stored.map(() => '?').join(', ');
    const [people, stations, assets] = await Promise.all([
      db.all<{ id: number }>(`SELECT id FROM people WHERE school IN (${marks})`, this.stored),
      db.all<{ id: string }>(`SELECT id FROM stations WHERE site IN (${marks})`, this.stored),
      db.all<{ id: number }>(`SELECT id FROM assets WHERE school IN (${marks})`, this.stored),
    ]);
    return new Scope(this.schools, this.stored, {
      people: new Set(people.map((row) => Number(row.id))),
      stations: new Set(stations.map((row) => row.id)),
      assets: new Set(assets.map((row) => Number(row.id))),
    });
  }

  /**
   * A condition on a school column (people.school, assets.school, stations.site) for a query's
   * WHERE, with its parameters: true for every school.
   */
  where(column: string): { sql: string; params: string[] } {
    if (!this.stored) return { sql: '1 = 1', params: [] };
    return { sql: `${column} IN (${this.stored.map(() => '?').join(', ')})`, params: this.stored };
  }

  /**
   * A condition that a station column (lockers.station_id, phones_in.station_id…) names one of
   * these schools' stations: true for every school. On PostgreSQL the stations are read first as
   * an array, so their rows are found by index (its planner otherwise scans every row to join).
   */
  stationIn(column: string, kind: SqlDatabase['kind']): { sql: string; params: string[] } {
    if (!this.stored) return { sql: '1 = 1', params: [] };
    const site = this.where('site');
    const stations = `SELECT id FROM stations WHERE ${site.sql}`;
    return { sql: kind === 'postgres' ? `${column} = ANY(ARRAY(${stations}))` : `${column} IN (${stations})`, params: site.params };
  }

  /** Whether a person is of these schools, asked of the database (no person: yes). */
  async hasPerson(db: SqlDatabase, id: number | string | null | undefined): Promise<boolean> {
    return this.has(db, 'people', 'school', id === null || id === undefined ? id : Number(id));
  }

  async hasStation(db: SqlDatabase, id: string | null | undefined): Promise<boolean> {
    return this.has(db, 'stations', 'site', id);
  }

  async hasAsset(db: SqlDatabase, id: number | string | null | undefined): Promise<boolean> {
    return this.has(db, 'assets', 'school', id === null || id === undefined ? id : Number(id));
  }

  private async has(db: SqlDatabase, table: string, column: string, id: number | string | null | undefined): Promise<boolean> {
    if (!this.stored || id === null || id === undefined) return true;
    const school = this.where(column);
    return !!(await db.get(`SELECT 1 AS found FROM ${table} WHERE id = ? AND ${school.sql}`, [id, ...school.params]));
  }

  /** The ids the per-row checks need: a scope made by `Scope.sql` has none until `withIds`. */
  private loaded() {
    if (!this.ids) throw new Error('this scope was made for SQL conditions only: read its ids first (Scope.withIds)');
    return this.ids;
  }

  get everything(): boolean {
    return this.schools === null;
  }

  /** Whether a person is of these schools (no person: yes, the row names nobody). */
  person(id: number | string | null | undefined): boolean {
    return !this.stored || id === null || id === undefined || this.loaded().people.has(Number(id));
  }

  station(id: string | null | undefined): boolean {
    return !this.stored || id === null || id === undefined || this.loaded().stations.has(id);
  }

  asset(id: number | string | null | undefined): boolean {
    return !this.stored || id === null || id === undefined || this.loaded().assets.has(Number(id));
  }

  /** Whether a row is in scope: each of its person, station and asset columns that it has. */
  row(row: object): boolean {
    if (!this.stored) return true;
    const fields = row as Record<string, unknown>;
    for (const key of ['personId', 'person_id', 'borrowerId', 'borrower_id']) if (key in fields && !this.person(fields[key] as number | null)) return false;
    for (const key of ['stationId', 'station_id', 'home_station']) if (key in fields && !this.station(fields[key] as string | null)) return false;
    for (const key of ['assetId', 'asset_id']) if (key in fields && !this.asset(fields[key] as number | null)) return false;
    return true;
  }

  /** Whether an audit or alert subject (`person:7`, `asset:3`, `locker:room-12/4`, `station:room-12`, `event:room-12/1/7`) is in scope. */
  subject(subject: string | null | undefined): boolean {
    if (!this.stored || !subject) return true;
    const match = /^(person|asset|locker|station|event):([^/]+)/.exec(subject);
    if (!match) return true;
    if (match[1] === 'person') return this.person(match[2]);
    if (match[1] === 'asset') return this.asset(match[2]);
    return this.station(match[2]);
  }

  rows<T extends object>(rows: T[]): T[] {
    return this.stored ? rows.filter((row) => this.row(row)) : rows;
  }
}

export class Schools {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
    /** The deployment's own school: HANDOVER_SITE. */
    readonly home: string,
  ) {}

  /** Every school, the deployment's own first (named after its site until it is given a name). */
  async list(): Promise<School[]> {
    const rows = await this.db.all<School>('SELECT id, name FROM schools ORDER BY id');
    const own = rows.find((row) => row.id === this.home) ?? { id: this.home, name: this.home };
    return [own, ...rows.filter((row) => row.id !== this.home)];
  }

  async isTrust(): Promise<boolean> {
    return (await this.list()).length > 1;
  }

  /** Adds a school (its id is the site its stations use in their topics), or renames one. */
  async add(id: string, name: string, by: string): Promise<School> {
    if (!/^[a-z0-9-]+$/.test(id)) throw new RuleError('schools', `school ${JSON.stringify(id)}: use the site's lower-case letters, digits and dashes`);
    const title = name.trim() || id;
    const at = new Date().toISOString();
    await this.db.transaction(async (tx) => {
      await tx.run('INSERT INTO schools (id, name, added_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name', [id, title, at]);
      // The stations' badge lists are rebuilt: from now on this school's stations get its own.
      await tx.run('UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1');
      await this.audit.append({ actor: by, action: 'school.added', subject: `school:${id}`, at, details: { name: title } }, tx);
    });
    return { id, name: title };
  }

  /**
   * The school a command or an import acts on: the one named, which must exist; none named, the
   * only school (a trust deployment must name one).
   */
  async resolve(named: string | undefined | null): Promise<string> {
    const schools = await this.list();
    if (named) {
      if (!schools.some((school) => school.id === named)) throw new RuleError('schools', `no school ${JSON.stringify(named)}: the schools are ${schools.map((school) => school.id).join(', ')}`);
      return named;
    }
    if (schools.length > 1) throw new RuleError('schools', `this deployment holds ${schools.length} schools: name one with --school (${schools.map((school) => school.id).join(', ')})`);
    return this.home;
  }

  /** The value people.school and assets.school hold for a school. */
  stored(school: string): string {
    return school === this.home ? '' : school;
  }

  /** The school of a person's or asset's stored value. */
  fromStored(value: string | null | undefined): string {
    return value ? value : this.home;
  }

  /** An account's school, or TRUST. */
  async ofAccount(accountId: number): Promise<string> {
    const row = await this.db.get<{ school: string }>('SELECT school FROM account_schools WHERE account_id = ?', [accountId]);
    return row?.school ?? this.home;
  }

  async setAccount(accountId: number, school: string, by: string, subject: string): Promise<void> {
    if (school !== TRUST) await this.resolve(school);
    const at = new Date().toISOString();
    await this.db.transaction(async (tx) => {
      await tx.run('INSERT INTO account_schools (account_id, school) VALUES (?, ?) ON CONFLICT (account_id) DO UPDATE SET school = excluded.school', [accountId, school]);
      await this.audit.append({ actor: by, action: 'account.school-set', subject, at, details: { school } }, tx);
    });
  }

  /** A person's school (the command line's --by acts for the school of the person it names). */
  async ofPerson(personId: number): Promise<string> {
    const row = await this.db.get<{ school: string }>('SELECT school FROM people WHERE id = ?', [personId]);
    return this.fromStored(row?.school);
  }

  /**
   * What a command sees: a member of staff named with --by, their school's records; the
   * server's operator (no --by), every school's. `filter` (--school) narrows it to one school.
   */
  async scopeForActor(actor: { personId: number | null }, filter?: string | null): Promise<Scope> {
    if (filter) await this.resolve(filter);
    const school = actor.personId === null ? TRUST : await this.ofPerson(actor.personId);
    // Another school's --school is refused, not ignored: their own school's rows would be printed under its name.
    if (filter && school !== TRUST && filter !== school && (await this.isTrust())) throw new RuleError('schools', `the member of staff named with --by is of school ${school}: --school ${filter} is not theirs`);
    return this.scopeFor(school, filter);
  }

  /**
   * What an account of `accountSchool` sees, narrowed to `filter` when it names a school the account
   * may see (a trust account filtering by school). A single-school deployment sees everything.
   */
  async scopeFor(accountSchool: string, filter?: string | null): Promise<Scope> {
    return (await this.sqlScopeFor(accountSchool, filter)).withIds(this.db);
  }

  /** The same scope as SQL conditions only (Scope.sql): nothing read but the list of schools. */
  async sqlScopeFor(accountSchool: string, filter?: string | null): Promise<Scope> {
    const schools = (await this.list()).map((school) => school.id);
    if (accountSchool !== TRUST) return schools.length > 1 || filter ? Scope.sql(this.home, [accountSchool]) : Scope.all();
    if (filter && schools.includes(filter)) return Scope.sql(this.home, [filter]);
    return Scope.all();
  }
}
