// The station configuration file, handover.json in the station's Storage: `handover station add`
// prints it, `npm run flash` and the simulator write it, SET_CONFIG replaces it, and the firmware
// checks it at boot (firmware/src/station/config.ts). Its defaults are here once.
//
// Versions: a file says which version of this layout it follows (`version`); a file without one is
// version 1 (everything written before versions). readStationConfigFile brings any older version up
// to STATION_CONFIG_VERSION, one step at a time, and refuses a newer one by name. To change the
// layout: raise STATION_CONFIG_VERSION and append the step from the previous version to UPGRADES.
import type { PinMap } from './pin-map';

export const STATION_CONFIG_FILE = 'handover.json';
export const STATION_CONFIG_VERSION = 1;

/** The station's timers and limits (firmware: StationTiming); each may be left out for its default. */
export interface StationTimingFile {
  doorOpenTimeoutMs: number;
  doorLeftOpenMs: number;
  staffSessionMs: number;
  releaseWindowMs: number;
  unknownLimit: number;
  unknownWindowMs: number;
}

/** A timing setting's bounds: [least, most], whole numbers. */
export type TimingRange = number[];

/** The timing settings' bounds, shaped as handover.json holds them: four at the top, the rest under `timing`. */
export interface StationTimingBounds {
  unlockPulseMs: TimingRange;
  doorDebounceMs: TimingRange;
  keepAliveSec: TimingRange;
  watchdogSec: TimingRange;
  timing: { [K in keyof StationTimingFile]: TimingRange };
}

/**
 * Each timing setting's bounds: the station refuses a configuration outside them at boot and on
 * SET_CONFIG, `npm run flash` and `station add --timing` refuse it before it is written, all
 * through timingProblems. Made in a function so the firmware keeps nothing of it after its check.
 */
export function stationTimingBounds(): StationTimingBounds {
  return {
    unlockPulseMs: [50, 2000],
    doorDebounceMs: [5, 500],
    keepAliveSec: [1, 600],
    watchdogSec: [2, 60],
    timing: {
      doorOpenTimeoutMs: [200, 30000],
      doorLeftOpenMs: [1000, 3600000],
      staffSessionMs: [1000, 60000],
      releaseWindowMs: [1000, 600000],
      unknownLimit: [1, 100],
      unknownWindowMs: [1000, 3600000],
    },
  };
}

/**
 * The one check of a configuration's timing settings (a parsed handover.json): one line per setting
 * outside its bounds or unknown, in the station's words ("timing.staffSessionMs must be a whole
 * number from 1000 to 60000", "timing.doorOpenTimeotMs is not a timing setting"); none when every
 * setting is within them or left out (left out: its default). The firmware's validateConfig runs it (at boot, on SET_CONFIG, and in `npm run flash`), and so does
 * `handover station add --timing`. It runs on the interpreter: no Number.isInteger, no Object.entries.
 */
export function timingProblems(raw: any): string[] {
  const problems: string[] = [];
  const check = (file: any, bounds: any, prefix: string) => {
    // A group (`timing`) left out or null takes its defaults; anything else must be an object of
    // its settings only (a misspelt one would leave its default silently in force).
    if (prefix && file !== undefined && file !== null) {
      if (typeof file !== 'object' || Array.isArray(file)) {
        problems.push(prefix.slice(0, -1) + ' must be an object of timing settings');
        return;
      }
      const known = Object.keys(bounds);
      for (const given in file) if (known.indexOf(given) < 0) problems.push(prefix + given + ' is not a timing setting');
    }
    for (const name in bounds) {
      const range = bounds[name];
      const value = file ? file[name] : undefined;
      // A nested group of settings (`timing`), checked under its own prefix.
      if (!Array.isArray(range)) check(value, range, prefix + name + '.');
      else if (value !== undefined && !(typeof value === 'number' && Math.floor(value) === value && value >= range[0] && value <= range[1])) {
        problems.push(prefix + name + ' must be a whole number from ' + range[0] + ' to ' + range[1]);
      }
    }
  };
  check(raw, stationTimingBounds(), '');
  return problems;
}

export interface StationConfigFile {
  /** Layout version (absent: 1). */
  version?: number;
  site: string;
  station: string;
  lockers: number;
  /** How locks and doors are wired: straight to GPIOs (up to 8), or through MCP23S17 expanders (up to 32). Default 'gpio'. */
  io?: 'gpio' | 'expander';
  pins: PinMap;
  spiBaud?: number;
  /** tls: the CA certificate (PEM) the station pins for the broker's certificate; absent (or null) for plain TCP. */
  broker: { host: string; port: number; tls?: { ca: string } | null };
  wifi?: { ssid: string; password: string } | null;
  /** Hex key for the keyed hash of badge UIDs: the same for every station of a school. */
  badgeKey: string;
  /** Hex key this station signs its frames with. */
  stationKey: string;
  unlockPulseMs?: number;
  doorDebounceMs?: number;
  keepAliveSec?: number;
  watchdogSec?: number;
  timing?: Partial<StationTimingFile>;
  /** Per locker: the loan item it is home to (tag hash in hex, asset class 1..8), or null for a phone locker. */
  assets?: Array<{ tag: string; assetClass: number; healthCheckDue: boolean } | null>;
}

/**
 * What a field left out means. A function, not a constant: the firmware calls it once at boot, and
 * on the interpreter an object kept for good costs variables for as long as the station runs.
 */
export function stationConfigDefaults(): { io: 'gpio'; spiBaud: number; unlockPulseMs: number; doorDebounceMs: number; keepAliveSec: number; watchdogSec: number; timing: StationTimingFile } {
  return {
    io: 'gpio',
    spiBaud: 4000000,
    unlockPulseMs: 500,
    doorDebounceMs: 30,
    keepAliveSec: 30,
    watchdogSec: 10,
    timing: {
      doorOpenTimeoutMs: 2000,
      doorLeftOpenMs: 60000,
      staffSessionMs: 3000,
      releaseWindowMs: 30000,
      unknownLimit: 5,
      unknownWindowMs: 60000,
    },
  };
}

/** Every property name of T, as an object the compiler checks: none missing, none extra. */
type NamesOf<T> = { [K in keyof T]-?: true };

/** The names handover.json may hold at its top (each `true`), checked against StationConfigFile. */
function stationConfigTopNames(): NamesOf<StationConfigFile> {
  return {
    version: true, site: true, station: true, lockers: true, io: true, pins: true, spiBaud: true, broker: true, wifi: true,
    badgeKey: true, stationKey: true, unlockPulseMs: true, doorDebounceMs: true, keepAliveSec: true, watchdogSec: true, timing: true, assets: true,
  };
}

/**
 * One line per top-level name handover.json does not hold ("unlockPulsems is not a configuration
 * setting"): a misspelt setting would otherwise leave its default silently in force. Run by the
 * firmware's validateConfig (at boot, on SET_CONFIG, in `npm run flash`) and by `handover station add`.
 */
export function unknownSettingProblems(raw: any): string[] {
  const problems: string[] = [];
  const known: any = stationConfigTopNames();
  for (const given in raw) if (known[given] !== true) problems.push(given + ' is not a configuration setting');
  return problems;
}

/**
 * Every property name handover.json may hold, at any depth: the firmware reads them by name, so its
 * build (rollup.config.mjs) keeps them when it shortens property names. Each level is checked
 * against the interface that describes it, so a setting added to the file is added here or the
 * typecheck fails.
 */
export function stationConfigNames(): string[] {
  type File = StationConfigFile;
  const top = stationConfigTopNames();
  const pins: NamesOf<PinMap> = {
    expanderCs: true, expanderInt: true, sck: true, miso: true, mosi: true, rfidCs: true, rfidIrq: true, rfidReset: true, locks: true, doors: true, led: true, buzzer: true,
  };
  const broker: NamesOf<File['broker']> = { host: true, port: true, tls: true };
  const tls: NamesOf<NonNullable<File['broker']['tls']>> = { ca: true };
  const wifi: NamesOf<NonNullable<File['wifi']>> = { ssid: true, password: true };
  const asset: NamesOf<NonNullable<NonNullable<File['assets']>[number]>> = { tag: true, assetClass: true, healthCheckDue: true };
  const timing: NamesOf<StationTimingFile> = {
    doorOpenTimeoutMs: true, doorLeftOpenMs: true, staffSessionMs: true, releaseWindowMs: true, unknownLimit: true, unknownWindowMs: true,
  };
  const names: string[] = [];
  for (const level of [top, pins, broker, tls, wifi, asset, timing]) for (const name in level) names.push(name);
  return names;
}

/** UPGRADES[n - 1] turns a version n file into version n + 1 (none yet: version 1 is the first). */
const UPGRADES: Array<(file: Record<string, unknown>) => Record<string, unknown>> = [];

export type StationConfigRead = { ok: true; config: StationConfigFile; from: number } | { ok: false; error: string };

/**
 * A parsed handover.json brought to STATION_CONFIG_VERSION (`from`: the version it had). Checks
 * only the version; the firmware's validateConfig checks the rest.
 */
export function readStationConfigFile(raw: unknown): StationConfigRead {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, error: STATION_CONFIG_FILE + ': not an object' };
  let file = raw as Record<string, unknown>;
  const from = file.version === undefined ? 1 : file.version;
  if (typeof from !== 'number' || Math.floor(from) !== from || from < 1) return { ok: false, error: STATION_CONFIG_FILE + ': version must be a whole number from 1' };
  if (from > STATION_CONFIG_VERSION) {
    return { ok: false, error: STATION_CONFIG_FILE + ' version ' + from + ' is newer than this software reads (' + STATION_CONFIG_VERSION + '): update the hub and tools' };
  }
  for (let version = from; version < STATION_CONFIG_VERSION; version++) file = UPGRADES[version - 1](file);
  const config = Object.assign({}, file, { version: STATION_CONFIG_VERSION }) as unknown as StationConfigFile;
  return { ok: true, config, from };
}
