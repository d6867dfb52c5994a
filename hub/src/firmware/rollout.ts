// Carries out the firmware targets (records.ts) from the hub (issue 19): to each online station
// with a target waiting, the bundle (a few stations at a time), resuming where a cut transfer
// stopped; after the station's restart, its state report decides: the new version running, so it
// is confirmed (the station's boot step keeps it), or the old one back, so it went back by itself.
// Each step is in the audit trail; progress goes to the records for the Stations page and the CLI.
import type { Logger } from '../log';
import type { StationLink, StationState } from '../stations/station-link';
import { readBundle, type FirmwareBundle } from './bundle';
import { COMMAND } from '../../../protocol/wire';
import type { AbortRow, FirmwareRecords, TargetRow } from './records';
import { firmwareReason } from './reasons';

export interface RolloutOptions {
  link: StationLink;
  records: FirmwareRecords;
  log: Logger;
  /** How often the targets are looked at (ms). */
  pollMs?: number;
  /** Transfers at once. */
  parallel?: number;
  /** Seconds a new bundle has to come online and be confirmed before the station goes back by itself. */
  confirmSec?: number;
}

/** A refusal that waits for the next attempt (the transfer resumes); any other ends the target as refused. */
// update-pending: the station is trying a version the hub did not confirm (its target was replaced as
// the last chunk went); it goes back by itself after its window, and the new version goes then.
const TRANSIENT = /^(no reply|not sent|paused|hub stopping|station link is not started|transfer|update-pending)/;

export class FirmwareRollout {
  /** Public so a test can shorten the confirmation window of a hub it runs. */
  readonly options: RolloutOptions;
  private timer: NodeJS.Timeout | null = null;
  /** Transfers under way: station -> the bundle being sent. */
  private active = new Map<string, number>();
  /** Transfers whose target was withdrawn or replaced while under way: they stop at the next chunk. */
  private cancelled = new Set<string>();
  private bundles = new Map<number, FirmwareBundle>();
  private ticking = false;
  private paused = false;
  private stopped = false;
  private lastProgress = new Map<string, number>();
  /** With several hubs only the leader sends firmware (set by the hub), so a station gets one transfer. */
  leading: () => boolean = () => true;

  constructor(options: RolloutOptions) {
    this.options = options;
  }

  start(): void {
    const { link, records } = this.options;
    link.on('firmware-progress', ({ stationId, sent, total }: { stationId: string; sent: number; total: number }) => {
      // Every 8 KiB and at the end: enough for a progress bar, few writes.
      if (sent < total && sent - (this.lastProgress.get(stationId) ?? -Infinity) < 8192) return;
      const bundleId = this.active.get(stationId);
      if (bundleId === undefined) return;
      this.lastProgress.set(stationId, sent);
      // A target withdrawn or replaced (by a command in another process) stops its transfer here, within 8 KiB.
      records
        .progress(stationId, bundleId, sent, total)
        .then((current) => {
          if (!current && this.active.get(stationId) === bundleId) this.cancelled.add(stationId);
        })
        .catch((error) => this.options.log.warn(`firmware progress ${stationId}: ${(error as Error).message}`));
    });
    this.timer = setInterval(() => this.tick(), this.options.pollMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  private tick(): void {
    if (this.ticking || this.stopped || !this.leading()) return;
    this.ticking = true;
    this.look()
      .catch((error) => this.options.log.warn(`firmware rollout: ${(error as Error).message}`))
      .finally(() => (this.ticking = false));
  }

  private async look(): Promise<void> {
    const { records, link } = this.options;
    this.paused = await records.paused();
    const targets = await records.targets();
    for (const [stationId, bundleId] of this.active) {
      const target = targets.find((row) => row.station_id === stationId);
      if (!target || target.bundle_id !== bundleId || (target.state !== 'waiting' && target.state !== 'sending')) this.cancelled.add(stationId);
    }
    // A withdrawn or replaced transfer: the station erases what it holds (even while paused) before anything new is sent.
    const aborting = new Set<string>();
    for (const abort of await records.aborts()) {
      aborting.add(abort.station_id);
      if (link.states.get(abort.station_id)?.online && !this.active.has(abort.station_id)) await this.abort(abort);
    }
    for (const target of targets) {
      if (aborting.has(target.station_id)) continue;
      const state = link.states.get(target.station_id);
      if (!state?.online) continue;
      if (target.state === 'switched') await this.afterSwitch(target, state);
      else if ((target.state === 'waiting' || target.state === 'sending') && !this.paused && !this.active.has(target.station_id) && this.active.size < (this.options.parallel ?? 3)) {
        this.active.set(target.station_id, target.bundle_id);
        this.send(target, state)
          .catch((error) => this.options.log.warn(`firmware ${target.version} to ${target.station_id}: ${(error as Error).message}`))
          .finally(() => {
            this.active.delete(target.station_id);
            this.cancelled.delete(target.station_id);
          });
      }
    }
  }

  private async bundle(id: number): Promise<FirmwareBundle> {
    let bundle = this.bundles.get(id);
    if (!bundle) {
      const read = readBundle(await this.options.records.bundleBytes(id));
      if (!read.ok) throw new Error(read.error);
      bundle = read.bundle;
      this.bundles.set(id, bundle);
    }
    return bundle;
  }

  private async send(target: TargetRow, state: StationState): Promise<void> {
    const { link, records, log } = this.options;
    const bundle = await this.bundle(target.bundle_id);
    if (state.firmware === bundle.versionText && !target.rollback) {
      await records.step(target.station_id, target.bundle_id, 'done', { version: target.version });
      return;
    }
    // Progress is noted every 8 KiB from where this transfer starts (not from where the last one ended).
    this.lastProgress.delete(target.station_id);
    const result = await link.pushFirmware(target.station_id, bundle, {
      rollback: target.rollback,
      confirmSec: this.options.confirmSec,
      shouldStop: () => this.paused || this.stopped || this.cancelled.has(target.station_id),
    });
    if (this.cancelled.has(target.station_id) && !result.ok) {
      log.info(`firmware ${bundle.versionText} to ${target.station_id} withdrawn mid-transfer: the station is told to erase the part it holds`);
    } else if (result.ok) {
      log.info(`firmware ${bundle.versionText} sent to ${target.station_id}: it restarts into it`);
      if (!(await records.step(target.station_id, target.bundle_id, 'switched', { version: target.version, boot: state.boot ?? 0 }))) {
        log.warn(`firmware ${bundle.versionText} reached ${target.station_id} as another version was chosen for it: it restarts into ${bundle.versionText}, goes back by itself unconfirmed, and then takes the new choice`);
      }
    } else if (TRANSIENT.test(result.refusal ?? '')) {
      log.info(`firmware ${bundle.versionText} to ${target.station_id} stopped (${result.refusal}): it goes on from where it got to`);
      await records.interrupted(target.station_id, firmwareReason(result.refusal));
    } else {
      log.warn(`firmware ${bundle.versionText} refused by ${target.station_id}: ${result.refusal}`);
      await records.step(target.station_id, target.bundle_id, 'refused', { version: target.version, error: firmwareReason(result.refusal) });
    }
  }

  /** Tells a station to erase the part-sent bundle of a withdrawn or replaced update; tried again each look until it answers. */
  private async abort(abort: AbortRow): Promise<void> {
    const { link, records, log } = this.options;
    const answered = await link.command(abort.station_id, COMMAND.FIRMWARE_ABORT, {});
    if (answered.ok) {
      log.info(`firmware ${abort.version} ${abort.reason}: ${abort.station_id} erased the part it held`);
      await records.aborted(abort);
    } else {
      log.warn(`firmware ${abort.version} ${abort.reason}: ${abort.station_id} did not erase the part it held (${answered.refusal}); tried again`);
    }
  }

  /** After the restart: the new version running is confirmed; the old one back means the station went back by itself. */
  private async afterSwitch(target: TargetRow, state: StationState): Promise<void> {
    const { link, records } = this.options;
    if (state.boot === undefined || state.firmware === undefined || state.boot <= (target.switched_boot ?? 0)) return;
    if (state.firmware === target.version) {
      const confirmed = await link.confirmFirmware(target.station_id, (await this.bundle(target.bundle_id)).version);
      if (confirmed.ok) await records.step(target.station_id, target.bundle_id, 'done', { version: target.version });
    } else {
      await records.step(target.station_id, target.bundle_id, 'rolled-back', { version: target.version, error: `the station went back to ${state.firmware} by itself: the new firmware did not come online and confirm in time` });
    }
  }
}
