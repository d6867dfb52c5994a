// The hub's e-mail round: every minute (and at once when a loss or theft is reported) it writes
// the notices due (notices.ts) into the outbox, then delivers what is waiting; a failed send is
// retried with a doubling wait (outbox.ts). Off when no SMTP host is set.
import type { Logger } from '../log';
import type { Records } from '../records';
import { citeRulesInText } from '../rules/school-rules';
import type { Settings } from '../settings';
import { mailerFrom, type SendMail } from './mailer';
import { healthCheckNotices, lossNotices, overdueDigests, uncollectedNotices } from './notices';
import { Outbox } from './outbox';

/** How far back a loss or theft alert is still mailed (a hub that was down for a weekend catches up). */
const ALERT_LOOKBACK_DAYS = 7;

export class Notifier {
  readonly outbox: Outbox;
  private timer: NodeJS.Timeout | null = null;
  /** Rounds run one after another on this chain. */
  private chain: Promise<void> = Promise.resolve();
  private queued = false;
  private mailer: { send: SendMail; close(): void } | null;
  private onAlert = (alert: { kind: string }) => {
    // The alert is written inside its transaction: look once it has committed.
    if (alert.kind === 'asset-lost' || alert.kind === 'asset-stolen') setTimeout(() => this.kick(), 50);
  };

  constructor(
    private records: Records,
    private settings: Settings,
    private log: Logger,
    private intervalMs = 60_000,
  ) {
    this.outbox = new Outbox(records.db);
    this.mailer = mailerFrom(settings);
  }

  get enabled(): boolean {
    return this.mailer !== null;
  }

  start(): void {
    if (!this.mailer) return;
    this.records.alerts.on('alert', this.onAlert);
    this.timer = setInterval(() => this.kick(), this.intervalMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.records.alerts.off('alert', this.onAlert);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.chain;
    this.mailer?.close();
  }

  /** Runs a round soon (one at a time: a round asked for while one runs follows it, once). */
  kick(): void {
    if (!this.mailer || this.queued) return;
    this.queued = true;
    this.chain = this.chain
      .then(() => {
        this.queued = false;
        return this.roundAt(new Date());
      })
      .catch((error) => this.log.warn(`notifications: ${(error as Error).message}`));
  }

  /** Writes the notices due at `now` and delivers what is waiting, after any round under way. */
  runRound(now = new Date()): Promise<void> {
    const run = this.chain.then(() => this.roundAt(now));
    this.chain = run.catch((error) => this.log.warn(`notifications: ${(error as Error).message}`));
    return run;
  }

  /** Whether this hub sends the e-mail (cluster/leadership.ts: one of several hubs does). */
  leading: () => boolean = () => true;

  private async roundAt(now: Date): Promise<void> {
    if (!this.mailer || !this.leading()) return;
    const at = now.toISOString();
    const since = new Date(now.getTime() - ALERT_LOOKBACK_DAYS * 86_400_000).toISOString();
    const notices = [
      ...(await lossNotices(this.records, since)),
      ...(await overdueDigests(this.records, now)),
      ...(await uncollectedNotices(this.records, now, this.settings.dayCutoff)),
      ...(await healthCheckNotices(this.records, now)),
    ];
    for (const notice of notices) {
      // Rules are cited by name and where to read them, never by the project's code ("P10").
      const plain = { ...notice, subject: citeRulesInText(notice.subject, this.settings.officeUrl), body: citeRulesInText(notice.body, this.settings.officeUrl) };
      await this.outbox.add(plain, at);
    }
    await this.deliver(now);
  }

  private async deliver(now: Date): Promise<void> {
    for (const row of await this.outbox.due(now.toISOString())) {
      try {
        await this.mailer!.send({ to: row.recipient, subject: row.subject, text: row.body });
        await this.outbox.markSent(Number(row.id), new Date().toISOString());
      } catch (error) {
        const reason = (error as Error).message || String(error);
        this.log.warn(`e-mail "${row.subject}" to ${row.recipient} not sent (attempt ${Number(row.attempts) + 1}): ${reason}`);
        await this.outbox.markFailed(row, reason, new Date(), this.settings.smtpRetrySeconds * 1000);
      }
    }
  }
}
