// Several hubs take the audit checkpoints in turn, whichever leads (leadership.ts), each with its
// own checkpoint key: HANDOVER_AUDIT_KEY, or else the key file in its own data directory, which on
// another machine is another key. `audit verify` then reports every checkpoint made with the
// other key as forged. So a named hub compares a fingerprint of its key (an HMAC under it, which
// tells nothing of the key) with the one the first hub recorded, and refuses to start on another.
import crypto from 'node:crypto';
import { checkpointKey } from '../audit/checkpoints';
import type { SqlDatabase } from '../db/sql';
import type { Settings } from '../settings';

const FINGERPRINT = 'audit_key_fingerprint';

export function auditKeyFingerprint(key: Buffer): string {
  return crypto.createHmac('sha256', key).update('handover audit key fingerprint 1').digest('hex');
}

/** Why this hub may not join the others (its checkpoint key is not theirs), or null. */
export async function auditKeyMismatch(db: SqlDatabase, settings: Pick<Settings, 'dataDir' | 'auditKey'>, hubName: string): Promise<string | null> {
  const mine = auditKeyFingerprint(checkpointKey(settings));
  await db.run('INSERT INTO hub_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [FINGERPRINT, mine]);
  const recorded = await db.get<{ value: string }>('SELECT value FROM hub_secrets WHERE name = ?', [FINGERPRINT]);
  if (recorded?.value === mine) return null;
  const whose = settings.auditKey ? 'HANDOVER_AUDIT_KEY' : `the key file in ${settings.dataDir}`;
  return `hub ${hubName}'s audit checkpoint key (${whose}) is not the one the other hubs use, so audit verify would report their checkpoints or its own as forged: give every hub the same HANDOVER_AUDIT_KEY (64 hex digits)`;
}
