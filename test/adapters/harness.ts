/**
 * What the adapter translation tests share: a real adapter built from its definition as the route
 * plugin builds it (settings validated and defaulted by the adapter's schema, debug logs
 * captured), operations to feed it, and readers for what it sends, streams and throws. Each
 * provider's `<name>-adapter.ts` only names its defaults (settings, provider name, model).
 */
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { validateAt } from '../../core/config/schema.js';
import { Catalog } from '../../core/config/catalog.js';
import { GatewayError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import type { EventSourceMessage } from '../../core/http/sse.js';
import type { UpstreamClient, UpstreamRequest } from '../../core/http/upstream.js';
import type { AdapterDefinition, HttpAdapter, ModelEndpoint, Operation, StreamTranslator } from '../../plugins/route/adapter.js';
import type { SseEvent } from './wire-mock.js';

type Json = Record<string, unknown>;

export interface TestAdapter {
  adapter: HttpAdapter;
  /** Every log line the adapter wrote, parsed. */
  logs: Json[];
}

export interface AdapterOptions {
  /** The provider's name in YAML (it prefixes error messages). */
  provider: string;
  /** Overall timeout, 1 s unless the test needs a slower peer. */
  totalMs?: number;
  /** The upstream client, for adapters that make calls of their own (OAuth tokens). */
  upstream?: UpstreamClient;
}

/**
 * An HTTP adapter from `definition` with `settings` (a key set to `undefined` is left out, so a
 * test can drop a default), validated against the adapter's schema as the route plugin does.
 */
export function makeAdapter<Config>(definition: AdapterDefinition<Config>, settings: Json, options: AdapterOptions): TestAdapter {
  const config: Json = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
  const issues = validateAt(definition.schema, config, ['$', 'providers', options.provider]);
  if (issues.length) throw new Error(JSON.stringify(issues));
  const logs: Json[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Json);
      cb();
    },
  });
  const adapter = definition.create(config as Config, {
    provider: options.provider,
    timeouts: { connectMs: 1000, firstByteMs: 1000, totalMs: options.totalMs ?? 1000 },
    catalog: new Catalog([], 'test'),
    log: createLogger({ level: 'debug', destination }),
    ...(options.upstream ? { upstream: options.upstream } : {}),
  });
  if (adapter.kind !== 'http') throw new Error(`the ${definition.name} adapter is an HTTP adapter`);
  return { adapter, logs };
}

/**
 * An operation factory for one provider: `op(body, extra)` is a chat with one user turn unless
 * the body says otherwise, or, when `extra.endpoint` names another endpoint, exactly `body`. The
 * model is `models[endpoint]` when given, else `model`.
 */
export function operations(model: string, models: Partial<Record<ModelEndpoint, string>> = {}): (body: Json, extra?: Partial<Operation>) => Operation {
  return (body, extra = {}) => {
    const endpoint = extra.endpoint ?? 'chat.completions';
    return {
      endpoint: 'chat.completions',
      body: endpoint === 'chat.completions' ? { messages: [{ role: 'user', content: 'Hi' }], ...body } : body,
      model: models[endpoint] ?? model,
      stream: false,
      clientWantsUsage: false,
      requestId: 'req-1',
      headers: {},
      ...extra,
    };
  };
}

/** The request the adapter builds for `op`, from an adapter that builds it synchronously (the contract allows a Promise). */
export function built(adapter: HttpAdapter, op: Operation): UpstreamRequest {
  const req = adapter.buildRequest(op);
  if (req instanceof Promise) throw new Error('expected a synchronous buildRequest');
  return req;
}

/** The JSON body a synchronous adapter would send for `op`. */
export function sentBody(adapter: HttpAdapter, op: Operation): Json {
  return JSON.parse(String(built(adapter, op).body)) as Json;
}

/** The JSON body an adapter that may build asynchronously (fetching a token first) would send for `op`. */
export async function sentBodyAsync(adapter: HttpAdapter, op: Operation): Promise<Json> {
  return JSON.parse(String((await adapter.buildRequest(op)).body)) as Json;
}

/** An SSE event (or, for `ndjson` streams, a line) as the shared reader yields it. */
export function sse(data: unknown, event?: string): EventSourceMessage {
  return { event, id: undefined, data: typeof data === 'string' ? data : JSON.stringify(data) };
}

/**
 * Feeds `events` to a translator until one says the stream is done; with `end`, a stream that
 * never said so is ended as the route plugin ends it when the body runs out.
 */
export function feedStream(translator: StreamTranslator, events: readonly SseEvent[], opts: { end?: boolean } = {}): { chunks: Json[]; done: boolean } {
  const chunks: Json[] = [];
  let done = false;
  for (const e of events) {
    const out = translator.event(sse(e.data, e.event));
    chunks.push(...(out.chunks as Json[]));
    if (out.done) {
      done = true;
      break;
    }
  }
  if (!done && opts.end) chunks.push(...(translator.end() as Json[]));
  return { chunks, done };
}

/** The first choice of each chunk (undefined for the usage chunk, which has none). */
export const deltas = (chunks: Json[]) => chunks.map((c) => (c['choices'] as { delta: Json; finish_reason: string | null }[])[0]);

/** What `fn` throws, or undefined when it returns. */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The GatewayError `fn` throws; returning, or throwing anything else, fails the test. */
export function thrown(fn: () => unknown): GatewayError {
  const err = caught(fn);
  if (err instanceof GatewayError) return err;
  throw new Error(err === undefined ? 'expected a GatewayError; nothing was thrown' : `expected a GatewayError; got ${String(err)}`);
}

/** Asserts `err` is a GatewayError with this status, code and (when given) param, and returns it. */
export function assertGatewayError(t: Test, err: unknown, status: number, code: string, param?: string): GatewayError {
  const e = err as GatewayError;
  t.ok(err instanceof GatewayError, 'throws a GatewayError');
  t.equal(e?.status, status, 'status');
  t.equal(e?.code, code, 'code');
  if (param !== undefined) t.equal(e?.param, param, 'param');
  return e;
}

/** Runs `fn`, asserts it threw a GatewayError with this status, code and (when given) param, and returns it. */
export function expectError(t: Test, fn: () => unknown, status: number, code: string, param?: string): GatewayError {
  return assertGatewayError(t, caught(fn), status, code, param);
}

/** Awaits `promise`, asserts it rejected with a GatewayError with this status, code and (when given) param, and returns it. */
export async function expectRejection(t: Test, promise: Promise<unknown>, status: number, code: string, param?: string): Promise<GatewayError> {
  return assertGatewayError(t, await promise.then(() => undefined, (e: unknown) => e), status, code, param);
}

const ENDPOINTS: ModelEndpoint[] = ['chat.completions', 'completions', 'embeddings', 'images.generations'];

/** Asserts the adapter serves exactly `served`, of every endpoint a provider can serve. */
export function assertServes(t: Test, adapter: HttpAdapter, served: readonly ModelEndpoint[]): void {
  for (const endpoint of ENDPOINTS) t.equal(adapter.supports(endpoint), served.includes(endpoint), `${served.includes(endpoint) ? 'serves' : 'does not serve'} ${endpoint}`);
}
