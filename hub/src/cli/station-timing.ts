// `station add --timing NAME=VALUE`: a station's timing settings, checked by the firmware's own
// configuration check (the bounds the station applies at boot and `npm run flash` applies too), so
// a value the station would refuse is refused here, before anything is registered.
import { validateConfig } from '../../../firmware/src/station/config';

/** Settings at the top of the configuration file. */
const TOP_LEVEL = ['unlockPulseMs', 'doorDebounceMs', 'keepAliveSec', 'watchdogSec'];
/** Settings under its `timing`. */
const UNDER_TIMING = ['doorOpenTimeoutMs', 'doorLeftOpenMs', 'staffSessionMs', 'releaseWindowMs', 'unknownLimit', 'unknownWindowMs'];
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

/** The station's own verdict on the timing in a configuration: null, or what is out of bounds. */
export function timingProblem(config: object): string | null {
  const checked = validateConfig(config);
  if (checked.ok) return null;
  const problems = checked.error.replace(/^config: /, '').split('; ').filter((problem) => TIMING_SETTINGS.some((name) => problem.startsWith(`${name} `) || problem.startsWith(`timing.${name} `)));
  return problems.length > 0 ? problems.join('; ') : null;
}
