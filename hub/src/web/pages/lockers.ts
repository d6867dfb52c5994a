// Lockers now: every station and locker with its state, live — the page's script listens to
// /api/stream and re-reads /lockers/panel (this same rendering) whenever a station event is
// stored or a station reports its state (which doors stand open comes with that report). With the simulated station (`handover start`), the demo cards to tap.
// A trust account that has not chosen a school sees each school's counts instead (a trust has
// 80,000 lockers), each linking to that school's own drawing.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isWebRole, may, ROLE_LABELS } from '../../accounts/roles';
import type { AlertRow } from '../../records/alerts';
import type { LockerView } from '../../records/custody';
import { csrfField } from '../auth';
import type { School, Scope } from '../../records/schools';
import { lockerCountsBySchool } from '../../records/locker-counts';
import { stationsBySchool } from '../stations-by-school';
import { requestScope, schoolQuery, schoolsToSummarise } from '../scope';
import type { WebContext } from '../context';
import { PageError } from '../errors';
import { finishBody } from '../layout';
import { DEMO_STATION_ID, type DemoCard, type DemoItem, type DemoSpareCard } from '../../demo/demo-school';
import { happeningsList, recentHappenings } from './station-happenings';
import { html, plural, timeTag, type Html } from '../html';
import { lockerStateWords } from '../../records/words';


/** Alerts on a locker that make it show as an alarm, in the page's own words (lockers numbered from 1). */
export const LOCKER_ALARMS: Record<string, string> = {
  'door-forced': 'Door forced open',
  'lock-fault': 'Lock did not open',
};

/**
 * An alert in the page's words. The records number lockers from 0 (as the stations do); the page,
 * like the doors, from 1: an alert about a locker names it by its door number, with the station.
 */
export function alertText(alert: { kind: string; subject: string; message: string }): string {
  const locker = /^locker:(.+)\/(\d+)$/.exec(alert.subject);
  if (!locker) return capitalise(alert.message);
  const [, station, index] = locker;
  const door = Number(index) + 1;
  if (LOCKER_ALARMS[alert.kind]) return `${LOCKER_ALARMS[alert.kind]}: station ${station}, locker ${door}`;
  // Any other alert about a locker: its message's "locker N" is the records' number.
  const message = alert.message.replace(new RegExp(`\\blocker ${index}\\b`, 'g'), `locker ${door}`);
  return `${capitalise(message)}${message.includes(`locker ${door}`) ? '' : ` (station ${station}, locker ${door})`}`;
}

/** Whom an alert is for, in words: "the ICT lead". */
export function alertRole(role: string): string {
  return isWebRole(role) ? ROLE_LABELS[role].charAt(0).toLowerCase() + ROLE_LABELS[role].slice(1) : role;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Lockers in a state, counted: "1 phone in", "2 phones in", "3 free". */
const COUNTED_STATES: Record<string, [string, string]> = {
  'phone-in': ['phone in', 'phones in'],
  'item-present': ['item in', 'items in'],
  'item-out': ['item out', 'items out'],
  'safeguarding-held': ['safeguarding hold', 'safeguarding holds'],
  fault: ['fault', 'faults'],
  alarm: ['alarm', 'alarms'],
};

function countedState(count: number, state: string): string {
  const words = COUNTED_STATES[state];
  return words ? plural(count, words[0], words[1]) : `${count} ${stateLabel(state).toLowerCase()}`;
}

export function stateLabel(state: string): string {
  return lockerStateWords(state);
}

/** Open alarms per locker (`station/locker`), from the alerts the records raised and nobody has acknowledged. */
async function lockerAlarms(context: WebContext, scope: Scope): Promise<Map<string, string>> {
  const alarms = new Map<string, string>();
  for (const alert of (await context.records.alerts.open()).filter((candidate) => scope.subject(candidate.subject) && scope.row(candidate))) {
    const match = /^locker:(.+)\/(\d+)$/.exec(alert.subject);
    if (match && LOCKER_ALARMS[alert.kind]) alarms.set(`${match[1]}/${match[2]}`, `${LOCKER_ALARMS[alert.kind]}, ${new Date(alert.at).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })}; not yet acknowledged`);
  }
  return alarms;
}

async function lockerPanel(context: WebContext, scope: Scope): Promise<Html> {
  const schools = await schoolsToSummarise(context, scope);
  if (schools) return schoolsPanel(context, schools, scope);
  // The account's schools' stations only, as SQL conditions (a school's account in a trust).
  const [lockers, phones, stations, alarms] = await Promise.all([context.records.custody.lockers(scope), context.records.custody.phonesIn(scope), context.records.stations.list(scope), lockerAlarms(context, scope)]);
  const byStation = new Map<string, LockerView[]>();
  for (const locker of lockers) {
    if (!byStation.has(locker.stationId)) byStation.set(locker.stationId, []);
    byStation.get(locker.stationId)!.push(locker);
  }
  const doorsOpenNow: string[] = [];
  for (const station of stations) for (const locker of context.link?.states.get(station.id)?.doorsOpen ?? []) doorsOpenNow.push(`locker ${locker + 1} at ${station.id}`);
  const counts = new Map<string, number>();
  for (const locker of lockers) counts.set(locker.state, (counts.get(locker.state) ?? 0) + 1);
  return html`
    <p class="summary">${plural(lockers.length, 'locker')} at ${plural(stations.length, 'station')}:
      ${[...counts.entries()].map(([state, count], index) => html`${index ? ', ' : ''}<span class="count state-${state}">${countedState(count, state)}</span>`)}.</p>
    ${stations.map((station) => {
      const state = context.link?.states.get(station.id);
      const online = state ? state.online : station.status === 'online';
      const doorsOpen = new Set(state?.doorsOpen ?? []);
      return html`
      <section class="station" aria-labelledby="station-${station.id}">
        <h2 id="station-${station.id}">Station ${station.id} <span class="pill ${online ? 'ok' : 'bad'}">${online ? 'online' : 'offline'}</span></h2>
        <ul class="lockers">
          ${(byStation.get(station.id) ?? []).map((locker) => {
            const alarm = alarms.get(`${locker.stationId}/${locker.locker}`);
            const shown = alarm ? 'alarm' : locker.state;
            const doorOpen = doorsOpen.has(locker.locker);
            return html`<li class="locker state-${shown}${doorOpen ? ' door-open' : ''}" data-station="${locker.stationId}" data-locker="${locker.locker}" data-state="${locker.state}" data-door="${doorOpen ? 'open' : 'shut'}">
              <span class="number">Locker ${locker.locker + 1}</span>
              <span class="state">${stateLabel(locker.state)}${alarm ? html` <strong>— alarm</strong>` : null}</span>
              ${doorOpen ? html`<span class="door"><strong>Door open</strong>${online ? null : ' (last report)'}</span>` : null}
              ${locker.personName ? html`<span class="person">${locker.personName}${locker.form ? html` <span class="muted">${locker.form}</span>` : null}</span>` : null}
              ${alarm ? html`<span class="alarm">${alarm}</span>` : null}
              ${locker.since && locker.state !== 'free' ? html`<span class="since">since ${timeTag(locker.since)}</span>` : null}
            </li>`;
          })}
        </ul>
      </section>`;
    })}
    ${happeningsList(await recentHappenings(context.records.db, undefined, scope), doorsOpenNow)}
    <section aria-labelledby="phones-title">
      <h2 id="phones-title">Phones in lockers (${phones.length})</h2>
      ${phones.length
        ? html`<table class="data">
          <thead><tr><th scope="col">Pupil</th><th scope="col">Form</th><th scope="col">Station</th><th scope="col">Locker</th><th scope="col">In since</th></tr></thead>
          <tbody>${phones.map((phone) => html`<tr><td>${phone.personName}</td><td>${phone.form ?? ''}</td><td>${phone.stationId}</td><td>${phone.locker + 1}</td><td>${timeTag(phone.depositedAt)}</td></tr>`)}</tbody>
        </table>`
        : html`<p class="empty">No phones in lockers.</p>`}
    </section>`;
}

/** The schools' counts change with every tap at any of them: re-read at most this often (app.js). */
export const SUMMARY_REFRESH_MS = 5000;

/** The columns of the schools' table: the states in this order, then any other a locker is in. */
const STATE_ORDER = ['phone-in', 'item-present', 'item-out', 'held', 'safeguarding-held', 'fault', 'free'];

/** A trust account's Lockers now before it chooses a school: per school, its stations and lockers counted by state. */
async function schoolsPanel(context: WebContext, schools: School[], scope: Scope): Promise<Html> {
  const { db } = context.records;
  const [counts, perSchool] = await Promise.all([
    lockerCountsBySchool(db),
    stationsBySchool(context, (alert) => {
      const match = /^locker:(.+)\/(\d+)$/.exec(alert.subject);
      return match && LOCKER_ALARMS[alert.kind] ? match[1] : null;
    }),
  ]);
  const bySite = new Map(counts.map((school) => [school.site, school]));
  const states = [...new Set(counts.flatMap((school) => Object.keys(school.states)))].sort((a, b) => (STATE_ORDER.indexOf(a) + 1 || 99) - (STATE_ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b));
  const total = { stations: 0, lockers: 0, states: new Map<string, number>() };
  for (const school of counts) {
    total.stations += school.stations;
    total.lockers += school.lockers;
    for (const [state, n] of Object.entries(school.states)) total.states.set(state, (total.states.get(state) ?? 0) + n);
  }
  return html`
    <p class="summary">${plural(total.lockers, 'locker')} at ${plural(total.stations, 'station')} of ${plural(schools.length, 'school')}:
      ${[...total.states.entries()].map(([state, count], index) => html`${index ? ', ' : ''}<span class="count state-${state}">${countedState(count, state)}</span>`)}.</p>
    <section aria-labelledby="schools-title">
      <h2 id="schools-title">Each school’s lockers</h2>
      <p class="hint">Choose a school to see its stations and lockers, as they change. <a href="/who">Who holds what</a> lists the phones in lockers, 100 to a page.</p>
      <table class="data school-lockers">
        <thead><tr><th scope="col">School</th><th scope="col">Stations online</th><th scope="col">Lockers</th>${states.map((state) => html`<th scope="col">${stateLabel(state)}</th>`)}<th scope="col">Doors open</th><th scope="col">Alarms not yet acknowledged</th></tr></thead>
        <tbody>${schools.map((school) => {
          const lockers = bySite.get(school.id);
          const live = perSchool.get(school.id) ?? { online: 0, doorsOpen: 0, alarms: 0 };
          return html`<tr data-school="${school.id}">
            <th scope="row"><a href="/lockers?school=${encodeURIComponent(school.id)}">${school.name}</a></th>
            <td data-count="online">${live.online} of ${lockers?.stations ?? 0}</td>
            <td data-count="lockers">${lockers?.lockers ?? 0}</td>
            ${states.map((state) => html`<td data-state="${state}">${lockers?.states[state] ?? 0}</td>`)}
            <td data-count="doors-open">${live.doorsOpen}</td>
            <td data-count="alarms">${live.alarms}</td>
          </tr>`;
        })}</tbody>
      </table>
    </section>
    ${happeningsList(await recentHappenings(db, undefined, scope), [])}`;
}

const ROLE_WORDS: Record<string, string> = { staff: 'teacher', office: 'office', ict: 'ICT', dsl: 'DSL', headteacher: 'headteacher', deputy: 'deputy head' };

/** The demo's buttons: each taps a card or an item's tag at the simulated station (README: Try it in five minutes). */
function demoSection(cards: DemoCard[], items: DemoItem[], spares: DemoSpareCard[]): Html {
  const pupils = cards.filter((card) => card.role === 'pupil');
  const staff = cards.filter((card) => card.role !== 'pupil');
  return html`<section class="demo" aria-labelledby="demo-title">
    <h2 id="demo-title">Try it: the simulated station ${DEMO_STATION_ID}</h2>
    <p>Each button taps that card, or an item’s tag, at the station, as a person there would. Lockers 1 to 5 take phones; lockers 6 to 8 hold the demo’s two encrypted sticks and a laptop. The README’s <em>Try it in five minutes</em> walks through every flow.</p>
    <h3>Pupils</h3>
    <p class="hint">A pupil’s tap puts their phone in a free locker, or takes it out of theirs; the door opens and shuts by itself.</p>
    <div class="cards">${pupils.map((card) => html`<button type="button" data-demo-uid="${card.uid}">${card.name}${card.medicalExempt ? ' (medical exemption)' : ''}</button>`)}</div>
    <h3>Staff</h3>
    <p class="hint">A staff card starts a three-second staff session. Tap it twice to borrow an item; tap it, then an item’s tag, to return that item; tap it, then a pupil’s card, to confiscate that pupil’s phone (the DSL’s card places a safeguarding hold instead, and releases it the same way). A confiscation is released by a staff card, the pupil’s card, then a second staff card within 30 seconds, one of the two the headteacher’s.</p>
    <div class="cards">${staff.map((card) => html`<button type="button" data-demo-uid="${card.uid}">${card.name} (${ROLE_WORDS[card.role] ?? card.role})</button>`)}</div>
    <h3>Item tags</h3>
    <div class="cards">${items.map((item) => html`<button type="button" data-demo-uid="${item.uid}">Tag of ${item.tag} (${item.classId === 'laptop' ? 'laptop' : 'stick'}, locker ${item.homeLocker + 1})</button>`)}</div>
    <h3>Spare cards</h3>
    <p class="hint">Blank cards in the office drawer, for someone who forgot theirs. A spare card opens nothing until the office adds it to the pool (<em>Desk → Add a spare card</em>, with the label and card id below) and gives it as a day card; then it opens what that person’s card opens, until the cut-off.</p>
    <div class="cards">${spares.map((spare) => html`<button type="button" data-demo-uid="${spare.uid}">${spare.label} (card id ${spare.uid.toUpperCase()})</button>`)}</div>
    <h3>At the station</h3>
    <p class="hint">A door the office unlocks, or an emergency open-all, stays open until someone shuts it.</p>
    <div class="cards"><button type="button" data-demo-shut>Shut every open door</button></div>
    <h3 id="demo-activity-title">What the demo did</h3>
    <ol class="activity" aria-labelledby="demo-activity-title" aria-live="polite" data-demo-activity></ol>
  </section>`;
}

export function registerLockers(app: FastifyInstance, context: WebContext): void {
  app.get('/lockers', { config: { permission: 'lockers.view' } }, async (request, reply) => {
    await context.audit(request, 'web.viewed', { details: { page: '/lockers' } });
    const scope = await requestScope(context, request);
    // The simulated station is the deployment's own school's (issue 16).
    const demoCards = context.demo && may(request.account!.role, 'demo.tap') && scope.station(DEMO_STATION_ID) ? context.demo.cards() : [];
    const alerts = (await context.records.alerts.open()).filter((alert) => scope.subject(alert.subject) && scope.row(alert));
    const mayAcknowledge = may(request.account!.role, 'alerts.acknowledge');
    return context.render(request, reply, {
      title: 'Lockers now',
      section: '/lockers',
      body: html`
        ${alerts.length
          ? html`<section class="alerts" aria-labelledby="alerts-title"><h2 id="alerts-title">Alerts not yet acknowledged (${alerts.length})</h2>
              <p class="hint">Losses and thefts first (P11). ${mayAcknowledge ? 'Acknowledge an alert once it is dealt with: it then leaves this list, and the acknowledgement is recorded under your name.' : ''}</p>
              <ul>${alerts.slice(0, 8).map(
                (alert) => html`<li class="${alert.kind === 'asset-lost' || alert.kind === 'asset-stolen' ? 'urgent' : ''}" data-alert="${alert.id}">${alertText(alert)} <span class="muted">— for the ${alertRole(alert.role)}, ${timeTag(alert.at)}</span>
                  ${mayAcknowledge
                    ? html`<form method="post" action="/alerts/${alert.id}/acknowledge" class="inline-form">${csrfField(reply)}<button type="submit" aria-label="Acknowledge: ${alertText(alert)}">Acknowledge…</button></form>`
                    : null}</li>`,
              )}</ul>
              ${alerts.length > 8 ? html`<p class="muted">and ${alerts.length - 8} more (acknowledge these to see them).</p>` : null}
            </section>`
          : null}
        <p class="live-status" role="status" aria-live="polite" data-live-status>Updates live as pupils tap.</p>
        <div data-live-panel="/lockers/panel${schoolQuery(request)}" ${(await schoolsToSummarise(context, scope)) ? html`data-live-every-ms="${SUMMARY_REFRESH_MS}"` : null}>${await lockerPanel(context, scope)}</div>
        ${demoCards.length ? demoSection(demoCards, context.demo!.items(), context.demo!.spares()) : null}`,
    });
  });

  // The same panel on its own, for the live refresh (not audited again: the page view was).
  app.get('/lockers/panel', { config: { permission: 'lockers.view' } }, async (request, reply) => reply.type('text/html; charset=utf-8').send(finishBody(await lockerPanel(context, await requestScope(context, request)), 'Lockers now').text));
}

/** Acknowledging an alert: shown first, then done on confirmation, recorded under the member of staff. */
export function registerAlerts(app: FastifyInstance, context: WebContext): void {
  async function openAlert(request: FastifyRequest): Promise<AlertRow> {
    const id = Number((request.params as { id: string }).id);
    const scope = await requestScope(context, request);
    const alert = Number.isInteger(id) ? (await context.records.alerts.open()).find((candidate) => Number(candidate.id) === id && scope.subject(candidate.subject) && scope.row(candidate)) : undefined;
    if (!alert) throw new PageError(404, 'That alert is not open (it may have been acknowledged already).');
    return alert;
  }

  app.post('/alerts/:id/acknowledge', { config: { permission: 'alerts.acknowledge' } }, async (request, reply) => {
    const alert = await openAlert(request);
    const account = request.account!;
    // The records name the person who acknowledged (alerts.acknowledged_by): an account that is
    // not linked to a member of staff cannot be named there.
    if (account.personId === null) {
      throw new PageError(
        409,
        `Your account (${account.username}) is not linked to a member of staff, and an acknowledgement is recorded under the person who made it. Ask the ICT lead or headteacher to run: handover account link ${account.username} --person <your MIS id or staff code>.`,
      );
    }
    if (((request.body ?? {}) as { confirm?: string }).confirm !== 'yes') {
      return context.render(request, reply, {
        title: 'Acknowledge an alert: check and confirm',
        section: '/lockers',
        body: html`<div class="confirm"><h2>This will happen when you confirm</h2><ul>
            <li>The alert “${alertText(alert)}” (for the ${alertRole(alert.role)}, raised ${timeTag(alert.at)}) is marked as acknowledged and leaves the list at the top of Lockers now.</li>
            <li>It is not deleted: the alert, when it was acknowledged and by whom stay in the records and the audit trail, under your account, ${account.username}.</li></ul></div>
          <form method="post" action="/alerts/${alert.id}/acknowledge" class="actions">
            ${csrfField(reply)}<input type="hidden" name="confirm" value="yes">
            <button type="submit" class="primary">Confirm: acknowledge</button> <a class="button" href="/lockers">Cancel</a>
          </form>`,
      });
    }
    await context.records.alerts.acknowledge(Number(alert.id), account.personId);
    await context.audit(request, 'web.alert-acknowledged', { subject: `alert:${alert.id}`, details: { alert: Number(alert.id), kind: alert.kind } });
    context.flash(request, `Alert acknowledged: ${alertText(alert)}.`);
    return reply.redirect('/lockers', 303);
  });
}
