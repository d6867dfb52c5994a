// Who holds what: search by person (name, MIS id, staff code, form) or by asset (tag, serial);
// a person's devices now and their history; an asset's holder and its custody chain. Opening a
// person or an asset is a read of personal records, and lands in the audit trail (P14).
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actorFor, may } from '../../accounts/roles';
import { eventName } from '../../protocol/frames';
import { roleWords } from '../../records/actor';
import { holdKindWords } from '../../records/words';
import { assetStatusWords, type AssetRow } from '../../records/assets';
import type { LoanRow } from '../../records/loans';
import type { PersonRow } from '../../records/people';
import { formatPence } from '../../records/time';
import { maySeeSafeguarding } from '../../records/access';
import { safeguardedCustody, safeguardedSpansAt } from '../../records/safeguarding';
import type { WebContext } from '../context';
import { requestSqlScope } from '../scope';
import { phonesInPage } from '../../records/phones-in-list';
import { phonesInList, queryText, requestedPlace } from '../phones-in-view';
import { PageError } from '../errors';
import { formatDay, html, timeTag } from '../html';
import { phonesInCsv } from '../../reports/phones-in-csv';

const LOAN_OUTCOMES: Record<string, string> = { returned: 'returned', lost: 'reported lost', stolen: 'reported stolen', retained: 'kept by leaver (declaration)' };

/** The list's filters (and the school filter) carried into the CSV link. */
function exportQuery(request: FastifyRequest): string {
  const query = new URLSearchParams();
  for (const name of ['school', 'q', 'form']) {
    const value = queryText(request, name);
    if (value) query.set(name, value);
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

function describeEvent(type: number): string {
  return eventName(type).replace(/[-_]/g, ' ').toLowerCase();
}

export function registerWho(app: FastifyInstance, context: WebContext): void {
  const { db } = context.records;

  app.get('/who', { config: { permission: 'people.view' } }, async (request, reply) => {
    const q = queryText(request, 'q');
    const form = queryText(request, 'form');
    const classNames = await context.records.assets.classNames();
    let people: PersonRow[] = [];
    let assets: Array<AssetRow & { holder: string | null; holder_id: number | null }> = [];
    // The account's schools as conditions of each query (issue 16): nothing of theirs read whole.
    const scope = await requestSqlScope(context, request);
    const phones = await phonesInPage(db, { scope, form, search: q, heldLockers: 'leave-out' }, requestedPlace(request));
    if (q) {
      const like = `%${q.toLowerCase()}%`;
      // The account's schools in the query itself, so the first 50 are of them (issue 16).
      const school = scope.where('school');
      people = await db.all<PersonRow>(
        `SELECT * FROM people WHERE purged_at IS NULL AND (LOWER(name) LIKE ? OR LOWER(external_id) LIKE ? OR LOWER(COALESCE(staff_code, '')) LIKE ? OR LOWER(COALESCE(form, '')) = ?) AND ${school.sql}
         ORDER BY left_on IS NOT NULL, name LIMIT 50`,
        [like, like, like, q.toLowerCase(), ...school.params],
      );
      const assetSchool = scope.where('a.school');
      assets = await db.all(
        `SELECT a.*, p.name AS holder, p.id AS holder_id FROM assets a
         LEFT JOIN loans l ON l.asset_id = a.id AND l.closed_at IS NULL LEFT JOIN people p ON p.id = l.person_id
         WHERE (LOWER(a.tag) LIKE ? OR LOWER(COALESCE(a.serial, '')) LIKE ?) AND ${assetSchool.sql} ORDER BY a.tag LIMIT 50`,
        [like, like, ...assetSchool.params],
      );
      await context.audit(request, 'web.searched', { details: { page: '/who', query: q, people: people.length, assets: assets.length } });
    } else {
      await context.audit(request, 'web.viewed', { details: { page: '/who', form: form || undefined, phones: phones.rows.length } });
    }
    const filtered = q || form;
    return context.render(request, reply, {
      title: 'Who holds what',
      section: '/who',
      body: html`
        <form method="get" action="/who" class="field-row" role="search">
          ${request.query && typeof (request.query as { school?: unknown }).school === 'string' ? html`<input type="hidden" name="school" value="${(request.query as { school: string }).school}">` : null}
          <p><label for="q">Person or asset</label><input id="q" name="q" value="${q}" placeholder="name, MIS id, form, staff code, asset tag or serial" size="40" ${q ? null : html`autofocus`}></p>
          <p><label for="form">Form</label><input id="form" name="form" value="${form}" placeholder="e.g. 7A" size="8"></p>
          <p><button type="submit" class="primary">Search</button></p>
        </form>
        ${q
          ? html`
          <section aria-labelledby="people-found"><h2 id="people-found">People (${people.length})</h2>
            ${people.length
              ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Name</th><th scope="col">MIS id</th><th scope="col">Form or role</th><th scope="col">Status</th></tr></thead>
                <tbody>${people.map((person) => html`<tr><td><a href="/who/person/${person.id}">${person.name}</a></td><td>${person.external_id}</td><td>${person.form ?? roleWords(person.role)}</td><td>${person.left_on ? `left ${formatDay(person.left_on)}` : 'on roll'}</td></tr>`)}</tbody></table></div>`
              : html`<p class="empty">Nobody matches “${q}”.</p>`}
          </section>
          <section aria-labelledby="assets-found"><h2 id="assets-found">Assets (${assets.length})</h2>
            ${assets.length
              ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Tag</th><th scope="col">Class</th><th scope="col">Status</th><th scope="col">Held by</th></tr></thead>
                <tbody>${assets.map((asset) => html`<tr><td><a href="/who/asset/${encodeURIComponent(asset.tag)}">${asset.tag}</a></td><td>${classNames[asset.class_id] ?? asset.class_id}</td><td>${assetStatusWords(asset.status)}</td><td>${asset.holder_id ? html`<a href="/who/person/${asset.holder_id}">${asset.holder}</a>` : '—'}</td></tr>`)}</tbody></table></div>`
              : html`<p class="empty">No asset matches “${q}”.</p>`}
          </section>`
          : html`<p class="hint">Search for a pupil or member of staff to see what they hold now and what they held before, or for an asset tag to see who has it and its custody chain.</p>`}
        <section aria-labelledby="phones-in-title"><h2 id="phones-in-title">Phones in lockers now${filtered ? html` (${[q ? `matching “${q}”` : '', form ? `form ${form}` : ''].filter(Boolean).join(', ')})` : null}</h2>
          ${phonesInList({ request, path: '/who', page: phones, noun: 'phone', empty: filtered ? 'No phone in a locker matches.' : 'No phones are in lockers.' })}
          <p><a href="/who/phones-in.csv${exportQuery(request)}" download>Download the whole list as CSV</a> (every phone in a locker${filtered ? ' that matches' : ''}, for a spreadsheet).</p>
        </section>`,
    });
  });

  // The whole list, streamed a thousand rows at a time: for whoever needs every row at once.
  app.get('/who/phones-in.csv', { config: { permission: 'people.view' } }, async (request, reply) => {
    const scope = await requestSqlScope(context, request);
    const q = queryText(request, 'q');
    const form = queryText(request, 'form');
    await context.audit(request, 'web.exported', { details: { page: '/who/phones-in.csv', query: q || undefined, form: form || undefined } });
    reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="phones-in-lockers.csv"');
    return reply.send(Readable.from(phonesInCsv(db, { scope, form, search: q, heldLockers: 'leave-out' })));
  });

  app.get('/who/person/:id', { config: { permission: 'people.view' } }, async (request, reply) => {
    const id = Number((request.params as { id: string }).id);
    const person = Number.isInteger(id) ? await context.records.people.get(id) : undefined;
    if (!person || !(await (await requestSqlScope(context, request)).hasPerson(db, id))) throw new PageError(404, 'There is no such person.');
    const account = request.account!;
    const actor = actorFor(account);
    await context.audit(request, 'web.person-viewed', { subject: `person:${id}`, personId: id, details: { page: '/who/person' } });

    // A phone kept by a safeguarding hold is left out for a reader who may not see P5 details:
    // the locker would tie this pupil to the hold the Holds page shows.
    const restricted = maySeeSafeguarding(actor) ? new Set<number>() : await safeguardedCustody(db, id);
    const phones = (
      await db.all<{ id: number; station_id: string; locker: number; deposited_at: string; collected_at: string | null; uncollected_at: string | null; disposed_at: string | null }>(
        'SELECT id, station_id, locker, deposited_at, collected_at, uncollected_at, disposed_at FROM phone_custody WHERE person_id = ? ORDER BY deposited_at DESC LIMIT 30',
        [id],
      )
    ).filter((phone) => !restricted.has(Number(phone.id)));
    const loans = await db.all<LoanRow & { tag: string; class_id: string }>('SELECT l.*, a.tag, a.class_id FROM loans l JOIN assets a ON a.id = l.asset_id WHERE l.person_id = ? ORDER BY l.lent_at DESC LIMIT 50', [id]);
    const classNames = await context.records.assets.classNames();
    const holds = (await context.records.holds.list(actor)).filter((hold) => hold.personId === id);
    const mayCharges = may(account.role, 'charges.view');
    const charges = mayCharges ? await context.records.ledger.entries({ personId: id }) : [];
    const balance = mayCharges ? await context.records.ledger.balance(id) : 0;
    const dayCards = await context.records.dayCards.ofPerson(id);
    const phoneIn = phones.find((phone) => !phone.collected_at);
    const openLoans = loans.filter((loan) => !loan.closed_at);
    const now = new Date().toISOString();

    return context.render(request, reply, {
      title: person.name,
      section: '/who',
      body: html`
        <dl class="facts">
          <dt>MIS id</dt><dd>${person.external_id}</dd>
          <dt>${person.kind === 'pupil' ? 'Form' : 'Role'}</dt><dd>${person.kind === 'pupil' ? (person.form ?? '—') : roleWords(person.role)}${person.staff_code ? ` (${person.staff_code})` : ''}</dd>
          <dt>Status</dt><dd>${person.left_on ? `Left ${formatDay(person.left_on)}` : 'On roll'}</dd>
          ${person.kind === 'pupil' ? html`<dt>Medical exemption</dt><dd>${Number(person.medical_exempt) ? 'Yes: keeps the phone (P3)' : 'No'}</dd>` : null}
        </dl>
        <section aria-labelledby="now-title"><h2 id="now-title">Has now</h2>
          <ul>
            ${phoneIn ? html`<li>Phone in station ${phoneIn.station_id}, locker ${Number(phoneIn.locker) + 1}, since ${timeTag(phoneIn.deposited_at)}${phoneIn.uncollected_at ? html` <span class="pill warn">uncollected</span>` : null}</li>` : null}
            ${openLoans.map((loan) => html`<li><a href="/who/asset/${encodeURIComponent(loan.tag)}">${loan.tag}</a> (${classNames[loan.class_id] ?? loan.class_id}) on loan since ${timeTag(loan.lent_at)}, due ${timeTag(loan.due_at)}${loan.due_at < now ? html` <span class="pill bad">overdue</span>` : null}</li>`)}
            ${!phoneIn && !openLoans.length ? html`<li class="empty">Nothing.</li>` : null}
          </ul>
          ${mayCharges ? html`<p>Balance owed: <strong>${formatPence(balance)}</strong></p>` : null}
        </section>
        ${person.kind === 'pupil'
          ? html`<section aria-labelledby="phone-title"><h2 id="phone-title">Phone history (last 30)</h2>
            ${phones.length
              ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">In</th><th scope="col">Locker</th><th scope="col">Out</th></tr></thead>
                <tbody>${phones.map((phone) => html`<tr><td>${timeTag(phone.deposited_at)}</td><td>${phone.station_id}, ${Number(phone.locker) + 1}</td><td>${phone.disposed_at ? html`disposed ${timeTag(phone.disposed_at)}` : phone.collected_at ? timeTag(phone.collected_at) : html`<span class="pill warn">still in</span>`}</td></tr>`)}</tbody></table></div>`
              : html`<p class="empty">No phone deposits recorded.</p>`}
          </section>`
          : null}
        ${dayCards.length
          ? html`<section aria-labelledby="day-cards-title"><h2 id="day-cards-title">Day cards (a spare card given for a forgotten one)</h2>
            <p class="hint">Every tap with a day card is recorded as theirs: it is in the history above and below.</p>
            <ul>${dayCards.map((card) => html`<li data-day-card="${card.label}">Spare card ${card.label}, given ${timeTag(card.issued_at)}${card.issued_by_name ? ` by ${card.issued_by_name}` : ''}, until ${timeTag(card.expires_at)}: ${card.ended_at ? (card.ended_how === 'expired' ? html`ended at the cut-off, ${timeTag(card.ended_at)}` : html`taken back ${timeTag(card.ended_at)}`) : 'in use now'}</li>`)}</ul>
          </section>`
          : null}
        <section aria-labelledby="loans-title"><h2 id="loans-title">Loans</h2>
          ${loans.length
            ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Item</th><th scope="col">Lent</th><th scope="col">Due</th><th scope="col">Closed</th></tr></thead>
              <tbody>${loans.map((loan) => html`<tr><td><a href="/who/asset/${encodeURIComponent(loan.tag)}">${loan.tag}</a> (${classNames[loan.class_id] ?? loan.class_id})</td><td>${timeTag(loan.lent_at)}</td><td>${timeTag(loan.due_at)}</td><td>${loan.closed_at ? html`${timeTag(loan.closed_at)}, ${LOAN_OUTCOMES[loan.outcome ?? ''] ?? loan.outcome}${loan.found_at ? ' (later found)' : ''}` : 'open'}</td></tr>`)}</tbody></table></div>`
            : html`<p class="empty">No loans.</p>`}
        </section>
        ${holds.length ? html`<section aria-labelledby="holds-title"><h2 id="holds-title">Holds</h2><ul>${holds.map((hold) => html`<li><a href="/holds/${hold.id}">Hold ${hold.id}</a>: ${holdKindWords(hold.kind)} at ${hold.stationId}, locker ${hold.locker + 1}, ${timeTag(hold.placedAt)}${hold.releasedAt ? html`, released ${timeTag(hold.releasedAt)}` : ' (held)'}</li>`)}</ul></section>` : null}
        ${mayCharges
          ? html`<section aria-labelledby="charges-title"><h2 id="charges-title">Charges</h2>
            ${charges.length
              ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Entry</th><th scope="col">When</th><th scope="col">Reason</th><th scope="col" class="money">Amount</th></tr></thead>
                <tbody>${charges.map((charge) => html`<tr><td>${charge.entry} ${charge.id}</td><td>${timeTag(charge.created_at)}</td><td>${charge.reason}</td><td class="money">${formatPence(Number(charge.amount_pence))}</td></tr>`)}</tbody></table></div>`
              : html`<p class="empty">No charges.</p>`}
          </section>`
          : null}`,
    });
  });

  app.get('/who/asset/:tag', { config: { permission: 'people.view' } }, async (request, reply) => {
    const tag = decodeURIComponent((request.params as { tag: string }).tag);
    const asset = await db.get<AssetRow>('SELECT * FROM assets WHERE tag = ?', [tag]);
    if (!asset || !(await (await requestSqlScope(context, request)).hasAsset(db, asset.id))) throw new PageError(404, `There is no asset with tag ${tag}.`);
    await context.audit(request, 'web.asset-viewed', { subject: `asset:${asset.id}`, details: { page: '/who/asset' } });
    const loans = await db.all<LoanRow & { name: string; external_id: string }>('SELECT l.*, p.name, p.external_id FROM loans l JOIN people p ON p.id = l.person_id WHERE l.asset_id = ? ORDER BY l.lent_at DESC', [asset.id]);
    const open = loans.find((loan) => !loan.closed_at);
    const eventRows = asset.home_station
      ? await db.all<{ type: number; received_at: string; person_id: number | null; actor_id: number | null; name: string | null }>(
          `SELECT e.type, e.received_at, e.person_id, e.actor_id, p.name FROM station_events e LEFT JOIN people p ON p.id = COALESCE(e.person_id, e.actor_id)
           WHERE e.station_id = ? AND e.locker = ? ORDER BY e.received_at DESC, e.boot DESC, e.seq DESC LIMIT 50`,
          [asset.home_station, asset.home_locker],
        )
      : [];
    // Its home may be a locker that held a phone a safeguarding hold kept: no one is named for those events (P5).
    const spans = asset.home_station && !maySeeSafeguarding(actorFor(request.account!)) ? await safeguardedSpansAt(db, asset.home_station, Number(asset.home_locker)) : [];
    const events = eventRows.map((event) => (spans.some((span) => event.received_at >= span.from && event.received_at <= span.until) ? { ...event, name: null } : event));
    const healthDue = await context.records.assets.healthCheckDueAt(asset);
    const classNames = await context.records.assets.classNames();
    return context.render(request, reply, {
      title: `Asset ${asset.tag}`,
      section: '/who',
      body: html`
        <dl class="facts">
          <dt>Class</dt><dd>${classNames[asset.class_id] ?? asset.class_id}${asset.model ? `, ${asset.model}` : ''}</dd>
          <dt>Serial</dt><dd>${asset.serial ?? '—'}</dd>
          <dt>Encryption</dt><dd>${asset.encryption ?? '—'}</dd>
          <dt>Status</dt><dd>${assetStatusWords(asset.status)}</dd>
          <dt>Home</dt><dd>${asset.home_station ? `station ${asset.home_station}, locker ${Number(asset.home_locker) + 1}` : '—'}</dd>
          ${healthDue ? html`<dt>Health check due</dt><dd>${timeTag(healthDue)}</dd>` : null}
          <dt>Held by</dt><dd>${open ? html`<a href="/who/person/${open.person_id}">${open.name}</a> since ${timeTag(open.lent_at)}, due ${timeTag(open.due_at)}` : 'Nobody (not on loan)'}</dd>
        </dl>
        <section aria-labelledby="chain-title"><h2 id="chain-title">Custody chain: loans</h2>
          ${loans.length
            ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Loan</th><th scope="col">Borrower</th><th scope="col">Lent</th><th scope="col">Closed</th></tr></thead>
              <tbody>${loans.map((loan) => html`<tr><td>${loan.id}</td><td><a href="/who/person/${loan.person_id}">${loan.name}</a></td><td>${timeTag(loan.lent_at)}</td><td>${loan.closed_at ? html`${timeTag(loan.closed_at)}, ${LOAN_OUTCOMES[loan.outcome ?? ''] ?? loan.outcome}${loan.crime_number ? `, crime number ${loan.crime_number}` : ''}` : 'open'}</td></tr>`)}</tbody></table></div>`
            : html`<p class="empty">Never lent.</p>`}
        </section>
        <section aria-labelledby="events-title"><h2 id="events-title">At its home locker (last 50 station events)</h2>
          ${events.length
            ? html`<ol class="events">${events.map((event) => html`<li>${timeTag(event.received_at)}: ${describeEvent(Number(event.type))}${event.name ? ` — ${event.name}` : ''}</li>`)}</ol>`
            : html`<p class="empty">No station events at its locker.</p>`}
        </section>`,
    });
  });
}

