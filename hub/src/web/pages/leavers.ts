// Leavers (P9, P10): per leaver, a checklist of what they still hold — a laptop must come back; a
// stick comes back, or stays with them once their declaration (school information deleted) is
// recorded, and is then written off without charge. A leaver is completed only when the list is
// clear (the records refuse otherwise). Each step shows its effect before it is confirmed.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorFor, may } from '../../accounts/roles';
import { NotFoundError, RuleError } from '../../records/access';
import { roleWords } from '../../records/actor';
import { LeaverBlockedError } from '../../records/loans';
import { parseDay } from '../../records/time';
import type { PersonRow } from '../../records/people';
import { csrfField } from '../auth';
import type { WebContext } from '../context';
import { requestScope } from '../scope';
import { asSentence, explain, PageError } from '../errors';
import { formatDay, html, timeTag } from '../html';
import { notice } from '../layout';

export function registerLeavers(app: FastifyInstance, context: WebContext): void {
  const { db, loans, people } = context.records;

  async function personOf(request: FastifyRequest): Promise<PersonRow> {
    const id = Number((request.params as { id: string }).id);
    const person = Number.isInteger(id) ? await people.get(id) : undefined;
    if (!person || !(await requestScope(context, request)).person(id)) throw new PageError(404, 'There is no such person.');
    return person;
  }

  app.get('/leavers', { config: { permission: 'leavers.view' } }, async (request, reply) => {
    const scope = await requestScope(context, request);
    const school = scope.where('p.school');
    const leavers = scope.rows(await db.all<{ id: number; name: string; external_id: string; role: string; left_on: string; open_loans: number }>(
      `SELECT p.id, p.name, p.external_id, p.role, p.left_on, COUNT(l.id) AS open_loans FROM people p JOIN loans l ON l.person_id = p.id AND l.closed_at IS NULL
       WHERE p.left_on IS NOT NULL AND ${school.sql} GROUP BY p.id, p.name, p.external_id, p.role, p.left_on ORDER BY p.left_on, p.name`,
      school.params,
    ).then((rows) => rows.map((row) => ({ ...row, person_id: row.id }))));
    const declarations = scope.rows(await db.all<{ person_id: number; name: string; tag: string; closed_at: string }>(
      `SELECT l.person_id, p.name, a.tag, l.closed_at FROM loans l JOIN people p ON p.id = l.person_id JOIN assets a ON a.id = l.asset_id
       WHERE l.outcome = 'retained' AND ${school.sql} ORDER BY l.closed_at DESC LIMIT 20`,
      school.params,
    ));
    await context.audit(request, 'web.viewed', { details: { page: '/leavers' } });
    return context.render(request, reply, {
      title: 'Leavers',
      section: '/leavers',
      body: html`
        <section aria-labelledby="outstanding-title"><h2 id="outstanding-title">Leavers with items outstanding (${leavers.length})</h2>
          ${leavers.length
            ? html`<ul class="checklist">${leavers.map((leaver) => html`<li><a href="/leavers/${leaver.id}">${leaver.name}</a> (${roleWords(leaver.role)}, ${leaver.external_id}) — leaving ${formatDay(leaver.left_on)}: <strong>${Number(leaver.open_loans)} item${Number(leaver.open_loans) === 1 ? '' : 's'}</strong> to settle</li>`)}</ul>`
            : html`<p class="empty">No leaver has anything outstanding.</p>`}
        </section>
        <section aria-labelledby="start-title"><h2 id="start-title">A member of staff is leaving</h2>
          <form method="get" action="/leavers/find" class="field-row">
            <p><label for="ref">MIS id or staff code</label><input id="ref" name="ref" required></p>
            <p><button type="submit">Open their checklist</button></p>
          </form>
        </section>
        <section aria-labelledby="declarations-title"><h2 id="declarations-title">Sticks kept with a declaration (latest 20)</h2>
          ${declarations.length
            ? html`<ul>${declarations.map((row) => html`<li>${row.name} kept <a href="/who/asset/${encodeURIComponent(row.tag)}">${row.tag}</a>, declaration recorded ${timeTag(row.closed_at)}; written off without charge</li>`)}</ul>`
            : html`<p class="empty">None.</p>`}
        </section>`,
    });
  });

  app.get('/leavers/find', { config: { permission: 'leavers.view' } }, async (request, reply) => {
    const ref = String((request.query as { ref?: string }).ref ?? '').trim();
    const person = await people.resolve(ref);
    if (!(await requestScope(context, request)).person(person.id)) throw new PageError(404, 'There is no such person.');
    return reply.redirect(`/leavers/${person.id}`, 303);
  });

  async function checklist(request: FastifyRequest, reply: FastifyReply, options: { problem?: string; status?: number } = {}) {
    const person = await personOf(request);
    const items = await loans.leaverLoans(Number(person.id));
    const classNames = await context.records.assets.classNames();
    const declared = await db.all<{ tag: string; declaration: string; closed_at: string }>(
      "SELECT a.tag, l.declaration, l.closed_at FROM loans l JOIN assets a ON a.id = l.asset_id WHERE l.person_id = ? AND l.outcome = 'retained' ORDER BY l.closed_at",
      [person.id],
    );
    const mayAct = may(request.account!.role, 'leavers.act');
    await context.audit(request, 'web.person-viewed', { subject: `person:${person.id}`, personId: Number(person.id), details: { page: '/leavers' } });
    return context.render(request, reply, {
      title: `Leaver checklist: ${person.name}`,
      section: '/leavers',
      status: options.status,
      body: html`
        ${options.problem ? notice('problem', options.problem) : null}
        <p>${person.name} (${roleWords(person.role)}, ${person.external_id}) ${person.left_on ? html`leaves or left on <strong>${formatDay(person.left_on)}</strong>` : 'is on roll'}.</p>
        <section aria-labelledby="items-title"><h2 id="items-title">Still to settle (${items.length})</h2>
          ${items.length
            ? html`<ul class="checklist">${items.map(
                (item) => html`<li>
                  <strong><a href="/who/asset/${encodeURIComponent(item.asset.tag)}">${item.asset.tag}</a></strong> (${classNames[item.asset.class_id] ?? item.asset.class_id}), on loan since ${timeTag(item.loan.lent_at)}:
                  ${item.required === 'return' ? html`must be returned to its locker (P10).` : html`return it to its locker, or record the leaver’s declaration that school information on it has been deleted (P9).`}
                  ${item.required === 'return-or-declare' && mayAct
                    ? html`<form method="post" action="/leavers/${person.id}/declare" class="declare">
                        ${csrfField(reply)}<input type="hidden" name="tag" value="${item.asset.tag}">
                        <p><label for="declaration-${item.loan.id}">Declaration for ${item.asset.tag}</label>
                          <textarea id="declaration-${item.loan.id}" name="declaration" required placeholder="I confirm that all school information on ${item.asset.tag} has been deleted."></textarea></p>
                        <p><button type="submit">Show what this will do</button></p>
                      </form>`
                    : null}
                </li>`,
              )}</ul>`
            : html`<p class="done" role="status">Nothing outstanding: every item is back or declared.</p>`}
        </section>
        ${declared.length ? html`<section aria-labelledby="declared-title"><h2 id="declared-title">Declarations recorded</h2><ul>${declared.map((row) => html`<li>${row.tag}, ${timeTag(row.closed_at)}: “${row.declaration}”</li>`)}</ul></section>` : null}
        ${mayAct && !person.left_on
          ? html`<section aria-labelledby="complete-title"><h2 id="complete-title">Complete the leaver</h2>
              <form method="post" action="/leavers/${person.id}/complete" class="field-row">
                ${csrfField(reply)}
                <p><label for="leftOn">Leaving date</label><input id="leftOn" name="leftOn" type="date" required value="${new Date().toISOString().slice(0, 10)}"></p>
                <p><button type="submit" ${items.length ? html`aria-describedby="complete-blocked"` : null}>Show what this will do</button></p>
              </form>
              ${items.length ? html`<p id="complete-blocked" class="hint">It will be refused until everything above is settled.</p>` : null}
            </section>`
          : null}
        <p><a href="/leavers">All leavers</a></p>`,
    });
  }

  app.get('/leavers/:id', { config: { permission: 'leavers.view' } }, async (request, reply) => checklist(request, reply));

  app.post('/leavers/:id/declare', { config: { permission: 'leavers.act' } }, async (request, reply) => {
    const person = await personOf(request);
    const body = (request.body ?? {}) as { tag?: string; declaration?: string; confirm?: string };
    const tag = String(body.tag ?? '').trim();
    const declaration = String(body.declaration ?? '').trim();
    const item = (await loans.leaverLoans(Number(person.id))).find((candidate) => candidate.asset.tag === tag);
    if (!item) return checklist(request, reply, { problem: `${tag || 'That item'} is not on loan to ${person.name}.`, status: 422 });
    if (body.confirm !== 'yes') {
      if (declaration.length < 10) return checklist(request, reply, { problem: 'Write the declaration itself (that school information on the stick has been deleted), not just a word.', status: 422 });
      return context.render(request, reply, {
        title: `Declaration for ${tag}: check and confirm`,
        section: '/leavers',
        body: html`<div class="confirm"><h2>This will happen when you confirm</h2><ul>
            <li>${person.name} keeps ${tag}; their declaration is recorded: “${declaration}”.</li>
            <li>${tag} is written off without charge (P9), and the loan is closed.</li></ul></div>
          <form method="post" action="/leavers/${person.id}/declare" class="actions">
            ${csrfField(reply)}<input type="hidden" name="tag" value="${tag}"><input type="hidden" name="declaration" value="${declaration}"><input type="hidden" name="confirm" value="yes">
            <button type="submit" class="primary">Confirm the declaration</button> <a class="button" href="/leavers/${person.id}">Cancel</a>
          </form>`,
      });
    }
    try {
      const result = await loans.retainWithDeclaration(Number(person.id), tag, declaration, actorFor(request.account!));
      await context.audit(request, 'web.leaver-declaration', { subject: `loan:${result.loanId}`, personId: Number(person.id), details: { loan: result.loanId } });
    } catch (error) {
      if (!(error instanceof RuleError || error instanceof NotFoundError)) throw error;
      return checklist(request, reply, { problem: asSentence(explain(error).message), status: 422 });
    }
    context.flash(request, `Declaration for ${tag} recorded; ${tag} written off without charge.`);
    return reply.redirect(`/leavers/${person.id}`, 303);
  });

  app.post('/leavers/:id/complete', { config: { permission: 'leavers.act' } }, async (request, reply) => {
    const person = await personOf(request);
    const body = (request.body ?? {}) as { leftOn?: string; confirm?: string };
    const leftOn = String(body.leftOn ?? '');
    const day = parseDay(leftOn, 'The leaving date', { maxYearsBack: 10, maxYearsAhead: 1 });
    if (!day.ok) return checklist(request, reply, { problem: `${day.problem}.`, status: 422 });
    const outstanding = await loans.leaverLoans(Number(person.id));
    if (outstanding.length) return checklist(request, reply, { problem: new LeaverBlockedError(outstanding).message, status: 422 });
    if (body.confirm !== 'yes') {
      return context.render(request, reply, {
        title: `Complete ${person.name} as a leaver: check and confirm`,
        section: '/leavers',
        body: html`<div class="confirm"><h2>This will happen when you confirm</h2><ul>
            <li>${person.name} is recorded as leaving on ${formatDay(leftOn)}; their history is kept.</li>
            <li>Their badges stop working at every online station within seconds (the hub sends each one the new badge list; the Stations page shows whether it is up to date), and at an offline one as soon as it is back.</li></ul></div>
          <form method="post" action="/leavers/${person.id}/complete" class="actions">
            ${csrfField(reply)}<input type="hidden" name="leftOn" value="${leftOn}"><input type="hidden" name="confirm" value="yes">
            <button type="submit" class="primary">Confirm: ${person.name} leaves</button> <a class="button" href="/leavers/${person.id}">Cancel</a>
          </form>`,
      });
    }
    try {
      await loans.completeLeaver(person, leftOn, actorFor(request.account!));
    } catch (error) {
      if (!(error instanceof RuleError || error instanceof NotFoundError)) throw error;
      return checklist(request, reply, { problem: asSentence(explain(error).message), status: 422 });
    }
    await context.audit(request, 'web.leaver-completed', { subject: `person:${person.id}`, personId: Number(person.id), details: { leftOn } });
    context.flash(request, `${person.name} recorded as a leaver from ${formatDay(leftOn)}.`);
    return reply.redirect(`/leavers/${person.id}`, 303);
  });
}
