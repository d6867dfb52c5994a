// Read-only broker accounts, for Home Assistant (or any dashboard): each may read the stations'
// status, the hub's JSON state for Home Assistant and the discovery configs, and nothing else
// (access.ts). The password is generated (24 random bytes) and shown once; only its hash is kept,
// in Mosquitto's own `$7$` form (PBKDF2-SHA512), which the embedded broker checks and the Mosquitto
// password file carries as it is.
import crypto from 'node:crypto';
import type { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import { HUB_USERNAME, isHubUsername } from './access';

/** Mosquitto's default for `$7$` hashes (mosquitto_passwd); the passwords are random, so it is enough. */
const ITERATIONS = 101;

/** `$7$<iterations>$<salt base64>$<PBKDF2-SHA512 base64>`, as mosquitto_passwd writes it. */
export function mosquittoHash(password: string, salt = crypto.randomBytes(12)): string {
  const hash = crypto.pbkdf2Sync(password, salt, ITERATIONS, 64, 'sha512');
  return `$7$${ITERATIONS}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export interface BrokerAccountRow {
  username: string;
  password_hash: string;
  created_at: string;
}

export class BrokerAccounts {
  private db: SqlDatabase;
  private audit: AuditTrail | null;

  constructor(db: SqlDatabase, audit: AuditTrail | null = null) {
    this.db = db;
    this.audit = audit;
  }

  /** Makes a read-only account; returns its password (shown once, kept only as a hash). */
  async add(username: string, actor = 'system'): Promise<string> {
    if (!/^[a-z0-9][a-z0-9_.-]{0,31}$/.test(username)) throw new Error(`broker account ${JSON.stringify(username)}: use 1-32 lower-case letters, digits, ".", "_" and "-"`);
    if (isHubUsername(username)) throw new Error(`broker account ${username}: names starting ${HUB_USERNAME} are the hub's own`);
    if (await this.db.get('SELECT id FROM stations WHERE id = ?', [username])) throw new Error(`broker account ${username}: a station has that id (stations log in under their id)`);
    if (await this.get(username)) throw new Error(`broker account ${username} already exists`);
    const password = crypto.randomBytes(24).toString('base64url');
    await this.db.transaction(async (tx) => {
      await tx.run('INSERT INTO broker_accounts (username, password_hash, created_at) VALUES (?, ?, ?)', [username, mosquittoHash(password), new Date().toISOString()]);
      await this.audit?.append({ actor, action: 'broker-account.added', subject: `broker-account:${username}`, details: { username } }, tx);
    });
    return password;
  }

  async remove(username: string, actor = 'system'): Promise<void> {
    if (!(await this.get(username))) throw new Error(`no broker account ${username}`);
    await this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM broker_accounts WHERE username = ?', [username]);
      await this.audit?.append({ actor, action: 'broker-account.removed', subject: `broker-account:${username}`, details: { username } }, tx);
    });
  }

  async get(username: string): Promise<BrokerAccountRow | undefined> {
    return this.db.get<BrokerAccountRow>('SELECT * FROM broker_accounts WHERE username = ?', [username]);
  }

  async list(): Promise<BrokerAccountRow[]> {
    return this.db.all<BrokerAccountRow>('SELECT * FROM broker_accounts ORDER BY username');
  }
}
