// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/audit.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * A tamper-evident audit log. With `audit` in the config (in any pipeline), every admin action — organization, key and plan changes, key rotations and revocations, credit top-ups and adjustments, cache purges, any other mutating `/admin` call — and every config reload is recorded with its actor (the admin credential's kind, or the admin-scope key's id; never a secret) and the before/after state. Optionally every request is recorded too (`requests`), with its bodies (`bodies`, redacted). Each event is one JSON log line (`msg: "audit"`) and one row of the hash-chained `audit_log` table, written in batches by a bounded queue; `switchyard audit verify` (or `GET /admin/audit/verify`) finds the first edited, deleted or inserted row. Put it first in the pipeline so that it sees the client's own request body. See docs/plugins/audit.md.
 */
export interface AuditConfig {
  /**
   * Request events: one per request (model endpoints, proxy routes, admin calls, refusals), made from the request's record — route, status, organization, key id, models, provider, attempts, usage, cache, latency, client IP, error code.
   */
  requests: {
    /**
     * Record every request. Off: only admin actions and config reloads.
     */
    enabled: boolean;
    /**
     * Route templates not recorded (a record's `route`: `/v1/chat/completions`, a proxy route's path, `/admin`, `/health`, `unmatched`). Probes and scrapes by default.
     */
    exclude_routes: string[];
  };
  /**
   * Request and response body capture for request events (needs `requests.enabled`; only requests whose pipeline has `audit`). Off by default. Captured bodies are redacted before they are logged or stored; the gateway's own secrets (every credential in the config, such as provider API keys, and `SWITCHYARD_ADMIN_KEY` / `SWITCHYARD_SECRET`) are always removed, whatever `redact` says, and headers are never captured.
   */
  bodies: {
    /**
     * Capture the request body (as the client sent it) and the response (a JSON answer, or a stream's assembled text).
     */
    enabled: boolean;
    /**
     * Longest captured body, in bytes of JSON after redaction; a longer one is kept as its first `max_bytes` characters, marked `truncated`.
     */
    max_bytes: number;
    /**
     * What is replaced with `[REDACTED:…]` in captured bodies, besides the gateway's secrets. Fields named like a credential (`api_key`, `password`, `token`…) are replaced whole.
     */
    redact: {
      /**
       * API keys and tokens: `sk-…`, `sk-ant-…`, `AIza…`, `AKIA…`, `ghp_…`, `xox…-`, JWTs, `Bearer …`.
       */
      api_keys: boolean;
      /**
       * E-mail addresses.
       */
      emails: boolean;
      /**
       * Payment card numbers: 13–19 digits (spaces or dashes between them allowed) that pass the Luhn check.
       */
      card_numbers: boolean;
      /**
       * Regular expressions (JavaScript syntax) whose matches are replaced with `[REDACTED]`, e.g. `'\b\d{3}-\d{2}-\d{4}\b'` (single-quoted in YAML) for US social security numbers. A bad pattern is a load error at its line.
       */
      patterns: string[];
    };
  };
  /**
   * Write each event as a JSON log line (`msg: "audit"`, at level info) as it happens — a second copy of the chain's content, kept wherever the logs go.
   */
  log: boolean;
  /**
   * The bounded queue events wait in before they are appended to `audit_log` (process state: it outlives reloads and is flushed at shutdown).
   */
  queue: {
    /**
     * How often queued events are written (`1s`, `200ms`; a number is milliseconds).
     */
    flush_interval: string | number;
    /**
     * Events per append; a queue this long is written at once.
     */
    batch_rows: number;
    /**
     * Events held in memory while the database is slow or down. Beyond it new events are dropped, counted in `switchyard_audit_events_total{result="dropped"}` and logged as errors (the log line of each event was still written).
     */
    max_queued: number;
  };
}
