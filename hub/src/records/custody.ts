// Custody from station events. Each event is stored once, keyed by (station, board, boot, sequence):
// a retransmitted frame changes nothing, and the events of a replaced board, which counts its boots
// from 1 again, are not mistaken for it (station-boards.ts notes the swap).
// A frame whose key is stored with other content (two boards that drew the same identity) is not
// stored and is flagged as a clash, so the ingest does not acknowledge it. A batch of events is applied in one transaction (the
// ingest acknowledges only after it commits):
//   1. every event row, in one multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING (the new ones)
//   2. the committed mark per station boot moved past what is now stored without a gap
//      (committed-marks.ts)
//   3. per event that the batch makes contiguous with its boot's earlier ones, in sequence order
//      (not arrival order: a resent event can arrive after later ones), its effect on the records:
//        DEPOSIT / COLLECT          phone custody (P1, P2) and the locker's state (custody-writes.ts)
//        LOAN / RETURN              loans.ts (P6, P10, P12): the asset by its home station and locker
//        HOLD_SET / HOLD_RELEASED   holds.ts (P4, P5), loans.ts for a health-check clearance (P10)
//        LOCK_FAULT, DOOR_FORCED... the locker's state and an alert
//   4. one audit record per event (the chain of P17), and when each station was last heard.
// On PostgreSQL the batch first takes each of its stations' advisory locks (station-locks.ts), so
// two hubs holding events of one station apply them one transaction after the other, in order.
// If a batch fails, its events are applied one by one, each event's effect in a savepoint: an
// event whose effect cannot be applied is still stored (and acknowledged), and an alert says why.
import { DETAIL, EVENT } from '../../../protocol/wire';
import { AuditTrail, type AuditEntry } from '../audit/trail';
import { insertRows, rowsAsTable, type BulkColumn } from '../db/bulk';
import type { SqlDatabase } from '../db/sql';
import type { Scope } from './schools';
import { boardOf, type EventFrame } from '../protocol/frames';
import { Alerts } from './alerts';
import { Assets } from './assets';
import { advanceMarks, bootKey } from './committed-marks';
import { CustodyWrites, writeLockers } from './custody-writes';
import { Holds } from './holds';
import { Ledger } from './ledger';
import { Loans } from './loans';
import { boardName, noteBoards } from './station-boards';
import { eventTime } from './time';
import { lockStations } from './station-locks';

export interface ApplyResult {
  stored: boolean;
  /**
   * Not stored, and not a repeat either: an event of this station, board, boot and sequence is
   * stored with other content. Must not be acknowledged.
   */
  clash?: boolean;
  /** Every event of this boot up to here is stored, and none of its frames clashed: the acknowledgement to send. */
  committedSeq: number;
}

export interface IncomingEvent {
  frame: EventFrame;
  /** When the hub received it (ISO-8601). */
  receivedAt: string;
}

export interface LockerView {
  stationId: string;
  locker: number;
  state: string;
  since: string | null;
  personId: number | null;
  personName: string | null;
  form: string | null;
}

export interface PhoneCustodyView {
  personId: number;
  personName: string;
  form: string | null;
  stationId: string;
  locker: number;
  depositedAt: string;
}

/** The record modules custody hands events to (hub.ts builds them once and shares them). */
export interface CustodyParts {
  audit: AuditTrail;
  alerts: Alerts;
  holds: Holds;
  loans: Loans;
  /** The deployment's own site (HANDOVER_SITE): its people's people.school is ''. */
  home?: string;
}

const EVENT_NAMES = new Map<number, string>(Object.entries(EVENT).map(([name, code]) => [code, name.toLowerCase().replace(/_/g, '-')]));
const HEARD_COLUMNS: BulkColumn[] = [['id', 'text'], ['at', 'text']];
const EVENT_COLUMNS: BulkColumn[] = [
  ['station_id', 'text'], ['board', 'bigint'], ['boot', 'bigint'], ['seq', 'bigint'], ['type', 'bigint'], ['locker', 'bigint'], ['person_id', 'bigint'], ['actor_id', 'bigint'],
  ['witness_id', 'bigint'], ['badge_hash', 'bytea'], ['detail', 'bigint'], ['uptime_ms', 'bigint'], ['wall_time', 'bigint'], ['received_at', 'text'],
];

const REPEAT_COLUMNS: BulkColumn[] = [['station_id', 'text'], ['board', 'bigint'], ['boot', 'bigint'], ['seq', 'bigint']];
/** Repeated events looked up per statement (four parameters each). */
const REPEAT_CHUNK = 1000;

function key(station: string, board: number, boot: number, seq: number): string {
  return `${station}\u0000${board}\u0000${boot}\u0000${seq}`;
}

function frameKey(frame: EventFrame): string {
  return key(frame.station, boardOf(frame), frame.boot, frame.seq);
}

/** What tells two events with one key apart: a true repeat is the same journal record, byte for byte. */
function sameEvent(a: { type: number; uptimeMs: number; locker?: number; person?: number }, b: { type: number; uptimeMs: number; locker?: number; person?: number }): boolean {
  return a.type === b.type && a.uptimeMs === b.uptimeMs && (a.locker ?? null) === (b.locker ?? null) && (a.person ?? null) === (b.person ?? null);
}

/** 0 on the wire means "nobody". */
function personOf(value: number | undefined): number | null {
  return value === undefined || value === 0 ? null : value;
}

export class CustodyRecords {
  private db: SqlDatabase;
  readonly parts: CustodyParts;

  constructor(db: SqlDatabase, parts?: CustodyParts) {
    this.db = db;
    if (parts) {
      this.parts = parts;
    } else {
      const audit = new AuditTrail(db);
      const alerts = new Alerts(db, audit);
      const assets = new Assets(db, audit);
      const holds = new Holds(db, audit);
      this.parts = { audit, alerts, holds, loans: new Loans(db, audit, assets, new Ledger(db, audit), holds, alerts) };
    }
  }

  async applyEvent(frame: EventFrame, receivedAt: string): Promise<ApplyResult> {
    return (await this.applyBatch([{ frame, receivedAt }]))[0];
  }

  /** Stores a batch of events and applies their effects in one transaction; one result per event, in order. */
  async applyBatch(events: IncomingEvent[]): Promise<ApplyResult[]> {
    if (events.length === 0) return [];
    try {
      return await this.db.transaction((tx) => this.applyInTransaction(tx, events, false));
    } catch {
      // Something in the batch failed: one event at a time, so only that event's effect is lost.
      const results: ApplyResult[] = [];
      for (const event of events) results.push(...(await this.db.transaction((tx) => this.applyInTransaction(tx, [event], true))));
      return results;
    }
  }

  private async applyInTransaction(tx: SqlDatabase, events: IncomingEvent[], guarded: boolean): Promise<ApplyResult[]> {
    await lockStations(tx, events.map(({ frame }) => frame.station));
    const inserted = new Set<string>();
    const rows = await insertRows<{ station_id: string; board: number; boot: number; seq: number }>(
      tx,
      'station_events',
      EVENT_COLUMNS,
      events.map(({ frame, receivedAt }) => [frame.station, boardOf(frame), frame.boot, frame.seq, frame.type, frame.locker ?? null, frame.person ?? null, frame.actor ?? null, frame.witness ?? null, frame.badge ?? null, frame.detail ?? null, frame.uptimeMs, frame.wallTime ?? null, receivedAt]),
      'ON CONFLICT DO NOTHING RETURNING station_id, board, boot, seq',
    );
    for (const row of rows) inserted.add(key(row.station_id, Number(row.board), Number(row.boot), Number(row.seq)));

    // Only the first copy of an event (a batch can hold a retransmission too) is new.
    const stored = events.map(({ frame }) => inserted.delete(frameKey(frame)));
    const clashes = await this.clashes(tx, events, stored);
    await this.alertClashes(tx, events.filter((_, i) => clashes[i]));
    await noteBoards(tx, this.parts.audit, events.filter((_, i) => stored[i]));

    // Effects follow the station's sequence, not the order frames arrive in: an event takes
    // effect when every earlier event of its boot is stored, that is when the boot's committed
    // mark passes it. A resent event that fills a gap brings the ones stored behind it along, so
    // a deposit resent after its own collection still comes first.
    let pending: AuditEntry[] = [];
    const flush = async () => {
      if (pending.length) await this.parts.audit.appendMany(pending, tx);
      pending = [];
    };
    // The events this batch stored, per station boot by sequence: their effects are applied from
    // these frames; only events stored by earlier batches (behind a gap) are read back.
    const fresh = new Map<string, Map<number, IncomingEvent>>();
    const boots: Array<{ station: string; board: number; boot: number; storedSeqs?: Map<number, IncomingEvent>; clashSeq?: number }> = [];
    const lastSeen = new Map<string, string>();
    events.forEach((event, i) => {
      const { station, boot, seq } = event.frame;
      const board = boardOf(event.frame);
      if ((lastSeen.get(station) ?? '') < event.receivedAt) lastSeen.set(station, event.receivedAt);
      const id = bootKey(station, board, boot);
      let seqs = fresh.get(id);
      if (!seqs) {
        fresh.set(id, (seqs = new Map()));
        boots.push({ station, board, boot, storedSeqs: seqs });
      }
      if (stored[i]) seqs.set(seq, event);
      if (clashes[i]) {
        const entry = boots.find((candidate) => candidate.storedSeqs === seqs)!;
        if (entry.clashSeq === undefined || seq < entry.clashSeq) entry.clashSeq = seq;
      }
    });
    const marks = await advanceMarks(tx, boots);
    const foreign = await this.otherSchoolCheck(tx, events.map(({ frame }) => frame));
    // Deposits and collections are written together (writes), before any other effect (which
    // may read what they change) and at the end.
    const writes = new CustodyWrites();
    for (const { station, board, boot, storedSeqs } of boots) {
      const { before, mark } = marks.get(bootKey(station, board, boot))!;
      for (const due of await this.dueEvents(tx, station, board, boot, before, mark, storedSeqs)) {
        pending.push(this.auditEntryFor(due.frame, due.receivedAt));
        if (this.handledElsewhere(due.frame)) await flush();
        if (await foreign(due.frame)) {
          // Kept and acknowledged like any event, but it changes nothing of another school's person (issue 16).
          await flush();
          await this.parts.alerts.raise(tx, {
            kind: 'event-not-applied',
            role: 'ict',
            subject: `event:${due.frame.station}/${boardOf(due.frame) ? `${boardOf(due.frame)}/` : ''}${due.frame.boot}/${due.frame.seq}`,
            message: `stored, but not applied: it names a person of another school than station ${due.frame.station}'s`,
            at: due.receivedAt,
          });
          continue;
        }
        if (!guarded) {
          if (!this.isDepositOrCollect(due.frame) && !writes.empty) await writes.flush(tx);
          await this.effect(tx, due.frame, due.receivedAt, writes);
          continue;
        }
        try {
          await tx.transaction((inner) => this.effect(inner, due.frame, due.receivedAt));
        } catch (error) {
          await flush();
          await this.parts.alerts.raise(tx, {
            kind: 'event-not-applied',
            role: 'ict',
            subject: `event:${due.frame.station}/${boardOf(due.frame) ? `${boardOf(due.frame)}/` : ''}${due.frame.boot}/${due.frame.seq}`,
            message: `stored, but its effect could not be applied: ${(error as Error).message}`,
            at: due.receivedAt,
          });
        }
      }
    }
    if (!writes.empty) await writes.flush(tx);
    await flush();
    await this.noteLastSeen(tx, lastSeen);
    return events.map(({ frame }, i) => ({ stored: stored[i], ...(clashes[i] ? { clash: true } : {}), committedSeq: marks.get(bootKey(frame.station, boardOf(frame), frame.boot))!.acknowledged }));
  }

  /**
   * Whether an event names a person (or a member of staff acting or witnessing) of another school
   * than its station's (issue 16). A station holds its own school's badge list only, so such an
   * event comes from a mistaken or tampered station: it must not put one school's person in another
   * school's locker. A single school skips the check; the batch's people and stations are read once.
   */
  private async otherSchoolCheck(tx: SqlDatabase, frames: EventFrame[]): Promise<(frame: EventFrame) => Promise<boolean>> {
    const home = this.parts.home ?? 'demo';
    if (!(await tx.get('SELECT id FROM schools WHERE id <> ?', [home]))) return async () => false;
    const named = (frame: EventFrame) => [frame.person, frame.actor, frame.witness].map(personOf).filter((id): id is number => id !== null);
    const schoolOf = new Map<number, string>();
    const siteOf = new Map<string, string>();
    const load = async (people: number[], stations: string[]) => {
      if (people.length) for (const row of await tx.all<{ id: number; school: string }>(`SELECT id, school FROM people WHERE id IN (${people.map(() => '?').join(', ')})`, people)) schoolOf.set(Number(row.id), row.school);
      if (stations.length) for (const row of await tx.all<{ id: string; site: string }>(`SELECT id, site FROM stations WHERE id IN (${stations.map(() => '?').join(', ')})`, stations)) siteOf.set(row.id, row.site === home ? '' : row.site);
    };
    await load([...new Set(frames.flatMap(named))], [...new Set(frames.map((frame) => frame.station))]);
    return async (frame) => {
      const people = named(frame);
      if (people.length === 0) return false;
      // An event stored by an earlier batch (behind a gap) may name someone not read yet.
      await load(people.filter((id) => !schoolOf.has(id)), siteOf.has(frame.station) ? [] : [frame.station]);
      const school = siteOf.get(frame.station);
      // An unknown person or station is left to the effects, as before.
      return school !== undefined && people.some((id) => schoolOf.has(id) && schoolOf.get(id) !== school);
    };
  }

  /**
   * ICT is told once (until they acknowledge it) that a station sends events whose numbers are
   * stored with other content: the station keeps them, unconfirmed, and its journal fills.
   */
  private async alertClashes(tx: SqlDatabase, clashing: IncomingEvent[]): Promise<void> {
    const stations = new Map(clashing.map((event) => [event.frame.station, event]));
    for (const [station, { frame, receivedAt }] of stations) {
      const subject = `station:${station}`;
      if (await tx.get("SELECT id FROM alerts WHERE kind = 'event-clash' AND subject = ? AND acknowledged_at IS NULL", [subject])) continue;
      await this.parts.alerts.raise(tx, {
        kind: 'event-clash',
        role: 'ict',
        subject,
        message: `station ${station} sends events numbered like stored ones but different (board ${boardName(boardOf(frame))}, boot ${frame.boot} #${frame.seq}): two boards share one identity, or a board was copied; they are not stored or confirmed, and wait in the station's journal`,
        at: receivedAt,
      });
    }
  }

  /**
   * Per event, whether it was not stored because another event holds its key (stored earlier or
   * earlier in this batch) with other content. Repeats are rare (a station resending after an
   * outage): nothing is read unless the batch has some.
   */
  private async clashes(tx: SqlDatabase, events: IncomingEvent[], stored: boolean[]): Promise<boolean[]> {
    const result = events.map(() => false);
    if (!stored.includes(false)) return result;
    const firstCopy = new Map<string, EventFrame>();
    events.forEach(({ frame }, i) => {
      if (stored[i]) firstCopy.set(frameKey(frame), frame);
    });
    const lookUp: number[] = [];
    events.forEach(({ frame }, i) => {
      if (stored[i]) return;
      const first = firstCopy.get(frameKey(frame));
      if (first) result[i] = !sameEvent(first, frame);
      else lookUp.push(i);
    });
    const held = new Map<string, { type: number; uptimeMs: number; locker?: number; person?: number }>();
    for (let start = 0; start < lookUp.length; start += REPEAT_CHUNK) {
      const chunk = lookUp.slice(start, start + REPEAT_CHUNK).map((i) => events[i].frame);
      const keys = rowsAsTable(tx, 'repeats', REPEAT_COLUMNS, chunk.map((frame) => [frame.station, boardOf(frame), frame.boot, frame.seq]));
      const rows = await tx.all<{ station_id: string; board: number; boot: number; seq: number; type: number; uptime_ms: number; locker: number | null; person_id: number | null }>(
        `${keys.sql} SELECT e.station_id, e.board, e.boot, e.seq, e.type, e.uptime_ms, e.locker, e.person_id FROM repeats r
         JOIN station_events e ON e.station_id = r.station_id AND e.board = r.board AND e.boot = r.boot AND e.seq = r.seq`,
        keys.params,
      );
      for (const row of rows) {
        held.set(key(row.station_id, Number(row.board), Number(row.boot), Number(row.seq)), {
          type: Number(row.type),
          uptimeMs: Number(row.uptime_ms),
          ...(row.locker === null ? {} : { locker: Number(row.locker) }),
          ...(row.person_id === null ? {} : { person: Number(row.person_id) }),
        });
      }
    }
    for (const i of lookUp) {
      const stored = held.get(frameKey(events[i].frame));
      result[i] = stored !== undefined && !sameEvent(stored, events[i].frame);
    }
    return result;
  }

  /** When each station was last heard, one statement for the batch's stations. */
  private async noteLastSeen(tx: SqlDatabase, lastSeen: Map<string, string>): Promise<void> {
    if (lastSeen.size === 0) return;
    const heard = rowsAsTable(tx, 'heard', HEARD_COLUMNS, [...lastSeen]);
    await tx.run(`${heard.sql} UPDATE stations SET last_seen = h.at FROM heard h WHERE stations.id = h.id`, heard.params);
  }

  /**
   * The stored events of one boot with after < seq <= upTo, in sequence order: from the batch's
   * own frames when it stored them all (the usual case), else read back from the database.
   */
  private async dueEvents(tx: SqlDatabase, station: string, board: number, boot: number, after: number, upTo: number, batchSeqs: Map<number, IncomingEvent> | undefined): Promise<IncomingEvent[]> {
    if (upTo <= after) return [];
    if (batchSeqs && batchSeqs.size >= upTo - after) {
      const due: IncomingEvent[] = [];
      for (let seq = after + 1; seq <= upTo; seq++) {
        const event = batchSeqs.get(seq);
        if (!event) break;
        due.push(event);
      }
      if (due.length === upTo - after) return due;
    }
    return this.storedBetween(tx, station, board, boot, after, upTo);
  }

  /** The stored events of one boot with after < seq <= upTo, in sequence order. */
  private async storedBetween(tx: SqlDatabase, station: string, board: number, boot: number, after: number, upTo: number): Promise<IncomingEvent[]> {
    const rows = await tx.all<{ seq: number; type: number; locker: number | null; person_id: number | null; actor_id: number | null; witness_id: number | null; badge_hash: Uint8Array | null; detail: string | number | null; uptime_ms: number; wall_time: number | null; received_at: string }>(
      `SELECT seq, type, locker, person_id, actor_id, witness_id, badge_hash, detail, uptime_ms, wall_time, received_at
       FROM station_events WHERE station_id = ? AND board = ? AND boot = ? AND seq > ? AND seq <= ? ORDER BY seq`,
      [station, board, boot, after, upTo],
    );
    return rows.map((row) => {
      const frame: EventFrame = { station, boot, seq: Number(row.seq), type: Number(row.type), uptimeMs: Number(row.uptime_ms) };
      if (board) frame.board = board;
      if (row.locker !== null) frame.locker = Number(row.locker);
      if (row.person_id !== null) frame.person = Number(row.person_id);
      if (row.actor_id !== null) frame.actor = Number(row.actor_id);
      if (row.witness_id !== null) frame.witness = Number(row.witness_id);
      if (row.badge_hash !== null) frame.badge = new Uint8Array(row.badge_hash);
      if (row.detail !== null) frame.detail = Number(row.detail);
      if (row.wall_time !== null) frame.wallTime = Number(row.wall_time);
      return { frame, receivedAt: row.received_at };
    });
  }

  private auditEntryFor(frame: EventFrame, receivedAt: string): AuditEntry {
    const details: Record<string, unknown> = { station: frame.station, boot: frame.boot, seq: frame.seq, type: frame.type };
    if (boardOf(frame)) details.board = boardOf(frame);
    if (frame.locker !== undefined) details.locker = frame.locker;
    if (frame.actor) details.actor = frame.actor;
    if (frame.witness) details.witness = frame.witness;
    if (frame.detail) details.detail = frame.detail;
    return {
      actor: `station:${frame.station}`,
      action: `event.${EVENT_NAMES.get(frame.type) ?? frame.type}`,
      subject: frame.locker !== undefined ? `locker:${frame.station}/${frame.locker}` : `station:${frame.station}`,
      personId: personOf(frame.person),
      at: receivedAt,
      details,
    };
  }

  /** Events whose effects write audit records of their own (which must follow the event's). */
  private handledElsewhere(frame: EventFrame): boolean {
    return frame.type === EVENT.LOAN || frame.type === EVENT.RETURN || frame.type === EVENT.HOLD_SET || frame.type === EVENT.HOLD_RELEASED || frame.type === EVENT.LOCK_FAULT || frame.type === EVENT.DOOR_FORCED;
  }

  /** Events whose writes a batch defers (CustodyWrites, see effect). */
  private isDepositOrCollect(frame: EventFrame): boolean {
    return frame.type === EVENT.DEPOSIT || frame.type === EVENT.COLLECT;
  }

  /**
   * What one new event changes in the records. With `batchWrites`, a deposit or collection is
   * left there for the caller to write (with the batch's others); without, it is written now.
   */
  private async effect(tx: SqlDatabase, frame: EventFrame, at: string, batchWrites?: CustodyWrites): Promise<void> {
    const locker = frame.locker;
    const person = personOf(frame.person);
    const actor = personOf(frame.actor);
    // Phone custody, and the locker states deposits and collections leave, are dated by when
    // they happened at the station; the rest by arrival.
    const happened = eventTime(frame.wallTime, at);
    const alert = this.parts.alerts.raiserFor(tx, at);
    const loanEvent = () => ({ stationId: frame.station, locker: locker!, personId: person, actorId: actor, boot: frame.boot, seq: frame.seq, at });
    switch (frame.type) {
      case EVENT.DEPOSIT: {
        if (locker === undefined || person === null) return;
        const writes = batchWrites ?? new CustodyWrites();
        writes.deposit(person, frame.station, locker, happened, frame.boot, frame.seq);
        writes.setLocker(frame.station, locker, 'phone-in', person, happened);
        if (!batchWrites) await writes.flush(tx);
        return;
      }
      case EVENT.COLLECT: {
        if (locker === undefined || person === null) return;
        const writes = batchWrites ?? new CustodyWrites();
        writes.collect(person, frame.station, locker, happened);
        writes.setLocker(frame.station, locker, 'free', null, happened);
        if (!batchWrites) await writes.flush(tx);
        return;
      }
      case EVENT.LOAN:
        if (locker === undefined) return;
        await this.parts.loans.fromStationLoan(loanEvent(), tx, alert);
        await this.setLocker(tx, frame.station, locker, 'item-out', person, at);
        return;
      case EVENT.RETURN: {
        if (locker === undefined) return;
        const held = frame.detail === DETAIL.HEALTH_CHECK_DUE;
        await this.parts.loans.fromStationReturn({ ...loanEvent(), personId: person, healthCheckHeld: held }, tx, alert);
        const hold = await this.parts.holds.openAt(frame.station, locker, tx);
        await this.setLocker(tx, frame.station, locker, hold?.kind === 'health-check' ? 'health-check-held' : 'item-present', null, at);
        return;
      }
      case EVENT.HOLD_SET: {
        if (locker === undefined) return;
        const holdId = await this.parts.holds.fromStationSet({ stationId: frame.station, locker, personId: person, actorId: actor, boot: frame.boot, seq: frame.seq, at }, tx, alert);
        // A confiscated phone that was in the staff member's hand has just gone into this locker.
        if (frame.detail === DETAIL.CONFISCATED && person !== null) {
          const writes = new CustodyWrites();
          writes.deposit(person, frame.station, locker, happened, frame.boot, frame.seq);
          await writes.flush(tx);
        }
        const hold = await tx.get<{ kind: string }>('SELECT kind FROM holds WHERE id = ?', [holdId]);
        await this.setLocker(tx, frame.station, locker, hold?.kind === 'safeguarding' ? 'safeguarding-held' : 'held', person, at);
        return;
      }
      case EVENT.HOLD_RELEASED: {
        if (locker === undefined) return;
        if (frame.detail === DETAIL.HEALTH_CHECK_CLEARED) {
          await this.parts.loans.fromHealthCheckCleared(loanEvent(), tx);
          await this.setLocker(tx, frame.station, locker, 'item-present', null, at);
          return;
        }
        const remote = frame.detail === DETAIL.REMOTE;
        const released = await this.parts.holds.fromStationRelease({ stationId: frame.station, locker, personId: person, actorId: actor, witnessId: personOf(frame.witness), boot: frame.boot, seq: frame.seq, at, remote }, tx, alert);
        if (released?.kind === 'health-check') return;
        if (remote) {
          // Lifted from the office: the phone stays in its (now ordinary) locker.
          await this.setLocker(tx, frame.station, locker, 'phone-in', person, at);
          return;
        }
        // Released by hand: the phone came out with the staff member (or the DSL, P5).
        await tx.run('UPDATE phone_custody SET collected_at = ?, collected_by = ? WHERE station_id = ? AND locker = ? AND collected_at IS NULL', [happened, actor, frame.station, locker]);
        await this.setLocker(tx, frame.station, locker, 'free', null, at);
        return;
      }
      case EVENT.LOCK_FAULT:
        if (locker === undefined) return;
        await tx.run("UPDATE lockers SET state = 'fault', since = ? WHERE station_id = ? AND locker = ? AND state = 'free'", [at, frame.station, locker]);
        await tx.run("INSERT INTO lockers (station_id, locker, state, person_id, since) VALUES (?, ?, 'fault', NULL, ?) ON CONFLICT (station_id, locker) DO NOTHING", [frame.station, locker, at]);
        await alert('lock-fault', 'office', `locker:${frame.station}/${locker}`, `locker ${locker} at ${frame.station} did not open; it takes no taps until cleared`);
        return;
      case EVENT.DOOR_FORCED:
        if (locker === undefined) return;
        await alert('door-forced', 'office', `locker:${frame.station}/${locker}`, `locker ${locker} at ${frame.station} was opened without an unlock`);
        return;
      default:
        // Every other event (boots, refusals, unknown badges, exemptions, open-all, faults) is
        // kept in station_events and the audit trail; it changes no custody record.
        return;
    }
  }

  private async setLocker(tx: SqlDatabase, station: string, locker: number, state: string, person: number | null, since: string) {
    await writeLockers(tx, [[station, locker, state, person, since]]);
  }

  /** Every locker of every registered station (or of a scope's schools' stations), free ones included. */
  async lockers(scope?: Scope): Promise<LockerView[]> {
    const site = scope?.where('site') ?? { sql: '1 = 1', params: [] };
    const at = (column: string) => scope?.stationIn(column, this.db.kind) ?? { sql: '1 = 1', params: [] };
    const stations = await this.db.all<{ id: string; lockers: number }>(`SELECT id, lockers FROM stations WHERE ${site.sql} ORDER BY id`, site.params);
    const lockerRows = at('l.station_id');
    const rows = await this.db.all<{ station_id: string; locker: number; state: string; since: string; person_id: number | null; name: string | null; form: string | null }>(
      `SELECT l.station_id, l.locker, l.state, l.since, l.person_id, p.name, p.form
       FROM lockers l LEFT JOIN people p ON p.id = l.person_id WHERE ${lockerRows.sql}`,
      lockerRows.params,
    );
    const known = new Map(rows.map((row) => [`${row.station_id}/${Number(row.locker)}`, row]));
    // The home locker of an item available to lend, which no station event has touched yet, holds it
    // (a station starts with its items in: firmware main.ts).
    const homeStations = at('home_station');
    const homes = await this.db.all<{ home_station: string; home_locker: number }>(
      `SELECT home_station, home_locker FROM assets WHERE home_station IS NOT NULL AND home_locker IS NOT NULL AND status = 'available' AND ${homeStations.sql}`,
      homeStations.params,
    );
    const homeStates = new Map(homes.map((home) => [`${home.home_station}/${Number(home.home_locker)}`, 'item-present']));
    // An item lent at the desk (no station event) is out, with its borrower, whatever its locker last said.
    const deskHomes = at('a.home_station');
    const lentAtDesk = await this.db.all<{ home_station: string; home_locker: number; person_id: number; name: string; form: string | null; lent_at: string }>(
      `SELECT a.home_station, a.home_locker, l.person_id, p.name, p.form, l.lent_at FROM assets a
       JOIN loans l ON l.asset_id = a.id AND l.closed_at IS NULL AND l.station_id IS NULL
       JOIN people p ON p.id = l.person_id
       WHERE a.home_station IS NOT NULL AND a.home_locker IS NOT NULL AND a.status = 'on-loan' AND ${deskHomes.sql}`,
      deskHomes.params,
    );
    for (const loan of lentAtDesk) {
      const key = `${loan.home_station}/${Number(loan.home_locker)}`;
      const row = known.get(key);
      if (!row || row.state === 'item-present' || row.state === 'free') {
        known.set(key, { station_id: loan.home_station, locker: Number(loan.home_locker), state: 'item-out', since: loan.lent_at, person_id: Number(loan.person_id), name: loan.name, form: loan.form });
      }
    }
    const views: LockerView[] = [];
    for (const station of stations) {
      for (let locker = 0; locker < Number(station.lockers); locker++) {
        const row = known.get(`${station.id}/${locker}`);
        // A safeguarding hold names no pupil here (P5): holds.ts shows it to DSL and headteacher.
        const hidden = row?.state === 'safeguarding-held';
        views.push({
          stationId: station.id,
          locker,
          state: row?.state ?? homeStates.get(`${station.id}/${locker}`) ?? 'free',
          since: row?.since ?? null,
          personId: hidden || row?.person_id == null ? null : Number(row.person_id),
          personName: hidden ? null : (row?.name ?? null),
          form: hidden ? null : (row?.form ?? null),
        });
      }
    }
    return views;
  }

  /** Phones in lockers now, oldest first. */
  async phonesIn(scope?: Scope): Promise<PhoneCustodyView[]> {
    const station = scope?.stationIn('c.station_id', this.db.kind) ?? { sql: '1 = 1', params: [] };
    const school = scope?.where('p.school') ?? { sql: '1 = 1', params: [] };
    const rows = await this.db.all<{ person_id: number; name: string; form: string | null; station_id: string; locker: number; deposited_at: string }>(
      `SELECT c.person_id, p.name, p.form, c.station_id, c.locker, c.deposited_at
       FROM phones_in c JOIN people p ON p.id = c.person_id
       LEFT JOIN lockers l ON l.station_id = c.station_id AND l.locker = c.locker
       WHERE (l.state IS NULL OR l.state <> 'safeguarding-held') AND ${station.sql} AND ${school.sql} ORDER BY c.deposited_at, c.custody_id`,
      [...station.params, ...school.params],
    );
    return rows.map((row) => ({
      personId: Number(row.person_id),
      personName: row.name,
      form: row.form,
      stationId: row.station_id,
      locker: Number(row.locker),
      depositedAt: row.deposited_at,
    }));
  }

  /**
   * A phone's custody chain (P2): its deposit, everything that happened at that locker while it
   * was in (doors forced, remote unlocks, holds, the station's open-all) and its collection.
   */
  async phoneChain(custodyId: number) {
    const custody = await this.db.get<{ id: number; person_id: number; station_id: string; locker: number; deposited_at: string; collected_at: string | null }>('SELECT * FROM phone_custody WHERE id = ?', [custodyId]);
    if (!custody) return null;
    // Custody is dated by the station's clock when it had one (eventTime), so the events are
    // chosen by the same moment: their wall time, or their arrival when they carry none.
    const from = custody.deposited_at;
    const until = custody.collected_at ?? '9999-12-31T23:59:59.999Z';
    const rows = await this.db.all<{ boot: number; seq: number; type: number; locker: number | null; person_id: number | null; actor_id: number | null; witness_id: number | null; detail: number | null; wall_time: number | null; received_at: string }>(
      `SELECT boot, seq, type, locker, person_id, actor_id, witness_id, detail, wall_time, received_at FROM station_events
       WHERE station_id = ? AND (locker = ? OR type = ?)
         AND ((wall_time > 0 AND wall_time >= ? AND wall_time <= ?) OR ((wall_time IS NULL OR wall_time <= 0) AND received_at >= ? AND received_at <= ?))`,
      [custody.station_id, custody.locker, EVENT.OPEN_ALL, Date.parse(from), Date.parse(until), from, until],
    );
    const events = rows
      .map(({ wall_time: wallTime, ...event }) => ({ ...event, at: eventTime(wallTime === null ? null : Number(wallTime), event.received_at) }))
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : Number(a.boot) - Number(b.boot) || Number(a.seq) - Number(b.seq)));
    return { custody, events: events.map((event) => ({ ...event, event: EVENT_NAMES.get(Number(event.type)) ?? String(event.type) })) };
  }
}
