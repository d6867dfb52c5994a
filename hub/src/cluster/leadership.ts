// Several hubs (HANDOVER_HUB_NAME) run against one PostgreSQL: the jobs that must happen once for
// the whole deployment — the cut-off sweep, audit checkpoints, e-mail rounds, and what is sent to
// the stations on the hub's own initiative (badge lists, locker restores, the time) — run in one
// of them, the leader. The leader is whoever holds a session-level advisory lock on a connection
// of its own: if that hub stops or dies, PostgreSQL ends its session and frees the lock, and
// another hub takes it at its next try (within TRY_EVERY_MS). A hub alone is always the leader.
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../log';

/**
 * The advisory-lock keys of the leadership ("HL", 1): a key space of its own, since the stations'
 * locks ("HO", hash of the station id) could otherwise hash a station onto the leader's key.
 * Stop every hub of an older version before starting this one: the two would each lead.
 */
const LEADER_LOCK: [number, number] = [0x484c, 1];
const TRY_EVERY_MS = 2000;

export interface Leadership {
  /** Whether this hub runs the deployment's once-only jobs now. */
  readonly leading: boolean;
  /** Emits 'gained' when this hub becomes the leader. */
  on(event: 'gained', listener: () => void): this;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** One hub alone (SQLite, or PostgreSQL without HANDOVER_HUB_NAME): it leads. */
export class SoleHub extends EventEmitter implements Leadership {
  readonly leading = true;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export class LeaderLock extends EventEmitter implements Leadership {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private trying: Promise<void> | null = null;
  private stopped = false;
  leading = false;

  constructor(
    private databaseUrl: string,
    private hubName: string,
    private log: Logger,
  ) {
    super();
  }

  async start(): Promise<void> {
    await this.attempt();
    this.timer = setInterval(() => void this.attempt(), TRY_EVERY_MS);
    this.timer.unref();
  }

  private attempt(): Promise<void> {
    if (this.leading || this.stopped) return Promise.resolve();
    this.trying ??= this.tryOnce().finally(() => (this.trying = null));
    return this.trying;
  }

  private async tryOnce(): Promise<void> {
    try {
      if (!this.client) {
        const client = new pg.Client({ connectionString: this.databaseUrl });
        // The session gone (a database restart): the lock went with it; try again for a new one.
        client.on('error', (error) => this.lost(client, error.message));
        client.on('end', () => this.lost(client, 'connection closed'));
        await client.connect();
        this.client = client;
      }
      const row = await this.client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS got', LEADER_LOCK);
      if (row.rows[0]?.got && !this.stopped) {
        this.leading = true;
        this.log.info(`hub ${this.hubName} leads the periodic jobs (cut-off sweep, checkpoints, e-mail, pushes to stations)`);
        this.emit('gained');
      }
    } catch (error) {
      this.log.warn(`leadership: ${(error as Error).message}`);
      const client = this.client;
      this.client = null;
      await client?.end().catch(() => {});
    }
  }

  private lost(client: pg.Client, why: string): void {
    if (this.client !== client) return;
    this.client = null;
    if (this.leading && !this.stopped) this.log.warn(`hub ${this.hubName} no longer leads (${why}); trying again`);
    this.leading = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.trying;
    const client = this.client;
    this.client = null;
    this.leading = false;
    await client?.end().catch(() => {});
  }
}
