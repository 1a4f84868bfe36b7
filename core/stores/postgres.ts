/**
 * The shared SQL driver: PostgreSQL through a `pg` pool, for gateways that scale out to several
 * replicas. Types come back as from PGlite: `bigint` and `numeric` as strings, `timestamptz` as
 * Date, `jsonb` parsed, arrays as arrays.
 *
 * Every wait is bounded: opening a connection (or waiting for a free one) by `connect_timeout`, a
 * query by `query_timeout` — the server's `statement_timeout`, so a slow server cancels the
 * statement itself, and on the client a little later, for a server that does not answer at all
 * (the connection is then dropped). A failure that shows the server cannot be reached (refused,
 * reset, no answer) marks the store down (`OutageGuard`): calls then fail at once with
 * `StoreUnavailableError` until a probe gets an answer. A cancelled statement fails with the same
 * error but leaves the store up. Errors of a statement itself (a constraint, a syntax error) pass
 * through unchanged.
 */
import pg from 'pg';
import type { Logger } from '../log.js';
import { StoreUnavailableError } from '../errors.js';
import type { SqlExecutor, SqlResult } from './sql.js';
import type { SqlDriver, SqlSession } from './migrate.js';
import { OutageGuard } from './outage.js';

export interface PostgresOptions {
  url: string;
  /** Most connections this replica opens. */
  poolSize: number;
  /** Longest wait for a connection: opening one, or a free one from a full pool. */
  connectTimeoutMs: number;
  /** Longest wait for a query's answer. */
  queryTimeoutMs: number;
  /** An unused connection is closed after this long. */
  idleTimeoutMs: number;
}

/** Defaults of `stores.sql.postgres` (keep in step with schemas/gateway.schema.json). */
export const POSTGRES_DEFAULTS: Omit<PostgresOptions, 'url'> = {
  poolSize: 10,
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
};

/**
 * Migrations run in a session of their own without a statement timeout (a migration, or the wait
 * for another replica's migration lock, may take long); this bounds a session that gets no answer.
 */
const SESSION_QUERY_TIMEOUT_MS = 10 * 60_000;
/**
 * The client waits this much longer than `statement_timeout`, so that a server that is merely slow
 * answers with its own cancellation (the store stays up) before the client gives up on it.
 */
const CLIENT_TIMEOUT_GRACE_MS = 100;
/** A probe of a store marked down waits at most this long for its answer. */
const PROBE_TIMEOUT_MS = 1_000;
/** Lost idle connections are logged at most this often. */
const IDLE_ERROR_LOG_INTERVAL_MS = 10_000;
/**
 * SQLSTATE classes that mean the server will not serve us at all: connection exception (08),
 * authorization (28), unknown database (3D), insufficient resources (53), shutdown and restart (57P).
 */
const UNREACHABLE_SQLSTATE = /^(08|28|3D|53|57P)/;
/** `statement_timeout` fired: the server is there but too slow; the caller gets a 503, the store stays up. */
const QUERY_CANCELED = '57014';
/** pg's own messages for a connection that failed, timed out or closed. */
const CONNECTION_FAILURE = /timeout|timed out|terminated|connect|not queryable|after calling end/i;
/** pg-pool's error when no connection came within `connectionTimeoutMillis` (a new one, or a free one from a full pool). */
const POOL_WAIT_TIMEOUT = /timeout exceeded when trying to connect/i;

/** `pg` honours `query_timeout` per query; its type declarations do not list it. */
interface TimedQuery extends pg.QueryConfig {
  query_timeout?: number;
}

interface PgQueryable {
  query(config: TimedQuery): Promise<pg.QueryResult>;
}

export function openPostgres(options: PostgresOptions, log: Logger): SqlDriver {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: options.queryTimeoutMs + CLIENT_TIMEOUT_GRACE_MS,
    statement_timeout: options.queryTimeoutMs,
    idleTimeoutMillis: options.idleTimeoutMs,
    keepAlive: true,
  });
  // An idle connection that dies (server restart) must not crash the process; the next query reconnects.
  let lastLogged = 0;
  pool.on('error', (err) => {
    const now = Date.now();
    if (now - lastLogged < IDLE_ERROR_LOG_INTERVAL_MS) return;
    lastLogged = now;
    log.warn({ err: err.message }, 'postgres: idle connection failed');
  });
  return new PostgresStore(pool, Math.min(options.queryTimeoutMs, PROBE_TIMEOUT_MS), log);
}

class PostgresStore implements SqlDriver {
  readonly kind = 'postgres' as const;
  private readonly executor: SqlSession;
  private readonly guard: OutageGuard;

  constructor(
    private readonly pool: pg.Pool,
    probeTimeoutMs: number,
    log: Logger,
  ) {
    this.guard = new OutageGuard({ store: 'sql', server: 'postgres', log, probe: () => pool.query({ text: 'SELECT 1', query_timeout: probeTimeoutMs } as TimedQuery) });
    this.executor = this.executorFor(pool);
  }

  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
    return this.executor.query<Row>(text, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const tx = this.executorFor(client);
    let broken: Error | undefined;
    try {
      await tx.exec('BEGIN');
      const result = await fn(tx);
      await tx.exec('COMMIT');
      return result;
    } catch (err) {
      // A connection that failed, or whose ROLLBACK failed, is in an unknown state: destroy it
      // rather than reuse it (a ROLLBACK behind a query that got no answer would wait for it too).
      if (err instanceof StoreUnavailableError) broken = err;
      else await tx.exec('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const session = this.executorFor(client, SESSION_QUERY_TIMEOUT_MS);
    try {
      await session.exec('SET statement_timeout = 0');
      const result = await fn(session);
      await session.exec('RESET statement_timeout');
      client.release();
      return result;
    } catch (err) {
      // Closing the connection also drops any session-level advisory lock it still holds.
      client.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.executor.query('SELECT 1');
  }

  async close(): Promise<void> {
    this.guard.close();
    if (!this.pool.ended) await this.pool.end();
  }

  /** Whether the pool had every connection it may open, none of them idle. */
  private poolFull(): boolean {
    return this.pool.totalCount >= (this.pool.options.max ?? 10) && this.pool.idleCount === 0;
  }

  private async connect(): Promise<pg.PoolClient> {
    this.guard.assertUp();
    try {
      return await this.pool.connect();
    } catch (err) {
      throw this.failure(err);
    }
  }

  private executorFor(target: PgQueryable, queryTimeoutMs?: number): SqlSession {
    const run = async (config: TimedQuery): Promise<pg.QueryResult> => {
      this.guard.assertUp();
      try {
        return await target.query(queryTimeoutMs === undefined ? config : { ...config, query_timeout: queryTimeoutMs });
      } catch (err) {
        throw this.failure(err);
      }
    };
    return {
      async query<Row>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
        const result = await run({ text, values: params ? [...params] : undefined });
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
      },
      async exec(script: string): Promise<void> {
        // Without parameters `pg` uses the simple query protocol, which runs several statements.
        await run({ text: script });
      },
    };
  }

  /** The error to throw for `err`: the statement's own error, or `StoreUnavailableError` (marking the store down when it is unreachable). */
  private failure(err: unknown): unknown {
    if (err instanceof StoreUnavailableError) return err;
    // Every connection busy and none freed within connect_timeout: the server answers, the pool is
    // too small for the load. This request gets its 503; the store is not marked down for the rest.
    const kind = this.poolFull() && POOL_WAIT_TIMEOUT.test((err as Error)?.message ?? '') ? 'slow' : classify(err);
    if (kind === 'statement') return err;
    const detail = `postgres: ${err instanceof Error ? err.message || err.name : String(err)}`;
    if (kind === 'unreachable') this.guard.trip(detail);
    return new StoreUnavailableError('sql', detail, { cause: err });
  }
}

/** Whether `err` came from the statement, from a server too slow to answer, or from a server that cannot be reached. */
function classify(err: unknown): 'statement' | 'slow' | 'unreachable' {
  if (err instanceof pg.DatabaseError) {
    if (err.code === QUERY_CANCELED) return 'slow';
    return err.code !== undefined && UNREACHABLE_SQLSTATE.test(err.code) ? 'unreachable' : 'statement';
  }
  if (!(err instanceof Error)) return 'statement';
  const code = (err as NodeJS.ErrnoException).code;
  // System errors (ECONNREFUSED, ECONNRESET, ENOTFOUND, …), also wrapped in an AggregateError.
  if (typeof code === 'string' && code.startsWith('E')) return 'unreachable';
  return CONNECTION_FAILURE.test(err.message) ? 'unreachable' : 'statement';
}
