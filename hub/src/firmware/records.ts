// The hub's records of network firmware updates (issue 19): the bundles uploaded, what each station
// is to run and how far it got, and the pause switch. Every change is recorded in the audit trail;
// uploading and rolling out need the 'firmware.manage' right (rules/permissions.ts). The hub's
// rollout (rollout.ts) carries the targets out and writes their progress here.
import type { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import { actorLabel, requirePermission, RuleError } from '../records/access';
import type { Actor } from '../records/actor';
import { readBundle } from './bundle';

export interface BundleRow {
  id: number;
  version: string;
  version_number: number;
  hash: string;
  size: number;
  uploaded_by: string;
  uploaded_at: string;
}

export type TargetState = 'waiting' | 'sending' | 'switched' | 'done' | 'rolled-back' | 'refused';

export interface TargetRow {
  station_id: string;
  bundle_id: number;
  version: string;
  rollback: boolean;
  state: TargetState;
  sent: number;
  total: number;
  switched_boot: number | null;
  last_error: string | null;
  updated_at: string;
}

/** A target whose transfer has not finished: withdrawing it (or replacing it) aborts the part sent. */
const UNFINISHED: TargetState[] = ['waiting', 'sending'];

function notWithdrawn(target: TargetRow): string {
  switch (target.state) {
    case 'switched':
      return `it has all of ${target.version} and is restarting into it; to go back, roll out the older version with rollback`;
    case 'done':
      return `it runs ${target.version} already; to go back, roll out the older version with rollback`;
    default:
      return `its update to ${target.version} has ended (${target.state}); there is nothing to withdraw`;
  }
}

export interface AbortRow {
  station_id: string;
  /** The version whose part-sent bundle the station is to erase. */
  version: string;
  /** 'withdrawn' or 'replaced by <version>'. */
  reason: string;
  requested_at: string;
}

export type Stage = 'one' | 'room' | 'all';
/** Stations in a stage "room" when no count is given. */
export const ROOM_STATIONS = 4;

export class FirmwareRecords {
  private db: SqlDatabase;
  private audit: AuditTrail;

  constructor(db: SqlDatabase, audit: AuditTrail) {
    this.db = db;
    this.audit = audit;
  }

  /** Stores a bundle (its version from its first line); refused if it is not one, or its version is stored already. */
  async upload(bytes: Uint8Array, actor: Actor): Promise<BundleRow> {
    requirePermission(actor, 'firmware.manage');
    const read = readBundle(bytes);
    if (!read.ok) throw new RuleError('firmware.manage', read.error);
    const { bundle } = read;
    if (await this.db.get('SELECT id FROM firmware_bundles WHERE version = ?', [bundle.versionText])) throw new RuleError('firmware.manage', `version ${bundle.versionText} was uploaded already`);
    const hash = Buffer.from(bundle.hash).toString('hex');
    await this.db.transaction(async (tx) => {
      const id = await tx.insert('INSERT INTO firmware_bundles (version, version_number, hash, size, bytes, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        bundle.versionText,
        bundle.version,
        hash,
        bytes.length,
        Buffer.from(bytes),
        actorLabel(actor),
        new Date().toISOString(),
      ]);
      await this.audit.append({ actor: actorLabel(actor), action: 'firmware.uploaded', subject: `firmware:${id}`, details: { version: bundle.versionText, size: bytes.length, hash } }, tx);
    });
    return (await this.bundleByVersion(bundle.versionText))!;
  }

  async bundles(): Promise<BundleRow[]> {
    const rows = await this.db.all<BundleRow>('SELECT id, version, version_number, hash, size, uploaded_by, uploaded_at FROM firmware_bundles ORDER BY version_number DESC');
    return rows.map((row) => ({ ...row, id: Number(row.id), version_number: Number(row.version_number), size: Number(row.size) }));
  }

  async bundleByVersion(version: string): Promise<BundleRow | undefined> {
    return (await this.bundles()).find((row) => row.version === version);
  }

  async bundleBytes(id: number): Promise<Uint8Array> {
    const row = await this.db.get<{ bytes: Uint8Array }>('SELECT bytes FROM firmware_bundles WHERE id = ?', [id]);
    if (!row) throw new Error(`no firmware bundle ${id}`);
    return new Uint8Array(row.bytes);
  }

  async targets(): Promise<TargetRow[]> {
    const rows = await this.db.all<TargetRow & { rollback: number | boolean }>(
      'SELECT t.*, b.version FROM firmware_targets t JOIN firmware_bundles b ON b.id = t.bundle_id ORDER BY t.station_id',
    );
    return rows.map((row) => ({
      ...row,
      bundle_id: Number(row.bundle_id),
      rollback: Boolean(Number(row.rollback)),
      sent: Number(row.sent),
      total: Number(row.total),
      switched_boot: row.switched_boot === null ? null : Number(row.switched_boot),
    }));
  }

  async paused(): Promise<boolean> {
    const row = await this.db.get<{ paused: number }>('SELECT paused FROM firmware_rollout WHERE id = 1');
    return Boolean(Number(row?.paused ?? 0));
  }

  /**
   * Sends `version` to the stations named, or to a stage: one station, a room's worth (`count`,
   * ROOM_STATIONS by default) or all, each time the next stations (by id) not already given it.
   * An older version than a station last ran needs `rollback` (the station refuses it otherwise).
   * Returns the stations added.
   */
  async rollout(version: string, choice: { stations?: string[]; stage?: Stage; count?: number; within?: (stationId: string) => boolean }, rollback: boolean, actor: Actor): Promise<string[]> {
    requirePermission(actor, 'firmware.manage');
    const bundle = await this.bundleByVersion(version);
    if (!bundle) throw new RuleError('firmware.manage', `no uploaded firmware ${version} (upload it first: handover firmware upload <file>)`);
    const known = (await this.db.all<{ id: string }>('SELECT id FROM stations ORDER BY id')).map((row) => row.id).filter((id) => choice.within?.(id) ?? true);
    const targets = await this.targets();
    // A station restarting into an update waits for the hub's confirmation: replacing its target
    // would drop that, and the station would go back by itself (and refuse the new one as pending).
    const switching = targets.filter((target) => target.state === 'switched');
    let chosen: string[];
    if (choice.stations && choice.stations.length > 0) {
      const unknown = choice.stations.filter((id) => !known.includes(id));
      if (unknown.length > 0) throw new RuleError('firmware.manage', `no station ${unknown.join(', ')}`);
      const busy = switching.filter((target) => choice.stations!.includes(target.station_id));
      if (busy.length > 0) throw new RuleError('firmware.manage', busy.map((target) => `${target.station_id} is restarting into ${target.version}; roll out to it once it runs it`).join('; '));
      chosen = choice.stations;
    } else {
      const already = new Set([...targets.filter((target) => target.bundle_id === bundle.id), ...switching].map((target) => target.station_id));
      const open = known.filter((id) => !already.has(id));
      const stage = choice.stage ?? 'one';
      chosen = stage === 'all' ? open : open.slice(0, stage === 'one' ? 1 : Math.max(1, choice.count ?? ROOM_STATIONS));
    }
    if (chosen.length === 0) throw new RuleError('firmware.manage', `every station has firmware ${version} already, or is being sent it`);
    const now = new Date().toISOString();
    await this.db.transaction(async (tx) => {
      for (const stationId of chosen) {
        // Another version part-sent to it: the station is told to drop it before the new one goes.
        const replaced = targets.find((target) => target.station_id === stationId && target.bundle_id !== bundle.id && UNFINISHED.includes(target.state));
        if (replaced) await this.requestAbort(tx, stationId, replaced.version, `replaced by ${version}`);
        await tx.run('DELETE FROM firmware_targets WHERE station_id = ?', [stationId]);
        await tx.run("INSERT INTO firmware_targets (station_id, bundle_id, rollback, state, sent, total, updated_at) VALUES (?, ?, ?, 'waiting', 0, ?, ?)", [stationId, bundle.id, rollback ? 1 : 0, bundle.size, now]);
      }
      await this.audit.append({ actor: actorLabel(actor), action: 'firmware.rollout', subject: `firmware:${bundle.id}`, details: { version, stations: chosen, rollback, stage: choice.stations?.length ? 'chosen' : (choice.stage ?? 'one') } }, tx);
    });
    return chosen;
  }

  /**
   * Withdraws the update of the stations named (or of every station `within` the account's reach):
   * a transfer waiting or under way stops, and the station is told to erase the part it holds
   * (FIRMWARE_ABORT, sent by the running hub when the station is next online). A station already
   * switching to the new firmware keeps it: the way back is a rollout of the older version with
   * rollback. Returns the stations withdrawn and, for those named or skipped, why not.
   */
  async withdraw(choice: { stations?: string[]; all?: boolean; within?: (stationId: string) => boolean }, actor: Actor): Promise<{ withdrawn: string[]; kept: Array<{ station: string; why: string }> }> {
    requirePermission(actor, 'firmware.manage');
    const targets = (await this.targets()).filter((target) => choice.within?.(target.station_id) ?? true);
    const kept: Array<{ station: string; why: string }> = [];
    let chosen: TargetRow[];
    if (choice.all) {
      chosen = targets.filter((target) => UNFINISHED.includes(target.state));
      for (const target of targets) if (target.state === 'switched') kept.push({ station: target.station_id, why: notWithdrawn(target) });
    } else {
      const named = choice.stations ?? [];
      if (named.length === 0) throw new RuleError('firmware.manage', 'name the stations to withdraw the update from, or all of them');
      const known = (await this.db.all<{ id: string }>('SELECT id FROM stations')).map((row) => row.id).filter((id) => choice.within?.(id) ?? true);
      const unknown = named.filter((id) => !known.includes(id));
      if (unknown.length > 0) throw new RuleError('firmware.manage', `no station ${unknown.join(', ')}`);
      chosen = [];
      for (const id of named) {
        const target = targets.find((row) => row.station_id === id);
        if (target && UNFINISHED.includes(target.state)) chosen.push(target);
        else kept.push({ station: id, why: target ? notWithdrawn(target) : 'it has no firmware update to withdraw' });
      }
    }
    if (chosen.length === 0) throw new RuleError('firmware.manage', kept.length > 0 ? kept.map((row) => `${row.station}: ${row.why}`).join('; ') : 'no station is waiting for or being sent firmware');
    await this.db.transaction(async (tx) => {
      for (const target of chosen) {
        await this.requestAbort(tx, target.station_id, target.version, 'withdrawn');
        await tx.run('DELETE FROM firmware_targets WHERE station_id = ?', [target.station_id]);
      }
      await this.audit.append(
        { actor: actorLabel(actor), action: 'firmware.withdrawn', subject: 'firmware:rollout', details: { stations: chosen.map((target) => ({ station: target.station_id, version: target.version, sent: target.sent })) } },
        tx,
      );
    });
    return { withdrawn: chosen.map((target) => target.station_id), kept };
  }

  /** Stations to be told to erase a part-sent bundle (withdrawn or replaced), oldest first. */
  async aborts(): Promise<AbortRow[]> {
    return this.db.all<AbortRow>('SELECT station_id, version, reason, requested_at FROM firmware_aborts ORDER BY requested_at, station_id');
  }

  /** The station erased the part it held: recorded in the audit trail (the hub acts: actor system). */
  async aborted(abort: AbortRow): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM firmware_aborts WHERE station_id = ? AND requested_at = ?', [abort.station_id, abort.requested_at]);
      await this.audit.append({ actor: 'system', action: 'firmware.aborted', subject: `station:${abort.station_id}`, details: { station: abort.station_id, version: abort.version, reason: abort.reason } }, tx);
    });
  }

  private async requestAbort(tx: SqlDatabase, stationId: string, version: string, reason: string): Promise<void> {
    await tx.run('DELETE FROM firmware_aborts WHERE station_id = ?', [stationId]);
    await tx.run('INSERT INTO firmware_aborts (station_id, version, reason, requested_at) VALUES (?, ?, ?, ?)', [stationId, version, reason, new Date().toISOString()]);
  }

  /** Paused: no transfer starts or goes on (a stopped one resumes where it got to). */
  async setPaused(paused: boolean, actor: Actor): Promise<void> {
    requirePermission(actor, 'firmware.manage');
    await this.db.transaction(async (tx) => {
      await tx.run('UPDATE firmware_rollout SET paused = ? WHERE id = 1', [paused ? 1 : 0]);
      await this.audit.append({ actor: actorLabel(actor), action: paused ? 'firmware.paused' : 'firmware.resumed', subject: 'firmware:rollout', details: {} }, tx);
    });
  }

  /** Progress of a transfer (not audited: many a minute); false when its target was withdrawn or replaced meanwhile. */
  async progress(stationId: string, bundleId: number, sent: number, total: number): Promise<boolean> {
    const { changes } = await this.db.run("UPDATE firmware_targets SET sent = ?, total = ?, state = 'sending', updated_at = ? WHERE station_id = ? AND bundle_id = ? AND state IN ('waiting', 'sending')", [
      sent,
      total,
      new Date().toISOString(),
      stationId,
      bundleId,
    ]);
    return changes > 0;
  }

  /**
   * A step of a station's update of one bundle, recorded in the audit trail (the hub acts: actor
   * system). The station's target changes only while it is still that bundle's: a target replaced
   * meanwhile (another version chosen as the last chunk went) keeps its own state. False then.
   */
  async step(stationId: string, bundleId: number, state: TargetState, details: { error?: string | null; boot?: number; version: string }): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { changes } = await tx.run('UPDATE firmware_targets SET state = ?, last_error = ?, switched_boot = COALESCE(?, switched_boot), updated_at = ? WHERE station_id = ? AND bundle_id = ?', [
        state,
        details.error ?? null,
        details.boot ?? null,
        new Date().toISOString(),
        stationId,
        bundleId,
      ]);
      await this.audit.append({ actor: 'system', action: `firmware.${state}`, subject: `station:${stationId}`, details: { station: stationId, version: details.version, ...(details.error ? { error: details.error } : {}) } }, tx);
      return changes > 0;
    });
  }

  /** A transfer that stopped (connection lost, paused) waits to go on; noted, not audited. */
  async interrupted(stationId: string, error: string): Promise<void> {
    await this.db.run("UPDATE firmware_targets SET state = 'waiting', last_error = ?, updated_at = ? WHERE station_id = ? AND state IN ('waiting', 'sending')", [error, new Date().toISOString(), stationId]);
  }
}
