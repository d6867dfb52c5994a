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
import { requestSqlScope } from '../scope';
import { phonesInPage, type PhoneInRow } from '../../records/phones-in-list';
import { phonesInList, requestedPlace, type PageParams } from '../phones-in-view';
import { PageError } from '../errors';
import { formatDay, html, timeTag } from '../html';

/** The uncollected and due-for-disposal lists' own places in the query (the first list uses after/before). */
const UNCOLLECTED: PageParams = { after: 'uncollected-after', before: 'uncollected-before' };
const DUE: PageParams = { after: 'due-after', before: 'due-before' };

export function registerEndOfDay(app: FastifyInstance, context: WebContext): void {
  const { lostProperty, db } = context.records;

  app.get('/end-of-day', { config: { permission: 'end-of-day.view' } }, async (request, reply) => {
    const now = new Date();
    const cutoff = context.settings.dayCutoff;
    const lastCutoff = latestCutoff(now, cutoff).toISOString();
    // The hub's housekeeping marks phones uncollected once a minute; apply the same rule now (it is
    // idempotent and dates each phone by the first cut-off after its deposit), so the list is right
    // the moment the cut-off passes, and with no housekeeping running at all.
    await lostProperty.markUncollected(now);
    // A page of each list, the account's schools as SQL conditions (issue 16: a trust's 50,000).
    const scope = await requestSqlScope(context, request);
    const [today, uncollected, due] = await Promise.all([
      phonesInPage(db, { scope, only: 'today', heldLockers: 'leave-out' }, requestedPlace(request)),
      phonesInPage(db, { scope, only: 'uncollected', heldLockers: 'list' }, requestedPlace(request, UNCOLLECTED)),
      phonesInPage(db, { scope, only: 'uncollected', disposalDueBy: now.toISOString(), heldLockers: 'list' }, requestedPlace(request, DUE)),
    ]);
    const mayDispose = may(request.account!.role, 'lost-property.dispose');
    // A phone a safeguarding hold keeps names no pupil here unless the reader may see P5 details.
    const safeguarded = await safeguardedPhonesIn(db);
    const restricted = maySeeSafeguarding(actorFor(request.account!)) ? new Set<number>() : safeguarded;
    const pupil = (phone: PhoneInRow) =>
      restricted.has(phone.custodyId) ? html`<span class="muted">${RESTRICTED}</span>` : html`<a href="/who/person/${phone.personId}">${phone.personName}</a>`;
    const form = (phone: PhoneInRow) => (restricted.has(phone.custodyId) ? '' : (phone.form ?? ''));
    await context.audit(request, 'web.viewed', { details: { page: '/end-of-day' } });
    return context.render(request, reply, {
      title: 'End of day',
      section: '/end-of-day',
      body: html`
        <p>Phones still in a locker at the cut-off, <strong>${cutoff}</strong>, are uncollected; after ${context.settings.lostPropertyDays} days (one term) they are due for disposal (P13).</p>
        <section aria-labelledby="today-title"><h2 id="today-title">Still in lockers today (${today.total.toLocaleString('en-GB')})</h2>
          ${phonesInList({ request, path: '/end-of-day', page: today, noun: 'phone', lastCutoff, empty: 'Every phone has been collected.' })}
        </section>
        <section aria-labelledby="uncollected-title"><h2 id="uncollected-title">Uncollected (${uncollected.total.toLocaleString('en-GB')})</h2>
          ${phonesInList({ request, path: '/end-of-day', params: UNCOLLECTED, page: uncollected, noun: 'uncollected phone', uncollected: true, restricted, empty: 'No uncollected phones.' })}
        </section>
        <section aria-labelledby="disposal-title"><h2 id="disposal-title">Lost property due for disposal (${due.total.toLocaleString('en-GB')})</h2>
          ${phonesInList({
            request,
            path: '/end-of-day',
            params: DUE,
            page: due,
            noun: 'phone due for disposal',
            empty: 'Nothing is due for disposal.',
            table: (rows) => html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Pupil</th><th scope="col">Form</th><th scope="col">Locker</th><th scope="col">Uncollected since</th><th scope="col">Action</th></tr></thead>
              <tbody>${rows.map((phone) => html`<tr><td>${pupil(phone)}</td><td>${form(phone)}</td><td>${phone.stationId}, ${phone.locker + 1}</td><td>${formatDay(phone.uncollectedAt)}</td><td>${safeguarded.has(phone.custodyId) ? html`<span class="muted">held</span>` : mayDispose ? html`<a href="/end-of-day/dispose/${phone.custodyId}">Record disposal…</a>` : html`<span class="muted">office or headteacher</span>`}</td></tr>`)}</tbody></table></div>`,
          })}
        </section>`,
    });
  });

  async function phoneDue(id: number, request: FastifyRequest) {
    const scope = await requestSqlScope(context, request);
    const phone = Number.isInteger(id)
      ? await db.get<{ id: number; person_id: number; name: string; form: string | null; station_id: string; locker: number; deposited_at: string }>(
          `SELECT c.custody_id AS id, c.person_id, p.name, p.form, c.station_id, c.locker, c.deposited_at FROM phones_in c JOIN people p ON p.id = c.person_id
           WHERE c.custody_id = ? AND c.uncollected_at IS NOT NULL AND c.disposal_due_at <= ?`,
          [id, new Date().toISOString()],
        )
      : undefined;
    if (!phone || !(await scope.hasPerson(db, phone.person_id)) || !(await scope.hasStation(db, phone.station_id))) throw new PageError(404, 'That phone is not due for disposal (it may have been collected or disposed of already).');
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
