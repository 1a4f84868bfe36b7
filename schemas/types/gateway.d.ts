// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/gateway.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * The gateway's YAML file. Put `# yaml-language-server: $schema=../schemas/gateway.schema.json` at the top for editor completion.
 */
export interface GatewayConfig {
  /**
   * Ignored; lets editors find this schema.
   */
  $schema?: string;
  /**
   * Config format version. Always `1`.
   */
  version: 1;
  /**
   * The HTTP listener. `listen` and `max_header_size` apply at start-up; the rest hot-reload.
   */
  server: {
    /**
     * `host:port` to listen on (`[::1]:8080` for IPv6, `0.0.0.0:8080` for all interfaces). Overridden by `--listen` and `SWITCHYARD_LISTEN`.
     */
    listen: string;
    /**
     * Largest request body accepted; larger bodies get 413 `request_too_large`.
     */
    body_limit: string | number;
    /**
     * CIDRs of reverse proxies whose `X-Forwarded-For` is believed. From any other peer the header is ignored.
     */
    trusted_proxies: string[];
    /**
     * A client must send all request headers within this time (defends against slow-header attacks); answered 408.
     */
    headers_timeout: string | number;
    /**
     * A client must send the whole request (headers and body) within this time; answered 408.
     */
    request_timeout: string | number;
    /**
     * Idle time before a client keep-alive connection is closed. Keep it above your load balancer's idle timeout.
     */
    keep_alive_timeout: string | number;
    /**
     * On SIGTERM, in-flight requests and streams get this long to finish before connections are closed.
     */
    shutdown_timeout: string | number;
    /**
     * On SIGTERM, `/ready` answers 503 `draining` for this long while the gateway still accepts and serves requests, so that load balancers and Kubernetes stop sending traffic before the listener closes (like Caddy's `shutdown_delay`, Traefik's `requestAcceptGraceTimeout`); then `shutdown_timeout` applies. Ctrl-C (SIGINT) skips it. `0s` turns it off.
     */
    drain_delay: string | number;
    /**
     * Largest total request header size; larger gets 431. Applies at start-up.
     */
    max_header_size: string | number;
    /**
     * Write one structured log line per request.
     */
    access_log: boolean;
    /**
     * Also write access lines for `GET /health`, `/ready` and `/metrics` (kubelet probes, load balancer checks, Prometheus scrapes), which are left out by default so they do not drown the requests that matter.
     */
    access_log_probes: boolean;
  };
  /**
   * Structured JSON logs on stdout.
   */
  log: {
    /**
     * Lowest level written. `SWITCHYARD_LOG_LEVEL` overrides it.
     */
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  };
  /**
   * OpenTelemetry traces, exported over OTLP/HTTP (JSON): one span per request with the GenAI semantic-convention attributes (operation, provider, request and response model, token usage, finish reasons), a child span per upstream attempt, plugin refusals as span events; a client's W3C `traceparent` is continued and passed on to the providers. Leave the block out (or set `enabled: false`) for no tracing at all: no span is made and the OpenTelemetry SDK is not even loaded. Reloads apply every field. See docs/tracing.md.
   */
  tracing?: {
    /**
     * Export traces. `false` keeps the block but turns tracing off.
     */
    enabled: boolean;
    /**
     * The collector's OTLP/HTTP traces URL, such as `http://otel-collector:4318/v1/traces`; `/v1/traces` is appended to a URL without a path (`http://otel-collector:4318`).
     */
    endpoint: string;
    /**
     * Headers sent with every export, typically the backend's API key (`x-honeycomb-team: ${HONEYCOMB_API_KEY}`). Every value is redacted in `GET /admin/config`.
     */
    headers: {
      [k: string]: string;
    };
    /**
     * The `service.name` resource attribute of every span.
     */
    service_name: string;
    /**
     * More resource attributes, such as `deployment.environment.name: production` or `service.instance.id: ${HOSTNAME}`.
     */
    resource_attributes: {
      [k: string]: string;
    };
    /**
     * Share of new traces recorded (by trace id, so every gateway replica makes the same choice). A request with a client `traceparent` follows the client's sampled flag instead (parent-based sampling); an unsampled request still passes a `traceparent` on to its providers.
     */
    sample_ratio: number;
    /**
     * Longest one export request may take.
     */
    timeout: string | number;
    /**
     * Spans are queued in memory and exported in batches, off the request path.
     */
    batch: {
      /**
       * Most finished spans kept waiting for export; beyond it new spans are dropped (the collector is down or too slow).
       */
      max_queue_size: number;
      /**
       * Most spans in one export request.
       */
      max_export_batch_size: number;
      /**
       * Longest a finished span waits before it is exported (a full batch goes at once).
       */
      delay: string | number;
    };
  };
  /**
   * Defaults for calls to providers; a provider may override each timeout.
   */
  upstream: {
    /**
     * Time to open a TCP/TLS connection to a provider.
     */
    connect_timeout: string | number;
    /**
     * Time from the start of a call (connecting included) to the provider's response headers; also the longest silence between body chunks, streams included.
     */
    first_byte_timeout: string | number;
    /**
     * Longest a single upstream call (including a whole stream) may take.
     */
    total_timeout: string | number;
    /**
     * Most keep-alive connections per provider origin.
     */
    connections: number;
  };
  /**
   * Where shared state lives. The defaults need nothing installed: counters and cache in process memory, organizations and keys in an embedded PGlite database. Scale out with `kv: { redis: ${REDIS_URL} }` and `sql: { postgres: ${DATABASE_URL} }`. Applies at start-up; changing it needs a restart.
   */
  stores: {
    /**
     * Rate-limit counters, response cache and revocation fan-out: `memory` (this process only) or `{ redis: url }` (shared by every replica; exact limits across replicas).
     */
    kv:
      | 'memory'
      | {
          /**
           * In-process memory with an explicit bound.
           */
          memory: {
            /**
             * Most memory the stored values may hold, counted as resident memory (value, key and per-entry overhead; docs/footprint.md); least recently used values are evicted past it. Rate-limit counters are not evicted.
             */
            max_bytes?: string | number;
          };
        }
      | {
          /**
           * A `redis://[:password@]host:port[/db]` URL (`rediss://` for TLS), or `{ url, prefix }`.
           */
          redis:
            | string
            | {
                /**
                 * Redis URL.
                 */
                url: string;
                /**
                 * Prepended to every key and channel, so several gateways can share one Redis.
                 */
                prefix?: string;
              };
        };
    /**
     * Organizations, API keys, plans (and later usage and audit): `{ pglite: ./data }` (embedded, one process; `memory` for a throw-away database) or `{ postgres: url }` (shared by every replica).
     */
    sql:
      | {
          /**
           * Data directory, relative to this file (relative to the working directory when the value is wholly one environment variable, `${SWITCHYARD_DATA_DIR}`), or `memory`. Only one process may open it.
           */
          pglite: string;
          /**
           * PostgreSQL settings for the embedded database, over small-footprint defaults (shared_buffers 8MB, wal_buffers 1MB, temp_buffers 2MB, work_mem 2MB, maintenance_work_mem 16MB), e.g. `{ shared_buffers: 64MB }` for a large usage table.
           */
          settings?: {
            [k: string]: string | number;
          };
        }
      | {
          /**
           * A `postgres://user[:password]@host:port/db` URL, or `{ url, pool, connect_timeout, query_timeout, idle_timeout }`. Every wait on the database is bounded; after a failure that shows it cannot be reached, calls fail at once with 503 `store_unavailable` until a probe (every 250 ms) gets an answer.
           */
          postgres:
            | string
            | {
                /**
                 * PostgreSQL URL.
                 */
                url: string;
                /**
                 * Most connections this replica opens.
                 */
                pool?: number;
                /**
                 * Longest wait for a connection: opening one, or a free one when the pool is full. Above zero.
                 */
                connect_timeout?: string | number;
                /**
                 * Longest wait for a query's answer: the server cancels the statement then (`statement_timeout`; the request gets 503 `store_unavailable`), and a server that does not answer at all is given up on 100 ms later (the connection is dropped and the store marked down). Migrations at start-up are not limited by it. Above zero.
                 */
                query_timeout?: string | number;
                /**
                 * An unused connection is closed after this long. Above zero.
                 */
                idle_timeout?: string | number;
              };
        };
  };
  /**
   * Extra directories (relative to this file; to the working directory when a value is wholly one environment variable) of model catalog `*.yaml` files: context window, prices, capabilities. The built-in catalog (`config/catalog/` in the package) is always loaded first; entries here override it.
   */
  catalog: string[];
  /**
   * Upstream providers by name. `adapter` picks the wire format; the other fields are the adapter's own (see the provider reference).
   */
  providers: {
    [k: string]: {
      /**
       * Wire format: `openai` (OpenAI and every OpenAI-compatible API) or `mock` (offline). The adapter's own settings sit beside it.
       */
      adapter: string;
      /**
       * Catalog to read model metadata from; default the adapter name.
       */
      catalog?: string;
      /**
       * This provider's own timeouts; each defaults to the one in `upstream:`.
       */
      timeouts?: {
        /**
         * Time to open a connection.
         */
        connect?: string | number;
        /**
         * Time to the response headers, and longest silence between body chunks (streams included).
         */
        first_byte?: string | number;
        /**
         * Longest a whole call may take.
         */
        total?: string | number;
      };
      /**
       * List the provider's upstream models and serve each as `<provider>/<model>` in `GET /v1/models` and in requests: `true`, or `{ ttl: 5m }`. Listed at start, then again in the background every `ttl`; a failing listing keeps the last good one and shows in `/ready` details. Adapters `openai` (its `/models`; not Azure), `anthropic`, `gemini`, `cohere` and `gigachat` can list; `yandex` and `mock` cannot. See docs/providers-discovery.md.
       */
      discover?:
        | boolean
        | {
            /**
             * How long a listing is used before it is fetched again in the background (at least 100ms). A failed listing is tried again after the shorter of `ttl` and 30s.
             */
            ttl?: string | number;
          };
      [k: string]: unknown;
    };
  };
  /**
   * Model ids clients may ask for, and where each goes. Keys may be exact ids, or globs such as `"anthropic/*"`.
   */
  models: {
    [k: string]: {
      /**
       * Where requests for this id go: a provider (`{ provider: openai, model: gpt-4o }`), or another model of this gateway (`{ model: fast }`, no `provider`), which brings its own targets and strategy. The strategy orders them per request; the ones after the first are the fallbacks.
       *
       * @minItems 1
       */
      targets: {
        /**
         * A key of `providers`. Without it, `model` names another key (or alias) of `models:` — not a glob — whose targets, strategy included, stand in this place (a weighted group whose members fall back, a fallback from `smart` to `fast`).
         */
        provider?: string;
        /**
         * With `provider`: the model id sent upstream; default the id the client asked for (for a glob key, the part the `*` matched). Without `provider`: another model of this gateway.
         */
        model?: string;
        /**
         * Share of first picks with `strategy: weighted` (smooth weighted round-robin: 3 and 1 give exactly 3 of every 4 requests to the first). Fractions are fine; `0` makes a target a fallback only.
         */
        weight: number;
      }[];
      /**
       * How the targets are ordered for each request; after the first, the rest are fallbacks in that order (moving on when a call fails with a failure listed in `retry_on`, before any byte reached the client; targets whose circuit breaker is open are skipped). `fallback` (the default): the order written. `single`: the one target only, no fallback (exactly one target). `weighted`: the first pick by smooth weighted round-robin over `weight` (deterministic shares), the rest in the order written. `least-busy`: fewest calls in flight in this gateway process first. `least-latency`: lowest moving average of time to first byte (of the first chunk for streams) first, with one request in `route.least_latency.explore` sent to the target measured least recently, so a recovered target is noticed. `cost`: cheapest first, from the catalog's prices for the request's estimated tokens (targets without a price last). Retries, the attempt budget and the deadline are `route`'s settings, which the fields below override for this model.
       */
      strategy: 'single' | 'fallback' | 'weighted' | 'least-busy' | 'least-latency' | 'cost';
      /**
       * Other ids that mean this model.
       */
      aliases: string[];
      /**
       * Free text, shown nowhere but here.
       */
      description?: string;
      /**
       * This model's own upstream timeouts, over its providers' (`providers.<name>.timeouts`) and `upstream:`'s, for every target's call.
       */
      timeouts?: {
        /**
         * Time to open a connection.
         */
        connect?: string | number;
        /**
         * Time to the response headers, and longest silence between body chunks (streams included).
         */
        first_byte?: string | number;
        /**
         * Longest a whole call may take.
         */
        total?: string | number;
      };
      /**
       * This model's failures worth another call; default `route.retry_on`. `connection`, `timeout`, `429`, `5xx`, `overloaded`, `context_length`, `content_filter`.
       */
      retry_on?: ('connection' | 'timeout' | 429 | '429' | '5xx' | 'overloaded' | 'context_length' | 'content_filter')[];
      /**
       * Further calls to the same target before the next one; default `route.retries`.
       */
      retries?: number;
      /**
       * Most upstream calls per request for this model; default `route.max_attempts`.
       */
      max_attempts?: number;
      /**
       * Longest a request for this model may spend getting an answer; default `route.deadline`.
       */
      deadline?: string | number;
    };
  };
  /**
   * Plugins run on the OpenAI-compatible endpoints, in this order; requests flow down the list and responses flow back up. `route` must come last. Each entry is `name`, `name: {config}`, or `use: ./my-plugin.ts` with `config:`.
   */
  pipeline: (
    | string
    | {
        /**
         * Path (relative to this file; to the working directory when the value is wholly one environment variable) of a module whose default export is a plugin definition.
         */
        use: string;
        /**
         * The plugin's config.
         */
        config?: {
          [k: string]: unknown;
        };
      }
    | {
        [k: string]: unknown;
      }
  )[];
  /**
   * Raw reverse-proxy routes: requests whose path matches go, untouched but for the client's credential headers (see `forward_credentials`), to `upstream` after their own plugin list.
   */
  routes: {
    /**
     * Exact path, or a prefix ending in `/*`.
     */
    path: string;
    /**
     * Base URL the request is forwarded to.
     */
    upstream: string;
    /**
     * Plugins for this route (same entry forms as `pipeline`).
     */
    pipeline: (
      | string
      | {
          [k: string]: unknown;
        }
    )[];
    /**
     * Remove the matched prefix (the part before `/*`) before forwarding.
     */
    strip_prefix: boolean;
    /**
     * Longest the upstream may take to answer, and longest silence while it sends the body; default `upstream.total_timeout`.
     */
    timeout?: string | number;
    /**
     * Pass the client's credential headers (`Authorization`, `x-api-key`, `api-key`) on to the upstream. Off by default: they are removed whatever the route's pipeline, so a gateway key never reaches the service behind the route. Turn on only for a service that authenticates the same callers itself.
     */
    forward_credentials: boolean;
  }[];
}
