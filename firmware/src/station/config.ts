// The station configuration, read from Storage at boot (written there by `npm run flash`).
import type { FlashStore } from '../hal';
import { hexToBytes } from '../codec/bytes';
import type { LockerAsset, StationTiming } from './station';
import type { PinMap } from '../../../protocol/pin-map';
import { STATION_CONFIG_FILE, stationConfigDefaults, timingProblems, unknownSettingProblems } from '../../../protocol/station-config';

export const CONFIG_FILE = STATION_CONFIG_FILE;

/** The pin map (../../../protocol/pin-map.ts), its expander pins read as numbers (checked for io 'expander'). */
export interface StationPins extends PinMap {
  expanderCs: number;
  expanderInt: number;
}

/** The configuration as checked: handover.json (../../../protocol/station-config.ts) with its defaults filled in. */
export interface StationConfig {
  site: string;
  station: string;
  lockers: number;
  /** How locks and doors are wired: straight to GPIOs (up to 8), or through MCP23S17 expanders (up to 32). */
  io: 'gpio' | 'expander';
  pins: StationPins;
  spiBaud: number;
  /** tls: the broker's CA certificate (PEM), pinned; absent for plain TCP. */
  broker: { host: string; port: number; tls: { ca: string } | null };
  wifi: { ssid: string; password: string } | null;
  /** Hex key for the keyed hash of badge UIDs: the same for every station of a school. */
  badgeKey: string;
  /** Hex key this station signs its frames with. */
  stationKey: string;
  unlockPulseMs: number;
  doorDebounceMs: number;
  keepAliveSec: number;
  watchdogSec: number;
  timing: StationTiming;
  /**
   * Per locker: the loan item it is home to; no entry for a phone locker (a sparse array: on the
   * interpreter a missing entry costs nothing, a null two variables).
   */
  assets: Array<LockerAsset | undefined>;
}

export type ConfigResult = { ok: true; config: StationConfig } | { ok: false; error: string };

/**
 * Checks one parsed configuration object; every problem names its field. Runs at boot and on a
 * new configuration from the hub only, so its helpers and defaults are made inside it: on the
 * interpreter anything kept for good costs variables (README Performance).
 */
export function validateConfig(raw: any): ConfigResult {
  if (!raw || typeof raw !== 'object') return { ok: false, error: 'config: not an object' };
  const isInt = (value: unknown) => typeof value === 'number' && Math.floor(value) === value;
  const problems: string[] = [];
  const need = (ok: boolean, field: string, what: string) => {
    if (!ok) problems.push(field + ' ' + what);
  };
  need(typeof raw.site === 'string' && raw.site.length > 0, 'site', 'must be a non-empty string');
  need(typeof raw.station === 'string' && raw.station.length > 0, 'station', 'must be a non-empty string');
  need(isInt(raw.lockers) && raw.lockers >= 1 && raw.lockers <= 32, 'lockers', 'must be 1..32');
  const pins = raw.pins || {};
  const pinNames = ['sck', 'miso', 'mosi', 'rfidCs', 'rfidIrq', 'rfidReset', 'led', 'buzzer'];
  for (const name of pinNames) need(isInt(pins[name]), 'pins.' + name, 'must be a GPIO number');
  const defaults = stationConfigDefaults();
  const io = raw.io === undefined ? defaults.io : raw.io;
  need(io === 'gpio' || io === 'expander', 'io', 'must be "gpio" or "expander"');
  if (io === 'gpio') {
    need(Array.isArray(pins.locks) && pins.locks.length === raw.lockers, 'pins.locks', 'must list one pin per locker');
    need(Array.isArray(pins.doors) && pins.doors.length === raw.lockers, 'pins.doors', 'must list one pin per locker');
  } else {
    need(isInt(pins.expanderCs), 'pins.expanderCs', 'must be a GPIO number');
    need(isInt(pins.expanderInt), 'pins.expanderInt', 'must be a GPIO number');
  }
  const broker = raw.broker || {};
  need(typeof broker.host === 'string' && broker.host.length > 0, 'broker.host', 'must be a host name');
  need(isInt(broker.port) && broker.port > 0 && broker.port < 65536, 'broker.port', 'must be a TCP port');
  const tls = broker.tls;
  need(!tls || (typeof tls.ca === 'string' && tls.ca.indexOf('-----BEGIN CERTIFICATE-----') >= 0), 'broker.tls.ca', 'must be a PEM certificate');
  need(typeof raw.badgeKey === 'string' && /^[0-9a-f]+$/.test(raw.badgeKey) && raw.badgeKey.length >= 32 && raw.badgeKey.length % 2 === 0, 'badgeKey', 'must be at least 16 bytes of hex (an even number of digits)');
  need(typeof raw.stationKey === 'string' && /^[0-9a-f]+$/.test(raw.stationKey) && raw.stationKey.length >= 32 && raw.stationKey.length % 2 === 0, 'stationKey', 'must be at least 16 bytes of hex (an even number of digits)');
  const assets: Array<LockerAsset | undefined> = [];
  const rawAssets = Array.isArray(raw.assets) ? raw.assets : [];
  need(raw.assets === undefined || (Array.isArray(raw.assets) && raw.assets.length === raw.lockers), 'assets', 'must list one entry (or null) per locker');
  for (let i = 0; i < raw.lockers && i < 64; i++) {
    const asset = rawAssets[i];
    if (!asset) continue;
    const tagOk = typeof asset.tag === 'string' && asset.tag.length === 16 && /^[0-9a-f]+$/.test(asset.tag);
    need(tagOk, 'assets.' + i + '.tag', 'must be the 8-byte tag hash in hex');
    need(isInt(asset.assetClass) && asset.assetClass >= 1 && asset.assetClass <= 8, 'assets.' + i + '.assetClass', 'must be 1..8');
    assets[i] = { tag: tagOk ? hexToBytes(asset.tag) : new Uint8Array(8), assetClass: asset.assetClass, healthCheckDue: asset.healthCheckDue === true };
  }
  // Timing settings: absent takes the default; present must lie within the contract's bounds (a coil
  // held for seconds overheats, a 1 ms door timeout cancels every opening), else the config is refused.
  // INLINE: terser writes the check here as a function expression, made per call and let go, rather
  // than a top-level function kept for good (about five variables on the interpreter).
  for (const problem of /*@__INLINE__*/ timingProblems(raw)) problems.push(problem);
  for (const problem of /*@__INLINE__*/ unknownSettingProblems(raw)) problems.push(problem);
  const given = (value: any, fallback: number) => (value === undefined ? fallback : value);
  const rawTiming = raw.timing || {};
  const timing: StationTiming = defaults.timing;
  for (const name in timing) (timing as any)[name] = given(rawTiming[name], (timing as any)[name]);
  const unlockPulseMs = given(raw.unlockPulseMs, defaults.unlockPulseMs);
  const doorDebounceMs = given(raw.doorDebounceMs, defaults.doorDebounceMs);
  const keepAliveSec = given(raw.keepAliveSec, defaults.keepAliveSec);
  const watchdogSec = given(raw.watchdogSec, defaults.watchdogSec);
  if (problems.length > 0) return { ok: false, error: 'config: ' + problems.join('; ') };
  const config: StationConfig = {
    site: raw.site,
    station: raw.station,
    lockers: raw.lockers,
    io,
    pins: pins,
    spiBaud: isInt(raw.spiBaud) ? raw.spiBaud : defaults.spiBaud,
    broker: { host: broker.host, port: broker.port, tls: tls ? { ca: tls.ca } : null },
    wifi: raw.wifi && typeof raw.wifi.ssid === 'string' ? { ssid: raw.wifi.ssid, password: String(raw.wifi.password || '') } : null,
    badgeKey: raw.badgeKey,
    stationKey: raw.stationKey,
    unlockPulseMs,
    doorDebounceMs,
    keepAliveSec,
    watchdogSec,
    timing,
    assets,
  };
  return { ok: true, config };
}

export function loadConfig(flash: FlashStore): ConfigResult {
  const text = flash.readText(CONFIG_FILE);
  if (text === undefined) return { ok: false, error: 'config: no ' + CONFIG_FILE + ' in Storage (flash it with npm run flash)' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: 'config: ' + CONFIG_FILE + ' is not JSON' };
  }
  return validateConfig(raw);
}
