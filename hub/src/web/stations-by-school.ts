// A trust's stations counted per school (issue 16): what the Lockers now and Stations summaries
// show a trust account before it chooses a school. Online and open doors come from this hub's
// live view of each station (its state reports), else from the stored status.
import type { AlertRow } from '../records/alerts';
import type { WebContext } from './context';

export interface SchoolStations {
  stations: number;
  online: number;
  doorsOpen: number;
  /** Stations whose badge list is behind the school's or being sent. */
  badgesBehind: number;
  /** Open alerts `alarmStation` names a station of the school for. */
  alarms: number;
}

/** Per site (stations.site): its stations counted; `alarmStation` says which open alerts count, and for which station. */
export async function stationsBySchool(context: Pick<WebContext, 'records' | 'link' | 'badges'>, alarmStation: (alert: AlertRow) => string | null): Promise<Map<string, SchoolStations>> {
  const [stations, alerts] = await Promise.all([context.records.db.all<{ id: string; site: string; status: string }>('SELECT id, site, status FROM stations'), context.records.alerts.open()]);
  const bySite = new Map<string, SchoolStations>();
  const siteOf = new Map<string, string>();
  for (const station of stations) {
    siteOf.set(station.id, station.site);
    let school = bySite.get(station.site);
    if (!school) bySite.set(station.site, (school = { stations: 0, online: 0, doorsOpen: 0, badgesBehind: 0, alarms: 0 }));
    const state = context.link?.states.get(station.id);
    school.stations++;
    if (state ? state.online : station.status === 'online') school.online++;
    school.doorsOpen += state?.doorsOpen?.length ?? 0;
    const badges = context.badges?.status(station.id);
    if (badges && (badges.state === 'behind' || badges.state === 'updating')) school.badgesBehind++;
  }
  for (const alert of alerts) {
    const station = alarmStation(alert);
    const school = station === null ? undefined : bySite.get(siteOf.get(station) ?? '');
    if (school) school.alarms++;
  }
  return bySite;
}
