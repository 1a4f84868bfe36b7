/**
 * The SQL store contract. Two drivers behind it — embedded PGlite (Postgres compiled to WASM; data in
 * a directory, nothing to install; the default) and PostgreSQL via `pg` (a pool) — run the same SQL
 * and the same versioned migrations (`core/stores/migrations.ts`), applied at open time under an
 * advisory lock so two replicas starting together do not race.
 *
 * Placeholders are Postgres-style (`$1`). Money is integer micro-units (`bigint`), never floats;
 * `bigint` columns come back as strings from both drivers, callers convert.
 */

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

/** `stores.sql.postgres` in its object form; durations as in YAML (`5s`, `500ms`, or milliseconds). */
export interface PostgresConfig {
  url: string;
  /** Most connections this replica opens. */
  pool?: number;
  /** Longest wait for a connection (opening one, or a free one from a full pool). */
  connect_timeout?: string | number;
  /** Longest wait for a query's answer (also the server's `statement_timeout`). */
  query_timeout?: string | number;
  /** An unused connection is closed after this long. */
  idle_timeout?: string | number;
}

/** `stores.sql` in YAML: `{ pglite: ./data }` (or `memory` for a throw-away database) or `{ postgres: url }`. */
export type SqlConfig = { pglite: string } | { postgres: string | PostgresConfig };
