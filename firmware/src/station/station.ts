// The station's decisions: what a tap opens, when an opening is complete, which alarms to raise,
// what is reported. Plain logic over small interfaces: no hardware access, no Espruino calls.
//
// Taps (the school rules, ../shared/POLICY.md):
//   pupil            deposit in a free locker, or collect from their own (P1); a medical exemption
//                    is recorded and opens nothing (P3); a held locker stays shut (P4, P5)
//   staff            starts a staff session of staffSessionMs. Within it:
//                      item tag      -> return: the item's home locker opens (P6, P10)
//                      pupil badge   -> confiscation hold (DSL: safeguarding hold), or the first
//                                       half of a two-person release (DSL: the release) (P4, P5)
//                      same badge    -> loan now
//                    when it ends with no further tap: loan of an available item of a class the
//                    badge is enrolled for (P6, P12)
//   second staff     within releaseWindowMs of a release's first half completes it, if one of the
//                    two is headteacher or deputy (P4)
//   ICT + item tag   clears a health-check hold (P10)
//   open-all badge   emergency: every locker opens in turn
//   unknown          opens nothing, reported; repeated unknown taps are rate-limited
// Doors: each locker opens on its own. An opening (unlocked -> opened -> closed) belongs to one
// locker and completes when that door shuts, however long it stood open; taps for other lockers are
// served meanwhile. Only the lock coils are taken one at a time (lock-bank.ts: the supply's budget).
// An unlock expects the door to spring open within doorOpenTimeoutMs of its coil's pulse; if it does
// not, one retry, then the locker is a fault. A door that opens with no unlock is forced; one left
// open longer than doorLeftOpenMs raises its alarm once.
// A pupil who taps while their own locker stands open (or is being unlocked) is refused with
// OWN_LOCKER_OPEN: nothing else opens for them (a pupil has one locker), and the opening under way
// is left as it is, so shutting that door completes their deposit or collection. A staff hold on a
// pupil whose locker stands open is refused the same way: shut the door, then tap again.
import type { Clock } from '../hal';
import { BADGE_FLAG, type BadgeEntry } from './badge-list';
import { LOCKER } from '../../../protocol/lockers';
import { DETAIL, EVENT, ROLE } from '../../../protocol/wire';
import type { StationTimingFile } from '../../../protocol/station-config';

export interface EventFields {
  locker?: number;
  person?: number;
  actor?: number;
  witness?: number;
  badge?: Uint8Array | null;
  detail?: number;
}

export interface LockerAsset {
  /** Keyed hash of the item's own tag. */
  tag: Uint8Array;
  assetClass: number;
  healthCheckDue: boolean;
}

/** The station's timers and limits, as the contract's configuration file names them (all filled in by validateConfig). */
export type StationTiming = StationTimingFile;

export interface StationParts {
  clock: Clock;
  timing: StationTiming;
  /** Per locker: the item it is home to; no entry for a phone locker. */
  assets: Array<LockerAsset | undefined>;
  hashBadge(uid: Uint8Array): Uint8Array;
  /** A locker's state or owner changed: keep it in flash. */
  saveLocker(index: number): void;
  // The parts themselves rather than closures around them: on the interpreter each closure kept
  // for good costs about six variables.
  badges: { find(hash: Uint8Array): BadgeEntry | null };
  /** Queues one coil pulse; returns the ms until that coil is released. */
  locks: { pulse(index: number): number };
  doors: { isOpen(index: number): boolean };
  events: { report(type: number, fields: EventFields): void };
  feedback: { play(kind: 'accepted' | 'refused' | 'prompt' | 'alarm'): void };
}

// What an opening is for: decides the state the locker takes when its door closes again.
const OPEN_DEPOSIT = 1;
const OPEN_COLLECT = 2;
const OPEN_LOAN = 3;
const OPEN_RETURN = 4;
const OPEN_CONFISCATE = 5; // a phone not yet in a locker goes into a free one, held
const OPEN_RELEASE = 6; // a held phone comes out: the locker is free again
const OPEN_REMOTE = 7; // the hub unlocked it: contents unchanged

// An opening's flags, beside its purpose (low 4 bits) and the locker's next state (<< 8) in `openings`.
const OPENED = 0x10; // the door has opened since the unlock
const RETRIED = 0x20; // the unlock was pulsed a second time

interface StaffSession {
  badge: BadgeEntry;
  hash: Uint8Array;
  timer: number;
}

interface PendingRelease {
  locker: number;
  first: BadgeEntry;
  timer: number;
}

export class Station {
  private parts: StationParts;
  readonly lockers: number;
  /** LOCKER state per locker. */
  readonly states: Uint8Array;
  /** Person whose phone a locker holds, or the staff member who borrowed its item; 0 for none. */
  readonly owners: Uint32Array;
  // Per locker, its opening, in typed arrays (32 lockers in a few variables, not an object each):
  /** 0 for none, else purpose | OPENED | RETRIED | (state the locker takes when the door shuts) << 8. */
  readonly openings: Uint16Array;
  // Who and which badge, for each locker's opening: made at the first opening and let go once
  // every opening is over, so at rest (every door shut) they cost nothing (about 40 variables for
  // 32 lockers while they are kept).
  /** person, actor, witness of each locker's opening (3 per locker); null while no locker opens. */
  private openPeople: Uint32Array | null = null;
  /** The badge hash tapped for each locker's opening (8 bytes per locker); null with openPeople. */
  private openBadges: Uint8Array | null = null;
  /**
   * One timer per door, or -1: while an unlocked door is awaited, the door-open timeout; while a
   * door stands open, its door-left-open alarm (the two never run together).
   */
  private doorTimers: Int32Array;
  /** Doors standing open now, bit n for locker n (the state report carries it to the hub). */
  openDoors = 0;
  private session: StaffSession | null = null;
  private release: PendingRelease | null = null;
  private openAllUntilMs = 0;
  private unknownTimes: number[] = [];
  private unknownSuppressed = false;

  constructor(parts: StationParts, states: Uint8Array, owners: Uint32Array) {
    this.parts = parts;
    this.lockers = states.length;
    this.states = states;
    this.owners = owners;
    this.openings = new Uint16Array(this.lockers);
    this.doorTimers = new Int32Array(this.lockers);
    for (let i = 0; i < this.lockers; i++) this.doorTimers[i] = -1;
  }

  onCard(uid: Uint8Array): void {
    const parts = this.parts;
    const hash = parts.hashBadge(uid);
    const badge = parts.badges.find(hash);
    if (!badge) {
      // An item's own tag, tapped in a staff session, is looked for among the lockers' assets.
      if (this.session) {
        for (let i = 0; i < this.lockers; i++) {
          const tag = parts.assets[i]?.tag;
          if (!tag || tag.length !== hash.length) continue;
          let same = 0;
          while (same < tag.length && tag[same] === hash[same]) same++;
          if (same === tag.length) return this.itemTap(i, hash);
        }
      }
      return this.unknownTap(hash);
    }
    if (badge.flags & BADGE_FLAG.OPEN_ALL) return this.openAll(badge.person, hash);
    if (badge.role === ROLE.PUPIL) {
      const session = this.session;
      if (session) {
        this.endSession();
        return this.staffWithPupil(session.badge, badge, hash);
      }
      return this.pupilTap(badge, hash);
    }
    this.staffTap(badge, hash);
  }

  // ---- pupils ----

  private pupilTap(badge: BadgeEntry, hash: Uint8Array): void {
    const parts = this.parts;
    if (badge.flags & BADGE_FLAG.MEDICAL_EXEMPT) {
      parts.events.report(EVENT.EXEMPT, { person: badge.person, badge: hash });
      parts.feedback.play('accepted');
      return;
    }
    // Their own locker is open (a deposit or collection under way): shut it first.
    const opening = this.openingOf(badge.person);
    if (opening >= 0) return this.refuse(badge.person, hash, opening, DETAIL.OWN_LOCKER_OPEN);
    const own = this.lockerOf(badge.person);
    if (own >= 0) {
      if (this.states[own] !== LOCKER.PHONE_IN) return this.refuse(badge.person, hash, own, DETAIL.LOCKER_HELD);
      return this.open(OPEN_COLLECT, own, badge.person, 0, 0, hash, LOCKER.FREE);
    }
    const free = this.freeLocker();
    if (free < 0) return this.refuse(badge.person, hash, -1, DETAIL.NO_FREE_LOCKER);
    this.open(OPEN_DEPOSIT, free, badge.person, 0, 0, hash, LOCKER.PHONE_IN);
  }

  // ---- staff ----

  private staffTap(badge: BadgeEntry, hash: Uint8Array): void {
    const release = this.release;
    if (release) {
      // The second half of a two-person release (P4): both staff, at least one of them headteacher
      // or deputy. (Written here, its one caller: a method kept for good costs about seven variables.)
      if (badge.person === release.first.person) return this.refuse(badge.person, hash, release.locker, DETAIL.SAME_STAFF_TWICE);
      this.parts.clock.clearTimeout(release.timer);
      this.release = null;
      const first = release.first.role;
      const seniorFirst = first === ROLE.HEADTEACHER || first === ROLE.DEPUTY;
      if (!seniorFirst && badge.role !== ROLE.HEADTEACHER && badge.role !== ROLE.DEPUTY) return this.refuse(badge.person, hash, release.locker, DETAIL.RELEASE_NEEDS_SENIOR);
      return this.open(OPEN_RELEASE, release.locker, this.owners[release.locker], release.first.person, badge.person, hash, LOCKER.FREE);
    }
    const session = this.session;
    if (session) {
      this.endSession();
      if (session.badge.person === badge.person) return this.loan(badge, hash);
    }
    const timer = this.parts.clock.setTimeout(() => {
      const ended = this.session;
      this.session = null;
      if (ended) this.loan(ended.badge, ended.hash);
    }, this.parts.timing.staffSessionMs);
    this.session = { badge, hash, timer };
    this.parts.feedback.play('prompt');
  }

  private endSession(): void {
    if (!this.session) return;
    this.parts.clock.clearTimeout(this.session.timer);
    this.session = null;
  }

  private loan(staff: BadgeEntry, hash: Uint8Array): void {
    let enrolledHere = false;
    for (let i = 0; i < this.lockers; i++) {
      const asset = this.parts.assets[i];
      if (!asset || !(staff.assetClasses & (1 << (asset.assetClass - 1)))) continue;
      enrolledHere = true;
      if (this.states[i] === LOCKER.ITEM_PRESENT && !this.openings[i]) return this.open(OPEN_LOAN, i, staff.person, staff.person, 0, hash, LOCKER.ITEM_OUT);
    }
    this.refuse(staff.person, hash, -1, enrolledHere ? DETAIL.NO_ITEM_AVAILABLE : DETAIL.NOT_ENROLLED);
  }

  /** An item's own tag, tapped in a staff session: return it, or (ICT) clear its health check. */
  private itemTap(home: number, tagHash: Uint8Array): void {
    const session = this.session!;
    this.endSession();
    const staff = session.badge;
    const state = this.states[home];
    if (state === LOCKER.HEALTH_CHECK_HELD && staff.role === ROLE.ICT) {
      this.setLocker(home, LOCKER.ITEM_PRESENT, 0);
      this.parts.events.report(EVENT.HOLD_RELEASED, { locker: home, actor: staff.person, badge: session.hash, detail: DETAIL.HEALTH_CHECK_CLEARED });
      this.parts.feedback.play('accepted');
      return;
    }
    if (state !== LOCKER.ITEM_OUT) return this.refuse(staff.person, tagHash, home, DETAIL.NOT_OUT);
    const asset = this.parts.assets[home]!;
    const next = asset.healthCheckDue ? LOCKER.HEALTH_CHECK_HELD : LOCKER.ITEM_PRESENT;
    this.open(OPEN_RETURN, home, this.owners[home], staff.person, 0, session.hash, next);
  }

  // ---- holds (P4, P5) ----

  /** The locker being opened for this person (a deposit, collection or hold under way), or -1. */
  private openingOf(person: number): number {
    const people = this.openPeople;
    if (people) for (let i = people.indexOf(person); i >= 0; i = people.indexOf(person, i + 1)) {
      if (i % 3 === 0 && this.openings[i / 3]) return i / 3;
    }
    return -1;
  }

  private staffWithPupil(staff: BadgeEntry, pupil: BadgeEntry, pupilHash: Uint8Array): void {
    // A pupil has one locker: while theirs stands open, no hold opens another; shut it, then tap again.
    const opening = this.openingOf(pupil.person);
    if (opening >= 0) return this.refuse(pupil.person, pupilHash, opening, DETAIL.OWN_LOCKER_OPEN);
    const own = this.lockerOf(pupil.person);
    const state = own >= 0 ? this.states[own] : LOCKER.FREE;
    if (staff.role === ROLE.DSL) {
      if (state === LOCKER.SAFEGUARDING_HELD) {
        return this.open(OPEN_RELEASE, own, pupil.person, staff.person, 0, pupilHash, LOCKER.FREE);
      }
      return this.placeHold(own, LOCKER.SAFEGUARDING_HELD, staff, pupil, pupilHash);
    }
    if (state === LOCKER.SAFEGUARDING_HELD) return this.refuse(staff.person, pupilHash, own, DETAIL.LOCKER_HELD);
    if (state === LOCKER.HELD) {
      const timer = this.parts.clock.setTimeout(() => {
        const expired = this.release;
        this.release = null;
        if (expired) this.parts.events.report(EVENT.REFUSED, { locker: expired.locker, actor: expired.first.person, detail: DETAIL.RELEASE_EXPIRED });
      }, this.parts.timing.releaseWindowMs);
      this.release = { locker: own, first: staff, timer };
      this.parts.feedback.play('prompt');
      return;
    }
    this.placeHold(own, LOCKER.HELD, staff, pupil, pupilHash);
  }

  private placeHold(own: number, holdState: number, staff: BadgeEntry, pupil: BadgeEntry, pupilHash: Uint8Array): void {
    if (own >= 0) {
      this.setLocker(own, holdState, pupil.person);
      this.parts.events.report(EVENT.HOLD_SET, { locker: own, person: pupil.person, actor: staff.person, badge: pupilHash });
      this.parts.feedback.play('accepted');
      return;
    }
    // The phone is in the staff member's hand: it goes into a free locker, held from the start.
    const free = this.freeLocker();
    if (free < 0) return this.refuse(staff.person, pupilHash, -1, DETAIL.NO_FREE_LOCKER);
    this.open(OPEN_CONFISCATE, free, pupil.person, staff.person, 0, pupilHash, holdState);
  }

  // ---- commands from the hub (wired in by the uplink) ----

  /**
   * Places or lifts a hold from the office. Returns false when the locker cannot take it, or while
   * its door is being opened (the opening's own outcome would overwrite the hold when it shuts).
   */
  setHold(locker: number, holdState: number, person: number, actor: number): boolean {
    if (!(locker >= 0 && locker < this.lockers) || this.openings[locker]) return false;
    const state = this.states[locker];
    if (holdState === LOCKER.HELD || holdState === LOCKER.SAFEGUARDING_HELD) {
      if (state !== LOCKER.PHONE_IN && state !== LOCKER.HELD && state !== LOCKER.SAFEGUARDING_HELD) return false;
      this.setLocker(locker, holdState, this.owners[locker] || person);
      this.parts.events.report(EVENT.HOLD_SET, { locker, person: this.owners[locker], actor, detail: DETAIL.REMOTE });
      return true;
    }
    if (state !== LOCKER.HELD && state !== LOCKER.SAFEGUARDING_HELD && state !== LOCKER.HEALTH_CHECK_HELD) return false;
    const next = state === LOCKER.HEALTH_CHECK_HELD ? LOCKER.ITEM_PRESENT : LOCKER.PHONE_IN;
    this.setLocker(locker, next, next === LOCKER.ITEM_PRESENT ? 0 : this.owners[locker]);
    this.parts.events.report(EVENT.HOLD_RELEASED, { locker, person: this.owners[locker], actor, detail: DETAIL.REMOTE });
    return true;
  }

  /**
   * False for no such locker, one already being opened (its door unlocked or standing open), or one
   * held: a confiscation opens only to two staff cards (P4), a safeguarding hold to the DSL's (P5).
   */
  remoteUnlock(locker: number, actor: number): boolean {
    if (!(locker >= 0 && locker < this.lockers) || this.openings[locker]) return false;
    if (this.states[locker] === LOCKER.HELD || this.states[locker] === LOCKER.SAFEGUARDING_HELD) return false;
    this.open(OPEN_REMOTE, locker, this.owners[locker], actor, 0, null, this.states[locker]);
    return true;
  }

  /**
   * Emergency: every locker opens in turn (the lock bank keeps to one coil at a time). Openings
   * under way are kept: a deposit whose door the open-all also opened completes when it shuts.
   */
  openAll(actor: number, hash: Uint8Array | null): void {
    this.endSession();
    // Doors may stay open a while after an evacuation: no forced-door alarms until doorLeftOpenMs
    // after the last coil is released (the lock bank says when, from its pulse and rest times).
    let lastReleasedMs = 0;
    for (let i = 0; i < this.lockers; i++) lastReleasedMs = this.parts.locks.pulse(i);
    this.openAllUntilMs = this.parts.clock.nowMs() + lastReleasedMs + this.parts.timing.doorLeftOpenMs;
    this.parts.events.report(EVENT.OPEN_ALL, { actor, badge: hash, detail: hash ? DETAIL.NONE : DETAIL.REMOTE });
    this.parts.feedback.play('alarm');
  }

  // ---- unknown badges ----

  private unknownTap(hash: Uint8Array): void {
    const now = this.parts.clock.nowMs();
    const windowStart = now - this.parts.timing.unknownWindowMs;
    this.unknownTimes = this.unknownTimes.filter((time) => time > windowStart);
    this.unknownTimes.push(now);
    if (this.unknownTimes.length > this.parts.timing.unknownLimit) {
      // Reported once per burst; the reader keeps refusing silently until the window passes.
      if (!this.unknownSuppressed) this.parts.events.report(EVENT.UNKNOWN_BADGE, { badge: hash, detail: DETAIL.RATE_LIMITED });
      this.unknownSuppressed = true;
      return;
    }
    this.unknownSuppressed = false;
    this.parts.events.report(EVENT.UNKNOWN_BADGE, { badge: hash });
    this.parts.feedback.play('refused');
  }

  // ---- openings and doors ----

  private refuse(person: number, hash: Uint8Array | null, locker: number, detail: number): void {
    this.parts.events.report(EVENT.REFUSED, { locker: locker >= 0 ? locker : undefined, person, badge: hash, detail });
    this.parts.feedback.play('refused');
  }

  private open(purpose: number, locker: number, person: number, actor: number, witness: number, badge: Uint8Array | null, nextState: number): void {
    // One opening per locker: a second one for the same locker waits until its door has shut.
    if (this.openings[locker]) return this.refuse(actor || person, badge, locker, DETAIL.BUSY);
    // A door already standing open (forced, or after an open-all) counts as opened.
    this.openings[locker] = purpose | (nextState << 8) | (this.parts.doors.isOpen(locker) ? OPENED : 0);
    if (!this.openPeople) {
      const buffer = new ArrayBuffer(this.lockers * 20);
      this.openPeople = new Uint32Array(buffer, 0, this.lockers * 3);
      this.openBadges = new Uint8Array(buffer, this.lockers * 12);
    }
    const p = locker * 3;
    this.openPeople[p] = person;
    this.openPeople[p + 1] = actor;
    this.openPeople[p + 2] = witness;
    if (badge) this.openBadges!.set(badge, locker * 8);
    this.unlock(locker);
    this.parts.feedback.play('accepted');
  }

  private unlock(locker: number): void {
    const releasedInMs = this.parts.locks.pulse(locker);
    if (this.openings[locker] & OPENED) return; // its left-open timer runs already
    // The door did not spring open in time (written here, not as a method kept for good: about five
    // variables): one retry, then the opening is cancelled and the locker is a fault.
    this.doorTimers[locker] = this.parts.clock.setTimeout(() => {
      this.doorTimers[locker] = -1;
      const opening = this.openings[locker];
      if (!opening || opening & OPENED) return;
      if (!(opening & RETRIED)) {
        this.openings[locker] = opening | RETRIED;
        this.unlock(locker);
        return;
      }
      this.openings[locker] = 0;
      const cancelled: EventFields = { locker, person: this.openPeople![locker * 3], badge: (opening & 15) === OPEN_REMOTE ? null : this.openBadges!.subarray(locker * 8, locker * 8 + 8) };
      let stillOpening = 0;
      for (let i = 0; i < this.lockers; i++) stillOpening |= this.openings[i];
      if (!stillOpening) this.openPeople = this.openBadges = null;
      this.parts.events.report((opening & 15) === OPEN_COLLECT ? EVENT.COLLECT_CANCELLED : EVENT.DEPOSIT_CANCELLED, cancelled);
      this.parts.events.report(EVENT.LOCK_FAULT, { locker, detail: DETAIL.LOCK_RETRY });
      // The contents (if any) stay as they were; the locker takes no more taps until the office clears it.
      if (this.states[locker] === LOCKER.FREE) this.setLocker(locker, LOCKER.FAULT, 0);
      this.parts.feedback.play('alarm');
    }, releasedInMs + this.parts.timing.doorOpenTimeoutMs);
  }

  onDoor(index: number, open: boolean): void {
    if (!(index >= 0 && index < this.lockers)) return;
    const clock = this.parts.clock;
    const opening = this.openings[index];
    // Bit 31 makes a negative number: >>> 0 keeps the bitmap unsigned for the state report.
    this.openDoors = (open ? this.openDoors | (1 << index) : this.openDoors & ~(1 << index)) >>> 0;
    // The door's one timer: an open door ends the wait for it (or an earlier left-open timer) and
    // starts its left-open alarm; a shut door ends that alarm, but not the wait of an unlock.
    if (open || !opening || opening & OPENED) {
      if (this.doorTimers[index] >= 0) clock.clearTimeout(this.doorTimers[index]);
      this.doorTimers[index] = -1;
    }
    if (open) {
      this.doorTimers[index] = clock.setTimeout(() => {
        this.doorTimers[index] = -1;
        if (!this.parts.doors.isOpen(index)) return;
        this.parts.events.report(EVENT.DOOR_LEFT_OPEN, { locker: index });
        this.parts.feedback.play('alarm');
      }, this.parts.timing.doorLeftOpenMs);
      if (opening) this.openings[index] = opening | OPENED;
      else if (clock.nowMs() > this.openAllUntilMs) {
        this.parts.events.report(EVENT.DOOR_FORCED, { locker: index });
        this.parts.feedback.play('alarm');
      }
      return;
    }
    if (!(opening & OPENED)) return;
    // Closed after opening: the opening is complete.
    this.openings[index] = 0;
    const p = index * 3;
    const purpose = opening & 15;
    const nextState = opening >> 8;
    const people = this.openPeople!;
    const fields: EventFields = { locker: index, person: people[p], actor: people[p + 1] || undefined, witness: people[p + 2] || undefined, badge: purpose === OPEN_REMOTE ? null : this.openBadges!.subarray(index * 8, index * 8 + 8) };
    let stillOpening = 0;
    for (let i = 0; i < this.lockers; i++) stillOpening |= this.openings[i];
    if (!stillOpening) this.openPeople = this.openBadges = null;
    if (purpose === OPEN_REMOTE) {
      fields.detail = DETAIL.REMOTE;
      this.parts.events.report(EVENT.REMOTE_UNLOCK, fields);
      return;
    }
    const keepsOwner = nextState !== LOCKER.FREE && nextState !== LOCKER.ITEM_PRESENT && nextState !== LOCKER.HEALTH_CHECK_HELD;
    this.setLocker(index, nextState, keepsOwner ? fields.person! : 0);
    if (purpose === OPEN_DEPOSIT) this.parts.events.report(EVENT.DEPOSIT, fields);
    else if (purpose === OPEN_COLLECT) this.parts.events.report(EVENT.COLLECT, fields);
    else if (purpose === OPEN_LOAN) this.parts.events.report(EVENT.LOAN, fields);
    else if (purpose === OPEN_RETURN) {
      fields.detail = nextState === LOCKER.HEALTH_CHECK_HELD ? DETAIL.HEALTH_CHECK_DUE : DETAIL.NONE;
      this.parts.events.report(EVENT.RETURN, fields);
    } else if (purpose === OPEN_CONFISCATE) {
      fields.detail = DETAIL.CONFISCATED;
      this.parts.events.report(EVENT.HOLD_SET, fields);
    } else if (purpose === OPEN_RELEASE) this.parts.events.report(EVENT.HOLD_RELEASED, fields);
  }

  // ---- lockers ----

  /** Sets a locker's state and owner and keeps them in flash (one record); also the hub's RESTORE_LOCKERS (net/commands.ts). */
  setLocker(index: number, state: number, owner: number): void {
    this.states[index] = state;
    this.owners[index] = owner;
    this.parts.saveLocker(index);
  }

  // The typed arrays' native indexOf does the scanning: a JavaScript loop over 32 lockers costs
  // about 0.5 ms of a tap on the interpreter.
  private lockerOf(person: number): number {
    for (let i = this.owners.indexOf(person); i >= 0; i = this.owners.indexOf(person, i + 1)) {
      if (!this.parts.assets[i]) return i;
    }
    return -1;
  }

  /** A free phone locker not being opened just now (a deposit's locker stays free until its door shuts). */
  private freeLocker(): number {
    for (let i = this.states.indexOf(LOCKER.FREE); i >= 0; i = this.states.indexOf(LOCKER.FREE, i + 1)) {
      if (!this.parts.assets[i] && !this.openings[i]) return i;
    }
    return -1;
  }
}
