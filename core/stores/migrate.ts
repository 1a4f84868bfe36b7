/**
 * Applies pending migrations at open time. Every replica runs this on start; a session-level
 * advisory lock makes the second one wait until the first is done, then find nothing to apply.
 * Each migration runs in its own transaction together with its `schema_migrations` row, so a
 * failure leaves the database at the last good migration.
 *
 * Migrations have an owner — `core`, or the plugin that declares them — and ids that count from 1
 * per owner; `schema_migrations` is keyed by (owner, id). Owners run in the order given (the core
 * first, then plugins in registry order), each owner's ids ascending.
 */
import type { Logger } from '../log.js';
import type { SqlExecutor, SqlStore } from './sql.js';

/**
 * One step of an owner's schema. They live in TypeScript (not `.sql` files) so that `tsc` ships them
 * in `dist/`; the same text runs on PGlite and PostgreSQL. Never edit or reorder an applied
 * migration; add one with the next id. Row ids are `text COLLATE "C"` (ordering and cursor pagination
 * are byte order whatever the locale); money is `bigint` micro-units, never a float; history tables
 * carry no foreign keys (they outlive what they name).
 */
export interface Migration {
  /** Position in its owner's order (1, 2, …); applied ascending, recorded with the owner. */
  id: number;
  /** Short description, recorded alongside the id. */
  name: string;
  sql: string;
  /**
   * The id this migration's statements had when `schema_migrations` was one global sequence (before
   * migrations had owners). A database that recorded that id has these tables already, so the
   * migration is recorded as applied without running. New migrations leave it out.
   */
  legacyId?: number;
}

/** The migrations of one owner: `core`, or a plugin's name. */
export interface OwnedMigrations {
  owner: string;
  migrations: readonly Migration[];
}

/** Owner of the rows a pre-owner `schema_migrations` table held; reserved. */
export const LEGACY_OWNER = 'legacy';

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

/**
 * Applies every migration not yet recorded, owner by owner; returns the ones whose SQL it ran
 * (empty when up to date, and for migrations adopted from a legacy record).
 */
export async function migrate(driver: SqlDriver, owners: readonly OwnedMigrations[], log: Logger): Promise<{ owner: string; id: number }[]> {
  checkOwners(owners);
  return driver.withSession(async (session) => {
    await session.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await session.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        owner      text NOT NULL,
        id         integer NOT NULL,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (owner, id)
      )`);
      await upgradeLegacyTable(session, log);
      const { rows } = await session.query<{ owner: string; id: number }>('SELECT owner, id FROM schema_migrations');
      const applied = new Set(rows.map((r) => `${r.owner}/${r.id}`));
      const done: { owner: string; id: number }[] = [];
      for (const { owner, migrations } of owners) {
        for (const migration of [...migrations].sort((a, b) => a.id - b.id)) {
          if (applied.has(`${owner}/${migration.id}`)) continue;
          const adopted = migration.legacyId !== undefined && applied.has(`${LEGACY_OWNER}/${migration.legacyId}`);
          await inTransaction(session, `migration ${owner}/${migration.id} (${migration.name})`, async () => {
            if (adopted) {
              // Keeps the date the tables were really created.
              await session.query(
                'INSERT INTO schema_migrations (owner, id, name, applied_at) SELECT $1, $2, $3, applied_at FROM schema_migrations WHERE owner = $4 AND id = $5',
                [owner, migration.id, migration.name, LEGACY_OWNER, migration.legacyId],
              );
            } else {
              await session.exec(migration.sql);
              await session.query('INSERT INTO schema_migrations (owner, id, name) VALUES ($1, $2, $3)', [owner, migration.id, migration.name]);
            }
          });
          const fields = { owner, migration: migration.id, name: migration.name, store: driver.kind };
          if (adopted) {
            log.info({ ...fields, legacy: migration.legacyId }, 'sql: migration recorded as applied by its legacy record');
          } else {
            log.info(fields, 'sql: applied migration');
            done.push({ owner, id: migration.id });
          }
        }
      }
      return done;
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  });
}

/** An owner named twice, or a migration id declared twice, would make "applied" ambiguous. */
function checkOwners(owners: readonly OwnedMigrations[]): void {
  const seen = new Set<string>();
  for (const { owner, migrations } of owners) {
    if (owner === LEGACY_OWNER || seen.has(owner)) throw new Error(`migrations: owner '${owner}' is ${owner === LEGACY_OWNER ? 'reserved' : 'named twice'}`);
    seen.add(owner);
    const ids = migrations.map((m) => m.id);
    const twice = ids.find((id, i) => ids.indexOf(id) !== i);
    if (twice !== undefined) throw new Error(`migrations: '${owner}' declares migration ${twice} twice`);
  }
}

/**
 * Before migrations had owners, `schema_migrations` was keyed by one global integer id. Such a table
 * is reshaped in place and its rows kept under the owner `legacy`; migrations that name a `legacyId`
 * then adopt them (legacy 1 held the core's settings and `auth`'s tables; legacy 2, accounting
 * tables nothing uses, stays a legacy record). Kept rows also let a replica still running the old
 * code find its ids applied during a rolling upgrade. A reshaped table is left alone.
 */
async function upgradeLegacyTable(session: SqlSession, log: Logger): Promise<void> {
  const { rows } = await session.query(`SELECT 1 FROM pg_attribute WHERE attrelid = 'schema_migrations'::regclass AND attname = 'owner' AND NOT attisdropped`);
  if (rows.length > 0) return;
  await inTransaction(session, 'upgrading schema_migrations to (owner, id)', () =>
    session.exec(`
      ALTER TABLE schema_migrations ADD COLUMN owner text NOT NULL DEFAULT '${LEGACY_OWNER}';
      ALTER TABLE schema_migrations ALTER COLUMN owner DROP DEFAULT;
      ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey;
      ALTER TABLE schema_migrations ADD PRIMARY KEY (owner, id);
    `),
  );
  log.info({ owner: LEGACY_OWNER }, 'sql: schema_migrations now keyed by (owner, id); earlier records kept under the legacy owner');
}

async function inTransaction(session: SqlSession, what: string, fn: () => Promise<void>): Promise<void> {
  await session.exec('BEGIN');
  try {
    await fn();
    await session.exec('COMMIT');
  } catch (err) {
    await session.exec('ROLLBACK');
    throw new Error(`${what} failed: ${(err as Error).message}`);
  }
}
