// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/billing.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * This interface was referenced by `BillingConfig`'s JSON-Schema
 * via the `definition` "currencyCode".
 */
export type CurrencyCode = string;

/**
 * Prices every model request and records its usage. The cost of a request is computed from the final usage of the attempt that served it, at the price of that attempt's provider and model (not the alias the client asked for): prices come from the model catalog (`config/catalog/*.yaml`, USD per 1M tokens) unless `models` or `providers` here override them. Costs are integer micro-units of `currency` (1 USD = 1,000,000). A non-streamed answer carries its cost in the `x-switchyard-cost` header; every model request (streamed or not, refused or failed) gets one row in the `billing_usage` table, written in batches by a bounded queue. With `credits.enabled`, every request of an organization reserves its worst-case cost from the organization's balance before the upstream call (refused with 402 `insufficient_quota` when short) and settles to the actual cost after; with `budgets.enabled`, per-key and per-organization daily and monthly budgets (UTC) are enforced the same way. See docs/billing.md.
 */
export interface BillingConfig {
  /**
   * The currency costs are computed and recorded in (ISO 4217 code). The catalog's prices are USD, so a gateway currency other than USD needs `rates.USD`.
   */
  currency: CurrencyCode;
  /**
   * What one unit of another currency is worth in the gateway currency, for prices given in it: with `currency: USD`, `{ RUB: 0.011 }` makes a price of 100 RUB cost 1.1 USD. Converted once when the config loads; a rate change applies on reload.
   */
  rates: {
    [k: string]: number;
  };
  /**
   * Prices by the model a target sends upstream: `provider/model` (a `providers:` key, then the upstream model id) or the bare upstream model id. They win over `providers` and over the catalog.
   */
  models: {
    [k: string]: Price;
  };
  /**
   * Prices for every model of a provider (a `providers:` key) that `models` does not name: e.g. `local: { free: true }`, or a flat RUB price for GigaChat. They win over the catalog.
   */
  providers: {
    [k: string]: Price;
  };
  /**
   * Add `x-switchyard-cost` (integer micro-units of `currency`) to non-streamed model answers. A stream's cost is known only at its end: it is in the usage record, not in a header. No header when the cost is unknown (no price).
   */
  cost_header: boolean;
  /**
   * Share of the cost a cache hit (and a coalesced request, which rode on another's upstream call) is charged: the usage of the cached answer at the price of the model's first target, × this rate. 0 (the default) makes hits free; 0.5 charges half. Hits are recorded with `cache` = `HIT` / `COALESCED` either way. Above 0, `billing` must come before `cache` in the pipeline, or hits would never reach it.
   */
  cache_hit_rate: number;
  /**
   * Prices of raw proxy routes, by the route's `path` as written in `routes:` (`/internal/search/*`). Such a route is billed when its own pipeline lists `billing` (after `auth`); that entry takes no settings of its own — prices, credits and budgets are this entry's. With `credits.enabled` or `budgets.enabled`, every route must be priced here (or `{ free: true }`) and every priced route must list `billing`, else the config does not load: no route can walk around a budget.
   */
  routes: {
    [k: string]: RoutePrice;
  };
  /**
   * Monthly credit grants by plan (the plan's name or id, as `auth` stores it: `/admin/plans`). Needs `credits.enabled`. Unused credit is not taken back; a grant adds to the balance.
   */
  plans: {
    [k: string]: {
      /**
       * Credit granted to each organization on the plan once per calendar month (UTC): a ledger `grant` with idempotency key `plan-grant:<org>:<YYYY-MM>`, made on the organization's first priced request of the month, so any number of replicas grant it once.
       */
      monthly_credits_micros: number;
    };
  };
  /**
   * The usage records (`billing_usage` in the SQL store): one row per model request, queued in memory and written in batches.
   */
  records: {
    /**
     * Write usage records. Off: costs are still computed (header), nothing is stored.
     */
    enabled: boolean;
    /**
     * How often queued rows are written (`1s`, `500ms`; a number is milliseconds).
     */
    flush_interval: string | number;
    /**
     * Rows per INSERT; a queue this long is written at once, without waiting for the interval.
     */
    batch_rows: number;
    /**
     * Rows held in memory while the database is slow or down (about 300 bytes each). When the queue is full its rows move to the spill file `<data dir>/spill/usage.jsonl` (the data directory is `stores.sql.pglite`, else `SWITCHYARD_DATA_DIR`): appended and fsync'd in batches, replayed in order once the database answers again, and at the next start after a crash. Without a data directory, or when the file cannot be written, new rows are dropped, counted in `switchyard_records_dropped_total{queue="usage"}` and logged as errors.
     */
    max_queued: number;
    /**
     * How long usage rows are kept, in whole days (`90d`: today and the 89 days before). The table is partitioned by UTC day, so older rows go by dropping their day's partition, hourly. Default: forever.
     */
    retention?: string;
    /**
     * How long the daily sums per organization, key and model (`billing_usage_daily`, which `GET /admin/usage` reads for whole days) are kept, in whole days; usually longer than `retention`. Default: forever.
     */
    aggregate_retention?: string;
  };
  /**
   * Prepaid credits: each organization has a balance (top-ups and adjustments through `/admin/credits` or `switchyard credits`, recorded in an append-only ledger). Each model request reserves its worst-case cost before the upstream call — atomically in SQL, so concurrent requests on any number of replicas never overspend — and settles to the actual cost after the final usage, however the request ended. Needs `auth` (or another plugin that names the organization) earlier in the pipeline.
   */
  credits: {
    /**
     * Reserve and charge credits. Off: balances are not touched (costs are still computed and recorded).
     */
    enabled: boolean;
    /**
     * A ceiling on one request's reservation, in micro-units: the worst case is clamped to it. A request that then costs more is charged in full at settlement (the balance may dip below zero by the difference, counted in `switchyard_billing_overruns_total`). Default: no ceiling.
     */
    max_reserve_micros?: number;
    /**
     * How the prompt's size is bounded before a tokenizer has seen it: its characters divided by this. 1 (the default) is a true upper bound for text; 4 is the typical English ratio, reserving less but risking overruns.
     */
    prompt_chars_per_token: number;
    /**
     * How long a reservation lives before it counts as abandoned (a gateway that crashed between reserve and settle); expired reservations are released at start and every minute after, and logged. Default: twice `upstream.total_timeout` plus one minute.
     */
    reservation_ttl?: string | number;
    /**
     * Credit leases, for throughput: while an organization (or key) has several requests in flight at once and plenty of credit and budget left, this replica reserves a share of it as ONE lease (a reservation row, taken atomically like any other) and admits requests against the lease in memory, charging what they cost to the balance and budgets in one statement every `flush_interval`. Never more than the lease is spent, and a lease is never more than `fraction` of what the organization has free, so replicas cannot overspend together; near the limit leases are refused and every request reserves on its own, exactly as without leases. A lease is returned as soon as its last request settles. A replica that crashes loses the charges of its last `flush_interval` (those requests are not charged) and its lease is released at its expiry, like any reservation.
     */
    leases: {
      /**
       * Use leases. Off: every request reserves and settles its own worst case in SQL (two statements per request; one ledger entry per request).
       */
      enabled: boolean;
      /**
       * The most of an organization's (or key's) free credit or budget one lease may take: 1/16 by default. A lease is taken only when this share covers at least 4 worst cases of the request that asks for it.
       */
      fraction: number;
      /**
       * How often the costs of requests settled against a lease are charged to the balance, the ledger (one `usage` entry per lease and flush) and the budgets.
       */
      flush_interval: string | number;
    };
  };
  /**
   * Spending limits per organization (`/admin/credits/{org}/budgets`: daily and monthly) and per key (`limits.daily_budget_micros` / `limits.monthly_budget_micros` of the key, else of its plan), per calendar day and month in UTC. Counted atomically with the reservation, so concurrent requests cannot run past a limit; the hard limit refuses with 402 `budget_exceeded`, the soft limit adds `x-switchyard-budget-warning`.
   */
  budgets: {
    /**
     * Enforce budgets (and count spend per organization and key per day and month).
     */
    enabled: boolean;
    /**
     * A request that brings a budget to this share of its limit or beyond gets `x-switchyard-budget-warning`.
     */
    soft_limit_percent: number;
  };
}
/**
 * A price that replaces the catalog's as a whole (fields are not merged with it). A field the usage needs but the price lacks makes the cost unknown (recorded as null), except the prompt-cache rates (`cached_input_per_1m`, `cache_write_per_1m`, `cache_write_1h_per_1m`), which fall back as each says.
 *
 * This interface was referenced by `BillingConfig`'s JSON-Schema
 * via the `definition` "price".
 */
export interface Price {
  /**
   * Costs nothing, whatever the usage (local models, models paid for by subscription).
   */
  free?: boolean;
  /**
   * Currency of the prices in this entry; default the gateway's `currency`. Any other currency needs an entry in `rates`.
   */
  currency?: CurrencyCode;
  /**
   * Per 1M input (prompt) tokens; for embedding models, per 1M embedded tokens.
   */
  input_per_1m?: number;
  /**
   * Per 1M output (completion) tokens, reasoning tokens included.
   */
  output_per_1m?: number;
  /**
   * Per 1M input tokens read from the provider's prompt cache (a part of the prompt tokens). Default `input_per_1m`.
   */
  cached_input_per_1m?: number;
  /**
   * Per 1M input tokens written to the provider's prompt cache (Anthropic's `cache_creation_input_tokens`; a part of the prompt tokens). Default `input_per_1m`.
   */
  cache_write_per_1m?: number;
  /**
   * Per 1M input tokens written to the provider's prompt cache with the 1-hour TTL (Anthropic's `cache_creation.ephemeral_1h_input_tokens`; a part of the cache writes). Default `cache_write_per_1m`, then `input_per_1m`.
   */
  cache_write_1h_per_1m?: number;
  /**
   * Per generated image (`/v1/images/generations`: the request's `n`, default 1).
   */
  per_image?: number;
  /**
   * Charged after the fact and never reserved: requests to it are not refused for want of credit, and the balance may go below zero by what they cost. For models whose cost cannot be bounded in advance (no output limit) that you still want to serve to organizations with credits.
   */
  post_paid?: boolean;
}
/**
 * The price of one request to a raw proxy route (`routes:`): a flat part and a part per byte sent back to the client (headers included). With `credits.enabled`, the worst case — `per_request_micros` + `per_byte_micros` × `max_response_bytes` — is reserved before the request is forwarded and settled to the actual bytes after; a response larger than `max_response_bytes` is charged in full (counted in `switchyard_billing_overruns_total`). A request the upstream never answered costs nothing.
 *
 * This interface was referenced by `BillingConfig`'s JSON-Schema
 * via the `definition` "routePrice".
 */
export interface RoutePrice {
  /**
   * Costs nothing: requests to the route are neither reserved nor charged (they still get a usage row when the route's pipeline has `billing`).
   */
  free?: boolean;
  /**
   * Flat price of each request answered by the upstream, in micro-units of the gateway currency.
   */
  per_request_micros: number;
  /**
   * Price per byte of response sent to the client, in micro-units (fractions allowed, to a millionth: 0.0001 is 100 micro-units per MB).
   */
  per_byte_micros: number;
  /**
   * The response size reserved for (`10mb`, or a number of bytes). Required with `per_byte_micros` when `credits.enabled`: without it a request's cost has no bound.
   */
  max_response_bytes?: string | number;
}
