// Lockers now: every station and locker with its state, live — the page's script listens to
// /api/stream and re-reads /lockers/panel (this same rendering) whenever a station event is
// stored. With the simulated station (`handover start`), the demo cards to tap.
import type { FastifyInstance } from 'fastify';
import { may } from '../../accounts/roles';
import type { LockerView } from '../../records/custody';
import type { WebContext } from '../context';
import { html, timeTag, type Html } from '../html';

export const LOCKER_STATE_LABELS: Record<string, string> = {
  free: 'Free',
  'phone-in': 'Phone in',
  'item-present': 'Item in',
  'item-out': 'Item out',
  held: 'Held',
  'safeguarding-held': 'Safeguarding hold',
  'health-check-held': 'Held for ICT check',
  fault: 'Fault',
  alarm: 'Alarm',
};

/** Alerts on a locker that make it show as an alarm, in the page's own words (lockers numbered from 1). */
export const LOCKER_ALARMS: Record<string, string> = {
  'door-forced': 'Door forced open',
  'lock-fault': 'Lock did not open',
};

/** An alert in the page's words when it is about a locker (numbered from 1, as on the doors). */
export function alertText(alert: { kind: string; subject: string; message: string }): string {
  const locker = /^locker:(.+)\/(\d+)$/.exec(alert.subject);
  if (locker && LOCKER_ALARMS[alert.kind]) return `${LOCKER_ALARMS[alert.kind]}: station ${locker[1]}, locker ${Number(locker[2]) + 1}`;
  return alert.message;
}

export function stateLabel(state: string): string {
  return LOCKER_STATE_LABELS[state] ?? state;
}

/** Open alarms per locker (`station/locker`), from the alerts the records raised. */
/** Open alarms per locker (`station/locker`), from the alerts the records raised and nobody has acknowledged. */
async function lockerAlarms(context: WebContext): Promise<Map<string, string>> {
  const alarms = new Map<string, string>();
  for (const alert of await context.records.alerts.open()) {
    const match = /^locker:(.+)\/(\d+)$/.exec(alert.subject);
    if (match && LOCKER_ALARMS[alert.kind]) alarms.set(`${match[1]}/${match[2]}`, `${LOCKER_ALARMS[alert.kind]}, ${new Date(alert.at).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })}; not yet acknowledged`);
  }
  return alarms;
}

async function lockerPanel(context: WebContext): Promise<Html> {
  const [lockers, phones, stations, alarms] = await Promise.all([context.records.custody.lockers(), context.records.custody.phonesIn(), context.records.stations.list(), lockerAlarms(context)]);
  const byStation = new Map<string, LockerView[]>();
  for (const locker of lockers) {
    if (!byStation.has(locker.stationId)) byStation.set(locker.stationId, []);
    byStation.get(locker.stationId)!.push(locker);
  }
  const counts = new Map<string, number>();
  for (const locker of lockers) counts.set(locker.state, (counts.get(locker.state) ?? 0) + 1);
  return html`
    <p class="summary">${lockers.length} lockers at ${stations.length} station${stations.length === 1 ? '' : 's'}:
      ${[...counts.entries()].map(([state, count], index) => html`${index ? ', ' : ''}<span class="count state-${state}">${count} ${stateLabel(state).toLowerCase()}</span>`)}.</p>
    ${stations.map((station) => {
      const state = context.link?.states.get(station.id);
      const online = state ? state.online : station.status === 'online';
      return html`
      <section class="station" aria-labelledby="station-${station.id}">
        <h2 id="station-${station.id}">Station ${station.id} <span class="pill ${online ? 'ok' : 'bad'}">${online ? 'online' : 'offline'}</span></h2>
        <ul class="lockers">
          ${(byStation.get(station.id) ?? []).map((locker) => {
            const alarm = alarms.get(`${locker.stationId}/${locker.locker}`);
            const shown = alarm ? 'alarm' : locker.state;
            return html`<li class="locker state-${shown}" data-station="${locker.stationId}" data-locker="${locker.locker}" data-state="${locker.state}">
              <span class="number">Locker ${locker.locker + 1}</span>
              <span class="state">${stateLabel(locker.state)}${alarm ? html` <strong>— alarm</strong>` : null}</span>
              ${locker.personName ? html`<span class="person">${locker.personName}${locker.form ? html` <span class="muted">${locker.form}</span>` : null}</span>` : null}
              ${alarm ? html`<span class="alarm">${alarm}</span>` : null}
              ${locker.since && locker.state !== 'free' ? html`<span class="since">since ${timeTag(locker.since)}</span>` : null}
            </li>`;
          })}
        </ul>
      </section>`;
    })}
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

export function registerLockers(app: FastifyInstance, context: WebContext): void {
  app.get('/lockers', { config: { permission: 'lockers.view' } }, async (request, reply) => {
    await context.audit(request, 'web.viewed', { details: { page: '/lockers' } });
    const demoCards = context.demo && may(request.account!.role, 'demo.tap') ? context.demo.cards() : [];
    const alerts = await context.records.alerts.open();
    return context.render(request, reply, {
      title: 'Lockers now',
      section: '/lockers',
      body: html`
        ${alerts.length
          ? html`<section class="alerts" aria-labelledby="alerts-title"><h2 id="alerts-title">Alerts not yet acknowledged (${alerts.length})</h2>
              <p class="hint">Losses and thefts first (P11).</p>
              <ul>${alerts.slice(0, 8).map((alert) => html`<li class="${alert.kind === 'asset-lost' || alert.kind === 'asset-stolen' ? 'urgent' : ''}">${alertText(alert)} <span class="muted">— for the ${alert.role}, ${timeTag(alert.at)}</span></li>`)}</ul>
              ${alerts.length > 8 ? html`<p class="muted">and ${alerts.length - 8} more.</p>` : null}
            </section>`
          : null}
        <p class="live-status" role="status" aria-live="polite" data-live-status>Updates live as pupils tap.</p>
        <div data-live-panel="/lockers/panel">${await lockerPanel(context)}</div>
        ${demoCards.length
          ? html`<section class="demo" aria-labelledby="demo-title">
              <h2 id="demo-title">Simulated station demo-1: tap a card</h2>
              <p>Each button is a demo pupil tapping their card: the lock releases, the door opens and closes, and the locker above changes.</p>
              <div class="cards">${demoCards.map((card) => html`<button type="button" data-demo-uid="${card.uid}">${card.name}${card.medicalExempt ? ' (medical exemption)' : ''}</button>`)}</div>
              <ol class="activity" aria-live="polite" data-demo-activity></ol>
            </section>`
          : null}`,
    });
  });

  // The same panel on its own, for the live refresh (not audited again: the page view was).
  app.get('/lockers/panel', { config: { permission: 'lockers.view' } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send((await lockerPanel(context)).text));
}
