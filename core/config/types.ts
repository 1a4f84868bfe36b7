/**
 * The validated configuration, as `schemas/gateway.schema.json` describes it (defaults applied).
 * Sizes and durations are still the user's strings here; `resolveServerSettings` turns them into numbers.
 */

/** A pipeline entry: `- name`, `- name: {config}`, or `- use: ./module.ts` with `config:`. */
export type PipelineEntry = string | Record<string, unknown> | { use: string; config?: Record<string, unknown>; name?: string };

import type { StoresConfig } from '../stores/index.js';

export interface TargetConfig {
  provider: string;
  /** Model id sent to the provider; default: the requested id (or the wildcard's match). */
  model?: string;
  weight?: number;
}

export interface ModelConfig {
  targets: TargetConfig[];
  strategy: 'fallback' | 'weighted';
  aliases: string[];
  description?: string;
}

export interface ProviderConfig {
  adapter: string;
  /** Name of the catalog (`config/catalog/<name>.yaml`) for this provider's model metadata. */
  catalog?: string;
  [setting: string]: unknown;
}

export interface RawRouteConfig {
  path: string;
  upstream: string;
  pipeline: PipelineEntry[];
  strip_prefix: boolean;
  timeout?: string | number;
  forward_credentials: boolean;
}

export interface GatewayConfig {
  version: 1;
  server: {
    listen: string;
    body_limit: string | number;
    trusted_proxies: string[];
    headers_timeout: string | number;
    request_timeout: string | number;
    keep_alive_timeout: string | number;
    shutdown_timeout: string | number;
    drain_delay: string | number;
    max_header_size: string | number;
    access_log: boolean;
  };
  log: { level: string };
  upstream: {
    connect_timeout: string | number;
    first_byte_timeout: string | number;
    total_timeout: string | number;
    connections: number;
  };
  /** Shared state: key-value (memory | Redis) and SQL (PGlite | PostgreSQL). */
  stores: StoresConfig;
  catalog: string[];
  providers: Record<string, ProviderConfig>;
  models: Record<string, ModelConfig>;
  pipeline: PipelineEntry[];
  routes: RawRouteConfig[];
}
