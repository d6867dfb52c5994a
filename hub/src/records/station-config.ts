// The configuration a station reads from its flash at boot (firmware/src/station/config.ts reads
// it back). `handover station add` prints it; the simulator and `npm run flash` write it.
import { expanderPinMap, type PinMap } from '../../../hardware/pinmap';
import type { StationRow } from './stations';

export interface StationConfigFile {
  site: string;
  station: string;
  lockers: number;
  io: 'gpio' | 'expander';
  pins: PinMap;
  spiBaud: number;
  /** tls: the CA certificate (PEM) the station pins for the broker's certificate; absent for plain TCP. */
  broker: { host: string; port: number; tls?: { ca: string } };
  wifi: { ssid: string; password: string } | null;
  badgeKey: string;
  stationKey: string;
  unlockPulseMs: number;
  doorDebounceMs: number;
  keepAliveSec: number;
  /** Per locker: the loan item it is home to (tag hash in hex, asset class 1..8), or null. */
  assets: Array<{ tag: string; assetClass: number; healthCheckDue: boolean } | null>;
}

/** `assets`: per locker, the item it is home to (Assets.lockerConfig); all empty when not given. */
export function stationConfig(
  station: StationRow,
  badgeKey: Uint8Array,
  broker: StationConfigFile['broker'],
  wifi: StationConfigFile['wifi'] = null,
  assets: StationConfigFile['assets'] | null = null,
): StationConfigFile {
  return {
    site: station.site,
    station: station.id,
    lockers: station.lockers,
    io: 'expander',
    pins: expanderPinMap(),
    spiBaud: 4_000_000,
    broker,
    wifi,
    badgeKey: Buffer.from(badgeKey).toString('hex'),
    stationKey: station.station_key,
    unlockPulseMs: 500,
    doorDebounceMs: 30,
    keepAliveSec: 30,
    assets: assets ?? Array.from({ length: station.lockers }, () => null),
  };
}
