// The live page of every hub shows what any hub stored: each hub NOTIFYs the others of the events
// and status it committed (PostgreSQL LISTEN/NOTIFY on one channel), and replays theirs to its own
// page as if its ingest had stored them. Payloads carry only what the page shows (no person).
import pg from 'pg';
import type { Ingest, IngestChange } from '../ingest';
import type { Logger } from '../log';

const CHANNEL = 'handover_changes';
/** PostgreSQL refuses a payload of 8000 bytes or more: changes go in parts well below it. */
const PART_BYTES = 6000;

export class ChangeRelay {
  private listener: pg.Client | null = null;
  private pool: pg.Pool;
  private stopped = false;
  private reconnect: NodeJS.Timeout | null = null;

  constructor(
    private databaseUrl: string,
    private hubName: string,
    private ingest: Ingest,
    private log: Logger,
  ) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    this.pool.on('error', () => {});
  }

  async start(): Promise<void> {
    await this.listen();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (message) => this.received(message.payload ?? ''));
    const again = (why: string) => {
      if (this.listener !== client || this.stopped) return;
      this.listener = null;
      this.log.warn(`live changes from the other hubs: ${why}; listening again`);
      this.reconnect = setTimeout(() => void this.listen().catch((error) => again((error as Error).message)), 1000);
      this.reconnect.unref();
    };
    client.on('error', (error) => again(error.message));
    client.on('end', () => again('connection closed'));
    this.listener = client;
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
  }

  private received(payload: string): void {
    try {
      const { from, changes } = JSON.parse(payload) as { from: string; changes: IngestChange[] };
      if (from === this.hubName) return;
      for (const change of changes) this.ingest.emit('change', change);
    } catch {
      // Not ours: nothing on the channel but hubs' changes is shown.
    }
  }

  /** Tells the other hubs what this one committed (after the commit; a lost notice costs only a live-page line). */
  publish(changes: IngestChange[]): void {
    const parts: IngestChange[][] = [[]];
    let size = 0;
    for (const change of changes) {
      const bytes = JSON.stringify(change).length + 1;
      if (size + bytes > PART_BYTES && parts[parts.length - 1].length) {
        parts.push([]);
        size = 0;
      }
      parts[parts.length - 1].push(change);
      size += bytes;
    }
    for (const part of parts) {
      this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ from: this.hubName, changes: part })]).catch((error) => this.log.warn(`live changes to the other hubs: ${(error as Error).message}`));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnect) clearTimeout(this.reconnect);
    const client = this.listener;
    this.listener = null;
    await client?.end().catch(() => {});
    await this.pool.end().catch(() => {});
  }
}
