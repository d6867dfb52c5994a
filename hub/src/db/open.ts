// Opens the hub's database as the settings say: PostgreSQL when DATABASE_URL is set, otherwise
// the SQLite file handover.sqlite under the data directory. Migrated before it is handed out.
import path from 'node:path';
import { installAnchors } from '../audit/anchoring';
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

type OpenSettings = Pick<Settings, 'dataDir' | 'databaseUrl'> & { databaseOwnerUrl?: string | null };

export async function openDatabase(settings: OpenSettings): Promise<{ db: SqlDatabase; steps: number }> {
  const db: SqlDatabase = settings.databaseUrl ? new PostgresDatabase(settings.databaseUrl) : new SqliteDatabase(sqliteFile(settings));
  try {
    const steps = settings.databaseUrl && settings.databaseOwnerUrl ? await migrateAsOwner(settings.databaseOwnerUrl, db) : await migrate(db);
    await installAnchors(db);
    return { db, steps };
  } catch (error) {
    await db.close().catch(() => {});
    const message = (error as Error).message;
    throw new Error(`cannot open the database (${describeDatabase(settings)}): ${message}`);
  }
}

/**
 * PostgreSQL with an owner role: the owner migrates, then grants the hub's role (`hub`'s user)
 * what the hub needs and no more: it may read and write the records, only add to the ledger,
 * the audit trail and its checkpoints, and make its own tables (accounts, sessions); it owns no
 * records table, so it cannot drop, disable or replace their triggers.
 */
async function migrateAsOwner(ownerUrl: string, hub: SqlDatabase): Promise<number> {
  const role = (await hub.get<{ name: string }>('SELECT current_user AS name'))!.name;
  const owner = new PostgresDatabase(ownerUrl, { maxConnections: 1 });
  try {
    const steps = await migrate(owner);
    const ownerRole = (await owner.get<{ name: string }>('SELECT current_user AS name'))!.name;
    if (ownerRole === role) return steps;
    const hubRole = `"${role.replace(/"/g, '""')}"`;
    // Only the owner's tables and sequences: the hub's role owns its office-page tables (accounts,
    // web_sessions, made on first use), and GRANT ... ON ALL TABLES fails outright on a table the
    // granting role has no privilege on at all, so every start after the hub's first failed.
    await owner.exec(`
      GRANT USAGE, CREATE ON SCHEMA public TO ${hubRole};
      DO $grants$
      DECLARE item record;
      BEGIN
        FOR item IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S') AND pg_get_userbyid(c.relowner) = current_user LOOP
          IF item.relkind = 'S' THEN
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE public.%I TO %s', item.relname, ${pgLiteral(hubRole)});
          ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO %s', item.relname, ${pgLiteral(hubRole)});
          END IF;
        END LOOP;
      END
      $grants$;
      REVOKE UPDATE, DELETE ON charges, audit_log, audit_checkpoints FROM ${hubRole};
      REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM ${hubRole};
    `);
    return steps;
  } finally {
    await owner.close();
  }
}

/** `text` as a PostgreSQL string literal. */
function pgLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
