// `station add --timing NAME=VALUE`: a station's timing settings, named as the contract's bounds
// name them. The values are checked by the contract's timingProblems (cli.ts), the check the station
// runs at boot and `npm run flash` runs too, so a value the station would refuse is refused here,
// before anything is registered.
import { stationTimingBounds } from '../../../protocol/station-config';

const BOUNDS = stationTimingBounds();
/** Settings at the top of the configuration file. */
const TOP_LEVEL = Object.keys(BOUNDS).filter((name) => name !== 'timing');
/** Settings under its `timing`. */
const UNDER_TIMING = Object.keys(BOUNDS.timing);
export const TIMING_SETTINGS = [...TOP_LEVEL, ...UNDER_TIMING];

export interface TimingChoices {
  top: Record<string, number>;
  timing: Record<string, number>;
}

/** Reads NAME=VALUE pairs; throws with a clear message for a malformed pair or an unknown name. */
export function parseTiming(pairs: string[]): TimingChoices {
  const choices: TimingChoices = { top: {}, timing: {} };
  for (const pair of pairs) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(pair);
    if (!match) throw new Error(`--timing ${JSON.stringify(pair)}: write NAME=VALUE, e.g. --timing unlockPulseMs=800`);
    const [, name, text] = match;
    if (!TIMING_SETTINGS.includes(name)) throw new Error(`--timing: no setting ${JSON.stringify(name)}; the timing settings are ${TIMING_SETTINGS.join(', ')}`);
    // Anything but a plain number reaches the check below as NaN and is refused with the bounds.
    const value = /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
    (TOP_LEVEL.includes(name) ? choices.top : choices.timing)[name] = value;
  }
  return choices;
}

/** The configuration with the choices applied. */
export function withTiming<T extends object>(config: T, choices: TimingChoices): T {
  const timing = Object.keys(choices.timing).length > 0 ? { timing: choices.timing } : {};
  return { ...config, ...choices.top, ...timing };
}
