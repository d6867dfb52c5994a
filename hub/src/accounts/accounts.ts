// Hub accounts for the office page (P14, P15): a username, one role, a scrypt password hash, and
// optionally the staff member (people.id) the account belongs to. No account ships: the first is
// made on the command line (`handover account add`). Five wrong passwords in a row lock an
// account for fifteen minutes. Every change and every sign-in, good or bad, is in the audit trail.
//
// The two tables here (accounts, web_sessions) belong to the office page and are created by
// `prepare()` with CREATE TABLE IF NOT EXISTS, portably, apart from the records' numbered
// migrations (hub/src/db/migrations.ts), which this module does not touch.
import crypto from 'node:crypto';
import type { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import { forDialect } from '../db/migrations';
import { checkPasswordPolicy, decoyHash, hashPassword, verifyPassword } from './password';
import { isWebRole, WEB_ROLES, type SignedInAccount, type WebRole } from './roles';

export const MAX_FAILED_SIGN_INS = 5;
export const LOCK_MINUTES = 15;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  person_id INTEGER,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  password_changed_at TEXT NOT NULL,
  disabled_at TEXT,
  failed_sign_ins INTEGER NOT NULL DEFAULT 0,
  locked_until TEXT,
  last_sign_in_at TEXT
);
CREATE TABLE IF NOT EXISTS web_sessions (
  id TEXT PRIMARY KEY,
  account_id INTEGER,
  data TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
`;

export interface AccountRow {
  id: number;
  username: string;
  role: WebRole;
  password_hash: string;
  person_id: number | null;
  created_at: string;
  created_by: string;
  password_changed_at: string;
  disabled_at: string | null;
  failed_sign_ins: number;
  locked_until: string | null;
  last_sign_in_at: string | null;
}

export class AccountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AccountError';
  }
}

export type SignInResult =
  | { ok: true; account: SignedInAccount }
  | { ok: false; reason: 'wrong' | 'locked' | 'disabled'; message: string };

/** Usernames: 2-40 lower-case letters, digits, dots, dashes and underscores, starting with a letter. */
export function checkUsername(username: string): string {
  const name = username.trim().toLowerCase();
  if (!/^[a-z][a-z0-9._-]{1,39}$/.test(name)) {
    throw new AccountError(`username ${JSON.stringify(username)}: use 2 to 40 lower-case letters, digits, dots, dashes or underscores, starting with a letter`);
  }
  return name;
}

function toSignedIn(row: AccountRow): SignedInAccount {
  return { id: Number(row.id), username: row.username, role: row.role, personId: row.person_id === null ? null : Number(row.person_id) };
}

export class Accounts {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
    private now: () => Date = () => new Date(),
  ) {}

  /** Creates this module's tables if they are not there yet. */
  async prepare(): Promise<void> {
    await this.db.transaction(async (tx) => {
      if (tx.kind === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(7215032)');
      await tx.exec(forDialect(SCHEMA, tx.kind));
    });
  }

  async count(): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM accounts WHERE disabled_at IS NULL');
    return Number(row?.n ?? 0);
  }

  async list(): Promise<AccountRow[]> {
    return this.db.all<AccountRow>('SELECT * FROM accounts ORDER BY username');
  }

  async byUsername(username: string): Promise<AccountRow | undefined> {
    return this.db.get<AccountRow>('SELECT * FROM accounts WHERE username = ?', [username.trim().toLowerCase()]);
  }

  /** The account behind a session, if it still exists and is not disabled. */
  async active(id: number): Promise<SignedInAccount | null> {
    const row = await this.db.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', [id]);
    return row && !row.disabled_at ? toSignedIn(row) : null;
  }

  /** `by` is who made it: `os-user:<name>` on the command line (cli/operator.ts), or `account:<name>`. */
  async add(input: { username: string; role: string; password: string; personId?: number | null }, by: string): Promise<SignedInAccount> {
    const username = checkUsername(input.username);
    if (!isWebRole(input.role)) throw new AccountError(`role ${JSON.stringify(input.role)}: choose one of ${WEB_ROLES.join(', ')}`);
    checkPasswordPolicy(input.password);
    if (await this.byUsername(username)) throw new AccountError(`there is already an account ${username}`);
    if (input.personId != null) {
      const person = await this.db.get<{ kind: string }>('SELECT kind FROM people WHERE id = ?', [input.personId]);
      if (!person) throw new AccountError(`no person #${input.personId}`);
      if (person.kind !== 'staff') throw new AccountError(`person #${input.personId} is not a member of staff`);
    }
    const hash = await hashPassword(input.password);
    const at = this.now().toISOString();
    return this.db.transaction(async (tx) => {
      const id = await tx.insert(
        'INSERT INTO accounts (username, role, password_hash, person_id, created_at, created_by, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [username, input.role, hash, input.personId ?? null, at, by, at],
      );
      await this.audit.append({ actor: by, action: 'account.created', subject: `account:${username}`, at, details: { role: input.role, person: input.personId ?? null } }, tx);
      return { id, username, role: input.role as WebRole, personId: input.personId ?? null };
    });
  }

  /** Links an account to the member of staff it belongs to (people.id), or unlinks it (null). */
  async link(username: string, personId: number | null, by: string): Promise<void> {
    const row = await this.byUsername(username);
    if (!row) throw new AccountError(`no account ${username}`);
    if (personId !== null) {
      const person = await this.db.get<{ kind: string }>('SELECT kind FROM people WHERE id = ?', [personId]);
      if (!person) throw new AccountError(`no person #${personId}`);
      if (person.kind !== 'staff') throw new AccountError(`person #${personId} is not a member of staff`);
    }
    const at = this.now().toISOString();
    await this.db.transaction(async (tx) => {
      await tx.run('UPDATE accounts SET person_id = ? WHERE id = ?', [personId, row.id]);
      await this.audit.append({ actor: by, action: 'account.linked', subject: `account:${row.username}`, at, details: { person: personId } }, tx);
    });
  }

  async setPassword(username: string, password: string, by: string): Promise<void> {
    const row = await this.byUsername(username);
    if (!row) throw new AccountError(`no account ${username}`);
    checkPasswordPolicy(password);
    const hash = await hashPassword(password);
    const at = this.now().toISOString();
    await this.db.transaction(async (tx) => {
      await tx.run('UPDATE accounts SET password_hash = ?, password_changed_at = ?, failed_sign_ins = 0, locked_until = NULL WHERE id = ?', [hash, at, row.id]);
      // Every session of this account ends with the old password.
      await tx.run('DELETE FROM web_sessions WHERE account_id = ?', [row.id]);
      await this.audit.append({ actor: by, action: 'account.password-changed', subject: `account:${row.username}`, at }, tx);
    });
  }

  async setDisabled(username: string, disabled: boolean, by: string): Promise<void> {
    const row = await this.byUsername(username);
    if (!row) throw new AccountError(`no account ${username}`);
    const at = this.now().toISOString();
    await this.db.transaction(async (tx) => {
      await tx.run('UPDATE accounts SET disabled_at = ? WHERE id = ?', [disabled ? at : null, row.id]);
      if (disabled) await tx.run('DELETE FROM web_sessions WHERE account_id = ?', [row.id]);
      await this.audit.append({ actor: by, action: disabled ? 'account.disabled' : 'account.enabled', subject: `account:${row.username}`, at }, tx);
    });
  }

  /**
   * Checks a username and password. An unknown name costs the same hash as a wrong password.
   * Five failures in a row lock the account for LOCK_MINUTES; each attempt is audited (never the password).
   */
  async signIn(usernameText: string, password: string, from: string): Promise<SignInResult> {
    const username = usernameText.trim().toLowerCase().slice(0, 64);
    const row = await this.byUsername(username);
    const now = this.now();
    const at = now.toISOString();
    const wrong: SignInResult = { ok: false, reason: 'wrong', message: 'Wrong username or password.' };
    if (!row) {
      await verifyPassword(password, await decoyHash());
      // What was typed is not kept: it matched no account, and it is sometimes a password typed
      // into the wrong box. The record says only that the name was unknown.
      await this.audit.append({ actor: 'anonymous', action: 'account.sign-in-failed', subject: null, at, details: { from, reason: 'unknown account' } });
      return wrong;
    }
    const subject = `account:${row.username}`;
    if (row.disabled_at) {
      await this.audit.append({ actor: subject, action: 'account.sign-in-failed', subject, at, details: { from, reason: 'disabled' } });
      return { ok: false, reason: 'disabled', message: 'This account is disabled. Ask the headteacher or the ICT lead.' };
    }
    if (row.locked_until && row.locked_until > at) {
      const minutes = Math.ceil((Date.parse(row.locked_until) - now.getTime()) / 60_000);
      await this.audit.append({ actor: subject, action: 'account.sign-in-failed', subject, at, details: { from, reason: 'locked' } });
      return { ok: false, reason: 'locked', message: `Too many wrong passwords: this account is locked for ${minutes} more minute${minutes === 1 ? '' : 's'}.` };
    }
    // The row was read before the (slow) password check: attempts at once, at one hub or at
    // several, all read the same count. So the count moves in the database, one attempt at a time,
    // and a right password signs in only if no attempt locked the account meanwhile.
    if (!(await verifyPassword(password, row.password_hash))) {
      const lockUntil = new Date(now.getTime() + LOCK_MINUTES * 60_000).toISOString();
      const counted = await this.db.transaction(async (tx) => {
        const after = (await tx.get<{ failed_sign_ins: number; locked_until: string | null }>(
          `UPDATE accounts SET
             failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= ? THEN 0 ELSE failed_sign_ins + 1 END,
             locked_until = CASE WHEN failed_sign_ins + 1 >= ? THEN ? ELSE locked_until END
           WHERE id = ? RETURNING failed_sign_ins, locked_until`,
          [MAX_FAILED_SIGN_INS, MAX_FAILED_SIGN_INS, lockUntil, row.id],
        ))!;
        // Every failure adds one but the one that reaches the limit, which locks and starts again at 0.
        const locked = Number(after.failed_sign_ins) === 0;
        const failures = locked ? MAX_FAILED_SIGN_INS : Number(after.failed_sign_ins);
        await this.audit.append({ actor: subject, action: 'account.sign-in-failed', subject, at, details: { from, reason: 'wrong password', failures, locked } }, tx);
        return { locked };
      });
      if (counted.locked) return { ok: false, reason: 'locked', message: `Too many wrong passwords: this account is locked for ${LOCK_MINUTES} minutes.` };
      return wrong;
    }
    const signedIn = await this.db.transaction(async (tx) => {
      const { changes } = await tx.run('UPDATE accounts SET failed_sign_ins = 0, locked_until = NULL, last_sign_in_at = ? WHERE id = ? AND (locked_until IS NULL OR locked_until <= ?)', [at, row.id, at]);
      if (changes === 0) {
        await this.audit.append({ actor: subject, action: 'account.sign-in-failed', subject, at, details: { from, reason: 'locked' } }, tx);
        return false;
      }
      await this.audit.append({ actor: subject, action: 'account.signed-in', subject, at, details: { from } }, tx);
      return true;
    });
    if (!signedIn) return { ok: false, reason: 'locked', message: `Too many wrong passwords: this account is locked for ${LOCK_MINUTES} minutes.` };
    return { ok: true, account: toSignedIn(row) };
  }

  async signedOut(account: SignedInAccount, from: string): Promise<void> {
    await this.audit.append({ actor: `account:${account.username}`, action: 'account.signed-out', subject: `account:${account.username}`, details: { from } });
  }

  /** A session store for @fastify/session, keeping sessions in web_sessions under a hash of their id. */
  sessionStore(): SessionStore {
    const db = this.db;
    const key = (sessionId: string) => crypto.createHash('sha256').update(sessionId).digest('hex');
    let writes = 0;
    return {
      set(sessionId, session, callback) {
        const data = JSON.stringify(session);
        const accountId = (session as { accountId?: number }).accountId ?? null;
        const cookie = (session as { cookie?: { expires?: Date | string | null } }).cookie;
        const expires = cookie?.expires ? new Date(cookie.expires).toISOString() : new Date(Date.now() + 24 * 3600_000).toISOString();
        const sweep = ++writes % 100 === 0 ? db.run('DELETE FROM web_sessions WHERE expires_at < ?', [new Date().toISOString()]) : Promise.resolve();
        sweep
          .then(() => db.run('INSERT INTO web_sessions (id, account_id, data, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, data = excluded.data, expires_at = excluded.expires_at', [key(sessionId), accountId, data, expires]))
          .then(() => callback(), (error) => callback(error));
      },
      get(sessionId, callback) {
        db.get<{ data: string; expires_at: string }>('SELECT data, expires_at FROM web_sessions WHERE id = ?', [key(sessionId)]).then(
          (row) => callback(null, row && row.expires_at > new Date().toISOString() ? JSON.parse(row.data) : null),
          (error) => callback(error),
        );
      },
      destroy(sessionId, callback) {
        db.run('DELETE FROM web_sessions WHERE id = ?', [key(sessionId)]).then(
          () => callback(),
          (error) => callback(error),
        );
      },
    };
  }

  /** The secret that signs session cookies: made once per hub, kept with the hub's other secrets. */
  async cookieSecret(): Promise<string> {
    const row = await this.db.get<{ value: string }>("SELECT value FROM hub_secrets WHERE name = 'web_cookie_secret'");
    if (row) return row.value;
    await this.db.run("INSERT INTO hub_secrets (name, value) VALUES ('web_cookie_secret', ?) ON CONFLICT DO NOTHING", [crypto.randomBytes(32).toString('hex')]);
    return this.cookieSecret();
  }
}

export interface SessionStore {
  set(sessionId: string, session: unknown, callback: (error?: unknown) => void): void;
  get(sessionId: string, callback: (error: unknown, session?: unknown) => void): void;
  destroy(sessionId: string, callback: (error?: unknown) => void): void;
}
