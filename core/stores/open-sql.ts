/** Opens the configured SQL store (PGlite or PostgreSQL) and brings its schema up to date. */
import type { Logger } from '../log.js';
import { parseDuration } from '../config/units.js';
import type { PostgresConfig, SqlConfig } from './sql.js';
import { migrate, type OwnedMigrations, type SqlDriver } from './migrate.js';
import { CORE_MIGRATIONS } from './migrations.js';
import { openPglite } from './pglite.js';
import { POSTGRES_DEFAULTS, openPostgres, type PostgresOptions } from './postgres.js';

/**
 * `baseDir` is where a relative PGlite directory resolves (the config file's directory); `plugins`
 * are the plugins' migrations, applied after the core's.
 */
export async function openSqlStore(config: SqlConfig, baseDir: string, log: Logger, plugins: readonly OwnedMigrations[] = []): Promise<SqlDriver> {
  const driver = await openSqlDriver(config, baseDir, log);
  try {
    await migrateSchema(driver, plugins, log);
  } catch (err) {
    await driver.close().catch(() => undefined);
    throw err;
  }
  return driver;
}

/** Brings the schema up to date: the core's migrations first, then each plugin's in the order given. */
export function migrateSchema(driver: SqlDriver, plugins: readonly OwnedMigrations[], log: Logger): ReturnType<typeof migrate> {
  return migrate(driver, [CORE_MIGRATIONS, ...plugins], log);
}

/** The driver alone, not yet migrated (`Stores` migrates it, and migrates again after a failed attempt). */
export function openSqlDriver(config: SqlConfig, baseDir: string, log: Logger): Promise<SqlDriver> {
  if ('pglite' in config) return openPglite(config.pglite, baseDir, { settings: config.settings });
  return Promise.resolve(openPostgres(postgresOptions(config.postgres), log));
}

function postgresOptions(config: string | PostgresConfig): PostgresOptions {
  if (typeof config === 'string') return { url: config, ...POSTGRES_DEFAULTS };
  const duration = (field: 'connect_timeout' | 'query_timeout' | 'idle_timeout', fallback: number): number => {
    const raw = config[field];
    if (raw === undefined) return fallback;
    const ms = parseDuration(raw);
    if (!ms) throw new Error(`stores.sql.postgres.${field}: must be a duration above zero, not ${String(raw)}`);
    return ms;
  };
  return {
    url: config.url,
    poolSize: config.pool ?? POSTGRES_DEFAULTS.poolSize,
    connectTimeoutMs: duration('connect_timeout', POSTGRES_DEFAULTS.connectTimeoutMs),
    queryTimeoutMs: duration('query_timeout', POSTGRES_DEFAULTS.queryTimeoutMs),
    idleTimeoutMs: duration('idle_timeout', POSTGRES_DEFAULTS.idleTimeoutMs),
  };
}
