/**
 * Tracing, as the core sees it: a `RequestTracer` that is either absent (tracing off: no span, no
 * OpenTelemetry module loaded, nothing allocated per request — the edge only checks one property)
 * or made from the `tracing:` block by `otel.ts`, which this module imports lazily, the first time a
 * config turns tracing on.
 *
 * Per request the edge calls `begin` and, once the request record exists, `end`; in between,
 * `ctx.trace` lets the pipeline report refusals (`tracedHandler`) and lets `route` put a
 * `traceparent` on each upstream request (`traceUpstream`). docs/tracing.md tells what is emitted.
 */
import type { IncomingMessage } from 'node:http';
import type { Attempt, Context, GatewayResponse } from '../context.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { RequestRecord } from '../record.js';
import type { PluginInstance } from '../plugin.js';

/** The `tracing:` block, as validated. */
export type TracingConfig = NonNullable<GatewayConfig['tracing']>;

declare module '../context.js' {
  interface ContextState {
    /** The request's trace, when tracing is on (set by the core; plugins never set it). */
    trace?: RequestTrace;
  }
}

/** One request's spans. */
export interface RequestTrace {
  /**
   * Starts the span of `attempt` (if not yet started) and sets `traceparent` / `tracestate` on the
   * upstream request's `headers` so the provider's spans are its children.
   */
  injectUpstream(headers: Record<string, string>, attempt: Attempt): void;
  /** A plugin threw `error`: a span event on the request span when it is a GatewayError. */
  refused(plugin: string, error: unknown, ctx: Context): void;
  /** The response is about to be written: a stream is observed for its model and finish reasons. */
  responding(response: GatewayResponse): void;
  /** The request is over: attributes from its record, one span per attempt, and the spans end. */
  end(record: RequestRecord, ctx: Context | undefined): void;
}

/** Makes request traces for one `tracing:` config. */
export interface RequestTracer {
  /** Starts a request's span; undefined for requests not traced (`/health`, `/ready`, `/metrics`). */
  begin(req: IncomingMessage, path: string, startedAt: number, providers: GatewayConfig['providers']): RequestTrace | undefined;
  /** No new requests: shut down (flushing the spans) once the requests it traces have ended; resolves then. */
  retire(): Promise<void>;
  /** Exports what is queued and closes the exporter. */
  shutdown(): Promise<void>;
}

/**
 * The process's tracer, following the config: `apply` on start-up and on every reload swaps in a
 * new tracer when the `tracing:` block changed (the old one is retired: it flushes and closes its
 * exporter once its last request ended) and keeps the tracer when it did not.
 */
export class Tracing {
  /** What the edge uses for new requests; undefined when tracing is off. */
  current: RequestTracer | undefined;
  private key = '';
  private readonly all = new Set<RequestTracer>();

  constructor(private readonly log: Logger) {}

  /** Follows `config`. Never throws: a tracer that cannot be made is logged and the previous one kept. */
  async apply(config: TracingConfig | undefined): Promise<void> {
    const on = config !== undefined && config.enabled ? config : undefined;
    const key = on ? JSON.stringify(on) : '';
    if (key === this.key) return;
    let next: RequestTracer | undefined;
    if (on) {
      try {
        const { createOtelTracer } = await import('./otel.js');
        next = createOtelTracer(on, this.log);
      } catch (err) {
        this.log.error({ err }, 'tracing could not start; keeping the previous tracing settings');
        return;
      }
      this.all.add(next);
    }
    const old = this.current;
    this.current = next;
    this.key = key;
    // Kept in `all` until it has flushed, so that a shutdown meanwhile still waits for it.
    if (old) void old.retire().then(() => this.all.delete(old));
    // The collector's host only: an endpoint URL may carry a credential.
    if (on) this.log.info({ collector: new URL(on.endpoint).host, sample_ratio: on.sample_ratio }, 'tracing on');
    else this.log.info('tracing off');
  }

  /** At shutdown, once no request runs: flushes and closes every exporter. */
  async close(): Promise<void> {
    const tracers = [...this.all];
    this.all.clear();
    this.current = undefined;
    this.key = '';
    await Promise.allSettled(tracers.map((t) => t.shutdown()));
  }
}

/**
 * A plugin's `handle`, reporting the GatewayError it throws (its refusal) to the request's trace.
 * Used only when a config version is compiled with tracing on; otherwise plugins run unwrapped.
 */
export function tracedHandler(name: string, instance: PluginInstance): PluginInstance['handle'] {
  return (ctx, next) => {
    let running: Promise<void>;
    try {
      running = instance.handle(ctx, next);
    } catch (err) {
      ctx.trace?.refused(name, err, ctx);
      throw err;
    }
    return running.catch((err: unknown) => {
      ctx.trace?.refused(name, err, ctx);
      throw err;
    });
  };
}

/** Puts the attempt's `traceparent` on an upstream request when the request is traced; returns `request`. */
export function traceUpstream<R extends { headers: Record<string, string> }>(ctx: Context, attempt: Attempt, request: R): R {
  ctx.trace?.injectUpstream(request.headers, attempt);
  return request;
}
