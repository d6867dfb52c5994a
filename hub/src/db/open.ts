// Opens the hub's database as the settings say: PostgreSQL when DATABASE_URL is set, otherwise
// the SQLite file handover.sqlite under the data directory. Migrated before it is handed out.
import path from 'node:path';
import { installAnchors } from '../audit/anchors';
import type { Settings } from '../settings';
import { migrate } from './migrations';
import { PostgresDatabase, redactUrl } from './postgres';
import { SqliteDatabase, type SqlDatabase } from './sql';

export function sqliteFile(settings: Pick<Settings, 'dataDir'>): string {
  return path.join(settings.dataDir, 'handover.sqlite');
}

/** Where the records are, for the log (no password). */
export function describeDatabase(settings: Pick<Settings, 'dataDir' | 'databaseUrl'>): string {
  return settings.databaseUrl ? `PostgreSQL ${redactUrl(settings.databaseUrl)}` : `SQLite ${sqliteFile(settings)}`;
}

export async function openDatabase(settings: Pick<Settings, 'dataDir' | 'databaseUrl'>): Promise<{ db: SqlDatabase; steps: number }> {
  const db: SqlDatabase = settings.databaseUrl ? new PostgresDatabase(settings.databaseUrl) : new SqliteDatabase(sqliteFile(settings));
  try {
    const steps = await migrate(db);
    await installAnchors(db);
    return { db, steps };
  } catch (error) {
    await db.close().catch(() => {});
    const message = (error as Error).message;
    throw new Error(`cannot open the database (${describeDatabase(settings)}): ${message}`);
  }
}
