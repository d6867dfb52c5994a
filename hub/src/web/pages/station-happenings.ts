// What just happened at the stations, as sentences for Lockers now: taps that opened nothing (a
// medical exemption, an unknown card, a refusal and why), doors forced or left open, faults, holds,
// loans — the latest first, live with the locker wall. No one is named: a safeguarding hold's pupil
// must not be identifiable to other roles, and the wall above already names whose phone is where.
import { DETAIL, EVENT } from '../../../../protocol/wire';
import type { Scope } from '../../records/schools';
import type { SqlDatabase } from '../../db/sql';
import { html, timeTag, type Html } from '../html';

export type Tone = 'ok' | 'warn' | 'bad';

export interface Happening {
  key: string;
  at: string;
  tone: Tone;
  text: string;
}

interface EventRow {
  station_id: string;
  boot: number;
  seq: number;
  type: number;
  locker: number | null;
  detail: string | number | null;
  received_at: string;
}

/** How many of the latest events Lockers now shows. */
export const HAPPENINGS_SHOWN = 8;

function refusal(detail: number, where: string, door: string, locker: string): [Tone, string] {
  switch (detail) {
    case DETAIL.OWN_LOCKER_OPEN:
      return ['warn', `${door} is still open: the pupil must shut it to finish, and nothing else opens for them meanwhile.`];
    case DETAIL.BUSY:
      return ['warn', `${door} is already being opened.`];
    case DETAIL.NO_FREE_LOCKER:
      return ['bad', `A card was refused ${where}: no locker is free.`];
    case DETAIL.LOCKER_HELD:
      return ['warn', `A card was refused ${where}: ${locker} is held, and only staff can release it.`];
    case DETAIL.NOT_ENROLLED:
      return ['warn', `A staff card ${where} may not borrow any of the items kept there (P12).`];
    case DETAIL.NO_ITEM_AVAILABLE:
      return ['warn', `A staff card ${where} found nothing to borrow: every item there is out.`];
    case DETAIL.RELEASE_NEEDS_SENIOR:
      return ['warn', `The release of ${locker} was refused: one of the two members of staff must be the headteacher or a deputy (P4).`];
    case DETAIL.RELEASE_EXPIRED:
      return ['warn', `The release of ${locker} was not finished: no second staff card came in time (P4).`];
    case DETAIL.SAME_STAFF_TWICE:
      return ['warn', `The release of ${locker} was refused: it needs two different members of staff, not the same card twice (P4).`];
    case DETAIL.NOT_OUT:
      return ['warn', `An item’s tag was tapped ${where}, but ${locker} does not show that item as lent.`];
    case DETAIL.HEALTH_CHECK_DUE:
      return ['warn', `${door} holds a laptop due its health check: ICT must clear it first (P10).`];
    default:
      return ['warn', `A card was refused ${where}.`];
  }
}

/** One stored station event in words, or null for an event the feed leaves out. */
export function describeEvent(event: EventRow): Happening | null {
  const where = `at ${event.station_id}`;
  // "locker 3 at demo-1" inside a sentence, "Locker 3 at demo-1" at its start.
  const locker = event.locker === null ? `a locker ${where}` : `locker ${Number(event.locker) + 1} ${where}`;
  const door = locker.charAt(0).toUpperCase() + locker.slice(1);
  const detail = Number(event.detail ?? 0);
  const said = (tone: Tone, text: string): Happening => ({ key: `${event.station_id}/${event.boot}/${event.seq}`, at: event.received_at, tone, text });
  switch (Number(event.type)) {
    case EVENT.DEPOSIT:
      return said('ok', `${door}: a phone was put in.`);
    case EVENT.COLLECT:
      return said('ok', `${door}: a phone was collected.`);
    case EVENT.DEPOSIT_CANCELLED:
    case EVENT.COLLECT_CANCELLED:
      return said('warn', `${door} was unlocked but its door was never opened: nothing changed.`);
    case EVENT.EXEMPT:
      return said('ok', `A pupil with a medical exemption tapped ${where}: the tap is recorded and they keep their phone (P3).`);
    case EVENT.UNKNOWN_BADGE:
      return said('bad', detail === DETAIL.RATE_LIMITED ? `Unknown cards keep being tapped ${where}: further taps are ignored for a while.` : `An unknown card was tapped ${where}: nothing opened.`);
    case EVENT.REFUSED: {
      const [tone, text] = refusal(detail, where, door, locker);
      return said(tone, text);
    }
    case EVENT.LOAN:
      return said('ok', `${door}: an item was borrowed.`);
    case EVENT.RETURN:
      return said('ok', detail === DETAIL.HEALTH_CHECK_DUE ? `${door}: a laptop was returned and is held for its health check (P10).` : `${door}: an item was returned.`);
    case EVENT.HOLD_SET:
      return said('warn', detail === DETAIL.CONFISCATED ? `${door}: a confiscated phone was put in and is held (P4).` : `${door} is now held: the pupil’s card no longer opens it.`);
    case EVENT.HOLD_RELEASED:
      return said('ok', detail === DETAIL.HEALTH_CHECK_CLEARED ? `${door}: ICT cleared the laptop’s health check; it can be lent again.` : `${door}: its hold was released and the door opened.`);
    case EVENT.OPEN_ALL:
      return said('bad', `Every locker ${where} was opened in an emergency.`);
    case EVENT.DOOR_FORCED:
      return said('bad', `${door} was forced open.`);
    case EVENT.DOOR_LEFT_OPEN:
      return said('bad', `${door} has been left open.`);
    case EVENT.LOCK_FAULT:
      return said('bad', `The lock of ${locker} did not open: the locker is out of use until it is repaired.`);
    case EVENT.READER_FAULT:
      return said('bad', `The card reader ${where} has a fault: cards cannot be read there.`);
    case EVENT.READER_RECOVERED:
      return said('ok', `The card reader ${where} works again.`);
    case EVENT.JOURNAL_FULL:
      return said('bad', `Station ${event.station_id}’s event store is full: it cannot keep new events until the hub takes them.`);
    case EVENT.FAULT:
      return said('bad', `Station ${event.station_id} found a storage or configuration fault when it started.`);
    case EVENT.REMOTE_UNLOCK:
      return said('ok', `${door} was unlocked from the office.`);
    case EVENT.BOOT:
      return said('ok', `Station ${event.station_id} started.`);
    default:
      return null;
  }
}

export async function recentHappenings(db: SqlDatabase, limit = HAPPENINGS_SHOWN, scope?: Scope): Promise<Happening[]> {
  // Of the account's schools only (issue 16): the stations of those schools.
  const school = scope?.where('s.site') ?? { sql: '1 = 1', params: [] };
  const rows = await db.all<EventRow>(
    `SELECT e.station_id, e.boot, e.seq, e.type, e.locker, e.detail, e.received_at FROM station_events e ${scope && !scope.everything ? 'JOIN stations s ON s.id = e.station_id' : ''} WHERE ${scope && !scope.everything ? school.sql : '1 = 1'} ORDER BY e.received_at DESC, e.seq DESC LIMIT ?`,
    [...(scope && !scope.everything ? school.params : []), limit * 2],
  );
  return rows.map(describeEvent).filter((happening): happening is Happening => happening !== null).slice(0, limit);
}

/** The feed's markup (inside the live panel, so it changes as the wall does). */
export function happeningsList(happenings: Happening[], doorsOpenNow: string[]): Html {
  return html`<section class="feed" aria-labelledby="feed-title">
    <h2 id="feed-title">At the stations just now</h2>
    ${doorsOpenNow.length ? html`<p class="tone-warn" data-doors-open><strong>Open now:</strong> ${doorsOpenNow.join(', ')}.</p>` : null}
    ${happenings.length
      ? html`<ol class="happenings">${happenings.map((item) => html`<li class="tone-${item.tone}" data-happening="${item.key}">${item.text} <span class="muted">${timeTag(item.at)}</span></li>`)}</ol>`
      : html`<p class="empty">Nothing has happened at the stations yet.</p>`}
  </section>`;
}
