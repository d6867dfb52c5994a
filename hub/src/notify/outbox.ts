// The record of every e-mail notification: who it went to, its subject and kind, and its delivery
// state (waiting, sent, failed), attempts and last error. A notice is written here first, once (its
// `dedupe` key), and the mailer delivers from here, so nothing is lost to a failed send or a restart.
import type { SqlDatabase } from '../db/sql';

export type NotificationKind = 'overdue-loans' | 'asset-lost' | 'asset-stolen' | 'uncollected-phones' | 'health-check';
export type NotificationState = 'waiting' | 'sent' | 'failed';

export interface NotificationRow {
  id: number;
  created_at: string;
  kind: NotificationKind;
  dedupe: string;
  recipient: string;
  subject: string;
  body: string;
  state: NotificationState;
  attempts: number;
  last_error: string | null;
  next_attempt_at: string | null;
  sent_at: string | null;
}

export interface Notice {
  kind: NotificationKind;
  /** The same key is only ever written once (e.g. "overdue-loans:person:12:2026-12-07"). */
  dedupe: string;
  recipient: string;
  subject: string;
  body: string;
}

/** Attempts before a message is given up as failed (it stays on the page, with its last error). */
export const MAX_ATTEMPTS = 8;
const MAX_WAIT_MS = 6 * 3600_000;

export class Outbox {
  constructor(private db: SqlDatabase) {}

  /** Records a notice to send; false when one with its key is already there. */
  async add(notice: Notice, at: string): Promise<boolean> {
    const before = await this.db.get<{ id: number }>('SELECT id FROM notifications WHERE dedupe = ?', [notice.dedupe]);
    if (before) return false;
    await this.db.run(
      `INSERT INTO notifications (created_at, kind, dedupe, recipient, subject, body, state, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'waiting', 0, ?)
       ON CONFLICT (dedupe) DO NOTHING`,
      [at, notice.kind, notice.dedupe, notice.recipient, notice.subject, notice.body, at],
    );
    return true;
  }

  /** Messages waiting whose next attempt is due. */
  async due(at: string, limit = 50): Promise<NotificationRow[]> {
    return this.db.all<NotificationRow>("SELECT * FROM notifications WHERE state = 'waiting' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?", [at, limit]);
  }

  async markSent(id: number, at: string): Promise<void> {
    await this.db.run("UPDATE notifications SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL, next_attempt_at = NULL WHERE id = ?", [at, id]);
  }

  /** A failed attempt: retried after retryMs × 2^(attempts − 1), or failed for good after MAX_ATTEMPTS. */
  async markFailed(row: NotificationRow, error: string, at: Date, retryMs: number): Promise<void> {
    const attempts = Number(row.attempts) + 1;
    const giveUp = attempts >= MAX_ATTEMPTS;
    const next = giveUp ? null : new Date(at.getTime() + Math.min(MAX_WAIT_MS, retryMs * 2 ** (attempts - 1))).toISOString();
    await this.db.run('UPDATE notifications SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?', [giveUp ? 'failed' : 'waiting', attempts, error.slice(0, 500), next, row.id]);
  }

  /** The latest messages, newest first. */
  /**
   * The newest e-mails; with `recipients` (a condition on people, e.g. a school's), only those to
   * the addresses of the people it matches, filtered before the limit (a busy school does not push
   * another's off the list).
   */
  async recent(limit = 100, recipients?: { sql: string; params: string[] }): Promise<NotificationRow[]> {
    if (!recipients) return this.db.all<NotificationRow>('SELECT * FROM notifications ORDER BY created_at DESC, id DESC LIMIT ?', [limit]);
    return this.db.all<NotificationRow>(
      `SELECT * FROM notifications WHERE LOWER(recipient) IN (SELECT LOWER(email) FROM people WHERE email IS NOT NULL AND ${recipients.sql}) ORDER BY created_at DESC, id DESC LIMIT ?`,
      [...recipients.params, limit],
    );
  }
}
