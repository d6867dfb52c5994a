// End of day: phones still in lockers (with the pupils' names and forms) so the office can chase
// them before the cut-off; phones uncollected at a cut-off (P1, P13); and lost property whose
// term is up, due for disposal — which a member of staff records here, after seeing what it does.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actorFor, may } from '../../accounts/roles';
import { maySeeSafeguarding, RuleError } from '../../records/access';
import { RESTRICTED, safeguardedPhonesIn } from '../../records/safeguarding';
import { latestCutoff } from '../../records/time';
import { csrfField } from '../auth';
import type { WebContext } from '../context';
import { requestScope } from '../scope';
import { PageError } from '../errors';
import { formatDay, html, timeTag } from '../html';

export function registerEndOfDay(app: FastifyInstance, context: WebContext): void {
  const { lostProperty, custody } = context.records;

  app.get('/end-of-day', { config: { permission: 'end-of-day.view' } }, async (request, reply) => {
    const now = new Date();
    const cutoff = context.settings.dayCutoff;
    const lastCutoff = latestCutoff(now, cutoff).toISOString();
    // The hub's housekeeping marks phones uncollected once a minute; apply the same rule now (it is
    // idempotent and dates each phone by the first cut-off after its deposit), so the list is right
    // the moment the cut-off passes, and with no housekeeping running at all.
    await lostProperty.markUncollected(now);
    const scope = await requestScope(context, request);
    const [inLockers, uncollected, due] = (await Promise.all([custody.phonesIn(), lostProperty.uncollected(), lostProperty.dueForDisposal(now)])).map((rows) => scope.rows(rows as object[])) as [
      Awaited<ReturnType<typeof custody.phonesIn>>,
      Awaited<ReturnType<typeof lostProperty.uncollected>>,
      Awaited<ReturnType<typeof lostProperty.dueForDisposal>>,
    ];
    const uncollectedIds = new Set(uncollected.map((phone) => Number(phone.person_id)));
    const today = inLockers.filter((phone) => !uncollectedIds.has(phone.personId));
    const mayDispose = may(request.account!.role, 'lost-property.dispose');
    // A phone a safeguarding hold keeps names no pupil here unless the reader may see P5 details.
    const safeguarded = await safeguardedPhonesIn(context.records.db);
    const restricted = maySeeSafeguarding(actorFor(request.account!)) ? new Set<number>() : safeguarded;
    const pupil = (phone: { id: number; person_id: number; name: string }) =>
      restricted.has(Number(phone.id)) ? html`<span class="muted">${RESTRICTED}</span>` : html`<a href="/who/person/${phone.person_id}">${phone.name}</a>`;
    const form = (phone: { id: number; form: string | null }) => (restricted.has(Number(phone.id)) ? '' : (phone.form ?? ''));
    await context.audit(request, 'web.viewed', { details: { page: '/end-of-day' } });
    return context.render(request, reply, {
      title: 'End of day',
      section: '/end-of-day',
      body: html`
        <p>Phones still in a locker at the cut-off, <strong>${cutoff}</strong>, are uncollected; after ${context.settings.lostPropertyDays} days (one term) they are due for disposal (P13).</p>
        <section aria-labelledby="today-title"><h2 id="today-title">Still in lockers today (${today.length})</h2>
          ${today.length
            ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Pupil</th><th scope="col">Form</th><th scope="col">Locker</th><th scope="col">In since</th></tr></thead>
              <tbody>${today.map((phone) => html`<tr class="${phone.depositedAt < lastCutoff ? 'overdue' : ''}"><td><a href="/who/person/${phone.personId}">${phone.personName}</a></td><td>${phone.form ?? ''}</td><td>${phone.stationId}, ${phone.locker + 1}</td><td>${timeTag(phone.depositedAt)}${phone.depositedAt < lastCutoff ? html` <span class="pill bad">past the cut-off</span>` : null}</td></tr>`)}</tbody></table></div>`
            : html`<p class="empty">Every phone has been collected.</p>`}
        </section>
        <section aria-labelledby="uncollected-title"><h2 id="uncollected-title">Uncollected (${uncollected.length})</h2>
          ${uncollected.length
            ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Pupil</th><th scope="col">Form</th><th scope="col">Locker</th><th scope="col">Deposited</th><th scope="col">Disposal due</th></tr></thead>
              <tbody>${uncollected.map((phone) => html`<tr><td>${pupil(phone)}</td><td>${form(phone)}</td><td>${phone.station_id}, ${Number(phone.locker) + 1}</td><td>${timeTag(phone.deposited_at)}</td><td>${formatDay(phone.disposal_due_at)}</td></tr>`)}</tbody></table></div>`
            : html`<p class="empty">No uncollected phones.</p>`}
        </section>
        <section aria-labelledby="disposal-title"><h2 id="disposal-title">Lost property due for disposal (${due.length})</h2>
          ${due.length
            ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Pupil</th><th scope="col">Form</th><th scope="col">Locker</th><th scope="col">Uncollected since</th><th scope="col">Action</th></tr></thead>
              <tbody>${due.map((phone) => html`<tr><td>${pupil(phone)}</td><td>${form(phone)}</td><td>${phone.station_id}, ${Number(phone.locker) + 1}</td><td>${formatDay(phone.uncollected_at)}</td><td>${safeguarded.has(Number(phone.id)) ? html`<span class="muted">held</span>` : mayDispose ? html`<a href="/end-of-day/dispose/${phone.id}">Record disposal…</a>` : html`<span class="muted">office or headteacher</span>`}</td></tr>`)}</tbody></table></div>`
            : html`<p class="empty">Nothing is due for disposal.</p>`}
        </section>`,
    });
  });

  async function phoneDue(id: number, request: FastifyRequest) {
    const scope = await requestScope(context, request);
    const phone = (await lostProperty.dueForDisposal(new Date())).find((row) => Number(row.id) === id && scope.row(row));
    if (!phone) throw new PageError(404, 'That phone is not due for disposal (it may have been collected or disposed of already).');
    // Not while its locker is held (the records refuse it too): and a held phone's pupil is not named here.
    if (await context.records.holds.openAt(phone.station_id, Number(phone.locker))) throw new PageError(409, 'That phone’s locker is held: it cannot be disposed of until the hold is released.');
    return phone;
  }

  app.get('/end-of-day/dispose/:id', { config: { permission: 'lost-property.dispose' } }, async (request, reply) => {
    const phone = await phoneDue(Number((request.params as { id: string }).id), request);
    await context.audit(request, 'web.viewed', { subject: `custody:${phone.id}`, personId: Number(phone.person_id), details: { page: '/end-of-day/dispose' } });
    return context.render(request, reply, {
      title: 'Record a disposal',
      section: '/end-of-day',
      body: html`<div class="confirm"><h2>This will happen when you confirm</h2><ul>
          <li>${phone.name}’s phone (${phone.form ?? 'no form'}), in station ${phone.station_id} locker ${Number(phone.locker) + 1} since ${formatDay(phone.deposited_at)}, is recorded as disposed of, with your note and your account.</li>
          <li>Locker ${Number(phone.locker) + 1} is shown as free again.</li></ul></div>
        <form method="post" action="/end-of-day/dispose/${phone.id}">
          ${csrfField(reply)}
          <p><label for="note">How it was disposed of</label><textarea id="note" name="note" required placeholder="e.g. returned to parent; recycled"></textarea></p>
          <p class="actions"><button type="submit" class="primary">Confirm the disposal</button> <a class="button" href="/end-of-day">Cancel</a></p>
        </form>`,
    });
  });

  app.post('/end-of-day/dispose/:id', { config: { permission: 'lost-property.dispose' } }, async (request, reply) => {
    const phone = await phoneDue(Number((request.params as { id: string }).id), request);
    const note = String(((request.body ?? {}) as { note?: string }).note ?? '').trim();
    if (!note) throw new RuleError('P13', 'Write how the phone was disposed of (for example “returned to parent”).');
    await lostProperty.dispose(Number(phone.id), note, actorFor(request.account!));
    await context.audit(request, 'web.disposed', { subject: `custody:${phone.id}`, personId: Number(phone.person_id), details: { custody: Number(phone.id) } });
    context.flash(request, `Disposal of ${phone.name}’s phone recorded.`);
    return reply.redirect('/end-of-day', 303);
  });
}
