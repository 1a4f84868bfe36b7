// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/cache.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * Which requests are cached: `deterministic` — `temperature: 0` or a `seed` (embeddings always), `always` — every request, `opt_in` — only requests with the header `x-switchyard-cache: force`. The header opts a request in under every policy.
 *
 * This interface was referenced by `CacheConfig`'s JSON-Schema
 * via the `definition` "when".
 */
export type When = 'deterministic' | 'always' | 'opt_in';
/**
 * How long an entry is served (`30s`, `10m`, `1h`; a bare number is milliseconds).
 *
 * This interface was referenced by `CacheConfig`'s JSON-Schema
 * via the `definition` "ttl".
 */
export type Ttl = string | number;

/**
 * Exact-match response cache. The key is a SHA-256 of the normalised request (endpoint, the model after alias resolution, messages / prompt / input, tools, response format and sampling parameters; `user`, `stream`, `stream_options`, `metadata` and `store` are ignored), namespaced per organization. Entries live in the gateway's key-value store (`stores.kv`), so they survive hot reloads and, with Redis, are shared by every replica. A cached answer serves streaming and non-streaming requests alike. Request controls: `Cache-Control: no-cache` (refresh), `no-store` (bypass), `x-switchyard-cache: force` (opt in). Response header `x-switchyard-cache: HIT | MISS | BYPASS | COALESCED`, and `age` on hits.
 */
export interface CacheConfig {
  /**
   * Which requests are cached: `deterministic` — `temperature: 0` or a `seed` (embeddings always), `always` — every request, `opt_in` — only requests with the header `x-switchyard-cache: force`. The header opts a request in under every policy.
   */
  when: When;
  /**
   * How long an entry is served (`30s`, `10m`, `1h`; a bare number is milliseconds). With Redis, the entry expires in Redis itself.
   */
  ttl: Ttl;
  /**
   * Answers larger than this (as stored JSON) are served but not stored.
   */
  max_entry_bytes: string | number;
  /**
   * The operations that are cached; any other request passes through untouched (no header).
   */
  endpoints: ('chat.completions' | 'completions' | 'embeddings' | 'images.generations')[];
  /**
   * `ttl` / `when` per operation, e.g. `{ embeddings: { ttl: 24h } }`.
   */
  per_endpoint: {
    [k: string]: Override;
  };
  /**
   * `ttl` / `when` per model: keys are globs (`gpt-4o*`) on the model after alias resolution (the `models:` key for an exact id or alias, else the requested id). The first matching glob wins and beats `per_endpoint`.
   */
  models: {
    [k: string]: Override;
  };
}
/**
 * This interface was referenced by `CacheConfig`'s JSON-Schema
 * via the `definition` "override".
 */
export interface Override {
  /**
   * Replaces the top-level `ttl`.
   */
  ttl?: Ttl;
  /**
   * Replaces the top-level `when`.
   */
  when?: When;
}
