// Keeps every online station's badge list current: a new list goes out as soon as it is built, a
// station that comes online or reports an older version gets the current one, one push at a time
// per station. A failed push (refused, or no reply from a station gone offline) is retried after an
// exponentially growing, jittered, capped delay — never on the next state report — and a new list
// starts the delays again. State reports read only what is cached here.
import type { Logger } from '../log';
import type { BadgeListFile, BadgeLists } from './badge-lists';
import type { StationLink, StationState } from './station-link';

export interface RetryPolicy {
  /** Delay before the first retry (ms); each further failure doubles it. */
  firstMs: number;
  /** Longest delay (ms). */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { firstMs: 5_000, maxMs: 5 * 60_000 };

export interface BadgeSyncOptions {
  link: StationLink;
  lists: BadgeLists;
  log: Logger;
  retry?: RetryPolicy;
  /** 0 <= x < 1; Math.random unless a test fixes it. */
  random?: () => number;
  /**
   * The ingest: while it has frames waiting to be stored (overload), pushes wait for its `idle`
   * (acknowledging stored events comes first; a push is 1 KiB chunks each answered).
   */
  overload?: { readonly busy: boolean; once(event: 'idle', listener: () => void): unknown };
}

/** What the Stations page shows for one station's badge list. */
export interface BadgeListStatus {
  /** The version the hub wants every station to hold; null before the first build. */
  hubVersion: number | null;
  /** The version the station last reported (or confirmed), if any. */
  stationVersion: number | null;
  state: 'current' | 'updating' | 'behind' | 'unknown';
  /** 0-100 while updating. */
  percent: number | null;
  /** When the hub built the first list this station lacks (ISO time). */
  behindSince: string | null;
  /** When the next attempt is due, after a failure (ISO time). */
  retryAt: string | null;
  lastError: string | null;
}

interface StationSync {
  online: boolean;
  reported: number | null;
  pushing: number | null;
  sent: number;
  total: number;
  failures: number;
  retryAt: number | null;
  timer: NodeJS.Timeout | null;
  lastError: string | null;
  /** The list version the failures were counted against: a newer list starts again. */
  failedVersion: number | null;
}

export class BadgeSync {
  private options: BadgeSyncOptions;
  private stations = new Map<string, StationSync>();
  private stopped = false;
  /** Stations whose push waits for the ingest to catch up (options.overload). */
  private waitingForIdle = new Set<string>();

  constructor(options: BadgeSyncOptions) {
    this.options = options;
  }

  start(): void {
    const { link, lists } = this.options;
    link.on('state', (state: StationState) => {
      const sync = this.sync(state.stationId);
      sync.online = state.online;
      if (typeof state.badgeListVersion === 'number' && (sync.pushing === null || state.badgeListVersion > (sync.reported ?? 0))) sync.reported = state.badgeListVersion;
      this.consider(state.stationId);
    });
    link.on('status', ({ stationId, online }: { stationId: string; online: boolean }) => {
      this.sync(stationId).online = online;
      if (online) this.consider(stationId);
    });
    link.on('badge-progress', ({ stationId, sent, total }: { stationId: string; sent: number; total: number }) => {
      const sync = this.sync(stationId);
      sync.sent = sent;
      sync.total = total;
    });
    lists.on('changed', () => {
      for (const stationId of this.stations.keys()) this.consider(stationId);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const sync of this.stations.values()) if (sync.timer) clearTimeout(sync.timer);
  }

  status(stationId: string): BadgeListStatus {
    const list = this.listFor(stationId);
    const sync = this.stations.get(stationId);
    const stationVersion = sync?.reported ?? this.options.link.states.get(stationId)?.badgeListVersion ?? null;
    const base = { hubVersion: list?.version ?? null, stationVersion, percent: null, behindSince: null, retryAt: null, lastError: sync?.lastError ?? null };
    if (!list || stationVersion === null) return { ...base, state: 'unknown' };
    if (stationVersion >= list.version) return { ...base, state: 'current', lastError: null };
    const since = this.options.lists.firstAfter(stationVersion) ?? list.version;
    const behind = { ...base, behindSince: new Date(since * 1000).toISOString() };
    if (sync?.pushing !== null && sync?.pushing !== undefined) {
      return { ...behind, state: 'updating', percent: sync.total ? Math.floor((100 * sync.sent) / sync.total) : 0 };
    }
    return { ...behind, state: 'behind', retryAt: sync?.retryAt ? new Date(sync.retryAt).toISOString() : null };
  }

  /** The list for a station: its school's, in a trust deployment (issue 16). */
  private listFor(stationId: string) {
    return this.options.lists.current(this.options.link.siteOfStation?.(stationId));
  }

  private sync(stationId: string): StationSync {
    let sync = this.stations.get(stationId);
    if (!sync) {
      sync = { online: false, reported: null, pushing: null, sent: 0, total: 0, failures: 0, retryAt: null, timer: null, lastError: null, failedVersion: null };
      this.stations.set(stationId, sync);
    }
    return sync;
  }

  /** Starts a push if this station is online, behind, not already receiving one, and not waiting out a retry delay. */
  /** Whether this hub pushes to the stations (cluster/leadership.ts: of several hubs, the leader alone). */
  leading: () => boolean = () => true;

  /** This hub has just become the one that pushes: every station it knows is looked at now. */
  reconsiderAll(): void {
    for (const stationId of this.stations.keys()) this.consider(stationId);
  }

  private consider(stationId: string): void {
    if (this.stopped || !this.leading()) return;
    const overload = this.options.overload;
    if (overload?.busy) {
      this.waitingForIdle.add(stationId);
      if (this.waitingForIdle.size === 1) {
        overload.once('idle', () => {
          const waiting = [...this.waitingForIdle];
          this.waitingForIdle.clear();
          for (const id of waiting) this.consider(id);
        });
      }
      return;
    }
    const sync = this.sync(stationId);
    const list = this.listFor(stationId);
    if (!list || sync.pushing !== null || !sync.online || sync.reported === null) return;
    if (sync.reported >= list.version) {
      this.settle(sync);
      return;
    }
    if (sync.failedVersion !== null && sync.failedVersion !== list.version) {
      // A newer list than the one that failed: try it now.
      this.settle(sync);
    }
    if (sync.retryAt !== null && Date.now() < sync.retryAt) return;
    // Watched: a push that throws past its own handling (a logger or a timer failing) is logged;
    // unwatched, its rejection would stop the hub.
    this.push(stationId, sync, list).catch((error) => this.options.log.warn(`badge list ${list.version} to ${stationId}: ${(error as Error).message}`));
  }

  private settle(sync: StationSync): void {
    if (sync.timer) clearTimeout(sync.timer);
    sync.timer = null;
    sync.retryAt = null;
    sync.failures = 0;
    sync.failedVersion = null;
    sync.lastError = null;
  }

  private async push(stationId: string, sync: StationSync, list: BadgeListFile): Promise<void> {
    const { link, log } = this.options;
    if (sync.timer) clearTimeout(sync.timer);
    sync.timer = null;
    sync.retryAt = null;
    sync.pushing = list.version;
    sync.sent = 0;
    sync.total = list.file.length;
    let ok = false;
    let reason = '';
    try {
      const result = await link.pushBadgeList(stationId, list.version, list.file);
      ok = result.ok;
      reason = result.refusal ?? '';
      if (ok) sync.reported = Math.max(sync.reported ?? 0, result.version ?? list.version);
    } catch (error) {
      reason = (error as Error).message;
    } finally {
      sync.pushing = null;
    }
    if (this.stopped) return;
    if (ok) {
      log.info(`badge list ${list.version} (${list.badges} badges, ${list.file.length} bytes) sent to ${stationId}`);
      this.settle(sync);
      this.consider(stationId); // a newer list may have been built meanwhile
      return;
    }
    sync.failures = sync.failedVersion === list.version ? sync.failures + 1 : 1;
    sync.failedVersion = list.version;
    sync.lastError = reason;
    const delay = this.retryDelay(sync.failures);
    sync.retryAt = Date.now() + delay;
    sync.timer = setTimeout(() => {
      sync.timer = null;
      this.consider(stationId);
    }, delay);
    sync.timer.unref();
    log.warn(`badge list ${list.version} to ${stationId} failed (${reason}); attempt ${sync.failures}, next in ${Math.round(delay / 1000)} s`);
  }

  /** Exponential, capped, with "equal jitter": between half and all of the doubled delay. */
  private retryDelay(failures: number): number {
    const { firstMs, maxMs } = this.options.retry ?? DEFAULT_RETRY;
    const ceiling = Math.min(maxMs, firstMs * 2 ** Math.min(failures - 1, 30));
    const random = this.options.random ?? Math.random;
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
  }
}
