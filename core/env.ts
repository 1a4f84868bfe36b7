/**
 * What a plugin may touch: handed to `create()` once per config version. Later issues add the
 * stores (`kv`, `sql`) here; a plugin never reaches around it into the core.
 */
import type { Logger } from './log.js';
import type { GatewayMetrics } from './metrics.js';
import type { UpstreamClient } from './http/upstream.js';
import type { Catalog } from './config/catalog.js';
import type { GatewayConfig } from './config/types.js';

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
}
