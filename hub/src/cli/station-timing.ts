// `station add --timing NAME=VALUE`: a station's timing settings, checked against the contract's
// bounds (the ones the station applies at boot and `npm run flash` applies too), so a value the
// station would refuse is refused here, before anything is registered.
import { stationTimingBounds } from '../../../protocol/station-config';

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

/** The contract's verdict on the timing in a configuration: null, or what is out of bounds (as the station words it). */
export function timingProblem(file: object): string | null {
  const config = file as { timing?: Record<string, unknown> } & Record<string, unknown>;
  const limits = stationTimingBounds();
  const problems: string[] = [];
  const check = (value: unknown, field: string, name: string) => {
    if (value === undefined) return;
    const [least, most] = limits[name];
    if (!(typeof value === 'number' && Number.isInteger(value) && value >= least && value <= most)) problems.push(`${field} must be a whole number from ${least} to ${most}`);
  };
  for (const name of TOP_LEVEL) check(config[name], name, name);
  for (const name of UNDER_TIMING) check(config.timing?.[name], `timing.${name}`, name);
  return problems.length > 0 ? problems.join('; ') : null;
}
