// Holds: confiscations awaiting their two-person release (P4), laptops held for ICT (P10), and
// safeguarding holds (P5) — listed for every role without the pupil's name, and in detail only
// for the DSL and the headteacher: anyone else who opens one gets a 403 (and the refusal is in the
// audit trail, as is every reading of the details).
import type { FastifyInstance } from 'fastify';
import { actorFor } from '../../accounts/roles';
import type { HoldView } from '../../records/holds';
import { demand } from '../auth';
import type { WebContext } from '../context';
import { requestScope, requestSqlScope } from '../scope';
import { PageError } from '../errors';
import { html, timeTag, type Html } from '../html';
import { holdKindWords } from '../../records/words';


function holdRow(hold: HoldView): Html {
  return html`<tr>
    <td><a href="/holds/${hold.id}">Hold ${hold.id}</a></td>
    <td>${holdKindWords(hold.kind)}</td>
    <td>${hold.stationId}, locker ${hold.locker + 1}</td>
    <td>${hold.restricted ? html`<span class="muted">DSL and headteacher only</span>` : (hold.personName ?? html`<span class="muted">—</span>`)}</td>
    <td>${timeTag(hold.placedAt)}${hold.placedBy ? html`<br><span class="muted">by ${hold.placedBy}</span>` : null}</td>
    <td>${hold.releasedAt ? html`${timeTag(hold.releasedAt)}${hold.releasedBy ? html`<br><span class="muted">by ${hold.releasedBy}${hold.witness ? ` with ${hold.witness}` : ''}</span>` : null}` : html`<span class="pill warn">held</span>`}</td>
  </tr>`;
}

function holdTable(holds: HoldView[], empty: string): Html {
  if (!holds.length) return html`<p class="empty">${empty}</p>`;
  return html`<div class="table-wrap"><table class="data">
    <thead><tr><th scope="col">Hold</th><th scope="col">Kind</th><th scope="col">Where</th><th scope="col">Pupil</th><th scope="col">Placed</th><th scope="col">Released</th></tr></thead>
    <tbody>${holds.map(holdRow)}</tbody>
  </table></div>`;
}

export function registerHolds(app: FastifyInstance, context: WebContext): void {
  app.get('/holds', { config: { permission: 'holds.view' } }, async (request, reply) => {
    const actor = actorFor(request.account!);
    // The open holds and the latest 20 released, of the account's schools (not every hold of a trust's years).
    const scope = await requestSqlScope(context, request);
    const [open, released] = await Promise.all([context.records.holds.list(actor, { open: true, scope }), context.records.holds.list(actor, { released: 20, scope })]);
    await context.audit(request, 'web.viewed', { details: { page: '/holds' } });
    return context.render(request, reply, {
      title: 'Holds',
      section: '/holds',
      body: html`
        <section aria-labelledby="confiscations">
          <h2 id="confiscations">Confiscations awaiting release</h2>
          <p class="hint">Released at the station by two members of staff within 30 seconds, one of them the headteacher or a deputy (P4).</p>
          ${holdTable(open.filter((hold) => hold.kind === 'confiscation'), 'No confiscated devices are held.')}
        </section>
        <section aria-labelledby="safeguarding">
          <h2 id="safeguarding">Safeguarding holds</h2>
          <p class="hint">Only the DSL releases these (P5). Their details are for the DSL and the headteacher only.</p>
          ${holdTable(open.filter((hold) => hold.kind === 'safeguarding'), 'No safeguarding holds.')}
        </section>
        <section aria-labelledby="health">
          <h2 id="health">Laptops held for an ICT health check</h2>
          ${holdTable(open.filter((hold) => hold.kind === 'health-check'), 'No laptops are waiting for ICT.')}
        </section>
        <section aria-labelledby="released">
          <h2 id="released">Recently released</h2>
          ${holdTable(released, 'None released yet.')}
        </section>`,
    });
  });

  app.get('/holds/:id', { config: { permission: 'holds.view' } }, async (request, reply) => {
    const id = Number((request.params as { id: string }).id);
    if (!Number.isInteger(id) || id < 1) throw new PageError(404, 'There is no such hold.');
    const actor = actorFor(request.account!);
    const row = await context.records.db.get<{ id: number; kind: string; person_id: number | null; station_id: string | null }>('SELECT id, kind, person_id, station_id FROM holds WHERE id = ?', [id]);
    if (!row || !(await requestScope(context, request)).row(row)) throw new PageError(404, `There is no hold ${id}.`);
    let details: string | null = null;
    let receipt: string | null = null;
    if (row.kind === 'safeguarding') {
      await demand(request, 'holds.safeguarding', context.records.audit, 'see the details of a safeguarding hold');
      // The records check the role again and write the reading to the audit trail (P5, P14).
      ({ details, receipt } = await context.records.holds.safeguardingDetails(id, actor));
    }
    await context.audit(request, 'web.hold-viewed', { subject: `hold:${id}`, personId: row.person_id === null ? null : Number(row.person_id), details: { hold: id, kind: row.kind } });
    const [view] = await context.records.holds.list(actor, { id });
    return context.render(request, reply, {
      title: `Hold ${id}: ${holdKindWords(view.kind)}`,
      section: '/holds',
      body: html`
        <dl class="facts">
          <dt>Where</dt><dd>Station ${view.stationId}, locker ${view.locker + 1}</dd>
          <dt>Pupil</dt><dd>${view.personName ?? '—'}${view.personId ? html` (<a href="/who/person/${view.personId}">devices and history</a>)` : null}</dd>
          <dt>Placed</dt><dd>${timeTag(view.placedAt)}${view.placedBy ? ` by ${view.placedBy}` : ''}</dd>
          <dt>Released</dt><dd>${view.releasedAt ? html`${timeTag(view.releasedAt)}${view.releasedBy ? ` by ${view.releasedBy}` : ''}${view.witness ? `, witnessed by ${view.witness}` : ''}` : 'Still held'}</dd>
          ${row.kind === 'safeguarding' ? html`<dt>Details</dt><dd>${details ?? html`<span class="muted">none recorded</span>`}</dd><dt>Receipt</dt><dd>${receipt ?? html`<span class="muted">not yet released</span>`}</dd>` : null}
        </dl>
        <p><a href="/holds">All holds</a></p>`,
    });
  });
}
