/**
 * Applies pending migrations at open time. Every replica runs this on start; a session-level
 * advisory lock makes the second one wait until the first is done, then find nothing to apply.
 * Each migration runs in its own transaction together with its `schema_migrations` row, so a
 * failure leaves the database at the last good migration.
 */
import type { Logger } from '../log.js';
import type { SqlExecutor, SqlStore } from './sql.js';
import type { Migration } from './migrations.js';

/** One connection held for a while (advisory locks are per session). */
export interface SqlSession extends SqlExecutor {
  /** Runs a script of several statements, without parameters. */
  exec(script: string): Promise<void>;
}

/** What a driver gives the migration runner beyond the public store. */
export interface SqlDriver extends SqlStore {
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
}

/** Any constant shared by every Switchyard replica; the bytes of "swyd" so it reads as ours in `pg_locks`. */
export const MIGRATION_LOCK_ID = 0x73777964;

/** Applies every migration not yet recorded; returns the ids it applied (empty when up to date). */
export async function migrate(driver: SqlDriver, migrations: readonly Migration[], log: Logger): Promise<number[]> {
  return driver.withSession(async (session) => {
    await session.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await session.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        id         integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await session.query<{ id: number }>('SELECT id FROM schema_migrations');
      const applied = new Set(rows.map((r) => r.id));
      const done: number[] = [];
      for (const migration of [...migrations].sort((a, b) => a.id - b.id)) {
        if (applied.has(migration.id)) continue;
        await session.exec('BEGIN');
        try {
          await session.exec(migration.sql);
          await session.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [migration.id, migration.name]);
          await session.exec('COMMIT');
        } catch (err) {
          await session.exec('ROLLBACK');
          throw new Error(`migration ${migration.id} (${migration.name}) failed: ${(err as Error).message}`);
        }
        log.info({ migration: migration.id, name: migration.name, store: driver.kind }, 'sql: applied migration');
        done.push(migration.id);
      }
      return done;
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  });
}
