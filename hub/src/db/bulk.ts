// Many rows in one statement, written for each database:
//   SQLite      VALUES (?, ?), (?, ?), ...   one parameter per value (inserts in chunks)
//   PostgreSQL  unnest(?::text[], ?::bigint[], ...)   one array per column
// insertRows puts rows into a table; rowsAsTable names rows for a query to join (keys to look up,
// values to update with).
// PostgreSQL parses and plans a statement of thousands of parameters slowly (measured here: 300
// station events of 13 columns, 6.4-9.0 ms as VALUES, 3.7-3.8 ms through unnest).
import type { SqlDatabase, SqlValue } from './sql';

/** A column and its PostgreSQL type (the migrations' INTEGER is BIGINT there, BLOB is BYTEA). */
export type BulkColumn = readonly [name: string, postgresType: 'text' | 'bigint' | 'bytea'];

/** Rows per SQLite statement: well under its limit of 32,766 parameters for any table here. */
const SQLITE_ROWS = 300;

/**
 * Inserts `rows` (values in `columns` order) with `suffix` appended to each statement (ON
 * CONFLICT ..., RETURNING ...); returns what RETURNING gives, from every statement in order.
 */
export async function insertRows<Row = never>(tx: SqlDatabase, table: string, columns: readonly BulkColumn[], rows: SqlValue[][], suffix = ''): Promise<Row[]> {
  if (rows.length === 0) return [];
  const names = columns.map(([name]) => name).join(', ');
  if (tx.kind === 'postgres') {
    const arrays = columns.map(([, type], i) => rows.map((row) => (type === 'bytea' ? asBuffer(row[i]) : row[i])));
    return tx.all<Row>(`INSERT INTO ${table} (${names}) SELECT * FROM unnest(${columns.map(([, type]) => `?::${type}[]`).join(', ')}) ${suffix}`, arrays);
  }
  const out: Row[] = [];
  const placeholders = `(${columns.map(() => '?').join(', ')})`;
  for (let start = 0; start < rows.length; start += SQLITE_ROWS) {
    const chunk = rows.slice(start, start + SQLITE_ROWS);
    const sql = `INSERT INTO ${table} (${names}) VALUES ${chunk.map(() => placeholders).join(', ')} ${suffix}`;
    if (/\breturning\b/i.test(suffix)) out.push(...(await tx.all<Row>(sql, chunk.flat())));
    else await tx.run(sql, chunk.flat());
  }
  return out;
}

/**
 * A WITH clause that names `rows` as table `name` with the columns' names, to start a SELECT,
 * UPDATE or INSERT that joins it. For SQLite, keep rows x columns under 32,766 parameters.
 */
export function rowsAsTable(tx: SqlDatabase, name: string, columns: readonly BulkColumn[], rows: SqlValue[][]): { sql: string; params: SqlValue[] } {
  const head = `WITH ${name} (${columns.map(([column]) => column).join(', ')}) AS`;
  if (tx.kind === 'postgres') {
    return {
      sql: `${head} (SELECT * FROM unnest(${columns.map(([, type]) => `?::${type}[]`).join(', ')}))`,
      params: columns.map(([, type], i) => rows.map((row) => (type === 'bytea' ? asBuffer(row[i]) : row[i]))),
    };
  }
  const placeholders = `(${columns.map(() => '?').join(', ')})`;
  return { sql: `${head} (VALUES ${rows.map(() => placeholders).join(', ')})`, params: rows.flat() };
}

/** pg writes Buffers in an array as bytea; other byte views it would not. */
function asBuffer(value: SqlValue): SqlValue {
  return value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
}
