// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/rate-limit.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * `key`: the API key (`ctx.auth.keyId`); `org`: its organization; without `auth` in front, both count per client IP. `model`: the model id the client asked for. `ip`: the client IP. `route`: the endpoint (`chat.completions`, …) or the configured proxy route path. `global`: one counter for everyone.
 *
 * This interface was referenced by `RateLimitConfig`'s JSON-Schema
 * via the `definition` "dimension".
 */
export type Dimension = 'key' | 'org' | 'model' | 'ip' | 'route' | 'global';
/**
 * This interface was referenced by `RateLimitConfig`'s JSON-Schema
 * via the `definition` "count".
 */
export type Count = number;

/**
 * Limits requests and tokens per sliding window, and concurrent requests, per key, organization, model, client IP, route or globally (or a combination such as `[key, model]`). Over a limit the client gets a 429 in OpenAI's shape with `Retry-After`; every response carries OpenAI's `x-ratelimit-*` headers. Per-key limits from `ctx.auth` (set by `auth`: the key's, else its plan's `rpm`, `tpm`, `concurrency`) replace the `per: key` values. With `stores.kv: memory` limits hold per process; with Redis they hold across every replica.
 */
export interface RateLimitConfig {
  /**
   * Each request counts against every limit that applies to it, all-or-nothing (a refused request uses up nothing). Even with no limits listed, the per-key overrides in `ctx.auth.limits` are enforced.
   */
  limits: {
    /**
     * What the limit counts per: one dimension, or a list for one counter per combination (`[key, model]`).
     */
    per: Dimension | Dimension[];
    /**
     * Requests per minute (sliding: no burst at a minute boundary). For `per: key`, `ctx.auth.limits.rpm` replaces it.
     */
    rpm?: Count;
    /**
     * Tokens (prompt + completion) per minute. A request reserves its estimate up front and is settled with its real usage after the response. For `per: key`, `ctx.auth.limits.tpm` replaces it.
     */
    tpm?: Count;
    /**
     * Requests per `window`.
     */
    requests?: Count;
    /**
     * Tokens per `window`.
     */
    tokens?: Count;
    /**
     * The sliding window of `requests` and `tokens` (`30s`, `1h`; a number is milliseconds). Default `1m`; only with `requests` or `tokens`.
     */
    window?: string | number;
    /**
     * Requests in flight at once; a slot is held until the response (or stream) is over. For `per: key`, `ctx.auth.limits.concurrency` replaces it.
     */
    concurrency?: Count;
    /**
     * Only requests for these model id globs (`gpt-4o*`) count against this limit. Per-key overrides from `ctx.auth` do not apply to model-limited rules.
     *
     * @minItems 1
     */
    models?: string[];
  }[];
  /**
   * When the store (Redis) cannot be reached: `true` lets requests through while each process enforces the same limits on its own; `false` answers 503. Either way it is counted in `switchyard_rate_limit_store_errors_total` and logged (at most every 10 s).
   */
  fail_open: boolean;
  /**
   * Add `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the most restrictive request and token limit to model responses, as OpenAI does.
   */
  headers: boolean;
  /**
   * Completion tokens a request reserves when it sets no `max_tokens` / `max_completion_tokens` (the prompt is estimated at 4 characters per token). Only admission depends on it: usage is settled with the real count.
   */
  completion_allowance: number;
}
