// The station registry: each station's id, size and its own signing key.
import crypto from 'node:crypto';
import type { SqlDatabase } from '../db/sql';

export interface StationRow {
  id: string;
  site: string;
  lockers: number;
  station_key: string;
  status: string;
  last_seen: string | null;
}

export class Stations {
  private db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.db = db;
  }

  async add(site: string, id: string, lockers: number): Promise<StationRow> {
    if (!/^[a-z0-9-]{1,32}$/.test(id)) throw new Error(`station id ${JSON.stringify(id)}: use 1-32 lower-case letters, digits and dashes`);
    if (!Number.isInteger(lockers) || lockers < 1 || lockers > 32) throw new Error(`station ${id}: lockers must be 1..32, got ${lockers}`);
    const existing = await this.get(id);
    if (existing) throw new Error(`station ${id} already exists`);
    await this.db.run('INSERT INTO stations (id, site, lockers, station_key) VALUES (?, ?, ?, ?)', [id, site, lockers, crypto.randomBytes(32).toString('hex')]);
    return (await this.get(id))!;
  }

  async get(id: string): Promise<StationRow | undefined> {
    return this.db.get<StationRow>('SELECT * FROM stations WHERE id = ?', [id]);
  }

  async list(): Promise<StationRow[]> {
    return this.db.all<StationRow>('SELECT * FROM stations ORDER BY id');
  }
}
