// Dates the rules use: school terms, day cut-offs (hub local time), due dates.

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * When a station event happened: the station's own clock when it had one (wall time, set by the
 * hub at every connection), else when the hub received it (the frame then carries only the boot
 * counter and milliseconds since boot). A frame can arrive hours late after a network cut.
 */
export function eventTime(wallTimeMs: number | null | undefined, receivedAt: string): string {
  return wallTimeMs != null && wallTimeMs > 0 ? new Date(wallTimeMs).toISOString() : receivedAt;
}

export function addDays(iso: string, days: number): string {
  return new Date(Date.parse(iso) + days * DAY_MS).toISOString();
}

/**
 * The school term a moment falls in, as English schools name them: autumn (September to
 * December), spring (January to March), summer (April to August), labelled with the school
 * year, e.g. "2025-26 autumn". Used to total charges per term.
 */
export function termOf(iso: string): string {
  const date = new Date(iso);
  const month = date.getMonth() + 1;
  const year = date.getFullYear();
  const startYear = month >= 9 ? year : year - 1;
  const label = `${startYear}-${String((startYear + 1) % 100).padStart(2, '0')}`;
  const term = month >= 9 ? 'autumn' : month <= 3 ? 'spring' : 'summer';
  return `${label} ${term}`;
}

/** The most recent end-of-day cut-off (HH:MM, hub local time) at or before `now`. */
export function latestCutoff(now: Date, cutoff: string): Date {
  const [hours, minutes] = cutoff.split(':').map(Number);
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate(), hours, minutes, 0, 0);
  if (today.getTime() <= now.getTime()) return today;
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1, hours, minutes, 0, 0);
}

/** The first end-of-day cut-off (HH:MM, hub local time) strictly after `moment`. */
export function nextCutoff(moment: Date, cutoff: string): Date {
  const [hours, minutes] = cutoff.split(':').map(Number);
  const sameDay = new Date(moment.getFullYear(), moment.getMonth(), moment.getDate(), hours, minutes, 0, 0);
  if (sameDay.getTime() > moment.getTime()) return sameDay;
  return new Date(moment.getFullYear(), moment.getMonth(), moment.getDate() + 1, hours, minutes, 0, 0);
}

/** Pounds and pence for people: 1000 -> "£10.00", -1000 -> "-£10.00". */
export function formatPence(pence: number): string {
  const sign = pence < 0 ? '-' : '';
  const abs = Math.abs(pence);
  return `${sign}£${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** "10", "10.5", "£10.00", "1000p" -> pence. */
export function parsePounds(text: string): number {
  const trimmed = text.trim().replace(/,/g, '');
  const pence = /^(\d+)\s*p$/i.exec(trimmed);
  if (pence) return Number(pence[1]);
  const match = /^£?\s*(\d+)(?:\.(\d{1,2}))?$/.exec(trimmed);
  if (!match) throw new Error(`${JSON.stringify(text)} is not an amount in pounds (e.g. 10.00 or £10)`);
  return Number(match[1]) * 100 + Number((match[2] ?? '0').padEnd(2, '0'));
}

export interface DayLimits {
  /** YYYY-MM-DD: the earliest day accepted (e.g. today, for a review date). */
  notBefore?: string;
  /** Years before today and after it that a day may lie (a typo such as 2062 for 2026 is refused). */
  maxYearsBack?: number;
  maxYearsAhead?: number;
  /** YYYY-MM-DD; today by default. */
  today?: string;
}

function shiftYears(day: string, years: number): string {
  const year = Number(day.slice(0, 4)) + years;
  return `${String(year).padStart(4, '0')}${day.slice(4, 10) === '-02-29' ? '-02-28' : day.slice(4, 10)}`;
}

/**
 * A calendar day typed by a person (YYYY-MM-DD): refused unless the day exists (2027-02-30 and
 * 2023-13-45 do not) and lies in the range given. `what` names it in the message.
 */
export function parseDay(text: string, what: string, limits: DayLimits = {}): { ok: true; day: string } | { ok: false; problem: string } {
  const value = String(text ?? '').trim();
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return { ok: false, problem: `${what} ${JSON.stringify(value)}: give it as YYYY-MM-DD` };
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return { ok: false, problem: `${what} ${value} is not a date in the calendar` };
  }
  const today = limits.today ?? new Date().toISOString().slice(0, 10);
  if (limits.notBefore && value < limits.notBefore) return { ok: false, problem: `${what} ${value} is in the past (it must be ${limits.notBefore} or later)` };
  if (limits.maxYearsBack !== undefined && value < shiftYears(today, -limits.maxYearsBack)) return { ok: false, problem: `${what} ${value} is more than ${limits.maxYearsBack} years ago` };
  if (limits.maxYearsAhead !== undefined && value > shiftYears(today, limits.maxYearsAhead)) {
    const words = limits.maxYearsAhead === 0 ? `after today (${today})` : `more than ${limits.maxYearsAhead} year${limits.maxYearsAhead === 1 ? '' : 's'} ahead`;
    return { ok: false, problem: `${what} ${value} is ${words}` };
  }
  return { ok: true, day: value };
}
