// Notifications: every e-mail the hub has sent or is trying to send (notify/), newest first, with
// its state, attempts and last error, so a failing mail server is seen here and not only in the log.
import type { FastifyInstance } from 'fastify';
import { MAX_ATTEMPTS, type NotificationRow } from '../../notify/outbox';
import type { WebContext } from '../context';
import { requestScope } from '../scope';
import { html, timeTag } from '../html';

const KIND_WORDS: Record<string, string> = {
  'overdue-loans': 'Overdue loans (daily digest)',
  'asset-lost': 'Loss reported',
  'asset-stolen': 'Theft reported',
  'uncollected-phones': 'Phones not collected',
  'health-check': 'Health check due',
};

function stateWords(row: NotificationRow) {
  if (row.state === 'sent') return html`<span class="pill good">sent</span> ${timeTag(row.sent_at!)}`;
  if (row.state === 'failed') return html`<span class="pill bad">not sent</span> (gave up after ${row.attempts} attempts)`;
  if (Number(row.attempts) === 0) return html`<span class="pill">waiting to send</span>`;
  return html`<span class="pill bad">failed, will retry</span> ${row.next_attempt_at ? html`at ${timeTag(row.next_attempt_at)}` : null} (attempt ${row.attempts} of ${MAX_ATTEMPTS})`;
}

export function registerNotifications(app: FastifyInstance, context: WebContext): void {
  app.get('/notifications', { config: { permission: 'notifications.view' } }, async (request, reply) => {
    const scope = await requestScope(context, request);
    // A school's account sees the e-mails to its own people only (issue 16).
    const rows = context.notifier ? await context.notifier.outbox.recent(100, scope.everything ? undefined : scope.where('school')) : [];
    const failing = rows.filter((row) => row.state !== 'sent' && Number(row.attempts) > 0).length;
    await context.audit(request, 'web.viewed', { details: { page: '/notifications' } });
    return context.render(request, reply, {
      title: 'Notifications',
      section: '/notifications',
      body: html`
        ${context.notifier?.enabled
          ? html`<p>The hub e-mails overdue loans to their borrower (one digest a day), losses and thefts to the headteacher at once, phones not collected to the office at the cut-off, and health checks due to ICT. A failed send is tried again, waiting longer each time.</p>`
          : html`<p class="problem" role="status">E-mail is off: no mail server is set (HANDOVER_SMTP_HOST).</p>`}
        ${failing ? html`<p class="problem" role="alert">${failing === 1 ? '1 e-mail has' : `${failing} e-mails have`} not gone out yet: see the last error below.</p>` : null}
        ${rows.length
          ? html`<div class="table-wrap" role="region" aria-label="E-mails" tabindex="0"><table class="data notifications"><thead><tr><th scope="col">Written</th><th scope="col">To</th><th scope="col">Subject</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Last error</th></tr></thead>
            <tbody>${rows.map((row) => html`<tr class="notification-${row.state}"><td>${timeTag(row.created_at)}</td><td>${row.recipient}</td><td>${row.subject}</td><td>${KIND_WORDS[row.kind] ?? row.kind}</td><td>${stateWords(row)}</td><td>${row.last_error ?? ''}</td></tr>`)}</tbody></table></div>`
          : html`<p class="empty">No e-mails yet.</p>`}`,
    });
  });
}
