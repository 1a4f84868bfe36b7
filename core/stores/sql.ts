/**
 * The SQL store contract. Two drivers behind it — embedded PGlite (Postgres compiled to WASM; data in
 * a directory, nothing to install; the default) and PostgreSQL via `pg` (a pool) — run the same SQL
 * and the same versioned migrations — the core's (`core/stores/migrations.ts`) and each registered
 * plugin's (its definition's `migrations`) — applied at open time under an advisory lock so two
 * replicas starting together do not race.
 *
 * Placeholders are Postgres-style (`$1`). Money is integer micro-units (`bigint`), never floats;
 * `bigint` columns come back as strings from both drivers, callers convert.
 */
import type { GatewayConfig } from '../../schemas/types/gateway.js';

export interface SqlResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface SqlExecutor {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>>;
}

export interface SqlStore extends SqlExecutor {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on throw) on one connection. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Throws when the database is unreachable (for `/ready`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `stores.sql.postgres` in its object form; durations as in YAML (`5s`, `500ms`, or milliseconds).
 * Its schema defaults sit in an `anyOf` branch, where ajv applies none: see `POSTGRES_DEFAULTS`.
 */
export type PostgresConfig = Exclude<Extract<SqlConfig, { postgres: unknown }>['postgres'], string>;

/** `stores.sql` in YAML: `{ pglite: ./data }` (or `memory` for a throw-away database) or `{ postgres: url }`. */
export type SqlConfig = GatewayConfig['stores']['sql'];
