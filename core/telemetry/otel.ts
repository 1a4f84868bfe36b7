/**
 * Request traces with the OpenTelemetry SDK, exported over OTLP/HTTP (JSON). Loaded only when a
 * config turns tracing on (`Tracing.apply`), so a gateway without tracing never loads the SDK.
 *
 * Per request: a SERVER span (`POST /v1/chat/completions`) with the HTTP server and GenAI
 * attributes, a child CLIENT span per upstream attempt (`chat gpt-4o-mini`), and a
 * `switchyard.plugin.refusal` event per refusal. An attempt's span starts when its upstream request
 * is built — its id goes out in that request's `traceparent` — or, for offline adapters, once the
 * request is over, from the attempt's recorded times. No global OpenTelemetry state is registered
 * (no global tracer provider, no context manager): parents are passed explicitly, so several
 * gateways (tests) or tracers (reloads) live side by side.
 */
import type { IncomingMessage } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Context as OtelContext, type Span } from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { ChunkStream, type Attempt, type Context, type GatewayResponse } from '../context.js';
import { GatewayError } from '../errors.js';
import { parseDuration } from '../config/units.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { RequestRecord } from '../record.js';
import type { RequestTrace, RequestTracer, TracingConfig } from './index.js';
import { GEN_AI, OPERATION, SCHEMA_URL, SWITCHYARD, genAiProvider } from './semconv.js';

const OPERATIONAL = new Set(['/health', '/ready', '/metrics']);
/** Upper bound of one finish-reason list (one per choice). */
const MAX_FINISH_REASONS = 16;
/** At most one warning about failed exports per this many milliseconds. */
const EXPORT_WARN_INTERVAL_MS = 60_000;

/** `http://collector:4318` → `http://collector:4318/v1/traces`; a URL with a path is kept as it is. */
export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.href;
}

export function createOtelTracer(config: TracingConfig, log: Logger): RequestTracer {
  const exporter = new OTLPTraceExporter({
    url: tracesUrl(config.endpoint),
    headers: { ...config.headers },
    timeoutMillis: parseDuration(config.timeout)!,
  });
  const provider = new TracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ ...config.resource_attributes, [ATTR_SERVICE_NAME]: config.service_name })),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new LoggedExporter(exporter, log),
        maxQueueSize: config.batch.max_queue_size,
        maxExportBatchSize: Math.min(config.batch.max_export_batch_size, config.batch.max_queue_size),
        scheduledDelayMillis: parseDuration(config.batch.delay)!,
        exportTimeoutMillis: parseDuration(config.timeout)!,
      }),
    ],
  });
  return new OtelTracer(provider, log);
}

/** Logs failed exports (rate-limited) instead of OpenTelemetry's silent default. */
class LoggedExporter implements SpanExporter {
  private warnedAt = -Infinity;
  constructor(
    private readonly inner: SpanExporter,
    private readonly log: Logger,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS && performance.now() - this.warnedAt > EXPORT_WARN_INTERVAL_MS) {
        this.warnedAt = performance.now();
        this.log.warn({ err: result.error, spans: spans.length }, 'could not export trace spans to the OTLP endpoint');
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

class OtelTracer implements RequestTracer {
  readonly tracer;
  readonly propagator = new W3CTraceContextPropagator();
  private active = 0;
  private retired: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly provider: TracerProvider,
    private readonly log: Logger,
  ) {
    this.tracer = provider.getTracer('switchyard', undefined, { schemaUrl: SCHEMA_URL });
  }

  begin(req: IncomingMessage, path: string, startedAt: number, providers: GatewayConfig['providers']): RequestTrace | undefined {
    if (OPERATIONAL.has(path)) return undefined;
    const headers = req.headers;
    const parent = headers.traceparent === undefined ? ROOT_CONTEXT : this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const method = req.method ?? 'GET';
    const span = this.tracer.startSpan(method, { kind: SpanKind.SERVER, startTime: performance.timeOrigin + startedAt }, parent);
    if (span.isRecording()) {
      span.setAttribute(ATTR_HTTP_REQUEST_METHOD, method);
      span.setAttribute(ATTR_URL_SCHEME, 'http');
      span.setAttribute(ATTR_NETWORK_PROTOCOL_VERSION, req.httpVersion);
      const host = headers.host;
      if (host) {
        const colon = host.lastIndexOf(':');
        const bracket = host.lastIndexOf(']');
        if (colon > bracket) {
          span.setAttribute(ATTR_SERVER_ADDRESS, host.slice(0, colon));
          const port = Number(host.slice(colon + 1));
          if (Number.isInteger(port)) span.setAttribute(ATTR_SERVER_PORT, port);
        } else {
          span.setAttribute(ATTR_SERVER_ADDRESS, host);
        }
      }
      const agent = headers['user-agent'];
      if (agent) span.setAttribute(ATTR_USER_AGENT_ORIGINAL, agent.slice(0, 256));
    }
    this.active++;
    return new OtelRequestTrace(this, span, startedAt, providers);
  }

  ended(): void {
    if (--this.active === 0) this.retired?.();
  }

  retire(): Promise<void> {
    const idle = this.active === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.retired = resolve));
    return idle.then(() => this.shutdown());
  }

  shutdown(): Promise<void> {
    this.closing ??= this.provider.shutdown().catch((err: unknown) => this.log.warn({ err }, 'tracing: flushing spans at shutdown failed'));
    return this.closing;
  }
}

/** What a response told about the model that answered. */
interface Answer {
  model?: string;
  id?: string;
  finishReasons?: string[];
}

/** `gen_ai.provider.name`, `server.address` and `server.port` of a configured provider. */
interface ProviderFacts {
  genAi: string | undefined;
  address: string | undefined;
  port: number | undefined;
}

/** Facts per provider config object: worked out once per config version, not per request. */
const providerFacts = new WeakMap<object, ProviderFacts>();

function factsOf(providers: GatewayConfig['providers'], name: string): ProviderFacts | undefined {
  const config = providers[name] as ({ adapter: string; base_url?: unknown } & object) | undefined;
  if (!config) return undefined;
  let facts = providerFacts.get(config);
  if (!facts) {
    let address: string | undefined;
    let port: number | undefined;
    if (typeof config.base_url === 'string') {
      try {
        const url = new URL(config.base_url);
        address = url.hostname.replace(/^\[|\]$/g, '');
        port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      } catch {
        // A malformed base_url fails the provider at load time already.
      }
    }
    facts = { genAi: genAiProvider(config.adapter), address, port };
    providerFacts.set(config, facts);
  }
  return facts;
}

class OtelRequestTrace implements RequestTrace {
  private attemptSpans: Map<Attempt, Span> | undefined;
  private lastRefusal: unknown;
  private answer: Answer | undefined;
  private parentContext: OtelContext | undefined;

  constructor(
    private readonly owner: OtelTracer,
    private readonly span: Span,
    private readonly startedAt: number,
    private readonly providers: GatewayConfig['providers'],
  ) {}

  /** Epoch milliseconds of `ms` after the request arrived. */
  private at(ms: number): number {
    return performance.timeOrigin + this.startedAt + ms;
  }

  private attemptSpan(attempt: Attempt): Span {
    let span = this.attemptSpans?.get(attempt);
    if (span) return span;
    this.parentContext ??= trace.setSpan(ROOT_CONTEXT, this.span);
    span = this.owner.tracer.startSpan(`${attempt.provider} ${attempt.model}`, { kind: SpanKind.CLIENT, startTime: this.at(attempt.startMs) }, this.parentContext);
    (this.attemptSpans ??= new Map()).set(attempt, span);
    return span;
  }

  injectUpstream(headers: Record<string, string>, attempt: Attempt): void {
    const span = this.attemptSpan(attempt);
    this.owner.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
  }

  refused(plugin: string, error: unknown, ctx: Context): void {
    if (error === this.lastRefusal || !(error instanceof GatewayError) || !this.span.isRecording()) return;
    this.lastRefusal = error;
    // An upstream failure is told by its attempt's span; a refusal is the gateway's own decision.
    const last = ctx.attempts[ctx.attempts.length - 1];
    if (last !== undefined && last.errorCode === error.code) return;
    this.span.addEvent(SWITCHYARD.refusalEvent, {
      [SWITCHYARD.plugin]: plugin,
      [ATTR_ERROR_TYPE]: error.code,
      [ATTR_HTTP_RESPONSE_STATUS_CODE]: error.status,
    });
  }

  responding(response: GatewayResponse): void {
    if (response.stream === undefined || !this.span.isRecording()) return;
    const answer: Answer = (this.answer = {});
    const observe = (chunk: unknown) => readChunk(answer, chunk);
    if (response instanceof ChunkStream) {
      response.observe(observe);
    } else {
      const stream = response.stream;
      response.stream = {
        async *[Symbol.asyncIterator]() {
          for await (const chunk of stream) {
            observe(chunk);
            yield chunk;
          }
        },
      };
    }
  }

  end(record: RequestRecord, ctx: Context | undefined): void {
    try {
      this.finish(record, ctx);
    } finally {
      this.owner.ended();
    }
  }

  private finish(record: RequestRecord, ctx: Context | undefined): void {
    const span = this.span;
    const endTime = this.at(record.ms);
    if (!span.isRecording()) {
      // Not sampled: the attempts' spans (started only to pass their ids on) end unrecorded too.
      this.attemptSpans?.forEach((s) => s.end(endTime));
      span.end(endTime);
      return;
    }
    span.updateName(record.route === 'unmatched' ? record.method : `${record.method} ${record.route}`);
    span.setAttribute(ATTR_HTTP_ROUTE, record.route);
    span.setAttribute(ATTR_URL_PATH, record.path);
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, record.status);
    span.setAttribute(ATTR_CLIENT_ADDRESS, record.clientIp);
    span.setAttribute(SWITCHYARD.requestId, record.id);
    if (record.errorCode) span.setAttribute(SWITCHYARD.errorCode, record.errorCode);
    if (record.org) span.setAttribute(SWITCHYARD.org, record.org);
    if (record.keyId) span.setAttribute(SWITCHYARD.keyId, record.keyId);
    if (record.cache) span.setAttribute(SWITCHYARD.cache, record.cache);
    if (record.ttftMs !== undefined) span.setAttribute(SWITCHYARD.ttftMs, Math.round(record.ttftMs * 10) / 10);
    if (record.status >= 500 || (record.body === 'failed' && record.status < 400)) {
      span.setAttribute(ATTR_ERROR_TYPE, record.errorCode ?? String(record.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }

    const operation = ctx?.endpoint !== undefined ? OPERATION[ctx.endpoint] : undefined;
    if (operation !== undefined && ctx) {
      span.setAttribute(GEN_AI.operation, operation);
      const body = ctx.body;
      const requested = record.modelRequested ?? (typeof body?.['model'] === 'string' ? body['model'].slice(0, 200) : undefined);
      if (requested !== undefined) span.setAttribute(GEN_AI.requestModel, requested);
      if (record.modelKey !== undefined) span.setAttribute(SWITCHYARD.modelKey, record.modelKey);
      if (body) requestParameters(span, body);
      const answering = record.provider !== undefined ? factsOf(this.providers, record.provider) : undefined;
      if (answering?.genAi) span.setAttribute(GEN_AI.provider, answering.genAi);
      if (record.provider !== undefined) span.setAttribute(SWITCHYARD.provider, record.provider);
      const answer = record.status < 400 ? this.answerOf(ctx.response) : undefined;
      const responseModel = answer?.model ?? record.modelServed;
      if (responseModel !== undefined) span.setAttribute(GEN_AI.responseModel, responseModel);
      if (answer?.id !== undefined) span.setAttribute(GEN_AI.responseId, answer.id);
      if (answer?.finishReasons?.length) span.setAttribute(GEN_AI.finishReasons, answer.finishReasons);
      usageAttributes(span, record.usage);
      if (record.attempts.length) span.setAttribute(SWITCHYARD.attempts, record.attempts.length);
    }

    record.attempts.forEach((attempt, i) => this.endAttempt(attempt, i + 1, operation, endTime));
    span.end(endTime);
  }

  private endAttempt(attempt: Attempt, n: number, operation: string | undefined, requestEnd: number): void {
    const span = this.attemptSpan(attempt);
    const facts = factsOf(this.providers, attempt.provider);
    span.updateName(operation ? `${operation} ${attempt.model}` : `${attempt.provider} ${attempt.model}`);
    if (operation) span.setAttribute(GEN_AI.operation, operation);
    if (facts?.genAi) span.setAttribute(GEN_AI.provider, facts.genAi);
    span.setAttribute(GEN_AI.requestModel, attempt.model);
    span.setAttribute(SWITCHYARD.provider, attempt.provider);
    span.setAttribute(SWITCHYARD.attempt, n);
    if (facts?.address !== undefined) span.setAttribute(ATTR_SERVER_ADDRESS, facts.address);
    if (facts?.port !== undefined) span.setAttribute(ATTR_SERVER_PORT, facts.port);
    if (attempt.status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, attempt.status);
    if (attempt.ttfbMs !== undefined) span.setAttribute(SWITCHYARD.ttfbMs, Math.round(attempt.ttfbMs * 10) / 10);
    usageAttributes(span, attempt.usage);
    if (attempt.errorCode !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, attempt.errorCode);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end(attempt.ms !== undefined ? this.at(attempt.startMs + attempt.ms) : requestEnd);
  }

  /** The answer's model, id and finish reasons: from the observed stream, or the JSON body (read after it was written). */
  private answerOf(response: GatewayResponse | undefined): Answer | undefined {
    if (this.answer) return this.answer;
    if (!response || response.stream !== undefined) return undefined;
    const answer: Answer = {};
    readChunk(answer, response.body);
    return answer;
  }
}

/** Notes the model, id and finish reasons a response body or stream chunk carries. */
function readChunk(answer: Answer, chunk: unknown): void {
  if (chunk === null || typeof chunk !== 'object') return;
  const c = chunk as { model?: unknown; id?: unknown; choices?: unknown };
  if (answer.model === undefined && typeof c.model === 'string') answer.model = c.model;
  if (answer.id === undefined && typeof c.id === 'string') answer.id = c.id;
  if (!Array.isArray(c.choices)) return;
  for (const choice of c.choices as { finish_reason?: unknown }[]) {
    const reason = choice?.finish_reason;
    if (typeof reason === 'string' && reason) {
      const reasons = (answer.finishReasons ??= []);
      if (reasons.length < MAX_FINISH_REASONS) reasons.push(reason);
    }
  }
}

function requestParameters(span: Span, body: Record<string, unknown>): void {
  const maxTokens = body['max_completion_tokens'] ?? body['max_tokens'];
  if (typeof maxTokens === 'number') span.setAttribute(GEN_AI.requestMaxTokens, maxTokens);
  const temperature = body['temperature'];
  if (typeof temperature === 'number') span.setAttribute(GEN_AI.requestTemperature, temperature);
  const topP = body['top_p'];
  if (typeof topP === 'number') span.setAttribute(GEN_AI.requestTopP, topP);
}

function usageAttributes(span: Span, usage: RequestRecord['usage']): void {
  if (!usage) return;
  span.setAttribute(GEN_AI.inputTokens, usage.prompt_tokens);
  span.setAttribute(GEN_AI.outputTokens, usage.completion_tokens);
  if (usage.cached_tokens) span.setAttribute(GEN_AI.cacheReadTokens, usage.cached_tokens);
  if (usage.estimated) span.setAttribute(SWITCHYARD.usageEstimated, true);
}
