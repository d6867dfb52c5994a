// The configuration a station reads from its flash at boot: its layout, version and defaults are
// the contract's (protocol/station-config.ts; firmware/src/station/config.ts reads it back).
// `handover station add` prints it; the simulator and `npm run flash` write it.
import { expanderPinMap } from '../../../protocol/pin-map';
import { STATION_CONFIG_VERSION, stationConfigDefaults, type StationConfigFile } from '../../../protocol/station-config';
import type { StationRow } from './stations';

export type { StationConfigFile };

/** `assets`: per locker, the item it is home to (Assets.lockerConfig); all empty when not given. */
export function stationConfig(
  station: StationRow,
  badgeKey: Uint8Array,
  broker: StationConfigFile['broker'],
  wifi: StationConfigFile['wifi'] = null,
  assets: StationConfigFile['assets'] | null = null,
): StationConfigFile {
  const defaults = stationConfigDefaults();
  return {
    version: STATION_CONFIG_VERSION,
    site: station.site,
    station: station.id,
    lockers: station.lockers,
    io: 'expander',
    pins: expanderPinMap(),
    spiBaud: defaults.spiBaud,
    broker,
    wifi,
    badgeKey: Buffer.from(badgeKey).toString('hex'),
    stationKey: station.station_key,
    unlockPulseMs: defaults.unlockPulseMs,
    doorDebounceMs: defaults.doorDebounceMs,
    keepAliveSec: defaults.keepAliveSec,
    assets: assets ?? Array.from({ length: station.lockers }, () => null),
  };
}
