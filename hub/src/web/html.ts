// HTML for the office pages, escaped by default: every value put into the `html` template is
// escaped unless it is itself Html (made by `html` or, for trusted markup only, `raw`).
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = Html | string | number | boolean | null | undefined | HtmlValue[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Markup the code itself wrote (never anything a person or station sent). */
export function raw(text: string): Html {
  return new Html(text);
}

export function when(condition: unknown, content: () => HtmlValue): HtmlValue {
  return condition ? content() : null;
}

// The formats made once: toLocaleTimeString and toLocaleDateString build a new formatter on every
// call (about 70 µs each), which was most of the time of a page of a school's 1,600 lockers.
const FORMATS = {
  time: new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' }),
  dayThisYear: new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short' }),
  dayOtherYear: new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }),
  day: new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric' }),
};

/** "2026-03-02T08:42:00.000Z" -> "Mon 2 Mar, 08:42" in the hub's local time. */
export function formatWhen(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const today = new Date();
  const time = FORMATS.time.format(date);
  if (date.toDateString() === today.toDateString()) return `today ${time}`;
  return `${(date.getFullYear() === today.getFullYear() ? FORMATS.dayThisYear : FORMATS.dayOtherYear).format(date)}, ${time}`;
}

export function formatDay(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return FORMATS.day.format(date);
}

/** A <time> element with the ISO moment for machines and a readable one for people. */
export function timeTag(iso: string | null | undefined): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<time datetime="${iso}">${formatWhen(iso)}</time>`;
}

/** "1 event", "2 events": a count with its noun in the right number. */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
