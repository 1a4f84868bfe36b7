/** Opens the configured SQL store (PGlite or PostgreSQL) and brings its schema up to date. */
import type { Logger } from '../log.js';
import type { SqlConfig } from './sql.js';
import { migrate, type SqlDriver } from './migrate.js';
import { MIGRATIONS } from './migrations.js';
import { openPglite } from './pglite.js';
import { DEFAULT_POOL_SIZE, openPostgres } from './postgres.js';

/** `baseDir` is where a relative PGlite directory resolves (the config file's directory). */
export async function openSqlStore(config: SqlConfig, baseDir: string, log: Logger): Promise<SqlDriver> {
  const driver = await openDriver(config, baseDir, log);
  try {
    await migrate(driver, MIGRATIONS, log);
  } catch (err) {
    await driver.close().catch(() => undefined);
    throw err;
  }
  return driver;
}

function openDriver(config: SqlConfig, baseDir: string, log: Logger): Promise<SqlDriver> {
  if ('pglite' in config) return openPglite(config.pglite, baseDir);
  const { url, pool } = typeof config.postgres === 'string' ? { url: config.postgres, pool: undefined } : config.postgres;
  return Promise.resolve(openPostgres(url, pool ?? DEFAULT_POOL_SIZE, log));
}
