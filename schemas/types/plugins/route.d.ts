// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/route.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * The terminal plugin of the model pipeline: resolves the requested model id through `models:` to provider targets, orders them by the model's strategy, calls the provider's adapter, retries and falls back within one attempt budget and one deadline per request, keeps a circuit breaker per target (shared by every replica through a Redis key-value store), and serves `GET /v1/models`.
 */
export interface RouteConfig {
  /**
   * Model used when a request has no `model` field, per endpoint.
   */
  defaults: {
    /**
     * For `/v1/chat/completions`.
     */
    chat?: string;
    /**
     * For `/v1/completions`.
     */
    completions?: string;
    /**
     * For `/v1/embeddings`.
     */
    embeddings?: string;
    /**
     * For `/v1/images/generations`.
     */
    images?: string;
  };
  /**
   * Accept `provider/model` ids (e.g. `openai/gpt-4o`) for any configured provider, even when the id is not listed in `models:`.
   */
  provider_prefix: boolean;
  /**
   * Add `x-switchyard-provider` and `x-switchyard-model` (the upstream model id) to responses, and `x-switchyard-attempts` (the number of upstream calls the request made) to answers and errors.
   */
  provider_headers: boolean;
  /**
   * Most upstream calls one request may make, retries and fallbacks together, whatever the number of targets. A model may set its own (`models.<id>.max_attempts`).
   */
  max_attempts: number;
  /**
   * Further calls to the same target after a failure listed in `retry_on`, each after a backoff, before moving on to the next target. Off by default: clients such as the OpenAI SDKs retry on their own, and retries on both sides multiply. A model may set its own (`models.<id>.retries`).
   */
  retries: number;
  /**
   * Longest a request may spend getting an answer: every attempt and every backoff wait together. An attempt still running when it passes is cut (504 `deadline_exceeded`). Once an answer has begun — a JSON body read whole, a stream's first chunk sent — the deadline no longer applies (a stream is bounded by its provider's `total` timeout). `0` means no deadline. A model may set its own (`models.<id>.deadline`).
   */
  deadline: string | number;
  /**
   * Failures worth another call (a retry, or the next target): `connection` (refused, reset, closed, a stream that broke off or ended before its first chunk), `timeout` (connect, first byte, idle; an upstream 408), `429`, `5xx`, `overloaded` (529 and provider overload errors), `context_length` (the prompt is too long for this target — for a fallback with a larger window), `content_filter` (the provider refused the content). Other 4xx answers are the client's mistake and are never retried. A model may set its own list (`models.<id>.retry_on`).
   */
  retry_on: ('connection' | 'timeout' | 429 | '429' | '5xx' | 'overloaded' | 'context_length' | 'content_filter')[];
  /**
   * Wait before a retry of the same target: a random time between 0 and `min(cap, base × 2^n)` for the n-th retry (exponential backoff with full jitter). A fallback to another target does not wait.
   */
  backoff: {
    /**
     * Backoff of the first retry (its upper bound).
     */
    base: string | number;
    /**
     * Largest backoff.
     */
    cap: string | number;
  };
  /**
   * Longest wait the gateway honours when a provider says when to retry (`Retry-After` in seconds or as an HTTP date, `retry-after-ms`, `x-ratelimit-reset-requests` on a 429): a longer one is cut to this. The wait must also fit in the time left before the deadline, else the next target is tried at once.
   */
  retry_after_cap: string | number;
  /**
   * A circuit breaker per target (provider and upstream model), kept in the gateway process across config reloads and, with `shared` and a Redis key-value store (`stores.kv: { redis: … }`), shared by every replica. It opens after `failures` consecutive failed calls, or when at least `min_requests` calls in `window` failed at `failure_rate` or more; an open target is skipped for `cooldown`, then up to `half_open_probes` calls probe it at once: a success closes the breaker, a failure opens it again. A failure is a connection failure, timeout, 429, 5xx or overload; a client's own 4xx is not. When every target of a model is open the request fails at once with a 503 `all_targets_unavailable` and `Retry-After`.
   */
  breaker: {
    /**
     * Keep breakers at all.
     */
    enabled: boolean;
    /**
     * Consecutive failed calls that open the breaker.
     */
    failures: number;
    /**
     * Share of failed calls in `window` (0–1) that opens the breaker, once `min_requests` calls were made in it.
     */
    failure_rate: number;
    /**
     * Calls in `window` before `failure_rate` is looked at.
     */
    min_requests: number;
    /**
     * The period `failure_rate` is measured over (counts start afresh each window).
     */
    window: string | number;
    /**
     * How long an open breaker skips its target before probing it.
     */
    cooldown: string | number;
    /**
     * Calls let through at once to probe a target whose cooldown is over.
     */
    half_open_probes: number;
    /**
     * With a Redis key-value store: a breaker that opens in one replica opens in every replica at once (Redis pub/sub; within milliseconds), one that closes closes everywhere, and `half_open_probes` bounds the probes of all replicas together. No effect with the memory store.
     */
    shared: boolean;
  };
  /**
   * Settings of `strategy: least-latency`: a moving average (EWMA) of each target's time to first byte — to the first chunk for streams — kept per gateway process across reloads.
   */
  least_latency: {
    /**
     * Weight of the newest measurement in the average (0–1): higher follows changes faster, lower smooths noise.
     */
    decay: number;
    /**
     * Share of requests (deterministically, one in 1/explore) sent first to the target measured least recently rather than the fastest, so a target that recovered, or was never tried, is noticed. `0`: never.
     */
    explore: number;
  };
  /**
   * Settings of `strategy: cost`: targets are ordered by the catalog's prices (`pricing.input_per_1m`, `output_per_1m` of the target's provider catalog) for the request's estimated tokens.
   */
  cost: {
    /**
     * Completion tokens assumed when a request sets no `max_tokens` / `max_completion_tokens`. The prompt is estimated as a quarter of its characters.
     */
    completion_tokens: number;
  };
}
