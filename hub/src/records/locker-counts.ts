// Each school's stations and lockers counted by state in the database (issue 16): what Lockers now
// shows a trust account before it chooses a school, instead of drawing the trust's 80,000 lockers.
// The counts are the drawing's (CustodyRecords.lockers): a locker with no row is free, or holds
// its item when an available item's home is there; an item lent at the desk shows its home locker
// as out, whatever that locker last said.
import type { SqlDatabase } from '../db/sql';

export interface SchoolLockers {
  /** The school's site (stations.site). */
  site: string;
  stations: number;
  lockers: number;
  /** Lockers by state (free included), as the drawing names them. */
  states: Record<string, number>;
}

export async function lockerCountsBySchool(db: SqlDatabase): Promise<SchoolLockers[]> {
  const [sizes, rows, homes, deskLoans] = await Promise.all([
    db.all<{ site: string; stations: number; lockers: number }>('SELECT site, COUNT(*) AS stations, SUM(lockers) AS lockers FROM stations GROUP BY site ORDER BY site'),
    db.all<{ site: string; state: string; n: number }>(
      `SELECT s.site, l.state, COUNT(*) AS n FROM lockers l JOIN stations s ON s.id = l.station_id
       WHERE l.locker < s.lockers GROUP BY s.site, l.state`,
    ),
    db.all<{ site: string; n: number }>(
      `SELECT s.site, COUNT(*) AS n FROM assets a JOIN stations s ON s.id = a.home_station
       WHERE a.status = 'available' AND a.home_locker IS NOT NULL AND a.home_locker < s.lockers
         AND NOT EXISTS (SELECT 1 FROM lockers l WHERE l.station_id = a.home_station AND l.locker = a.home_locker)
       GROUP BY s.site`,
    ),
    db.all<{ site: string; state: string | null; n: number }>(
      `SELECT s.site, l.state, COUNT(*) AS n FROM assets a
       JOIN loans o ON o.asset_id = a.id AND o.closed_at IS NULL AND o.station_id IS NULL
       JOIN people p ON p.id = o.person_id
       JOIN stations s ON s.id = a.home_station
       LEFT JOIN lockers l ON l.station_id = a.home_station AND l.locker = a.home_locker
       WHERE a.status = 'on-loan' AND a.home_locker IS NOT NULL AND a.home_locker < s.lockers AND (l.state IS NULL OR l.state IN ('item-present', 'free'))
       GROUP BY s.site, l.state`,
    ),
  ]);
  const schools = new Map(sizes.map((row) => [row.site, { site: row.site, stations: Number(row.stations), lockers: Number(row.lockers), states: {} as Record<string, number> }]));
  const add = (site: string, state: string, n: number) => {
    const school = schools.get(site);
    if (school) school.states[state] = (school.states[state] ?? 0) + n;
  };
  for (const row of rows) add(row.site, row.state, Number(row.n));
  for (const row of homes) add(row.site, 'item-present', Number(row.n));
  // A desk loan moves its home locker to item-out from what it showed (free when it had no row).
  for (const row of deskLoans) {
    add(row.site, 'item-out', Number(row.n));
    if (row.state !== null) add(row.site, row.state, -Number(row.n));
  }
  for (const school of schools.values()) {
    const taken = Object.values(school.states).reduce((sum, n) => sum + n, 0);
    school.states.free = (school.states.free ?? 0) + school.lockers - taken;
    for (const [state, n] of Object.entries(school.states)) if (n === 0) delete school.states[state];
  }
  return [...schools.values()];
}
