// Phone custody and locker states written together for a run of deposits and collections: what
// one statement per event would leave, in a few multi-row statements (on PostgreSQL each
// statement is a round trip). The caller flushes before anything else reads or writes these
// tables, so within a run only deposits and collections touch them and can be resolved here:
//   - a collection closes the run's own open deposits of that pupil and locker in memory, and
//     (the run's first collection of that pupil and locker only) the rows stored before the run
//   - flush: those earlier rows closed, then the deposits inserted in order, then the lockers
import { insertRows, rowsAsTable, type BulkColumn } from '../db/bulk';
import type { SqlDatabase, SqlValue } from '../db/sql';

interface DepositRow {
  person: number;
  station: string;
  locker: number;
  at: string;
  boot: number;
  seq: number;
  collectedAt: string | null;
  collectedBy: number | null;
}

const CUSTODY_COLUMNS: BulkColumn[] = [
  ['person_id', 'bigint'], ['station_id', 'text'], ['locker', 'bigint'], ['deposited_at', 'text'], ['deposit_boot', 'bigint'], ['deposit_seq', 'bigint'], ['collected_at', 'text'], ['collected_by', 'bigint'],
];
const COLLECTION_COLUMNS: BulkColumn[] = [['person_id', 'bigint'], ['station_id', 'text'], ['locker', 'bigint'], ['at', 'text']];
const LOCKER_COLUMNS: BulkColumn[] = [['station_id', 'text'], ['locker', 'bigint'], ['state', 'text'], ['person_id', 'bigint'], ['since', 'text']];
/** Collections per statement. */
const CUSTODY_CHUNK = 250;

function custodyKey(person: number, station: string, locker: number): string {
  return `${person}\u0000${station}\u0000${locker}`;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

/** Upserts lockers' states, rows of [station, locker, state, person, since] (each locker once). */
export async function writeLockers(tx: SqlDatabase, rows: SqlValue[][]): Promise<void> {
  await insertRows(tx, 'lockers', LOCKER_COLUMNS, rows, 'ON CONFLICT (station_id, locker) DO UPDATE SET state = excluded.state, person_id = excluded.person_id, since = excluded.since');
}

export class CustodyWrites {
  private deposits: DepositRow[] = [];
  /** The run's deposits not yet collected, per pupil and locker. */
  private open = new Map<string, DepositRow[]>();
  /** Per pupil and locker, the run's first collection: it closes what was open before the run. */
  private earlierClosed = new Map<string, [person: number, station: string, locker: number, at: string]>();
  /** Each locker's last state in the run, [station, locker, state, person, since]. */
  private lockers = new Map<string, SqlValue[]>();

  get empty(): boolean {
    return this.deposits.length === 0 && this.earlierClosed.size === 0 && this.lockers.size === 0;
  }

  deposit(person: number, station: string, locker: number, at: string, boot: number, seq: number): void {
    const row: DepositRow = { person, station, locker, at, boot, seq, collectedAt: null, collectedBy: null };
    this.deposits.push(row);
    const key = custodyKey(person, station, locker);
    const open = this.open.get(key);
    if (open) open.push(row);
    else this.open.set(key, [row]);
  }

  /** The pupil's phone out of the locker: every open deposit of theirs there is collected. */
  collect(person: number, station: string, locker: number, at: string): void {
    const key = custodyKey(person, station, locker);
    if (!this.earlierClosed.has(key)) this.earlierClosed.set(key, [person, station, locker, at]);
    for (const row of this.open.get(key) ?? []) {
      row.collectedAt = at;
      row.collectedBy = person;
    }
    this.open.delete(key);
  }

  setLocker(station: string, locker: number, state: string, person: number | null, since: string): void {
    this.lockers.set(`${station}\u0000${locker}`, [station, locker, state, person, since]);
  }

  async flush(tx: SqlDatabase): Promise<void> {
    const closed = [...this.earlierClosed.values()];
    const deposits = this.deposits;
    const lockers = [...this.lockers.values()];
    this.deposits = [];
    this.open.clear();
    this.earlierClosed.clear();
    this.lockers.clear();
    for (const chunk of chunks(closed, CUSTODY_CHUNK)) {
      const collections = rowsAsTable(tx, 'collections', COLLECTION_COLUMNS, chunk);
      await tx.run(
        `${collections.sql} UPDATE phone_custody SET collected_at = c.at, collected_by = c.person_id FROM collections c
         WHERE phone_custody.collected_at IS NULL AND phone_custody.person_id = c.person_id AND phone_custody.station_id = c.station_id AND phone_custody.locker = c.locker`,
        collections.params,
      );
    }
    await insertRows(tx, 'phone_custody', CUSTODY_COLUMNS, deposits.map((row) => [row.person, row.station, row.locker, row.at, row.boot, row.seq, row.collectedAt, row.collectedBy]));
    await writeLockers(tx, lockers);
  }
}
