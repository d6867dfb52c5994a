// Holds on lockers (P4, P5, P10): confiscations, safeguarding holds and laptops held for a health
// check, with who placed and who released each. The station enforces the two-person release and
// the DSL-only safeguarding release; the hub records both names, checks the event carries them,
// and raises an alert when it does not. Safeguarding details are readable by DSL and headteacher
// only (`safeguardingDetails`), and every such read is in the audit trail.
import type { SqlDatabase } from '../db/sql';
import type { AuditTrail } from '../audit/trail';
import { actorLabel, maySeeSafeguarding, NotFoundError, requirePermission, RuleError, type Actor } from './access';
import type { Role } from './people';
import type { RaiseAlert } from './alerts';
import type { Scope } from './schools';

export type HoldKind = 'confiscation' | 'safeguarding' | 'health-check';

export interface HoldRow {
  id: number;
  kind: HoldKind;
  person_id: number | null;
  asset_id: number | null;
  station_id: string;
  locker: number;
  placed_at: string;
  placed_by: number | null;
  details: string | null;
  released_at: string | null;
  released_by: number | null;
  witness_id: number | null;
  receipt: string | null;
}

/** A hold as anyone may see it: a safeguarding hold's pupil and details are left out unless the reader may see them. */
export interface HoldView {
  id: number;
  kind: HoldKind;
  stationId: string;
  locker: number;
  personId: number | null;
  personName: string | null;
  placedAt: string;
  placedBy: string | null;
  releasedAt: string | null;
  releasedBy: string | null;
  witness: string | null;
  restricted: boolean;
}

export interface StationHoldSet {
  stationId: string;
  locker: number;
  personId: number | null;
  actorId: number | null;
  boot: number;
  seq: number;
  at: string;
}

export interface StationHoldRelease extends StationHoldSet {
  witnessId: number | null;
  remote: boolean;
}

const SENIOR: Role[] = ['headteacher', 'deputy'];

export class Holds {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
  ) {}

  private async roleOf(personId: number | null, tx: SqlDatabase): Promise<Role | null> {
    if (personId === null) return null;
    return (await tx.get<{ role: Role }>('SELECT role FROM people WHERE id = ?', [personId]))?.role ?? null;
  }

  async openAt(stationId: string, locker: number, tx: SqlDatabase = this.db): Promise<HoldRow | undefined> {
    return tx.get<HoldRow>('SELECT * FROM holds WHERE station_id = ? AND locker = ? AND released_at IS NULL ORDER BY id DESC LIMIT 1', [stationId, locker]);
  }

  /** A HOLD_SET from a station: a DSL's hold is a safeguarding hold (P5), anyone else's a confiscation (P4). */
  async fromStationSet(event: StationHoldSet, tx: SqlDatabase, alert: RaiseAlert): Promise<number> {
    const actorRole = await this.roleOf(event.actorId, tx);
    const kind: HoldKind = actorRole === 'dsl' ? 'safeguarding' : 'confiscation';
    const open = await this.openAt(event.stationId, event.locker, tx);
    if (open && open.kind !== 'health-check') {
      // Already held (an office hold the station confirms, or a confiscation a DSL takes over).
      if (kind === 'safeguarding' && open.kind !== 'safeguarding') await tx.run("UPDATE holds SET kind = 'safeguarding' WHERE id = ?", [open.id]);
      return Number(open.id);
    }
    if (actorRole === null || actorRole === 'pupil') await alert('hold-without-staff', 'headteacher', `locker:${event.stationId}/${event.locker}`, 'a hold was set without a member of staff named');
    const id = await tx.insert(
      `INSERT INTO holds (kind, person_id, station_id, locker, placed_at, placed_by, set_boot, set_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [kind, event.personId, event.stationId, event.locker, event.at, event.actorId, event.boot, event.seq],
    );
    await this.audit.append({ actor: event.actorId ? `person:${event.actorId}` : `station:${event.stationId}`, action: `hold.placed`, subject: `hold:${id}`, personId: event.personId, at: event.at, details: { hold: id, kind, station: event.stationId, locker: event.locker } }, tx);
    return id;
  }

  /** A HOLD_RELEASED from a station (not a health check): records both names; a safeguarding release writes the DSL's receipt (P5). */
  async fromStationRelease(event: StationHoldRelease, tx: SqlDatabase, alert: RaiseAlert): Promise<HoldRow | undefined> {
    const hold = await this.openAt(event.stationId, event.locker, tx);
    if (!hold || hold.kind === 'health-check') return undefined;
    const actorRole = await this.roleOf(event.actorId, tx);
    const witnessRole = await this.roleOf(event.witnessId, tx);
    let receipt: string | null = null;
    if (hold.kind === 'safeguarding') {
      if (actorRole !== 'dsl') await alert('safeguarding-release-not-dsl', 'dsl', `hold:${hold.id}`, `safeguarding hold ${hold.id} was released by someone who is not the DSL`);
      // The receipt names who actually opened it, and in what role (P5).
      receipt =
        actorRole === 'dsl'
          ? `received by the designated safeguarding lead, person #${event.actorId}, at ${event.at}`
          : `released by ${event.actorId === null ? 'no member of staff named' : `person #${event.actorId} (${actorRole ?? 'unknown role'})`}, not the designated safeguarding lead, at ${event.at}`;
    } else if (!event.remote && (event.witnessId === null || (!SENIOR.includes(actorRole as Role) && !SENIOR.includes(witnessRole as Role)))) {
      await alert('release-without-two-staff', 'headteacher', `hold:${hold.id}`, `confiscation ${hold.id} was released without two staff, one of them headteacher or deputy (P4)`);
    }
    await tx.run('UPDATE holds SET released_at = ?, released_by = ?, witness_id = ?, receipt = ?, release_boot = ?, release_seq = ? WHERE id = ?', [
      event.at,
      event.actorId,
      event.witnessId,
      receipt,
      event.boot,
      event.seq,
      hold.id,
    ]);
    await this.audit.append(
      { actor: event.actorId ? `person:${event.actorId}` : `station:${event.stationId}`, action: 'hold.released', subject: `hold:${hold.id}`, personId: hold.person_id === null ? null : Number(hold.person_id), at: event.at, details: { hold: Number(hold.id), kind: hold.kind, by: event.actorId, witness: event.witnessId, receipt: receipt !== null } },
      tx,
    );
    return { ...hold, released_at: event.at, released_by: event.actorId, witness_id: event.witnessId, receipt };
  }

  /** A laptop returned due a health check stays held in its locker until ICT clears it (P10). */
  async placeHealthCheck(assetId: number, stationId: string, locker: number, personId: number | null, at: string, tx: SqlDatabase): Promise<number> {
    const open = await this.openAt(stationId, locker, tx);
    if (open?.kind === 'health-check') return Number(open.id);
    const id = await tx.insert(`INSERT INTO holds (kind, person_id, asset_id, station_id, locker, placed_at) VALUES ('health-check', NULL, ?, ?, ?, ?)`, [assetId, stationId, locker, at]);
    await this.audit.append({ actor: `station:${stationId}`, action: 'hold.placed', subject: `hold:${id}`, at, details: { hold: id, kind: 'health-check', asset: assetId, returnedBy: personId } }, tx);
    return id;
  }

  async releaseHealthCheck(stationId: string, locker: number, actorId: number | null, at: string, tx: SqlDatabase): Promise<HoldRow | undefined> {
    const open = await this.openAt(stationId, locker, tx);
    if (!open || open.kind !== 'health-check') return undefined;
    await tx.run('UPDATE holds SET released_at = ?, released_by = ? WHERE id = ?', [at, actorId, open.id]);
    await this.audit.append({ actor: actorId ? `person:${actorId}` : `station:${stationId}`, action: 'hold.released', subject: `hold:${open.id}`, at, details: { hold: Number(open.id), kind: 'health-check', by: actorId } }, tx);
    return open;
  }

  /** Records what a safeguarding hold is about: DSL or headteacher only. */
  async setSafeguardingDetails(holdId: number, details: string, actor: Actor): Promise<void> {
    requirePermission(actor, 'safeguarding.record', 'recording safeguarding details');
    await this.db.transaction(async (tx) => {
      const hold = await tx.get<HoldRow>('SELECT * FROM holds WHERE id = ?', [holdId]);
      if (!hold) throw new NotFoundError(`no hold ${holdId}`);
      if (hold.kind !== 'safeguarding') throw new RuleError('P5', `hold ${holdId} is a ${hold.kind} hold, not a safeguarding hold`);
      await tx.run('UPDATE holds SET details = ? WHERE id = ?', [details, holdId]);
      await this.audit.append({ actor: actorLabel(actor), action: 'hold.details-recorded', subject: `hold:${holdId}`, personId: hold.person_id === null ? null : Number(hold.person_id), details: { hold: holdId } }, tx);
    });
  }

  /** The details of a safeguarding hold (P5): DSL and headteacher only; the read is audited. */
  async safeguardingDetails(holdId: number, actor: Actor): Promise<{ hold: HoldRow; details: string | null; receipt: string | null }> {
    requirePermission(actor, 'holds.safeguarding', 'reading safeguarding details');
    const hold = await this.db.get<HoldRow>('SELECT * FROM holds WHERE id = ?', [holdId]);
    if (!hold) throw new NotFoundError(`no hold ${holdId}`);
    await this.audit.append({ actor: actorLabel(actor), action: 'hold.details-read', subject: `hold:${holdId}`, personId: hold.person_id === null ? null : Number(hold.person_id), details: { hold: holdId } });
    return { hold, details: hold.details, receipt: hold.receipt };
  }

  /**
   * Holds for a list or report, oldest first: every one, the open ones (`open`), or the latest
   * `released` released ones (newest first); of a scope's schools' stations and pupils when given
   * (by SQL condition: a trust's holds of years). A safeguarding hold's pupil is shown only to DSL
   * and headteacher.
   */
  async list(actor: Actor, options: { open?: boolean; released?: number; scope?: Scope; id?: number } = {}): Promise<HoldView[]> {
    const mayRead = maySeeSafeguarding(actor);
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (options.open) where.push('h.released_at IS NULL');
    if (options.released !== undefined) where.push('h.released_at IS NOT NULL');
    if (options.id !== undefined) {
      where.push('h.id = ?');
      params.push(options.id);
    }
    if (options.scope && !options.scope.everything) {
      const station = options.scope.stationIn('h.station_id', this.db.kind);
      const school = options.scope.where('school');
      where.push(station.sql, `(h.person_id IS NULL OR h.person_id IN (SELECT id FROM people WHERE ${school.sql}))`);
      params.push(...station.params, ...school.params);
    }
    const order = options.released !== undefined ? 'ORDER BY h.released_at DESC, h.id DESC' : 'ORDER BY h.placed_at, h.id';
    // The holds chosen first, then their people's names (joined to every hold, a trust's 75,000 people were hashed four times).
    const rows = await this.db.all<HoldRow & { person_name: string | null; placed_name: string | null; released_name: string | null; witness_name: string | null }>(
      `SELECT h.*, p.name AS person_name, a.name AS placed_name, r.name AS released_name, w.name AS witness_name
       FROM (SELECT * FROM holds h ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ${order}${options.released !== undefined ? ` LIMIT ${Math.floor(options.released)}` : ''}) h
       LEFT JOIN people p ON p.id = h.person_id LEFT JOIN people a ON a.id = h.placed_by
       LEFT JOIN people r ON r.id = h.released_by LEFT JOIN people w ON w.id = h.witness_id
       ${order}`,
      params,
    );
    return rows.map((row) => {
      const restricted = row.kind === 'safeguarding' && !mayRead;
      return {
        id: Number(row.id),
        kind: row.kind,
        stationId: row.station_id,
        locker: Number(row.locker),
        personId: restricted || row.person_id === null ? null : Number(row.person_id),
        personName: restricted ? null : row.person_name,
        placedAt: row.placed_at,
        placedBy: restricted ? null : row.placed_name,
        releasedAt: row.released_at,
        releasedBy: restricted ? null : row.released_name,
        witness: restricted ? null : row.witness_name,
        restricted,
      };
    });
  }
}
