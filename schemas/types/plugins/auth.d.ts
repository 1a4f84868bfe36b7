// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/auth.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * `read` (GET requests such as `/v1/models`), `write` (model calls), `admin` (the admin API).
 *
 * This interface was referenced by `AuthConfig`'s JSON-Schema
 * via the `definition` "scope".
 */
export type Scope = 'read' | 'write' | 'admin';
/**
 * This interface was referenced by `AuthConfig`'s JSON-Schema
 * via the `definition` "stringList".
 */
export type StringList = string[];

/**
 * Who is calling: checks the gateway credential (`Authorization: Bearer`, `x-api-key` or `api-key`) against SQL keys (created with the admin API or `switchyard keys create`), static keys declared here, or a JWT; then the key's scopes, allowed models and allowed referrers. Sets `ctx.auth` for later plugins. Unknown and wrong keys get the same 401.
 */
export interface AuthConfig {
  /**
   * Key sources, tried in this order. `sql`: keys created with the admin API (cached in memory; revocations apply within a second). `static`: the keys under `static`.
   */
  keys: ('sql' | 'static')[];
  /**
   * Keys declared in YAML, for small deployments. The documented development key `sk-switchyard-dev` is refused unless the gateway listens on a loopback address.
   */
  static: StaticKey[];
  /**
   * Also accept signed JWT bearer tokens: HS256 with `secret`, or RS256/ES256 with keys from `jwks_url`. `alg: none`, bad signatures, expired tokens and a wrong issuer or audience get 401.
   */
  jwt?: {
    /**
     * HS256 shared secret (use `${JWT_SECRET}`). Exactly one of `secret` and `jwks_url`.
     */
    secret?: string;
    /**
     * JWKS endpoint of the identity provider; cached, refetched when a token names an unknown `kid`.
     */
    jwks_url?: string;
    /**
     * Required `iss` value(s).
     */
    issuer?: string | StringList;
    /**
     * Required `aud` value(s).
     */
    audience?: string | StringList;
    /**
     * Accepted `alg` values; default `[HS256]` with `secret`, `[RS256, ES256]` with `jwks_url`.
     *
     * @minItems 1
     */
    algorithms?: ('HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA')[];
    /**
     * Clock skew allowed on `exp` and `nbf`.
     */
    clock_tolerance: string;
    /**
     * Least time between two JWKS fetches for unknown `kid`s.
     */
    jwks_cooldown: string;
    /**
     * Which claims carry the caller's identity.
     */
    claims: {
      /**
       * Claim with the organization id (required in the token).
       */
      org: string;
      /**
       * Claim with the scopes: a space-separated string or an array.
       */
      scopes: string;
      /**
       * Claim used as the key id (for logs and per-key limits).
       */
      key: string;
    };
  };
  /**
   * Scopes a credential needs; it must hold at least one of the listed scopes.
   */
  required_scopes: {
    /**
     * For GET and HEAD requests (`/v1/models`).
     */
    read: Scope[];
    /**
     * For every other request (model calls).
     */
    write: Scope[];
  };
  /**
   * How long a known SQL key is served from memory. Default `60s` (identity changes drop entries at once through the kv store's pub/sub), or `1s` when `stores.kv` is memory and `stores.sql` is postgres (replicas without fan-out).
   */
  cache_ttl?: string;
  /**
   * While the SQL store cannot be reached, a key read before keeps its last answer (accepted, or refused) for this long past `cache_ttl`, so a database restart or failover does not lock out callers; a key dropped by an identity change (a revocation published through the kv store) is not kept, and a key with no recent answer gets 503 `store_unavailable`. `0s` turns it off.
   */
  stale_ttl: string;
  /**
   * How long an unknown SQL key is remembered as unknown, so repeated bad keys cost no query.
   */
  negative_cache_ttl: string;
  /**
   * Most SQL keys kept in memory (known and unknown each).
   */
  cache_size: number;
  /**
   * How often the keys' `last_used_at` is written, in one batch.
   */
  last_used_interval: string;
}
/**
 * Limit overrides read by rate-limit.
 *
 * This interface was referenced by `AuthConfig`'s JSON-Schema
 * via the `definition` "limits".
 */
export interface Limits {
  /**
   * Requests per minute.
   */
  rpm?: number;
  /**
   * Tokens per minute.
   */
  tpm?: number;
  /**
   * Concurrent in-flight requests.
   */
  concurrency?: number;
}
/**
 * A key declared in YAML. Give `key` (hashed at start-up, e.g. `${MY_KEY}`) or `sha256` (its hex SHA-256, so the secret never sits in the file).
 *
 * This interface was referenced by `AuthConfig`'s JSON-Schema
 * via the `definition` "staticKey".
 */
export interface StaticKey {
  /**
   * Key id: shown in logs, metrics and rate-limit counters. Never the secret.
   */
  name: string;
  /**
   * The key itself; use an environment variable (`${MY_KEY}`).
   */
  key?: string;
  /**
   * Hex SHA-256 of the key (`printf %s "$KEY" | sha256sum`).
   */
  sha256?: string;
  /**
   * Organization id the key belongs to.
   */
  org: string;
  /**
   * What the key may do.
   */
  scopes: Scope[];
  /**
   * Environment tag, passed on in `ctx.auth`.
   */
  environment: 'live' | 'test';
  /**
   * Model id globs the key may use (`gpt-4o*`); empty = all.
   */
  allowed_models: StringList;
  /**
   * CIDRs the key may be used from (enforced by `ip-allowlist`); empty = anywhere.
   */
  allowed_ips: StringList;
  /**
   * `Origin` / `Referer` hosts the key may be used from (`app.example.com`, `*.example.com`); empty = any.
   */
  allowed_referrers: StringList;
  /**
   * Rate-limit overrides for this key.
   */
  limits: Limits;
  /**
   * Free-form data passed on in `ctx.auth.metadata`.
   */
  metadata: {
    [k: string]: unknown;
  };
}
