// The badge list every station should hold, built once per change. The database keeps a counter
// (`badge_list_state.revision`, migration 5) that its triggers bump in the same transaction as any
// write that can change the list: a badge enrolled, moved or revoked, a leaver, an exemption, a
// role, a class's borrowers — by the hub, by a command in another process, by an import. Reading
// that one row is all a check costs; the list is rebuilt only when it moved, and gets a new
// version only when its content differs. Readers take the cached list and never touch the
// database, so a station's state report costs nothing.
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { writeU32 } from '../../../protocol/bytes';
import type { SqlDatabase } from '../db/sql';
import type { Logger } from '../log';
import type { People } from '../records/people';

export interface BadgeListFile {
  /** Seconds since 1970 when the hub built it (strictly rising). */
  version: number;
  file: Uint8Array;
  badges: number;
}

export interface BadgeListsOptions {
  db: SqlDatabase;
  people: People;
  log: Logger;
  /** How often the change counter is read (ms). */
  checkEveryMs?: number;
  /**
   * The deployment's own site (HANDOVER_SITE). Given, and with other schools in the `schools`
   * table (issue 16), each school's stations get a list of that school's people only; all the
   * lists share one version, made new when any of them changes.
   */
  home?: string;
}

interface StateRow {
  revision: number;
  version: number;
  digest: string;
}

const DEFAULT_CHECK_MS = 1000;

/** Emits `changed` (BadgeListFile) whenever a list with a new version is built. */
export class BadgeLists extends EventEmitter {
  private options: BadgeListsOptions;
  private list: BadgeListFile | null = null;
  /** Each school's list by site, in a trust deployment (empty for a single school: `list` is everyone's). */
  private bySite = new Map<string, BadgeListFile>();
  private builtRevision = -1;
  private checking: Promise<BadgeListFile | null> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Versions built by this hub, oldest first: when a station fell behind. */
  private versions: number[] = [];
  /** How many times the list was read from the database and encoded (tests count them). */
  builds = 0;
  /** A slow build (a list of tens of thousands) waits this long before the next: see checkOnce. */
  private nextBuildAt = 0;

  constructor(options: BadgeListsOptions) {
    super();
    this.options = options;
  }

  async start(): Promise<void> {
    await this.check();
    const every = this.options.checkEveryMs ?? DEFAULT_CHECK_MS;
    this.timer = setInterval(() => {
      this.check().catch((error) => this.options.log.warn(`badge list: ${(error as Error).message}`));
    }, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The list as last built (no database access): the one for a station of `site`, in a trust. */
  current(site?: string): BadgeListFile | null {
    return (site !== undefined ? this.bySite.get(site) : undefined) ?? this.list;
  }

  /** The first version this hub built after `version` (when a station holding `version` fell behind). */
  firstAfter(version: number): number | null {
    return this.versions.find((built) => built > version) ?? null;
  }

  /** Reads the change counter and rebuilds the list if it moved; one check at a time. */
  check(): Promise<BadgeListFile | null> {
    if (!this.checking) {
      this.checking = this.checkOnce().finally(() => {
        this.checking = null;
      });
    }
    return this.checking;
  }

  private async checkOnce(): Promise<BadgeListFile | null> {
    const { db, people } = this.options;
    const state = await db.get<StateRow>('SELECT revision, version, digest FROM badge_list_state WHERE id = 1');
    if (!state) throw new Error('badge_list_state is missing (database not migrated?)');
    const revision = Number(state.revision);
    if (revision === this.builtRevision && this.list) return this.list;
    // A large import moves the counter every batch: a list that took long to build is rebuilt at
    // most a tenth of the time, not every second (the change is picked up by a later check).
    if (this.list && Date.now() < this.nextBuildAt) return this.list;
    // Read before the build: a change committed while it runs moves the counter again.
    this.builds++;
    const buildStarted = Date.now();
    const home = this.options.home;
    const others = home === undefined ? [] : (await db.all<{ id: string }>('SELECT id FROM schools WHERE id <> ? ORDER BY id', [home])).map((row) => row.id);
    const files = new Map<string, Uint8Array>();
    if (others.length && home !== undefined) {
      files.set(home, await people.stationBadgeList(0, ['', home]));
      for (const site of others) files.set(site, await people.stationBadgeList(0, [site]));
    }
    const file = files.size ? files.get(home!)! : await people.stationBadgeList(0);
    const buildMs = Date.now() - buildStarted;
    this.nextBuildAt = buildMs > 200 ? Date.now() + 9 * buildMs : 0;
    const hash = crypto.createHash('sha256').update(file.subarray(8));
    for (const [site, other] of files) if (site !== home) hash.update(`\n${site}\n`).update(other.subarray(8));
    const digest = hash.digest('hex');
    const stored = Number(state.version);
    let version = stored;
    if (digest !== state.digest || stored === 0) {
      version = Math.max(Math.floor(Date.now() / 1000), stored + 1, (this.list?.version ?? 0) + 1);
      // Only over the row as read: another hub (cluster/) may have numbered the same list first.
      const written = await db.run('UPDATE badge_list_state SET version = ?, digest = ? WHERE id = 1 AND version = ? AND digest = ?', [version, digest, stored, state.digest]);
      if (written.changes === 0) {
        const now = await db.get<StateRow>('SELECT revision, version, digest FROM badge_list_state WHERE id = 1');
        // The same list under the other hub's number: take it. Another list: build again at the next check.
        if (now?.digest !== digest) return this.list;
        version = Number(now.version);
      }
    }
    this.builtRevision = revision;
    writeU32(file, 4, version);
    const changed = !this.list || this.list.version !== version;
    this.list = { version, file, badges: (file.length - 16) / 16 };
    this.bySite = new Map();
    for (const [site, schoolFile] of files) {
      writeU32(schoolFile, 4, version);
      this.bySite.set(site, site === home ? this.list : { version, file: schoolFile, badges: (schoolFile.length - 16) / 16 });
    }
    if (changed) {
      if (!this.versions.includes(version)) this.versions.push(version);
      if (this.versions.length > 50) this.versions.shift();
      this.options.log.info(`badge list ${version}: ${this.list.badges} badges, ${file.length} bytes`);
      this.emit('changed', this.list);
    }
    return this.list;
  }
}
