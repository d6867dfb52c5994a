// Loans: overdue first (most overdue at the top), then everything else out on loan, then the
// laptops whose health check is due (P10) and those held in their locker until ICT clears them.
import type { FastifyInstance } from 'fastify';
import { assetStatusWords } from '../../records/assets';
import type { WebContext } from '../context';
import { requestScope } from '../scope';
import { html, timeTag } from '../html';

const DAY_MS = 86_400_000;
/** Health checks due within this many days are listed as coming up. */
const HEALTH_CHECK_NOTICE_DAYS = 14;

export function registerLoans(app: FastifyInstance, context: WebContext): void {
  app.get('/loans', { config: { permission: 'loans.view' } }, async (request, reply) => {
    const now = new Date();
    const nowIso = now.toISOString();
    const { db, loans, assets } = context.records;
    const scope = await requestScope(context, request);
    const overdue = scope.rows(await loans.overdue(nowIso));
    const current = scope.rows(await db.all<{ id: number; person_id: number; name: string; tag: string; class_id: string; lent_at: string; due_at: string }>(
      `SELECT l.id, l.person_id, p.name, a.tag, a.class_id, l.lent_at, l.due_at FROM loans l JOIN assets a ON a.id = l.asset_id JOIN people p ON p.id = l.person_id
       WHERE l.closed_at IS NULL AND l.due_at >= ? ORDER BY l.due_at, l.id`,
      [nowIso],
    ));
    const classNames = await assets.classNames();
    const checks: Array<{ tag: string; status: string; due: string }> = [];
    const classDays = new Map((await assets.classes()).map((assetClass) => [assetClass.id, assetClass.health_check_days === null ? null : Number(assetClass.health_check_days)]));
    for (const asset of await assets.list(scope)) {
      if (asset.status === 'retired' || asset.status === 'written-off' || asset.status === 'lost' || asset.status === 'stolen') continue;
      const due = await assets.healthCheckDueAt(asset, db, classDays);
      if (due && Date.parse(due) <= now.getTime() + HEALTH_CHECK_NOTICE_DAYS * DAY_MS) checks.push({ tag: asset.tag, status: asset.status, due });
    }
    checks.sort((a, b) => a.due.localeCompare(b.due));
    await context.audit(request, 'web.viewed', { details: { page: '/loans' } });
    return context.render(request, reply, {
      title: 'Loans',
      section: '/loans',
      body: html`
        <section aria-labelledby="overdue-title"><h2 id="overdue-title">Overdue (${overdue.length})</h2>
          ${overdue.length
            ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Borrower</th><th scope="col">Item</th><th scope="col">Lent</th><th scope="col">Due</th><th scope="col">Days overdue</th></tr></thead>
              <tbody>${overdue.map((loan) => html`<tr class="overdue"><td><a href="/who/person/${loan.person_id}">${loan.name}</a></td><td><a href="/who/asset/${encodeURIComponent(loan.tag)}">${loan.tag}</a> (${classNames[loan.class_id] ?? loan.class_id})</td><td>${timeTag(loan.lent_at)}</td><td>${timeTag(loan.due_at)}</td><td>${Math.floor((now.getTime() - Date.parse(loan.due_at)) / DAY_MS)}</td></tr>`)}</tbody></table></div>`
            : html`<p class="empty">Nothing is overdue.</p>`}
        </section>
        <section aria-labelledby="out-title"><h2 id="out-title">Out on loan, not yet due (${current.length})</h2>
          ${current.length
            ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Borrower</th><th scope="col">Item</th><th scope="col">Lent</th><th scope="col">Due</th></tr></thead>
              <tbody>${current.map((loan) => html`<tr><td><a href="/who/person/${loan.person_id}">${loan.name}</a></td><td><a href="/who/asset/${encodeURIComponent(loan.tag)}">${loan.tag}</a> (${classNames[loan.class_id] ?? loan.class_id})</td><td>${timeTag(loan.lent_at)}</td><td>${timeTag(loan.due_at)}</td></tr>`)}</tbody></table></div>`
            : html`<p class="empty">Nothing else is out.</p>`}
        </section>
        <section aria-labelledby="checks-title"><h2 id="checks-title">Health checks due (P10)</h2>
          <p class="hint">Overdue checks and those due in the next ${HEALTH_CHECK_NOTICE_DAYS} days. A laptop due a check stays held in its locker when it comes back, until ICT clears it with their badge and its tag.</p>
          ${checks.length
            ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Laptop</th><th scope="col">Status</th><th scope="col">Check due</th></tr></thead>
              <tbody>${checks.map((check) => html`<tr class="${check.due <= nowIso ? 'overdue' : ''}"><td><a href="/who/asset/${encodeURIComponent(check.tag)}">${check.tag}</a></td><td>${check.status === 'health-check' ? 'held for ICT' : assetStatusWords(check.status)}</td><td>${timeTag(check.due)}${check.due <= nowIso ? html` <span class="pill bad">due now</span>` : null}</td></tr>`)}</tbody></table></div>`
            : html`<p class="empty">No health checks due.</p>`}
        </section>`,
    });
  });
}
