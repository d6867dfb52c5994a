// PostgreSQL behind the same SqlDatabase interface, selected by DATABASE_URL. Statements are the
// portable ones the records code writes for SQLite: `?` placeholders become $1, $2, ...; an
// insert's id comes from RETURNING id; 64-bit integers and sums come back as numbers.
import pg from 'pg';
import type { SqlDatabase, SqlValue } from './sql';

const INT8 = 20;
const NUMERIC = 1700;

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (text: string) => (text === null ? null : Number(text));
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/** `?` placeholders to `$n`, leaving quoted text, quoted names and comments alone. */
export function toDollarParams(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop + 1);
      i = stop;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '?') {
      out += `$${++n}`;
    } else {
      out += c;
    }
  }
  return out;
}

const converted = new Map<string, string>();
function convert(sql: string): string {
  let text = converted.get(sql);
  if (text === undefined) {
    text = toDollarParams(sql);
    if (converted.size > 2000) converted.clear();
    converted.set(sql, text);
  }
  return text;
}

function pgParams(params: SqlValue[]): unknown[] {
  return params.map((value) => (typeof value === 'bigint' ? value.toString() : value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value) : value));
}

type Queryable = pg.Pool | pg.PoolClient;

async function query<Row>(on: Queryable, sql: string, params: SqlValue[]): Promise<pg.QueryResult<Row & pg.QueryResultRow>> {
  return on.query<Row & pg.QueryResultRow>({ text: convert(sql), values: pgParams(params), types });
}

class PostgresStatements {
  constructor(protected on: Queryable) {}

  async run(sql: string, params: SqlValue[] = []) {
    const result = await query(this.on, sql, params);
    return { changes: result.rowCount ?? 0 };
  }

  async insert(sql: string, params: SqlValue[] = []) {
    const result = await query<{ id: number }>(this.on, /\breturning\b/i.test(sql) ? sql : `${sql} RETURNING id`, params);
    return Number(result.rows[0]?.id ?? 0);
  }

  async all<Row>(sql: string, params: SqlValue[] = []) {
    return (await query<Row>(this.on, sql, params)).rows as Row[];
  }

  async allArrays(sql: string, params: SqlValue[] = []) {
    const result = await this.on.query<unknown[]>({ text: convert(sql), values: pgParams(params), types, rowMode: 'array' });
    return result.rows;
  }

  async get<Row>(sql: string, params: SqlValue[] = []) {
    return (await query<Row>(this.on, sql, params)).rows[0] as Row | undefined;
  }

  async exec(sql: string) {
    // Several statements in one simple query (no parameters), as SQLite's exec runs them.
    await this.on.query(sql);
  }
}

class PostgresTransaction extends PostgresStatements implements SqlDatabase {
  readonly kind = 'postgres' as const;
  constructor(
    private client: pg.PoolClient,
    private depth: number,
    private pool?: pg.Pool,
  ) {
    super(client);
  }

  /** A snapshot's: `work` on another of the pool's connections, in this snapshot (exported to it). */
  get beside(): SqlDatabase['beside'] {
    const pool = this.pool;
    return pool ? (work) => this.besideOn(pool, work) : undefined;
  }

  private async besideOn<T>(pool: pg.Pool, work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    const { id } = (await this.get<{ id: string }>('SELECT pg_export_snapshot() AS id'))!;
    const client = await pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        await client.query(`SET TRANSACTION SNAPSHOT '${id.replace(/'/g, "''")}'`);
        return await work(new PostgresTransaction(client, 0));
      } finally {
        await client.query('ROLLBACK').catch(() => {});
      }
    } finally {
      client.release();
    }
  }

  async transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    const name = `sp${this.depth}`;
    await this.client.query(`SAVEPOINT ${name}`);
    try {
      const result = await work(new PostgresTransaction(this.client, this.depth + 1));
      await this.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`);
      await this.client.query(`RELEASE SAVEPOINT ${name}`);
      throw error;
    }
  }

  async compact(): Promise<void> {
    throw new Error('compact the database, not a transaction');
  }

  async snapshot<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    return work(this);
  }

  async close() {
    throw new Error('close the database, not a transaction');
  }
}

export class PostgresDatabase extends PostgresStatements implements SqlDatabase {
  readonly kind = 'postgres' as const;
  private pool: pg.Pool;
  beforeCommit: ((tx: SqlDatabase) => Promise<void>) | null = null;

  constructor(url: string, options: { maxConnections?: number } = {}) {
    const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 8 });
    super(pool);
    this.pool = pool;
    // An idle client that loses its server (a restart) must not take the hub down.
    pool.on('error', () => {});
  }

  async transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const tx = new PostgresTransaction(client, 0);
        const result = await work(tx);
        if (this.beforeCommit) await this.beforeCommit(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    } finally {
      client.release();
    }
  }

  /**
   * VACUUM marks dead rows' space free for reuse and rewrites the pages it cleans (their bytes
   * are overwritten as the table is written again). Only the tables' owner may vacuum them: for
   * the hub's role PostgreSQL skips them with a warning and autovacuum does it instead.
   */
  async compact(tables: string[]): Promise<void> {
    if (tables.length) await this.pool.query(`VACUUM ${tables.join(', ')}`);
  }

  async snapshot<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        return await work(new PostgresTransaction(client, 0, this.pool));
      } finally {
        await client.query('ROLLBACK').catch(() => {});
      }
    } finally {
      client.release();
    }
  }

  async close() {
    await this.pool.end();
  }
}

/** "postgres://user:pw@host/db" without the password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}
