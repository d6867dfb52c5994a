// `station add --timing NAME=VALUE`: a station's timing settings, named as the contract's bounds
// name them. The values are checked by the contract's timingProblems (cli.ts), the check the station
// runs at boot and `npm run flash` runs too, so a value the station would refuse is refused here,
// before anything is registered.
import { stationConfigNames, stationTimingBounds } from '../../../protocol/station-config';

const BOUNDS = stationTimingBounds();
/** Settings at the top of the configuration file. */
const TOP_LEVEL = Object.keys(BOUNDS).filter((name) => name !== 'timing');
/** Settings under its `timing`. */
const UNDER_TIMING = Object.keys(BOUNDS.timing);
export const TIMING_SETTINGS = [...TOP_LEVEL, ...UNDER_TIMING];

export interface TimingChoices {
  top: Record<string, number>;
  timing: Record<string, number>;
  /** Names that are no timing setting: written at the top, so the check names them. */
  unknown: Record<string, number>;
}

/** Reads NAME=VALUE pairs; throws with a clear message for a malformed pair. */
export function parseTiming(pairs: string[]): TimingChoices {
  const choices: TimingChoices = { top: {}, timing: {}, unknown: {} };
  for (const pair of pairs) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(pair);
    if (!match) throw new Error(`--timing ${JSON.stringify(pair)}: write NAME=VALUE, e.g. --timing unlockPulseMs=800`);
    const [, name, text] = match;
    // A setting of the file that is no timing setting (site, pins...) is not for --timing.
    if (!TIMING_SETTINGS.includes(name) && stationConfigNames().includes(name)) throw new Error(`--timing: ${name} is not a timing setting; the timing settings are ${TIMING_SETTINGS.join(', ')}`);
    // Anything but a plain number reaches the check below as NaN and is refused with the bounds.
    const value = /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
    // An unknown name goes to the top of the file, where the contract's check refuses it in the
    // words the station and `npm run flash` use.
    (TOP_LEVEL.includes(name) ? choices.top : UNDER_TIMING.includes(name) ? choices.timing : choices.unknown)[name] = value;
  }
  return choices;
}

/** The configuration with the choices applied. */
export function withTiming<T extends object>(config: T, choices: TimingChoices): T {
  const timing = Object.keys(choices.timing).length > 0 ? { timing: choices.timing } : {};
  return { ...config, ...choices.unknown, ...choices.top, ...timing };
}
