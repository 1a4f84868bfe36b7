/**
 * The shared SQL driver: PostgreSQL through a `pg` pool, for gateways that scale out to several
 * replicas. Types come back as from PGlite: `bigint` and `numeric` as strings, `timestamptz` as
 * Date, `jsonb` parsed, arrays as arrays.
 */
import pg from 'pg';
import type { Logger } from '../log.js';
import type { SqlExecutor, SqlResult } from './sql.js';
import type { SqlDriver, SqlSession } from './migrate.js';

/** Connections per replica when `pool` is not given. */
export const DEFAULT_POOL_SIZE = 10;

interface PgQueryable {
  query(text: string, params?: unknown[]): Promise<pg.QueryResult>;
}

function executorFor(target: PgQueryable): SqlSession {
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
      const result = await target.query(text, params ? [...params] : undefined);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(script: string): Promise<void> {
      // Without parameters `pg` uses the simple query protocol, which runs several statements.
      await target.query(script);
    },
  };
}

export function openPostgres(url: string, poolSize: number, log: Logger): SqlDriver {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle connection that dies (server restart) must not crash the process; the next query reconnects.
  pool.on('error', (err) => log.warn({ err: err.message }, 'postgres: idle connection failed'));
  return new PostgresStore(pool);
}

class PostgresStore implements SqlDriver {
  readonly kind = 'postgres' as const;
  private readonly executor: SqlSession;

  constructor(private readonly pool: pg.Pool) {
    this.executor = executorFor(pool);
  }

  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
    return this.executor.query<Row>(text, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx = executorFor(client);
    let broken: Error | undefined;
    try {
      await tx.exec('BEGIN');
      const result = await fn(tx);
      await tx.exec('COMMIT');
      return result;
    } catch (err) {
      // A connection whose ROLLBACK failed is in an unknown state: destroy it rather than reuse it.
      await tx.exec('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      const result = await fn(executorFor(client));
      client.release();
      return result;
    } catch (err) {
      // Closing the connection also drops any session-level advisory lock it still holds.
      client.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
