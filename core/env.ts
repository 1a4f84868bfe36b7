/**
 * What a plugin may touch: handed to `create()` once per config version. A plugin never reaches
 * around it into the core. The stores belong to the gateway and outlive config versions.
 */
import type { Logger } from './log.js';
import type { GatewayMetrics } from './metrics.js';
import type { UpstreamClient } from './http/upstream.js';
import type { Catalog } from './config/catalog.js';
import type { GatewayConfig } from './config/types.js';
import type { KvStore } from './stores/kv.js';
import type { SqlStore } from './stores/sql.js';
import type { RecordSubscriber } from './record.js';
import type { EventSubscriber } from './events.js';

export interface GatewayEnv {
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  /** The one HTTP client for upstream calls (keep-alive pool per origin). */
  readonly upstream: UpstreamClient;
  /** Model metadata from `config/catalog/*.yaml`. */
  readonly catalog: Catalog;
  /** Directory of the config file; relative paths in config resolve against it. */
  readonly configDir: string;
  /** The whole validated config of this version (for plugins that read shared sections such as `providers`). */
  readonly config: GatewayConfig;
  /** Shared fast state: rate-limit counters, cache, pub/sub (memory, or Redis when configured). */
  readonly kv: KvStore;
  /**
   * The SQL store, opened and migrated on first call (PGlite takes about two seconds to start, so
   * nothing opens it unless a plugin needs it). `create()` may await it: a database that cannot be
   * reached is then a start-up error that names it.
   */
  sql(): Promise<SqlStore>;
  /** The secret API keys are HMAC'd with (`SWITCHYARD_SECRET`, else generated once and kept in SQL). */
  serverSecret(): Promise<Buffer>;
  /** The address the gateway listens on (after `--listen` / `SWITCHYARD_LISTEN`), `host:port`. */
  readonly listen: string;
  /** Process environment (for plugins that read documented `SWITCHYARD_*` variables). */
  readonly processEnv: NodeJS.ProcessEnv;
  /**
   * Every request's record once it is over (usage, audit). Subscribe from process state, which
   * lives across reloads; a subscription made in `create()` must be undone in `close()`.
   */
  readonly records: { subscribe(subscriber: RecordSubscriber): () => void };
  /**
   * Admin actions and config reloads (`core/events.ts`), for `audit`. Subscribe from process state,
   * like `records`.
   */
  readonly events: { subscribe(subscriber: EventSubscriber): () => void };
}
