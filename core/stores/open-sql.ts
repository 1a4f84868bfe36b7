/** Opens the configured SQL store and applies migrations. (Placeholder: implemented with the PGlite and PostgreSQL drivers.) */
import type { Logger } from '../log.js';
import type { SqlConfig, SqlStore } from './sql.js';

export async function openSqlStore(_config: SqlConfig, _baseDir: string, _log: Logger): Promise<SqlStore> {
  throw new Error('the SQL store is not implemented yet');
}
