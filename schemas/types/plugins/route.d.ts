// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/route.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * The terminal plugin of the model pipeline: resolves the requested model id through `models:` to provider targets, calls the provider's adapter, retries and falls back within one attempt budget and one deadline per request, keeps a circuit breaker per target, and serves `GET /v1/models`.
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
   * A circuit breaker per target (provider and upstream model), kept in the gateway process across config reloads (not shared between replicas). It opens after `failures` consecutive failed calls, or when at least `min_requests` calls in `window` failed at `failure_rate` or more; an open target is skipped for `cooldown`, then up to `half_open_probes` calls probe it at once: a success closes the breaker, a failure opens it again. A failure is a connection failure, timeout, 429, 5xx or overload; a client's own 4xx is not. When every target of a model is open the request fails at once with a 503 `all_targets_unavailable` and `Retry-After`.
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
  };
}
