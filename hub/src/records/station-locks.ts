// Several hubs (cluster/) may hold events of one station at once: the broker's shared subscription
// gives each frame to any of them, and a station resends what no hub has acknowledged. The batch
// that stores a station's events first takes that station's PostgreSQL advisory lock, held until
// its transaction ends, so a second hub's batch of the same station waits and then reads what the
// first committed: the committed mark moves in order, each effect is applied once, in the station's
// sequence (a later event that got in first waits behind the gap, as it does with one hub).
// SQLite is one process's file and its transactions run one at a time already.
import type { SqlDatabase } from '../db/sql';

/** The first of PostgreSQL's two advisory-lock keys for station locks ("HO"); the second is the station's. */
const STATION_LOCK_SPACE = 0x484f;

/** A station id's lock key: 32-bit FNV-1a (a shared key between two stations only makes them wait for each other). */
export function stationLockKey(stationId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < stationId.length; i++) {
    hash ^= stationId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/** Takes the advisory locks of `stations` for the rest of the transaction, in one order for every hub (no deadlock). */
export async function lockStations(tx: SqlDatabase, stations: string[]): Promise<void> {
  if (tx.kind !== 'postgres' || stations.length === 0) return;
  const keys = [...new Set(stations.map(stationLockKey))].sort((a, b) => a - b);
  // unnest yields the array's order, and the locks are taken row by row in it.
  await tx.all('SELECT pg_advisory_xact_lock(?, k) FROM unnest(?::int[]) AS k', [STATION_LOCK_SPACE, keys]);
}
