// The station registry: each station's id, size and its own signing key. Registering one is an
// administrative action, recorded in the audit trail when the registry is given one (records/index.ts).
import crypto from 'node:crypto';
import type { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import type { Scope } from './schools';

export interface StationRow {
  id: string;
  site: string;
  lockers: number;
  station_key: string;
  status: string;
  last_seen: string | null;
  /** The board identity last heard (0: firmware or Storage from before identities; null: never heard). */
  board: number | null;
  /** The board it replaced, and when (records/station-boards.ts); null if never replaced. */
  previous_board: number | null;
  board_since: string | null;
}

export class Stations {
  private db: SqlDatabase;
  private audit: AuditTrail | null;

  constructor(db: SqlDatabase, audit: AuditTrail | null = null) {
    this.db = db;
    this.audit = audit;
  }

  async add(site: string, id: string, lockers: number, actor = 'system'): Promise<StationRow> {
    if (!/^[a-z0-9-]{1,32}$/.test(id)) throw new Error(`station id ${JSON.stringify(id)}: use 1-32 lower-case letters, digits and dashes`);
    // Its broker client id is handover-<id>; the hub's are handover-hub-…
    if (id === 'hub' || id.startsWith('hub-')) throw new Error(`station id ${JSON.stringify(id)}: ids starting "hub" are kept for the hub's own broker connections`);
    if (!Number.isInteger(lockers) || lockers < 1 || lockers > 32) throw new Error(`station ${id}: lockers must be 1..32, got ${lockers}`);
    const existing = await this.get(id);
    if (existing) throw new Error(`station ${id} already exists`);
    if (await this.db.get('SELECT username FROM broker_accounts WHERE username = ?', [id])) throw new Error(`station id ${id}: a broker account has that name (stations log in to the broker under their id)`);
    await this.db.transaction(async (tx) => {
      await tx.run('INSERT INTO stations (id, site, lockers, station_key) VALUES (?, ?, ?, ?)', [id, site, lockers, crypto.randomBytes(32).toString('hex')]);
      // The key itself stays out of the trail.
      await this.audit?.append({ actor, action: 'station.added', subject: `station:${id}`, details: { station: id, site, lockers } }, tx);
    });
    return (await this.get(id))!;
  }

  async get(id: string): Promise<StationRow | undefined> {
    return this.db.get<StationRow>('SELECT * FROM stations WHERE id = ?', [id]);
  }

  /** Every station, or those of a scope's schools (read by SQL condition: a trust has 2,500). */
  async list(scope?: Scope): Promise<StationRow[]> {
    const site = scope?.where('site') ?? { sql: '1 = 1', params: [] };
    return this.db.all<StationRow>(`SELECT * FROM stations WHERE ${site.sql} ORDER BY id`, site.params);
  }
}
