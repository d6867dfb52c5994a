// A board that lost its flash (swapped at lunch, or its Storage erased: either way it draws a new
// board identity) knows nothing of the phones, holds and loans in its lockers: it shows them all
// free. The hub gives it back what its records hold (RESTORE_LOCKERS), once per board:
//   - when the station's signed state report comes from a board other than the one whose events
//     the hub last recorded (a swap about to be recorded: the new board reports at its connect,
//     before its first event is in), or from the board a recorded swap brought
//     (stations.previous_board set: records/station-boards.ts), and shows free (or item-in) a locker
//     the records have in use. At once, before pupils tap: what the new board did since its boot
//     is safe anyway, as the station takes the records only for lockers it still shows free;
//   - the records: the lockers as the office sees them (CustodyRecords.lockers: phones in with
//     their pupil, held and safeguarding-held lockers, items out with their borrower, health-check
//     holds), the safeguarding pupil from the open hold (Holds.openAt);
//   - a failure (no reply, or refused for the moment) is retried after a jittered delay that doubles
//     up to 5 minutes, never because another report came, and only from a report with nothing
//     unconfirmed (a lost reply may hide a restore that was taken: a collection since then must be
//     in the records before they are sent again); firmware without the command refuses it
//     as unknown, which ends the attempts. Each attempt is logged and audited
//     (`station.lockers-restore`); the board is noted (stations.restored_board, migration 8) when
//     done or when nothing disagreed, so a hub restart does not send it again.
// The station takes it only for lockers it shows free (or item-in) and is not opening, so what it
// learnt since the swap is never overwritten (firmware/src/net/commands.ts).
import { LOCKER_STATE_NAMES } from '../../../protocol/lockers';
import type { SqlDatabase } from '../db/sql';
import type { Logger } from '../log';
import type { Records } from '../records';
import { boardName } from '../records/station-boards';
import { DEFAULT_RETRY, type RetryPolicy } from './badge-sync';
import type { StationLink, StationState } from './station-link';

/** States a fresh board cannot know, by the state such a board shows for that locker instead. */
const PHONE_STATES = ['phone-in', 'held', 'safeguarding-held'];
const ITEM_STATES = ['item-out', 'health-check-held'];

export interface LockerRestoreOptions {
  link: StationLink;
  db: SqlDatabase;
  records: Pick<Records, 'custody' | 'holds' | 'audit'>;
  log: Logger;
  retry?: RetryPolicy;
  random?: () => number;
}

interface Retry {
  board: number;
  failures: number;
  timer: NodeJS.Timeout | null;
}

/** What the hub's records say one station's lockers hold: a state code and an owner per locker. */
export interface RecordedLockers {
  states: Uint8Array;
  owners: number[];
  /** Lockers the station shows free (or item-in) that the records have in use. */
  disagree: number[];
}

export class LockerRestore {
  private options: LockerRestoreOptions;
  /** Per station, the board already dealt with (restored, nothing to restore, or not a new board). */
  private handled = new Map<string, number>();
  private busy = new Set<string>();
  private retries = new Map<string, Retry>();
  private stopped = false;

  constructor(options: LockerRestoreOptions) {
    this.options = options;
  }

  start(): void {
    const { link } = this.options;
    link.on('state', (state: StationState) => this.consider(state.stationId));
    link.on('status', ({ stationId, online }: { stationId: string; online: boolean }) => {
      if (online) this.consider(stationId);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const retry of this.retries.values()) if (retry.timer) clearTimeout(retry.timer);
  }

  /** Cheap for every report: only a board not yet dealt with (and online, and not waiting out a retry) reads the records. */
  /** Whether this hub restores boards (cluster/leadership.ts: of several hubs, the leader alone). */
  leading: () => boolean = () => true;

  /** This hub has just become the one that restores: every station it knows is looked at now. */
  reconsiderAll(): void {
    for (const stationId of this.options.link.states.keys()) this.consider(stationId);
  }

  private consider(stationId: string): void {
    if (this.stopped || this.busy.has(stationId) || !this.leading()) return;
    const state = this.options.link.states.get(stationId);
    if (!state || !state.online || !state.lockers || typeof state.boot !== 'number' || !state.board) return;
    if (this.handled.get(stationId) === state.board) return;
    const retry = this.retries.get(stationId);
    if (retry && retry.board === state.board && (retry.timer || state.journalBacklog !== 0)) return;
    this.busy.add(stationId);
    this.check(stationId, state)
      .catch((error) => this.options.log.warn(`locker restore for ${stationId}: ${(error as Error).message}`))
      .finally(() => this.busy.delete(stationId));
  }

  /** The lockers of one station as the office's records have them, against what the station reports. */
  async recorded(stationId: string, reported: string[]): Promise<RecordedLockers> {
    const { custody, holds } = this.options.records;
    const count = reported.length;
    const states = new Uint8Array(count);
    const owners = new Array<number>(count).fill(0);
    const disagree: number[] = [];
    for (const view of await custody.lockers()) {
      if (view.stationId !== stationId || view.locker >= count) continue;
      const code = LOCKER_STATE_NAMES.indexOf(view.state);
      states[view.locker] = code < 0 ? 0 : code;
      // The office's view names no pupil for a safeguarding hold (P5); the station needs her, so the DSL's tap finds the locker.
      const person = view.state === 'safeguarding-held' ? (await holds.openAt(stationId, view.locker))?.person_id : view.personId;
      owners[view.locker] = person == null ? 0 : Number(person);
      const shown = reported[view.locker];
      if ((PHONE_STATES.includes(view.state) && shown === 'free') || (ITEM_STATES.includes(view.state) && shown === 'item-present')) disagree.push(view.locker);
    }
    return { states, owners, disagree };
  }

  private async check(stationId: string, state: StationState): Promise<void> {
    const { db, link, log, records } = this.options;
    const board = state.board!;
    const row = await db.get<{ board: number | null; previous_board: number | null; restored_board: number | null }>('SELECT board, previous_board, restored_board FROM stations WHERE id = ?', [stationId]);
    if (!row) return;
    // Never heard (row.board null): no records to give. Another board than the one last heard: a
    // swap the next event records. This board, after a recorded swap: one restored by an older hub.
    const replacement = row.board !== null && (Number(row.board) !== board || row.previous_board !== null);
    if (!replacement || (row.restored_board !== null && Number(row.restored_board) === board)) {
      this.handled.set(stationId, board);
      return;
    }
    const recorded = await this.recorded(stationId, state.lockers!);
    if (recorded.disagree.length === 0) {
      await this.done(stationId, board);
      return;
    }
    const result = await link.restoreLockers(stationId, state.boot!, board, recorded.states, recorded.owners);
    if (this.stopped) return;
    const sent = recorded.disagree.map((locker) => {
      const name = LOCKER_STATE_NAMES[recorded.states[locker]];
      return { locker, state: name, person: name === 'safeguarding-held' ? null : recorded.owners[locker] || null };
    });
    await records.audit.append({
      actor: 'system',
      action: 'station.lockers-restore',
      subject: `station:${stationId}`,
      details: { station: stationId, board, boot: state.boot, lockers: sent, ok: result.ok, refusal: result.refusal, ...(result.lockers ? { stationLockers: result.lockers } : {}) },
    });
    const lockers = recorded.disagree.map((locker) => locker + 1).join(', ');
    if (result.ok) {
      log.info(`lockers ${lockers} of ${stationId} restored to the new board ${boardName(board)} from the records`);
      await this.done(stationId, board);
      return;
    }
    if (result.refusal === 'unknown-command') {
      log.warn(`${stationId} (board ${boardName(board)}) cannot take the records' locker states (firmware without RESTORE_LOCKERS): lockers ${lockers} show free there but are in use`);
      await this.done(stationId, board);
      return;
    }
    const retry = this.retries.get(stationId);
    const failures = retry && retry.board === board ? retry.failures + 1 : 1;
    const delay = this.retryDelay(failures);
    const timer = setTimeout(() => {
      const current = this.retries.get(stationId);
      if (current) current.timer = null;
      this.consider(stationId);
    }, delay);
    timer.unref();
    this.retries.set(stationId, { board, failures, timer });
    log.warn(`restoring lockers ${lockers} to ${stationId} (board ${boardName(board)}) failed (${result.refusal}); attempt ${failures}, next in ${Math.round(delay / 1000)} s`);
  }

  private async done(stationId: string, board: number): Promise<void> {
    await this.options.db.run('UPDATE stations SET restored_board = ? WHERE id = ?', [board, stationId]);
    this.handled.set(stationId, board);
    const retry = this.retries.get(stationId);
    if (retry?.timer) clearTimeout(retry.timer);
    this.retries.delete(stationId);
  }

  /** As the badge pushes: between half and all of a ceiling that doubles, capped. */
  private retryDelay(failures: number): number {
    const { firstMs, maxMs } = this.options.retry ?? DEFAULT_RETRY;
    const ceiling = Math.min(maxMs, firstMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(ceiling / 2 + (this.options.random ?? Math.random)() * (ceiling / 2));
  }
}
