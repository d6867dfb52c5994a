// The hub's one way to talk to its database: a small async interface, so the same records code
// runs on SQLite (the default, a file under the data directory) and PostgreSQL (db/postgres.ts,
// selected by DATABASE_URL). SQL is written once, portably, with `?` placeholders:
//   - no SQLite-only functions; timestamps are ISO-8601 text, compared as text
//   - upserts with ON CONFLICT (...) DO UPDATE / DO NOTHING, both understood by either
//   - `insert()` for a new row's id (SQLite: last_insert_rowid; PostgreSQL: RETURNING id)
//   - `INSERT ... RETURNING` read with `all()` works on both
// Schema differences (INTEGER PRIMARY KEY, BLOB) are translated once, in db/migrations.ts.
import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

/** A parameter. Arrays are for PostgreSQL's unnest only (db/bulk.ts); SQLite binds none. */
export type SqlValue = string | number | bigint | Uint8Array | null | SqlValue[];

export interface SqlDatabase {
  readonly kind: 'sqlite' | 'postgres';
  run(sql: string, params?: SqlValue[]): Promise<{ changes: number }>;
  /** Runs an INSERT into a table with an `id` key and returns the new row's id. */
  insert(sql: string, params?: SqlValue[]): Promise<number>;
  all<Row>(sql: string, params?: SqlValue[]): Promise<Row[]>;
  get<Row>(sql: string, params?: SqlValue[]): Promise<Row | undefined>;
  /** A read's rows as arrays of column values, in the select's order: no object per row (large scans). */
  allArrays(sql: string, params?: SqlValue[]): Promise<unknown[][]>;
  exec(sql: string): Promise<void>;
  /**
   * Runs `work` in one transaction: all of it is committed, or none. Inside, use only the handle
   * `work` is given; a transaction started on that handle nests as a savepoint.
   */
  transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T>;
  /**
   * Leaves no deleted or overwritten row's bytes in the database's storage (after a purge):
   * SQLite rewrites the file and empties the WAL; PostgreSQL vacuums `tables`.
   */
  compact(tables: string[]): Promise<void>;
  /**
   * Run inside every top-level transaction just before it commits, on its handle (audit/anchors.ts
   * anchors the rows the transaction changed). Set on the database, not on a transaction.
   */
  beforeCommit?: ((tx: SqlDatabase) => Promise<void>) | null;
  /** Runs `work` in a read-only transaction: one consistent snapshot, without blocking writers. */
  snapshot<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T>;
  /**
   * Inside a snapshot (PostgreSQL): runs `work` on another connection reading the same snapshot,
   * beside this one (audit verify walks the chain there while it compares the tables here).
   */
  beside?<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T>;
  /** Inside a snapshot (SQLite): the database file, for a worker thread's own connection. */
  readonly sqliteFile?: string;
  close(): Promise<void>;
}

/** A FIFO lock: one holder at a time, the rest wait in arrival order. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = false;

  get locked(): boolean {
    return this.held;
  }

  async acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => next);
    await previous;
    this.held = true;
    return () => {
      this.held = false;
      release();
    };
  }
}

const STATEMENT_CACHE = 500;

/**
 * The database file and its directory readable by the hub's user only (0600, 0700): the file
 * holds the badge key and personal records. SQLite gives its -wal and -shm files the database
 * file's mode. An existing file or directory with wider modes is narrowed.
 */
function createPrivately(file: string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
  for (const side of ['-wal', '-shm']) {
    if (fs.existsSync(file + side)) fs.chmodSync(file + side, 0o600);
  }
}

/**
 * Statements of one better-sqlite3 connection, prepared once and kept (the least recently used
 * dropped). A hit only stamps the entry: moving it to the Map's end (delete and set) on every
 * statement made the Map rebuild its table every few statements, garbage that outlived the young
 * generation and piled up in a large import (bench/import.bench.ts).
 */
class StatementCache {
  private statements = new Map<string, { statement: BetterSqlite3.Statement; used: number }>();
  private uses = 0;
  constructor(private db: BetterSqlite3.Database) {}

  get(sql: string): BetterSqlite3.Statement {
    const entry = this.statements.get(sql);
    if (entry) {
      entry.used = ++this.uses;
      return entry.statement;
    }
    if (this.statements.size >= STATEMENT_CACHE) this.statements.delete(this.leastRecentlyUsed());
    const statement = this.db.prepare(sql);
    this.statements.set(sql, { statement, used: ++this.uses });
    return statement;
  }

  private leastRecentlyUsed(): string {
    let oldest = '';
    let used = Infinity;
    for (const [sql, entry] of this.statements) {
      if (entry.used < used) {
        oldest = sql;
        used = entry.used;
      }
    }
    return oldest;
  }
}

function sqliteParams(params: SqlValue[]): unknown[] {
  // better-sqlite3 binds Buffers as BLOBs; a plain Uint8Array is not accepted everywhere. Most
  // statements have none, and their parameters are bound as given (no copy of the array).
  for (let i = 0; i < params.length; i++) {
    const value = params[i];
    if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
      return params.map((item) => (item instanceof Uint8Array && !Buffer.isBuffer(item) ? Buffer.from(item.buffer, item.byteOffset, item.byteLength) : item));
    }
  }
  return params;
}

/** Statement execution on the connection, with no locking: used by the database and its transactions. */
class SqliteStatements {
  constructor(
    protected connection: BetterSqlite3.Database,
    protected cache: StatementCache,
  ) {}

  protected runNow(sql: string, params: SqlValue[]) {
    const result = this.cache.get(sql).run(sqliteParams(params));
    return { changes: result.changes, lastId: Number(result.lastInsertRowid) };
  }

  protected allNow<Row>(sql: string, params: SqlValue[]): Row[] {
    const statement = this.cache.get(sql);
    if (!statement.reader) {
      statement.run(sqliteParams(params));
      return [];
    }
    return statement.all(sqliteParams(params)) as Row[];
  }

  protected allArraysNow(sql: string, params: SqlValue[]): unknown[][] {
    // The cached statement is shared with all(): raw mode only for this call.
    const statement = this.cache.get(sql).raw(true);
    try {
      return statement.all(sqliteParams(params)) as unknown[][];
    } finally {
      statement.raw(false);
    }
  }

  protected getNow<Row>(sql: string, params: SqlValue[]): Row | undefined {
    return this.cache.get(sql).get(sqliteParams(params)) as Row | undefined;
  }
}

class SqliteTransaction extends SqliteStatements implements SqlDatabase {
  readonly kind = 'sqlite' as const;
  private depth: number;

  constructor(
    connection: BetterSqlite3.Database,
    cache: StatementCache,
    depth: number,
    readonly sqliteFile?: string,
  ) {
    super(connection, cache);
    this.depth = depth;
  }

  async run(sql: string, params: SqlValue[] = []) {
    return { changes: this.runNow(sql, params).changes };
  }

  async insert(sql: string, params: SqlValue[] = []) {
    return this.runNow(sql, params).lastId;
  }

  async all<Row>(sql: string, params: SqlValue[] = []) {
    return this.allNow<Row>(sql, params);
  }

  async allArrays(sql: string, params: SqlValue[] = []) {
    return this.allArraysNow(sql, params);
  }

  async get<Row>(sql: string, params: SqlValue[] = []) {
    return this.getNow<Row>(sql, params);
  }

  async exec(sql: string) {
    this.connection.exec(sql);
  }

  async transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    const name = `sp${this.depth}`;
    this.connection.exec(`SAVEPOINT ${name}`);
    try {
      const result = await work(new SqliteTransaction(this.connection, this.cache, this.depth + 1));
      this.connection.exec(`RELEASE ${name}`);
      return result;
    } catch (error) {
      this.connection.exec(`ROLLBACK TO ${name}`);
      this.connection.exec(`RELEASE ${name}`);
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

export class SqliteDatabase extends SqliteStatements implements SqlDatabase {
  readonly kind = 'sqlite' as const;
  /**
   * better-sqlite3 is synchronous, but a transaction's work awaits between statements, so other
   * callers could run in between. Transactions take this lock; statements outside a transaction
   * wait for it, so they never land inside someone else's transaction.
   */
  private lock = new Mutex();
  /** Set inside a transaction's work: a statement sent to the database object from there runs in it. */
  private inside = new AsyncLocalStorage<true>();
  beforeCommit: ((tx: SqlDatabase) => Promise<void>) | null = null;
  private file: string;
  private walFd: number | null = null;
  private syncing: Promise<void> | null = null;
  private syncAgain: Promise<void> | null = null;

  constructor(file: string) {
    if (file !== ':memory:') createPrivately(file);
    const connection = new BetterSqlite3(file);
    super(connection, new StatementCache(connection));
    this.file = file;
    connection.pragma('journal_mode = WAL');
    // Durability, without stopping the event loop for the disk: SQLite itself does not sync at
    // commit (NORMAL), and every write is followed by an fsync of the WAL file on libuv's thread
    // pool (toDisk) before its promise resolves. A commit frame synced in the WAL is a committed
    // transaction after a power cut, as with synchronous=FULL — but while one batch of events
    // waits for the disk the broker and the ingest keep working, and concurrent commits share
    // one fsync (group commit). Checkpoints still sync the database file as NORMAL does.
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');
    connection.pragma('busy_timeout = 5000');
    // What is deleted is overwritten with zeros, not left in free pages for `strings` to find
    // (purge's personal text); see also compact().
    connection.pragma('secure_delete = ON');
  }

  /**
   * Rewrites the file without free space and empties the WAL, so nothing deleted or overwritten
   * is left in either (after a purge). Another connection still reading an old snapshot (the
   * hub beside the CLI) can keep the WAL from emptying: then it is emptied at its next checkpoint.
   */
  async compact(_tables: string[] = []): Promise<void> {
    await this.outside(() => {
      this.connection.pragma('wal_checkpoint(TRUNCATE)');
      this.connection.exec('VACUUM');
      this.connection.pragma('wal_checkpoint(TRUNCATE)');
    });
    await this.toDisk();
  }

  private fsyncWal(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.walFd === null) {
        try {
          this.walFd = fs.openSync(`${this.file}-wal`, 'r');
        } catch {
          // No WAL file (nothing written since it was checkpointed away): sync the database file.
          const fd = fs.openSync(this.file, 'r');
          fs.fsync(fd, (error) => {
            fs.closeSync(fd);
            if (error) reject(error);
            else resolve();
          });
          return;
        }
      }
      fs.fsync(this.walFd, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Resolves once everything committed so far is on the disk. Concurrent callers share fsyncs. */
  toDisk(): Promise<void> {
    if (this.file === ':memory:') return Promise.resolve();
    if (!this.syncing) {
      this.syncing = this.fsyncWal().finally(() => (this.syncing = null));
      return this.syncing;
    }
    // One is under way but may have started before our commit: one more after it covers us.
    if (!this.syncAgain) {
      this.syncAgain = this.syncing.catch(() => {}).then(() => {
        this.syncAgain = null;
        return this.toDisk();
      });
    }
    return this.syncAgain;
  }

  private async outside<T>(action: () => T): Promise<T> {
    // Not locked, or called from within the transaction itself (same connection): run now.
    if (!this.lock.locked || this.inside.getStore()) return action();
    const release = await this.lock.acquire();
    try {
      return action();
    } finally {
      release();
    }
  }

  /** A write outside a transaction commits by itself: on disk before the promise resolves. */
  private async written<T>(result: T): Promise<T> {
    if (!this.inside.getStore() && !this.connection.inTransaction) await this.toDisk();
    return result;
  }

  async run(sql: string, params: SqlValue[] = []) {
    return this.written(await this.outside(() => ({ changes: this.runNow(sql, params).changes })));
  }

  async insert(sql: string, params: SqlValue[] = []) {
    return this.written(await this.outside(() => this.runNow(sql, params).lastId));
  }

  async all<Row>(sql: string, params: SqlValue[] = []) {
    const rows = await this.outside(() => this.allNow<Row>(sql, params));
    return this.cache.get(sql).readonly ? rows : this.written(rows);
  }

  async get<Row>(sql: string, params: SqlValue[] = []) {
    return this.outside(() => this.getNow<Row>(sql, params));
  }

  async allArrays(sql: string, params: SqlValue[] = []) {
    return this.outside(() => this.allArraysNow(sql, params));
  }

  async exec(sql: string): Promise<void> {
    await this.outside(() => {
      this.connection.exec(sql);
    });
    await this.written(undefined);
  }

  async transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    // A transaction begun on the database object from inside another nests as a savepoint.
    if (this.inside.getStore()) return new SqliteTransaction(this.connection, this.cache, 100).transaction(work);
    const release = await this.lock.acquire();
    let result: T;
    try {
      // IMMEDIATE: take the write lock now, so another process (the CLI beside a running hub)
      // waits at BEGIN (busy_timeout) instead of failing part-way through.
      this.connection.exec('BEGIN IMMEDIATE');
      try {
        result = await this.inside.run(true, async () => {
          const tx = new SqliteTransaction(this.connection, this.cache, 0);
          const value = await work(tx);
          if (this.beforeCommit) await this.beforeCommit(tx);
          return value;
        });
        this.connection.exec('COMMIT');
      } catch (error) {
        if (this.connection.inTransaction) this.connection.exec('ROLLBACK');
        throw error;
      }
    } finally {
      release();
    }
    // The lock is free again: the next transaction runs while this one waits for the disk.
    await this.toDisk();
    return result;
  }

  private hasPendingAnchors(): boolean {
    try {
      return this.connection.prepare('SELECT 1 FROM temp.anchor_pending LIMIT 1').get() !== undefined;
    } catch {
      return false;
    }
  }

  /** A read-only transaction: one consistent snapshot for `work` while writers go on (WAL). */
  async snapshot<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    const release = await this.lock.acquire();
    try {
      this.connection.exec('BEGIN DEFERRED');
      try {
        return await this.inside.run(true, () => work(new SqliteTransaction(this.connection, this.cache, 0, this.file === ':memory:' ? undefined : this.file)));
      } finally {
        if (this.connection.inTransaction) this.connection.exec('ROLLBACK');
      }
    } finally {
      release();
    }
  }

  async close() {
    // Changes made outside a transaction are anchored before this connection's list goes.
    if (this.beforeCommit && this.connection.open && this.hasPendingAnchors()) await this.transaction(async () => {}).catch(() => {});
    const release = await this.lock.acquire();
    try {
      while (this.syncing || this.syncAgain) await (this.syncAgain ?? this.syncing)!.catch(() => {});
      if (this.walFd !== null) fs.closeSync(this.walFd);
      this.walFd = null;
      this.connection.close();
    } finally {
      release();
    }
  }
}
