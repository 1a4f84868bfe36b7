/**
 * The embedded SQL driver: PGlite (PostgreSQL compiled to WASM) in this process, data in a
 * directory or in memory. One connection by nature, so only one process may open a directory.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import type { SqlExecutor, SqlResult } from './sql.js';
import type { SqlDriver, SqlSession } from './migrate.js';

/** `memory` for a throw-away database; anything else is a directory, relative to `baseDir`. */
export const PGLITE_MEMORY = 'memory';

interface PgliteQueryable {
  query<Row>(text: string, params?: unknown[]): Promise<{ rows: Row[]; affectedRows?: number }>;
  exec(text: string): Promise<unknown>;
}

/**
 * `bigint` comes back as a string, as it does from `pg`: money in micro-units can pass 2^53, and both
 * drivers must hand callers the same types.
 */
const PARSERS = { [types.INT8]: (value: string) => value };

export async function openPglite(location: string, baseDir: string): Promise<SqlDriver> {
  if (location === PGLITE_MEMORY) return new PgliteStore(await PGlite.create({ parsers: PARSERS }));
  const dir = isAbsolute(location) ? location : resolve(baseDir, location);
  await mkdir(dir, { recursive: true });
  const unlock = await lockDirectory(dir);
  try {
    return new PgliteStore(await PGlite.create(dir, { parsers: PARSERS }), unlock);
  } catch (err) {
    await unlock();
    throw err;
  }
}

/**
 * PGlite has no locking of its own, and two processes writing one data directory corrupt it (a
 * second `npm start` would open it before failing to bind the port). A pid file claims the
 * directory; one left by a process that no longer runs is taken over.
 */
async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'switchyard.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processRuns(pid)) {
        throw new Error(`the PGlite data directory ${dir} is in use by process ${pid}; only one process may open it (use \`stores.sql: { postgres: … }\` to share data between replicas)`);
      }
      await rm(file, { force: true });
    }
  }
  throw new Error(`cannot lock the PGlite data directory ${dir}`);
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function executorFor(target: PgliteQueryable): SqlSession {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []): Promise<SqlResult<Row>> {
      const result = await target.query<Row>(text, [...params]);
      return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
    },
    async exec(script: string): Promise<void> {
      await target.exec(script);
    },
  };
}

class PgliteStore implements SqlDriver {
  readonly kind = 'pglite' as const;
  private readonly executor: SqlSession;

  constructor(
    private readonly db: PGlite,
    private readonly unlock: () => Promise<void> = async () => {},
  ) {
    this.executor = executorFor(db);
  }

  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
    return this.executor.query<Row>(text, params);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(executorFor(tx)));
  }

  /**
   * PGlite is a single session already. (Not `runExclusive`: queries made inside it would wait for
   * it to end.) Only the migration runner uses this, before the store is handed to anyone else.
   */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return fn(this.executor);
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
    await this.unlock();
  }
}
