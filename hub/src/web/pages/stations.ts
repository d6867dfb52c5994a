// Stations: each one online or offline (from its broker session, or with Mosquitto its retained birth message and last will), when it
// was last heard, its board (and when it was replaced), firmware, journal backlog, memory and
// reader, and its alarms; remote unlock
// of one locker and emergency open-all, each shown with its effect and confirmed first, sent as a
// signed command, and recorded under the account. A trust account that has not chosen a school sees
// each school's stations counted (a trust has 2,500), each linking to that school's own table.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EVENT } from '../../../../protocol/wire';
import { may } from '../../accounts/roles';
import { boardName } from '../../records/station-boards';
import type { StationRow } from '../../records/stations';
import { csrfField } from '../auth';
import type { WebContext } from '../context';
import { requestScope, schoolQuery, schoolsToSummarise } from '../scope';
import { stationsBySchool } from '../stations-by-school';
import type { School, Scope } from '../../records/schools';
import { PageError } from '../errors';
import { finishBody } from '../layout';
import { html, plural, timeTag } from '../html';
import { alertText, LOCKER_ALARMS, stateLabel, SUMMARY_REFRESH_MS } from './lockers';
import type { BadgeListStatus } from '../../stations/badge-sync';
import { actorFor } from '../../accounts/roles';
import { FirmwareRecords, type Stage, type TargetRow } from '../../firmware/records';

/** Hours and minutes on the hub's clock, as the office reads a time today. */
function clockTime(iso: string): string {
  const at = new Date(iso);
  return `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
}

/** "Up to date", "Updating 40 %", "Behind since 10:58 — retrying in 30 s", with the versions. */
export function badgeListText(status: BadgeListStatus, online: boolean, now = Date.now()): { text: string; tone: 'ok' | 'warn' | 'bad' | 'muted' } {
  if (status.hubVersion === null) return { text: 'No badge list built yet', tone: 'muted' };
  if (status.stationVersion === null) return { text: 'Not reported yet', tone: 'muted' };
  if (status.state === 'current') return { text: 'Up to date', tone: 'ok' };
  if (status.state === 'updating') return { text: `Updating ${status.percent ?? 0} %`, tone: 'warn' };
  const since = status.behindSince ? `Behind since ${clockTime(status.behindSince)}` : 'Behind';
  if (!online) return { text: `${since} — offline; sent when it is back`, tone: 'bad' };
  if (status.retryAt) {
    const seconds = Math.max(1, Math.ceil((Date.parse(status.retryAt) - now) / 1000));
    return { text: `${since} — retrying in ${seconds} s${status.lastError ? ` (last try: ${status.lastError})` : ''}`, tone: 'bad' };
  }
  return { text: `${since} — sending now`, tone: 'warn' };
}

/** Station events that are alarms, listed for the last ALARM_HOURS. */
const ALARM_NAMES: Record<number, string> = {
  [EVENT.DOOR_FORCED]: 'Door forced open',
  [EVENT.DOOR_LEFT_OPEN]: 'Door left open',
  [EVENT.LOCK_FAULT]: 'Lock did not open',
  [EVENT.READER_FAULT]: 'Card reader fault',
  [EVENT.JOURNAL_FULL]: 'Event journal full',
  [EVENT.FAULT]: 'Storage or configuration fault at boot',
};
const ALARM_EVENTS = Object.keys(ALARM_NAMES).map(Number);
const ALARM_HOURS = 24;

/** An alert in the page's words when it is about a locker (numbered from 1 as on the doors), else the records' own message. */
function describeAlert(alert: { kind: string; subject: string; message: string }): string {
  const locker = /^locker:.+\/(\d+)$/.exec(alert.subject);
  if (locker && LOCKER_ALARMS[alert.kind]) return `${LOCKER_ALARMS[alert.kind]}, locker ${Number(locker[1]) + 1}`;
  return alertText(alert);
}

/** The station's board, and the last swap: both boards' events are kept apart, none lost. */
function boardCell(station: StationRow) {
  if (station.board === null) return null;
  const board = Number(station.board);
  const named = board === 0 ? 'from before board identities' : boardName(board);
  if (station.previous_board === null) return html`<br><span class="muted">Board ${named}</span>`;
  const previous = Number(station.previous_board);
  return html`<br><span class="pill warn" data-board-swap>Board replaced at ${timeTag(station.board_since)} — new board ${named}</span><br><span class="muted">Previous board ${previous === 0 ? '(from before board identities)' : boardName(previous)}; the events of both are kept.</span>`;
}

/** A station's firmware update in words: "Sending 40 %", "Went back to 0.3.0 by itself — …". */
export function firmwareStateText(target: TargetRow): { text: string; tone: 'ok' | 'warn' | 'bad' | 'muted' } {
  const percent = target.total > 0 ? Math.floor((100 * target.sent) / target.total) : 0;
  switch (target.state) {
    case 'waiting':
      // last_error is already a sentence (firmware/reasons.ts): never a code.
      return { text: percent > 0 ? `Waiting to go on from ${percent} %.${target.last_error ? ` ${target.last_error}` : ''}` : 'Waiting to be sent', tone: 'muted' };
    case 'sending':
      return { text: `Sending ${percent} %`, tone: 'warn' };
    case 'switched':
      return { text: 'Sent; restarting into it, to be confirmed', tone: 'warn' };
    case 'done':
      return { text: 'Running it (confirmed)', tone: 'ok' };
    case 'rolled-back':
      return { text: `Rolled back by itself — ${target.last_error ?? 'the new firmware did not confirm'}`, tone: 'bad' };
    case 'refused':
      return { text: `Refused. ${target.last_error ?? 'The station refused the update.'}`, tone: 'bad' };
  }
}

export function registerStations(app: FastifyInstance, context: WebContext): void {
  const { records } = context;
  const firmware = new FirmwareRecords(records.db, records.audit);

  async function stationOf(request: FastifyRequest): Promise<StationRow> {
    const id = String((request.params as { id: string }).id);
    const station = await records.stations.get(id);
    if (!station || !(await requestScope(context, request)).station(station.id)) throw new PageError(404, `There is no station ${id}.`);
    return station;
  }

  function lockerOf(request: FastifyRequest, station: StationRow): number {
    const number = Number(((request.body ?? {}) as { locker?: string }).locker);
    if (!Number.isInteger(number) || number < 1 || number > Number(station.lockers)) throw new PageError(422, `Choose a locker from 1 to ${station.lockers}.`);
    return number - 1;
  }

  app.get('/stations', { config: { permission: 'stations.view' } }, async (request, reply) => {
    const scope = await requestScope(context, request);
    const schools = await schoolsToSummarise(context, scope);
    // A trust account before it chooses a school: no station's commands (they are 2,500), each school's table a click away.
    const stations = schools ? [] : await records.stations.list(scope);
    const account = request.account!;
    await context.audit(request, 'web.viewed', { details: { page: '/stations' } });
    return context.render(request, reply, {
      title: 'Stations',
      section: '/stations',
      body: html`
        <p class="live-status" role="status" aria-live="polite" data-live-status data-live-text="Live: updates as the stations report.">${context.brokerRefusals ? 'Online and offline come from each station’s own signed-in connection to the hub’s broker.' : 'Online and offline come from each station’s own birth message and last will.'}</p>
        <div data-live-panel="/stations/panel${schoolQuery(request)}" ${schools ? html`data-live-every-ms="${SUMMARY_REFRESH_MS}"` : null}>${await stationsPanel(scope)}</div>
        ${await firmwareSection(scope, schools, schoolQuery(request), may(account.role, 'firmware.manage'), reply)}
        ${refusalsSection(scope)}
        ${schools ? html`<p class="hint">To unlock a locker or open a station’s lockers in an emergency, choose its school above.</p>` : null}
        ${stations.map(
          (station) => html`<section aria-labelledby="actions-${station.id}"><h2 id="actions-${station.id}">Station ${station.id}: remote commands</h2>
          ${may(account.role, 'stations.unlock')
            ? html`<form method="post" action="/stations/${station.id}/unlock" class="field-row">
                ${csrfField(reply)}
                <p><label for="locker-${station.id}">Locker to unlock</label>
                  <select id="locker-${station.id}" name="locker">${Array.from({ length: Number(station.lockers) }, (_, index) => html`<option value="${index + 1}">Locker ${index + 1}</option>`)}</select></p>
                <p><button type="submit">Unlock… (asks to confirm)</button></p>
              </form>
              <div class="danger-zone">
                <h3>Emergency at ${station.id}</h3>
                <p class="hint">For a fire or an evacuation: every locker at the station opens in turn.</p>
                <form method="post" action="/stations/${station.id}/open-all" class="field-row">
                  ${csrfField(reply)}
                  <p><button type="submit" class="danger">Emergency: open every locker… (asks to confirm)</button></p>
                </form>
              </div>`
            : html`<p class="hint">Remote unlock and open-all are for office, ICT and the headteacher.</p>`}
          </section>`,
        )}`,
    });
  });

  /** Firmware updates (issue 19): each station's running version and its update; rollout and pause for who may. */
  async function firmwareSection(scope: Scope, schools: School[] | null, query: string, manage: boolean, reply: Parameters<typeof csrfField>[0]) {
    const stations = schools ? [] : await records.stations.list(scope);
    const targets = await firmware.targets();
    const bundles = await firmware.bundles();
    const paused = await firmware.paused();
    const aborts = await firmware.aborts();
    return html`<section aria-labelledby="firmware"><h2 id="firmware">Firmware</h2>
      ${paused ? html`<p class="pill warn" data-firmware-paused>Rollout paused: no transfer starts or goes on.</p>` : null}
      ${schools ? await firmwareBySchool(schools, targets) : html`<div class="table-wrap"><table class="data firmware">
        <thead><tr><th scope="col">Station</th><th scope="col">Running</th><th scope="col">Update</th><th scope="col">Progress</th>${manage ? html`<th scope="col">Withdraw</th>` : null}</tr></thead>
        <tbody>${stations.map((station) => {
          const target = targets.find((row) => row.station_id === station.id);
          const abort = aborts.find((row) => row.station_id === station.id);
          const shown = target ? firmwareStateText(target) : abort ? { text: `${abort.version} withdrawn; the station erases the part it holds when it is next online`, tone: 'muted' } : null;
          return html`<tr data-firmware-row="${station.id}"><th scope="row">${station.id}</th><td>${context.link?.states.get(station.id)?.firmware ?? '—'}</td>
            <td>${target ? `${target.version}${target.rollback ? ' (rollback)' : ''}` : 'none'}</td>
            <td data-firmware-state="${target?.state ?? (abort ? 'withdrawn' : '')}">${shown ? html`<span class="pill ${shown.tone}">${shown.text}</span>` : '—'}</td>
            ${manage
              ? html`<td>${target && (target.state === 'waiting' || target.state === 'sending')
                  ? html`<form method="post" action="/stations/firmware/withdraw${query}">${csrfField(reply)}<input type="hidden" name="station" value="${station.id}"><button type="submit" aria-label="Withdraw firmware ${target.version} from ${station.id}">Withdraw</button></form>`
                  : null}</td>`
              : null}</tr>`;
        })}</tbody></table></div>`}
      ${bundles.length === 0
        ? html`<p class="hint">No firmware uploaded. The ICT lead uploads a bundle with <code>handover firmware upload dist/firmware.js --by …</code>.</p>`
        : html`<p>Uploaded: ${bundles.map((bundle) => `${bundle.version} (${bundle.size.toLocaleString('en-GB')} bytes)`).join(', ')}.</p>`}
      ${manage && bundles.length > 0
        ? html`<form method="post" action="/stations/firmware/rollout${query}" class="field-row">${csrfField(reply)}
            <p><label for="fw-version">Version</label> <select id="fw-version" name="version">${bundles.map((bundle) => html`<option value="${bundle.version}">${bundle.version}</option>`)}</select></p>
            <p><label for="fw-stage">To</label> <select id="fw-stage" name="stage"><option value="one">one more station</option><option value="room">a room’s worth (4 more)</option><option value="all">every station</option>${stations.map((station) => html`<option value="station:${station.id}">station ${station.id}</option>`)}</select></p>
            <p><label><input type="checkbox" name="rollback" value="yes"> an older version: roll back</label></p>
            <p><button type="submit">Roll out</button></p></form>
          ${scope.everything ? html`<form method="post" action="/stations/firmware/${paused ? 'resume' : 'pause'}">${csrfField(reply)}<p><button type="submit">${paused ? 'Resume the rollout' : 'Pause the rollout'}</button></p></form>` : null}`
        : manage
          ? null
          : html`<p class="hint">Uploading and rolling out firmware is for the ICT lead and the headteacher.</p>`}
    </section>`;
  }

  app.post('/stations/firmware/rollout', { config: { permission: 'firmware.manage' } }, async (request, reply) => {
    const body = (request.body ?? {}) as { version?: string; stage?: string; rollback?: string };
    // "To": a stage, or one station chosen by name ("station:<id>").
    const named = String(body.stage ?? '').startsWith('station:') ? [String(body.stage).slice('station:'.length)] : undefined;
    const stage = (['one', 'room', 'all'].includes(String(body.stage)) ? body.stage : 'one') as Stage;
    // An account of one school rolls out to its school's stations only (a trust account: to all, or the school it filters by).
    const scope = await requestScope(context, request);
    const chosen = await firmware.rollout(String(body.version ?? ''), named ? { stations: named, within: (id) => scope.station(id) } : { stage, within: (id) => scope.station(id) }, body.rollback === 'yes', actorFor(request.account!));
    context.flash(request, `Firmware ${body.version} goes to ${chosen.join(', ')} while each is online.`);
    return reply.redirect('/stations#firmware', 303);
  });

  // Withdraw one station's update: the transfer stops and the station erases the part it holds (firmware/records.ts).
  app.post('/stations/firmware/withdraw', { config: { permission: 'firmware.manage' } }, async (request, reply) => {
    const body = (request.body ?? {}) as { station?: string };
    const scope = await requestScope(context, request);
    const { withdrawn } = await firmware.withdraw({ stations: [String(body.station ?? '')], within: (id) => scope.station(id) }, actorFor(request.account!));
    context.flash(request, `Firmware withdrawn from ${withdrawn.join(', ')}: the station erases the part it holds when it is next online.`);
    return reply.redirect('/stations#firmware', 303);
  });

  for (const action of ['pause', 'resume'] as const) {
    app.post(`/stations/firmware/${action}`, { config: { permission: 'firmware.manage' } }, async (request, reply) => {
      // The pause holds every school's rollout: a school's account withdraws its own stations' updates instead (issue 16).
      if (!(await requestScope(context, request)).everything) throw new PageError(403, 'Pausing the rollout stops it at every school of the trust, so a trust account does it. To stop an update at one of your stations, withdraw it.');
      await firmware.setPaused(action === 'pause', actorFor(request.account!));
      context.flash(request, action === 'pause' ? 'Firmware rollout paused.' : 'Firmware rollout resumed.');
      return reply.redirect('/stations#firmware', 303);
    });
  }

  /** Each school's stations' firmware updates counted by state (a trust account before it chooses a school). */
  async function firmwareBySchool(schools: School[], targets: TargetRow[]) {
    const siteOf = new Map((await records.db.all<{ id: string; site: string }>('SELECT id, site FROM stations')).map((station) => [station.id, station.site]));
    const stages: Array<[string, TargetRow['state'][]]> = [['Waiting or sending', ['waiting', 'sending', 'switched']], ['Running it', ['done']], ['Rolled back or refused', ['rolled-back', 'refused']]];
    const count = (school: string, states: TargetRow['state'][]) => targets.filter((target) => siteOf.get(target.station_id) === school && states.includes(target.state)).length;
    return html`<div class="table-wrap"><table class="data firmware-schools">
      <thead><tr><th scope="col">School</th>${stages.map(([label]) => html`<th scope="col">${label}</th>`)}</tr></thead>
      <tbody>${schools.map((school) => html`<tr data-school="${school.id}"><th scope="row"><a href="/stations?school=${encodeURIComponent(school.id)}#firmware">${school.name}</a></th>${stages.map(([, states]) => html`<td>${count(school.id, states)}</td>`)}</tr>`)}</tbody></table></div>`;
  }

  /**
   * What the broker and the ingest refused since the hub started: counted, never a line each. A
   * school's account sees its own stations' only; what names no station of a school (a stranger's
   * connection, a frame on an unknown station's topic) is the trust's.
   */
  function refusalsSection(scope: Scope) {
    const all = context.brokerRefusals?.() ?? null;
    const refusals = all && (scope.everything ? all : all.filter((refusal) => refusal.station !== null && scope.station(refusal.station)));
    const rejected = scope.everything ? context.ingest.rejectedTotal : context.ingest.rejectedAt((station) => scope.station(station));
    return html`<section aria-labelledby="refused"><h2 id="refused">Refused by the broker and the hub</h2>
      <p>Frames the hub refused since it started (bad signature, replayed, malformed…): <strong data-rejected-frames>${rejected}</strong> (the latest at <code>/api/rejections</code>).</p>
      ${refusals === null
        ? html`<p class="hint">The broker is external (Mosquitto): it logs the connections and messages it refuses itself.</p>`
        : refusals.length === 0
          ? html`<p>The broker has refused no connection, publish or subscription since the hub started.</p>`
          : html`<div class="table-wrap"><table class="data broker-refusals"><thead><tr><th scope="col">Client</th><th scope="col">Refused</th><th scope="col">Why</th><th scope="col">Times</th><th scope="col">Last</th></tr></thead>
            <tbody>${refusals.map((r) => html`<tr data-refusal="${r.what}"><td>${r.client}</td><td>${r.what}</td><td>${r.reason}</td><td data-count>${r.count}</td><td>${timeTag(r.last)}</td></tr>`)}</tbody></table></div>`}
    </section>`;
  }

  /** Per school: its stations, how many are online, badge lists behind, open alarms (a trust account before it chooses a school). */
  async function schoolsPanel(schools: School[]) {
    const counts = await stationsBySchool(context, (alert) => /^(?:locker|station):([^/]+)/.exec(alert.subject)?.[1] ?? null);
    return html`<div class="table-wrap"><table class="data school-stations">
      <thead><tr><th scope="col">School</th><th scope="col">Stations</th><th scope="col">Online</th><th scope="col">Offline</th><th scope="col">Badge list behind</th><th scope="col">Alarms not yet acknowledged</th></tr></thead>
      <tbody>${schools.map((school) => {
        const count = counts.get(school.id) ?? { stations: 0, online: 0, badgesBehind: 0, alarms: 0 };
        return html`<tr data-school="${school.id}"><th scope="row"><a href="/stations?school=${encodeURIComponent(school.id)}">${school.name}</a></th>
          <td data-count="stations">${count.stations}</td><td data-count="online">${count.online}</td><td data-count="offline">${count.stations - count.online}</td>
          <td data-count="badge-behind">${count.badgesBehind}</td><td data-count="alarms">${count.alarms}</td></tr>`;
      })}</tbody></table></div>`;
  }

  async function stationsPanel(scope: Scope) {
    const schools = await schoolsToSummarise(context, scope);
    if (schools) return schoolsPanel(schools);
    const stations = await records.stations.list(scope);
    const alerts = await records.alerts.open();
    const since = new Date(Date.now() - ALARM_HOURS * 3600_000).toISOString();
    // The latest 200 of the account's schools' stations (issue 16), not of the whole trust's.
    const site = scope.where('s.site');
    const recent = await records.db.all<{ station_id: string; type: number; locker: number | null; received_at: string }>(
      `SELECT e.station_id, e.type, e.locker, e.received_at FROM station_events e JOIN stations s ON s.id = e.station_id
       WHERE e.type IN (${ALARM_EVENTS.map(() => '?').join(', ')}) AND e.received_at >= ? AND ${site.sql} ORDER BY e.received_at DESC LIMIT 200`,
      [...ALARM_EVENTS, since, ...site.params],
    );
    return html`<div class="table-wrap"><table class="data stations">
      <thead><tr><th scope="col">Station</th><th scope="col">Status</th><th scope="col">Last heard</th><th scope="col">Firmware</th><th scope="col">Journal backlog</th><th scope="col">Memory</th><th scope="col">Reader</th><th scope="col">Badge list</th><th scope="col">Alarms (open, and the last 24 hours)</th></tr></thead>
      <tbody>${stations.map((station) => {
        const state = context.link?.states.get(station.id);
        const online = state ? state.online : station.status === 'online';
        const alarms = alerts.filter((alert) => alert.subject.startsWith(`locker:${station.id}/`) || alert.subject === `station:${station.id}`);
        const lockerAlarms = (state?.lockers ?? []).map((name, index) => ({ name, index })).filter((locker) => locker.name === 'fault');
        const events = recent.filter((event) => event.station_id === station.id).slice(0, 5);
        return html`<tr data-station-row="${station.id}">
          <th scope="row">${station.id}<br><span class="muted">${plural(Number(station.lockers), 'locker')}</span>${boardCell(station)}</th>
          <td><span class="pill ${online ? 'ok' : 'bad'}">${online ? 'online' : 'offline'}</span></td>
          <td>${timeTag(station.last_seen ?? state?.updatedAt ?? null)}</td>
          <td>${state?.firmware ?? '—'}</td>
          <td>${state?.journalBacklog ? `${plural(state.journalBacklog, 'event')} waiting` : state?.journalBacklog === 0 ? 'none waiting' : '—'}</td>
          <td>${memoryText(state?.memory)}</td>
          <td>${state?.reader ?? '—'}</td>
          <td data-badge-list>${badgeCell(station.id, online)}</td>
          <td>${alarms.length || lockerAlarms.length || events.length
            ? html`<ul class="alarms">${alarms.map((alert) => html`<li>${describeAlert(alert)} <span class="muted">(${timeTag(alert.at)}, not yet acknowledged)</span></li>`)}${lockerAlarms.map((locker) => html`<li>Locker ${locker.index + 1}: ${stateLabel(locker.name)} now</li>`)}${events.map((event) => html`<li>${ALARM_NAMES[Number(event.type)]}${event.locker === null ? '' : `, locker ${Number(event.locker) + 1}`} <span class="muted">(${timeTag(event.received_at)})</span></li>`)}</ul>`
            : 'none'}</td>
        </tr>`;
      })}</tbody></table></div>`;
  }

  /** The station's reported variable use. The simulator's stand-in for Espruino answers 0 of 0: it has no variable store to count. */
  function memoryText(memory: { used: number; total: number } | undefined): string {
    if (!memory) return '—';
    if (!(memory.total > 0)) return 'not measured (simulated station)';
    return `${memory.used.toLocaleString('en-GB')} of ${memory.total.toLocaleString('en-GB')} variables (${Math.round((100 * memory.used) / memory.total)}%)`;
  }

  function badgeCell(stationId: string, online: boolean) {
    const status = context.badges?.status(stationId);
    if (!status) return '—';
    const shown = badgeListText(status, online);
    const versions = status.stationVersion === null ? '' : status.state === 'current' ? `version ${status.stationVersion}` : `has ${status.stationVersion}, hub ${status.hubVersion}`;
    return html`<span class="pill ${shown.tone}">${shown.text}</span>${versions ? html`<br><span class="muted">${versions}</span>` : null}`;
  }

  app.get('/stations/panel', { config: { permission: 'stations.view' } }, async (request, reply) => reply.type('text/html; charset=utf-8').send(finishBody(await stationsPanel(await requestScope(context, request)), 'Stations').text));

  app.post('/stations/:id/unlock', { config: { permission: 'stations.unlock' } }, async (request, reply) => {
    const station = await stationOf(request);
    const locker = lockerOf(request, station);
    const confirmed = ((request.body ?? {}) as { confirm?: string }).confirm === 'yes';
    const view = (await records.custody.lockers()).find((candidate) => candidate.stationId === station.id && candidate.locker === locker);
    // A held phone leaves its locker only at the station: the DSL's card for a safeguarding hold
    // (P5), two staff cards for a confiscation (P4). One account's unlock would get round both.
    const hold = view && RELEASED_AT_THE_STATION[view.state];
    if (hold) {
      await context.audit(request, 'web.remote-unlock-refused', { subject: `locker:${station.id}/${locker}`, details: { station: station.id, locker, state: view.state } });
      const rule = hold === 'a safeguarding hold' ? 'only the DSL’s card opens it (P5)' : 'two staff cards, one of them the headteacher’s (P4)';
      throw new PageError(409, `Locker ${locker + 1} at ${station.id} is under ${hold}, released at the station: ${rule}. It is not unlocked from the office page; in an emergency, open every locker instead.`);
    }
    if (!confirmed) {
      return context.render(request, reply, {
        title: `Unlock locker ${locker + 1} at ${station.id}: check and confirm`,
        section: '/stations',
        body: html`<div class="confirm"><h2>This will happen when you confirm</h2><ul>
            <li>The hub sends station ${station.id} a signed command to release locker ${locker + 1} once. The door can then be opened by whoever is there.</li>
            <li>The locker is now: ${stateLabel(view?.state ?? 'free')}${view?.personName ? ` (${view.personName})` : ''}. Its custody record is not changed by the unlock itself; the station reports what happens at the door.</li>
            <li>The unlock is recorded in the audit trail under your account, ${request.account!.username}.</li></ul></div>
          <form method="post" action="/stations/${station.id}/unlock" class="actions">
            ${csrfField(reply)}<input type="hidden" name="locker" value="${locker + 1}"><input type="hidden" name="confirm" value="yes">
            <button type="submit" class="primary">Confirm: unlock locker ${locker + 1}</button> <a class="button" href="/stations">Cancel</a>
          </form>`,
      });
    }
    if (!context.link) throw new PageError(409, 'The hub has no link to its stations running.');
    await context.audit(request, 'web.remote-unlock', { subject: `locker:${station.id}/${locker}`, details: { station: station.id, locker } });
    const result = await context.link.unlock(station.id, locker, request.account!.personId ?? 0);
    await context.audit(request, 'web.remote-unlock-result', { subject: `locker:${station.id}/${locker}`, details: { station: station.id, locker, ok: result.ok, refusal: result.ok ? null : result.refusal } });
    context.flash(request, result.ok ? `Station ${station.id} unlocked locker ${locker + 1}.` : `Station ${station.id} did not unlock locker ${locker + 1}. ${refusalInWords(result.refusal, locker, context.link.states.get(station.id)?.doorsOpen ?? [])}`);
    return reply.redirect('/stations', 303);
  });

  app.post('/stations/:id/open-all', { config: { permission: 'stations.open-all' } }, async (request, reply) => {
    const station = await stationOf(request);
    const body = (request.body ?? {}) as { confirm?: string; understood?: string };
    if (body.confirm !== 'yes' || body.understood !== 'yes') {
      return context.render(request, reply, {
        title: `Emergency open-all at ${station.id}: check and confirm`,
        section: '/stations',
        status: body.confirm === 'yes' ? 422 : 200,
        body: html`${body.confirm === 'yes' ? html`<div class="problem" role="alert">Tick the box to say you understand, then confirm.</div>` : null}
          <div class="confirm"><h2>This will happen when you confirm</h2><ul>
            <li>Every one of the ${station.lockers} lockers at station ${station.id} is released in turn — phones, held devices and loan items alike — for an emergency such as a fire or evacuation.</li>
            <li>Holds are not released in the records: they stay on the Holds page until released properly.</li>
            <li>The open-all is recorded in the audit trail under your account, ${request.account!.username}, and by the station.</li></ul></div>
          <form method="post" action="/stations/${station.id}/open-all">
            ${csrfField(reply)}<input type="hidden" name="confirm" value="yes">
            <p><label class="inline"><input type="checkbox" name="understood" value="yes" required> I understand that every locker at ${station.id} will open</label></p>
            <p class="actions"><button type="submit" class="danger">Confirm: open every locker at ${station.id}</button> <a class="button" href="/stations">Cancel</a></p>
          </form>`,
      });
    }
    if (!context.link) throw new PageError(409, 'The hub has no link to its stations running.');
    await context.audit(request, 'web.open-all', { subject: `station:${station.id}`, details: { station: station.id } });
    const result = await context.link.openAll(station.id, request.account!.personId ?? 0);
    await context.audit(request, 'web.open-all-result', { subject: `station:${station.id}`, details: { station: station.id, ok: result.ok, refusal: result.ok ? null : result.refusal } });
    context.flash(request, result.ok ? `Station ${station.id} is opening every locker.` : `Station ${station.id} did not open its lockers. ${refusalInWords(result.refusal, null, context.link.states.get(station.id)?.doorsOpen ?? [])}`);
    return reply.redirect('/stations', 303);
  });
}

/** Locker states whose phone comes out only through the release at the station (the rule, for the sentence). */
const RELEASED_AT_THE_STATION: Record<string, string | undefined> = { held: 'a confiscation', 'safeguarding-held': 'a safeguarding hold' };

/** Why a station refused a command, as a sentence (the link's refusal names are for the log). */
export function refusalInWords(refusal: string | null, locker: number | null, doorsOpen: number[]): string {
  const which = locker === null ? 'A locker' : `Locker ${locker + 1}`;
  switch (refusal) {
    case 'not-now':
      if (locker !== null && doorsOpen.includes(locker)) return `${which} is still open: shut its door, then try again.`;
      return locker === null ? 'The station is busy opening a door: try again in a moment.' : `${which} is busy (its door is being opened) or cannot be opened in its present state: try again in a moment.`;
    case 'bad-argument':
      return 'The station has no such locker.';
    case 'bad-signature':
      return 'The station did not accept the hub’s signature: its key may have changed. Ask the ICT lead to check its configuration.';
    case 'replayed':
      return 'The station had already received that command.';
    case 'unknown-command':
      return 'The station’s firmware does not know that command: it needs updating.';
    case 'wrong-station':
      return 'The command reached a different station.';
    case 'no reply (station offline?)':
      return 'The station did not answer: it may be offline.';
    default:
      return refusal ? `The station answered: ${refusal}.` : '';
  }
}
