// Several hubs behind one address (cluster/): the sign-in limits count every hub's attempts, so a
// browser, or an attacker spraying passwords, gets no more tries by reaching another hub. The
// counts live in the database (sign_in_attempts, migration 14) as a store for @fastify/rate-limit:
// one upsert per attempt, a new window once the last one has passed. Rows whose window ended an
// hour ago are deleted as attempts come (they name an address and a username). A hub alone keeps
// the counts in its memory, as before.
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { SqlDatabase } from '../db/sql';

const KEEP_ENDED_MS = 3600_000;

export function databaseSignInStore(db: SqlDatabase): FastifyRateLimitStoreCtor {
  const count = async (key: string, windowMs: number): Promise<{ current: number; ttl: number }> => {
    const now = Date.now();
    const row = await db.get<{ count: number; window_start_ms: number }>(
      `INSERT INTO sign_in_attempts (key, count, window_start_ms) VALUES (?, 1, ?)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN sign_in_attempts.window_start_ms + ? <= ? THEN 1 ELSE sign_in_attempts.count + 1 END,
         window_start_ms = CASE WHEN sign_in_attempts.window_start_ms + ? <= ? THEN ? ELSE sign_in_attempts.window_start_ms END
       RETURNING count, window_start_ms`,
      [key, now, windowMs, now, windowMs, now, now],
    );
    await db.run('DELETE FROM sign_in_attempts WHERE window_start_ms < ?', [now - windowMs - KEEP_ENDED_MS]);
    return { current: Number(row!.count), ttl: Math.max(0, Number(row!.window_start_ms) + windowMs - now) };
  };
  class DatabaseSignInStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      count(key, timeWindow).then((result) => callback(null, result), (error: Error) => callback(error));
    }

    child(): FastifyRateLimitStore {
      return new DatabaseSignInStore();
    }
  }
  return DatabaseSignInStore;
}
