// One table of figures per benchmark topic, printed as Markdown. The runner (all.ts) reads back
// what each benchmark printed: a benchmark that prints no table, an empty one or a figure that is
// not a number (NaN, Infinity) counts as broken.
export type Row = Record<string, string | number>;

export interface PrintedTable {
  title: string;
  rows: Row[];
}

const printed: PrintedTable[] = [];

/** Every table printed so far in this process, oldest first. */
export function printedTables(): readonly PrintedTable[] {
  return printed;
}

export function printTable(title: string, rows: Row[]): void {
  printed.push({ title, rows });
  console.log(`\n## ${title}\n`);
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]);
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => String(row[column]).length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(columns));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(line(columns.map((column) => String(row[column]))));
}

/** Why a benchmark's tables hold no usable figure, or null when they do. */
export function missingFigures(tables: readonly PrintedTable[]): string | null {
  if (tables.length === 0) return 'printed no table';
  for (const table of tables) {
    if (table.rows.length === 0) return `"${table.title}": no rows`;
    const columns = Object.keys(table.rows[0]);
    for (const row of table.rows) {
      for (const column of new Set([...columns, ...Object.keys(row)])) {
        const value = row[column];
        if (value === undefined || value === null) return `"${table.title}": no value for ${column}`;
        if (/\b(NaN|-?Infinity|undefined)\b/.test(String(value))) return `"${table.title}": ${column} is ${value}`;
      }
    }
  }
  return null;
}
