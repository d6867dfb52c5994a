// What every office page is given: the hub's record modules, accounts, the station link, and two
// helpers — `audit` (each view of a person's records and each action lands in the audit trail
// under the account) and `render` (a page in the common frame).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Accounts } from '../accounts/accounts';
import { accountLabel } from '../accounts/roles';
import type { DemoStation } from '../demo/demo-station';
import type { Ingest } from '../ingest';
import type { RefusalCount } from '../broker/guard';
import type { Logger } from '../log';
import type { Records } from '../records/index';
import type { StationLink } from '../stations/station-link';
import type { BadgeSync } from '../stations/badge-sync';
import type { Settings } from '../settings';
import { csrfToken, type SignInLimits } from './auth';
import { html, type HtmlValue } from './html';
import { notice, page } from './layout';
import type { Imports } from './imports-runner';
import type { Notifier } from '../notify/notifier';

export interface WebParts {
  records: Records;
  accounts: Accounts;
  ingest: Ingest;
  link: StationLink | null;
  /** Which badge list each station holds, and the pushes under way (absent without a link). */
  badges?: BadgeSync | null;
  demo: DemoStation | null;
  /** What the embedded broker refused (null with an external broker, which logs its own). */
  brokerRefusals?: (() => RefusalCount[]) | null;
  settings: Pick<Settings, 'dayCutoff' | 'lostPropertyDays'> & Partial<Pick<Settings, 'site' | 'hubName'>>;
  /** The e-mail notifications (absent or disabled: e-mail is off). */
  notifier?: Notifier | null;
  log: Logger;
  /**
   * Believe X-Forwarded-For and X-Forwarded-Proto from a reverse proxy that terminates HTTPS in
   * front of the hub (then the session cookie is marked Secure, and sign-in limits count the real
   * client's address). HANDOVER_TRUST_PROXY: off unless the hub is only reachable through such a
   * proxy (true), or limited to the proxy's own addresses: otherwise anyone could claim any address.
   */
  trustProxy?: boolean | string[];
  /** Sign-in attempts allowed per window (auth.ts has the defaults). */
  signInLimits?: SignInLimits;
  /** Several hubs: sign-in attempts counted in the database (shared-sign-in-limits.ts). */
  signInStore?: FastifyRateLimitStoreCtor;
}

export interface WebContext extends WebParts {
  imports: Imports;
  /** One audit record for what the signed-in account saw or did. */
  audit(request: FastifyRequest, action: string, entry?: { subject?: string | null; personId?: number | null; details?: Record<string, unknown> }): Promise<void>;
  render(request: FastifyRequest, reply: FastifyReply, options: { title: string; section?: string; body: HtmlValue; scripts?: string[]; status?: number }): FastifyReply;
  /** Keeps a message to show at the top of the next page (after a redirect). */
  flash(request: FastifyRequest, message: string): void;
}

export function makeContext(parts: WebParts, imports: Imports): WebContext {
  return {
    ...parts,
    imports,
    async audit(request, action, entry = {}) {
      const account = request.account;
      await parts.records.audit.append({
        actor: account ? accountLabel(account) : `address:${request.ip}`,
        action,
        subject: entry.subject ?? null,
        personId: entry.personId ?? null,
        details: { ...(entry.details ?? {}), via: 'web' },
      });
    },
    render(request, reply, options) {
      const flash = request.session?.flash;
      if (flash) request.session.flash = undefined;
      const content = flash ? html`${notice('done', flash)}${options.body}` : options.body;
      const body = page({ title: options.title, section: options.section, account: request.account, csrfToken: csrfToken(reply), body: content, scripts: options.scripts, schools: request.schoolChoice ?? null });
      return reply
        .code(options.status ?? 200)
        .type('text/html; charset=utf-8')
        .send(body.text);
    },
    flash(request, message) {
      request.session.flash = message;
    },
  };
}
