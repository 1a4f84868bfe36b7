/**
 * The gateway's stores, owned by the gateway (not by a config version, so counters, cache entries
 * and connections survive hot reloads). `stores:` applies at start-up; a reload that changes it
 * is logged as needing a restart. The SQL store opens on first use: a gateway whose pipeline never
 * touches SQL never starts PGlite. A database that cannot be reached then is not fatal: the driver
 * is kept, the call fails with `StoreUnavailableError` (at once while the store is known down),
 * and the next call migrates again.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { StoreUnavailableError } from '../errors.js';
import type { KvConfig, KvStore } from './kv.js';
import type { SqlConfig, SqlStore } from './sql.js';
import type { OwnedMigrations, SqlDriver } from './migrate.js';
import { openKvStore } from './open-kv.js';
import { migrateSchema, openSqlDriver } from './open-sql.js';

export interface StoresConfig {
  kv: KvConfig;
  sql: SqlConfig;
}

/** Smallest accepted `SWITCHYARD_SECRET`. */
const MIN_SECRET_LENGTH = 32;
/** `/ready` names a store that has not answered within this long, whatever the store's own timeouts. */
export const READY_CHECK_DEADLINE_MS = 1_000;

export class Stores {
  readonly kv: KvStore;
  /** Set by the first `sql()` call: from then on `/ready` checks the SQL store. */
  private sqlWanted = false;
  private sqlDriver: Promise<SqlDriver> | undefined;
  private sqlOpening: Promise<SqlStore> | undefined;
  private secret: Promise<Buffer> | undefined;

  constructor(
    readonly config: StoresConfig,
    /** Directory relative paths (`pglite: ./data`) resolve against: the config file's. */
    private readonly baseDir: string,
    private readonly log: Logger,
    /** The plugins' migrations (the gateway's registry), applied after the core's when SQL opens. */
    private readonly migrations: readonly OwnedMigrations[],
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.kv = openKvStore(config.kv, log);
  }

  /** The SQL store, opened and migrated on the first call; later calls share it. */
  sql(): Promise<SqlStore> {
    this.sqlWanted = true;
    this.sqlOpening ??= this.openSql();
    // A failed open is not cached: the next caller tries again (a database that was down at start).
    this.sqlOpening.catch(() => (this.sqlOpening = undefined));
    return this.sqlOpening;
  }

  private async openSql(): Promise<SqlStore> {
    this.sqlDriver ??= openSqlDriver(this.config.sql, this.baseDir, this.log);
    this.sqlDriver.catch(() => (this.sqlDriver = undefined));
    const driver = await this.sqlDriver;
    await migrateSchema(driver, this.migrations, this.log);
    return driver;
  }

  /**
   * The secret API keys are HMAC'd with: `SWITCHYARD_SECRET` when set (all replicas must share it),
   * else one generated on first use and kept in the SQL store, so that every replica reading the
   * same database agrees.
   */
  serverSecret(): Promise<Buffer> {
    this.secret ??= this.loadSecret();
    this.secret.catch(() => (this.secret = undefined));
    return this.secret;
  }

  private async loadSecret(): Promise<Buffer> {
    const fromEnv = this.env['SWITCHYARD_SECRET'];
    if (fromEnv) {
      if (fromEnv.length < MIN_SECRET_LENGTH) throw new Error(`SWITCHYARD_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
      return Buffer.from(fromEnv, 'utf8');
    }
    const sql = await this.sql();
    await sql.query(`INSERT INTO gateway_settings (name, value) VALUES ('server_secret', $1) ON CONFLICT (name) DO NOTHING`, [randomBytes(32).toString('base64url')]);
    const { rows } = await sql.query<{ value: string }>(`SELECT value FROM gateway_settings WHERE name = 'server_secret'`);
    return Buffer.from(rows[0]!.value, 'utf8');
  }

  /**
   * Problems that make the gateway not ready (empty when ready), each store checked at once and given
   * `READY_CHECK_DEADLINE_MS` to answer. Checks the SQL store only once something asked for it.
   */
  async check(): Promise<string[]> {
    const checks = [problemOf(`kv (${this.kv.kind})`, () => this.kv.ping())];
    if (this.sqlWanted) checks.push(problemOf('sql', () => this.sql().then((s) => s.ping())));
    return (await Promise.all(checks)).filter((p) => p !== undefined);
  }

  async close(): Promise<void> {
    const driver = this.sqlDriver;
    this.sqlDriver = undefined;
    this.sqlOpening = undefined;
    await Promise.allSettled([this.kv.close(), driver?.then((d) => d.close())]);
  }
}

/** `'<name>: <why>'` when `check` fails or does not settle within the deadline; undefined when it succeeds. */
async function problemOf(name: string, check: () => Promise<void>): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((resolve) => (timer = setTimeout(resolve, READY_CHECK_DEADLINE_MS, `${name}: no answer within ${READY_CHECK_DEADLINE_MS} ms`)));
  const checked = check().then(
    () => undefined,
    (err: unknown) => `${name}: ${err instanceof StoreUnavailableError ? err.detail : err instanceof Error ? err.message : String(err)}`,
  );
  try {
    return await Promise.race([checked, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
