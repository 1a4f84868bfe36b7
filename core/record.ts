/**
 * One record per request — model endpoints, raw proxy routes, `/admin` calls, operational
 * endpoints and refusals alike — emitted once the response is final and its post-response work has
 * run. The access log and the metrics are subscribers; so are usage, billing and audit. Because
 * they all read the same record, they always agree.
 */
import type { Attempt, BodyState, Usage } from './context.js';
import type { Logger } from './log.js';

export interface RequestRecord {
  /** Request id (`x-request-id`). */
  readonly id: string;
  /** Arrival time, epoch milliseconds. */
  readonly time: number;
  /** The route template: `/v1/chat/completions`, a proxy route's path, `/admin`, `/health`, or `unmatched`. */
  readonly route: string;
  readonly method: string;
  /** The request path (at most 200 characters). */
  readonly path: string;
  /** Status sent; 499 when the client left before the response was complete. */
  readonly status: number;
  readonly body: BodyState;
  readonly org: string | undefined;
  readonly keyId: string | undefined;
  /** The model id the client asked for, and the `models:` key it resolved to. */
  readonly modelRequested: string | undefined;
  readonly modelKey: string | undefined;
  /** The provider and model of the attempt that answered. */
  readonly provider: string | undefined;
  readonly modelServed: string | undefined;
  readonly attempts: readonly Attempt[];
  readonly usage: Usage | undefined;
  /** What the cache did (HIT, MISS, BYPASS, COALESCED), when it ran. */
  readonly cache: string | undefined;
  /** Milliseconds from arrival to the end of the response. */
  readonly ms: number;
  /** Milliseconds from arrival to the first streamed chunk. */
  readonly ttftMs: number | undefined;
  readonly clientIp: string;
  /** The error code the client got (status ≥ 400, or a stream's error event). */
  readonly errorCode: string | undefined;
  /** Request body bytes received and response bytes sent (headers included). */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** What the request cost (micro-units of the gateway currency), when `billing` priced it. */
  readonly costMicros: number | undefined;
}

export type RecordSubscriber = (record: RequestRecord) => void;

/**
 * Delivers each record to every subscriber, synchronously and in subscription order. A subscriber
 * must be cheap (queue anything slow); one that throws is logged and does not stop the others.
 */
export class RecordBus {
  private subscribers: RecordSubscriber[] = [];

  constructor(private readonly log: Logger) {}

  /** Returns the function that unsubscribes. */
  subscribe(subscriber: RecordSubscriber): () => void {
    this.subscribers = [...this.subscribers, subscriber];
    return () => {
      this.subscribers = this.subscribers.filter((s) => s !== subscriber);
    };
  }

  emit(record: RequestRecord): void {
    for (const subscriber of this.subscribers) {
      try {
        subscriber(record);
      } catch (err) {
        this.log.error({ err, request_id: record.id }, 'a request-record subscriber failed');
      }
    }
  }
}

/** Route templates of the operational endpoints that probes and scrapers call every few seconds. */
const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics']);

/**
 * The access log: one JSON line per request. Nothing a client sent goes in but the path (cut to
 * 200 characters), the model id and its own request id — never headers or bodies, so never a key.
 * Probes and scrapes (`GET /health`, `/ready`, `/metrics`) are written only when `probes()` says so.
 */
export function accessLog(log: Logger, enabled: () => boolean, probes: () => boolean = () => false): RecordSubscriber {
  return (r) => {
    if (!enabled() || (PROBE_ROUTES.has(r.route) && !probes())) return;
    log.info(
      {
        request_id: r.id,
        method: r.method,
        path: r.path,
        status: r.status,
        ms: Math.round(r.ms * 10) / 10,
        model: r.modelRequested,
        provider: r.provider,
        org: r.org,
        key_id: r.keyId,
        usage: r.usage,
        attempts: r.attempts.length > 1 ? r.attempts.length : undefined,
        cache: r.cache,
        ttft_ms: r.ttftMs && Math.round(r.ttftMs * 10) / 10,
        error: r.errorCode,
        bytes_in: r.bytesIn,
        bytes_out: r.bytesOut,
        cost_micros: r.costMicros,
      },
      'request',
    );
  };
}
