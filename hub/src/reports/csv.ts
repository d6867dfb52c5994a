// CSV out: a UTF-8 byte-order mark first (so Excel reads accented names as UTF-8, not as its
// local code page), RFC 4180 quoting, CRLF line ends, and a leading apostrophe on any text a
// spreadsheet could run as a formula: starting with =, +, -, @, a tab or a carriage return. The
// one exception is a whole negative amount ("-3", "-£10.00"), which a spreadsheet reads as a
// number and cannot run.
export type Cell = string | number | null | undefined;

export const BOM = '\uFEFF';

const FORMULA_START = /^[=+\-@\t\r]/;
const NEGATIVE_AMOUNT = /^-£?\d+(?:\.\d+)?$/;

export function csvCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text) && !NEGATIVE_AMOUNT.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(columns: string[], rows: Array<Record<string, Cell>>): string {
  const lines = [columns.map(csvCell).join(',')];
  for (const row of rows) lines.push(columns.map((column) => csvCell(row[column])).join(','));
  return BOM + lines.join('\r\n') + '\r\n';
}

/** A fixed-width table for the terminal. */
export function toTable(columns: string[], rows: Array<Record<string, Cell>>): string {
  const text = (value: Cell) => (value === null || value === undefined ? '' : String(value));
  const widths = columns.map((column) => Math.min(40, Math.max(column.length, ...rows.map((row) => text(row[column]).length))));
  const line = (cells: string[]) => cells.map((cell, i) => (cell.length > widths[i] ? cell.slice(0, widths[i] - 1) + '…' : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(columns), line(widths.map((width) => '-'.repeat(width))), ...rows.map((row) => line(columns.map((column) => text(row[column]))))].join('\n');
}
