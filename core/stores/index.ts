/**
 * The gateway's stores, owned by the gateway (not by a config version, so counters, cache entries
 * and connections survive hot reloads). `stores:` applies at start-up; a reload that changes it
 * is logged as needing a restart. The SQL store opens on first use: a gateway whose pipeline never
 * touches SQL never starts PGlite.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { KvConfig, KvStore } from './kv.js';
import type { SqlConfig, SqlStore } from './sql.js';
import { openKvStore } from './open-kv.js';
import { openSqlStore } from './open-sql.js';

export interface StoresConfig {
  kv: KvConfig;
  sql: SqlConfig;
}

/** Smallest accepted `SWITCHYARD_SECRET`. */
const MIN_SECRET_LENGTH = 32;

export class Stores {
  readonly kv: KvStore;
  private sqlOpening: Promise<SqlStore> | undefined;
  private secret: Promise<Buffer> | undefined;

  constructor(
    readonly config: StoresConfig,
    /** Directory relative paths (`pglite: ./data`) resolve against: the config file's. */
    private readonly baseDir: string,
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.kv = openKvStore(config.kv, log);
  }

  /** The SQL store, opened and migrated on the first call; later calls share it. */
  sql(): Promise<SqlStore> {
    this.sqlOpening ??= openSqlStore(this.config.sql, this.baseDir, this.log);
    // A failed open is not cached: the next caller tries again (a database that was down at start).
    this.sqlOpening.catch(() => (this.sqlOpening = undefined));
    return this.sqlOpening;
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

  /** Problems that make the gateway not ready (empty when ready). Only checks the SQL store if it was opened. */
  async check(): Promise<string[]> {
    const problems: string[] = [];
    await this.kv.ping().catch((err: Error) => problems.push(`kv (${this.kv.kind}): ${err.message}`));
    if (this.sqlOpening) {
      await this.sqlOpening.then((s) => s.ping()).catch((err: Error) => problems.push(`sql: ${err.message}`));
    }
    return problems;
  }

  async close(): Promise<void> {
    const sql = this.sqlOpening;
    this.sqlOpening = undefined;
    await Promise.allSettled([this.kv.close(), sql?.then((s) => s.close())]);
  }
}
