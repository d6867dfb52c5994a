// Charts drawn by the hub as SVG inside the page: no script, no external service, readable by a
// screen reader (title, description) and backed by a table of the same numbers.
import { html, raw, type Html } from './html';

export const SLOT_MINUTES = 5;

export interface DayBuckets {
  /** Minutes after local midnight of each slot's start. */
  slots: number[];
  deposits: number[];
  collections: number[];
}

/** Counts moments (ISO strings) per five-minute slot of the local day, between `fromHour` and `toHour`, widened to take in every moment. */
export function bucketDay(deposits: string[], collections: string[], options: { fromHour?: number; toHour?: number } = {}): DayBuckets {
  return bucketDayCounts(
    deposits.map((at) => ({ at, count: 1 })),
    collections.map((at) => ({ at, count: 1 })),
    options,
  );
}

/** The same from moments already counted (a trust's day is 150,000 taps: the database counts them per minute). */
export function bucketDayCounts(deposits: Array<{ at: string; count: number }>, collections: Array<{ at: string; count: number }>, options: { fromHour?: number; toHour?: number } = {}): DayBuckets {
  const minuteOf = (iso: string) => {
    const date = new Date(iso);
    return date.getHours() * 60 + date.getMinutes();
  };
  // A loop, not Math.min(...all): past about 120,000 arguments that throws.
  let first = options.fromHour ?? 7;
  let last = options.toHour ?? 18;
  for (const moment of [...deposits, ...collections]) {
    const hour = Math.floor(minuteOf(moment.at) / 60);
    first = Math.min(first, hour);
    last = Math.max(last, hour + 1);
  }
  const slots: number[] = [];
  for (let minute = first * 60; minute < last * 60; minute += SLOT_MINUTES) slots.push(minute);
  const count = (moments: Array<{ at: string; count: number }>) => {
    const counts = slots.map(() => 0);
    for (const moment of moments) counts[Math.floor((minuteOf(moment.at) - first * 60) / SLOT_MINUTES)] += moment.count;
    return counts;
  };
  return { slots, deposits: count(deposits), collections: count(collections) };
}

export function clock(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** A scale top with four whole-number steps: 4, 8, 20, 40, 80, 200, ... */
function niceMax(value: number): number {
  const rough = Math.max(1, value / 4);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= rough) return Math.max(1, step * magnitude) * 4;
  return 40 * magnitude;
}

/** Deposits and collections per five minutes, as side-by-side bars with an hourly axis. */
export function dayChart(buckets: DayBuckets, options: { title: string; description: string }): Html {
  const width = 960;
  const height = 280;
  const left = 44;
  const right = 12;
  const top = 14;
  const bottom = 36;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const slotWidth = plotWidth / Math.max(1, buckets.slots.length);
  const barWidth = Math.max(1, slotWidth / 2 - 0.5);
  const max = niceMax(Math.max(1, ...buckets.deposits, ...buckets.collections));
  const y = (value: number) => top + plotHeight - (value / max) * plotHeight;
  const parts: string[] = [];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (max / 4) * tick;
    parts.push(`<line class="grid" x1="${left}" x2="${width - right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${value}</text>`);
  }
  buckets.slots.forEach((minute, index) => {
    const x = left + index * slotWidth;
    if (minute % 60 === 0) {
      parts.push(`<line class="axis" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${top + plotHeight}" y2="${top + plotHeight + 5}"/>`);
      parts.push(`<text x="${x.toFixed(1)}" y="${top + plotHeight + 19}" text-anchor="middle">${clock(minute)}</text>`);
    }
    const deposits = buckets.deposits[index];
    const collections = buckets.collections[index];
    if (deposits) parts.push(`<rect class="deposits" x="${x.toFixed(1)}" y="${y(deposits).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(top + plotHeight - y(deposits)).toFixed(1)}"><title>${clock(minute)}–${clock(minute + SLOT_MINUTES)}: ${deposits} deposit${deposits === 1 ? '' : 's'}</title></rect>`);
    if (collections) parts.push(`<rect class="collections" x="${(x + barWidth + 0.5).toFixed(1)}" y="${y(collections).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(top + plotHeight - y(collections)).toFixed(1)}"><title>${clock(minute)}–${clock(minute + SLOT_MINUTES)}: ${collections} collection${collections === 1 ? '' : 's'}</title></rect>`);
  });
  parts.push(`<line class="axis" x1="${left}" x2="${width - right}" y1="${top + plotHeight}" y2="${top + plotHeight}"/>`);
  return html`<svg viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMidYMid meet">
    <title id="chart-title">${options.title}</title>
    <desc id="chart-desc">${options.description}</desc>
    ${raw(parts.join(''))}
  </svg>`;
}
