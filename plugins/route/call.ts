/**
 * One call to one target — one attempt: through the adapter's `serve` (offline adapters) or through
 * the shared upstream client (HTTP adapters). Streams are translated event by event as they arrive;
 * a stream comes back as its chunk iterator, for `route` to pull the first chunk before it commits
 * to this attempt. The attempt records status, time to first byte, duration and usage; the
 * request's usage (`ctx.usage`) is set once the answer is complete — for a stream when it ends,
 * however it ends (`final-usage.ts`), unless it ended before its first chunk: then the attempt is
 * abandoned (another may answer) and spent nothing the client is charged for.
 */
import { GatewayError, errors } from '../../core/errors.js';
import { readSSE, readJsonLines } from '../../core/http/sse.js';
import { upstreamFailure, ClientGoneError, type UpstreamClient, type UpstreamResponse, type UpstreamTimeouts } from '../../core/http/upstream.js';
import { JsonResponse, type Attempt, type Context, type GatewayResponse, type Usage } from '../../core/context.js';
import type { HttpAdapter, Operation } from './adapter.js';
import type { Target } from './resolve.js';
import { tryParseJson } from './upstream-errors.js';
import { DeliveredText, finalStreamUsage, type TokenCounter } from './final-usage.js';
import { providerRetryDelayMs } from './retry.js';
import { traceUpstream } from '../../core/telemetry/index.js';

const MAX_ERROR_BODY = 64 * 1024;

/**
 * What one attempt came to: a complete response, or a stream not yet started. `raw`: the chunks
 * may be `RawChunk`s (wrap them in a `ChunkStream` to keep the pass-through).
 */
export type AttemptAnswer =
  | { kind: 'response'; response: GatewayResponse }
  | { kind: 'stream'; headers: Record<string, string>; chunks: AsyncGenerator<unknown>; raw: boolean };

/** What one call needs beyond its target and operation. */
export interface CallSetup {
  readonly upstream: UpstreamClient;
  /** Response headers to answer with. */
  readonly headers: Record<string, string>;
  readonly attempt: Attempt;
  readonly counter: TokenCounter;
  /** Aborts the call: the client left, or the request's deadline passed. */
  readonly signal: AbortSignal;
  /** Set when the provider said how long to wait before trying again. */
  retryAfterMs?: number | undefined;
  /** The model's own timeouts, over the provider's. */
  readonly timeouts?: Partial<UpstreamTimeouts> | undefined;
}

export async function callTarget(ctx: Context, target: Target, op: Operation, setup: CallSetup): Promise<AttemptAnswer> {
  const adapter = target.provider.adapter;
  const { attempt, headers } = setup;
  if (adapter.kind === 'local') {
    const result = await adapter.serve(op, setup.signal);
    attempt.status = 200;
    attempt.ttfbMs = 0;
    if (result.kind === 'json') {
      answered(ctx, attempt, result.response.usage);
      return { kind: 'response', response: { status: 200, headers, body: result.response.body } };
    }
    return { kind: 'stream', headers, chunks: recordUsage(ctx, attempt, op, result.chunks, result.usage, setup.counter), raw: false };
  }
  return callHttp(ctx, target, adapter, op, setup);
}

/** The attempt's answer is complete: its usage is the request's. */
function answered(ctx: Context, attempt: Attempt, usage: Usage | undefined): void {
  attempt.ms = performance.now() - ctx.startedAt - attempt.startMs;
  attempt.usage = usage;
  ctx.usage = usage;
}

/**
 * A stream's answer is complete. Its usage may need counting (a cut stream): that runs while the
 * stream's end (or error event) goes out, and the core waits for it before post-response work.
 */
function streamAnswered(ctx: Context, attempt: Attempt, op: Operation, reported: Usage | undefined, completed: boolean, delivered: DeliveredText): void {
  attempt.ms = performance.now() - ctx.startedAt - attempt.startMs;
  const usage = finalStreamUsage(reported, completed, delivered, op);
  if (!(usage instanceof Promise)) {
    attempt.usage = ctx.usage = usage;
    return;
  }
  ctx.usagePending = usage.then((counted) => {
    attempt.usage = ctx.usage = counted;
  });
}

async function callHttp(ctx: Context, target: Target, adapter: HttpAdapter, op: Operation, setup: CallSetup): Promise<AttemptAnswer> {
  const provider = target.provider.name;
  const { upstream, headers, attempt, counter, signal } = setup;
  const timeouts = setup.timeouts ? { ...adapter.timeouts, ...setup.timeouts } : adapter.timeouts;
  let res = await upstream.send(traceUpstream(ctx, attempt, await adapter.buildRequest(op)), signal, timeouts, provider);
  if (res.status === 401 && adapter.refreshAuth) {
    // Drain, don't destroy: undici reports a destroyed unread body as an 'error' event that no one
    // listens to here, which would crash the process.
    await res.body.dump();
    res.release();
    if (await adapter.refreshAuth()) res = await upstream.send(traceUpstream(ctx, attempt, await adapter.buildRequest(op)), signal, timeouts, provider);
  }
  attempt.status = res.status;
  attempt.ttfbMs = res.headersMs;
  try {
    if (res.status < 200 || res.status >= 300) {
      const text = await readLimited(res, MAX_ERROR_BODY);
      const error = adapter.parseError(res.status, text, res.headers);
      setup.retryAfterMs = providerRetryDelayMs({ ...error.headers, ...res.headers }, res.status);
      throw error;
    }
    const contentType = String(res.headers['content-type'] ?? '');
    if (op.stream && (adapter.streamFormat === 'ndjson' || contentType.includes('text/event-stream'))) {
      const stream = translateStream(ctx, attempt, adapter, op, res, provider, counter);
      // A stream nobody iterates (a later plugin failed or replaced the response) never reaches its
      // `finally`; end the upstream call when the request is over, not at the total timeout.
      ctx.afterResponse(() => {
        if (!res.body.readableEnded) res.body.destroy();
        res.release();
      });
      return { kind: 'stream', headers, chunks: stream, raw: true };
    }
    const text = await res.body.text();
    const json = tryParseJson(text);
    if (json === undefined) throw errors.badGateway('upstream_invalid_response', `${provider}: the response is not valid JSON.`);
    const translated = adapter.parseResponse(op, json);
    answered(ctx, attempt, translated.usage);
    if (op.stream) return { kind: 'response', response: { status: 200, headers, stream: singleChunkStream(translated.body) } };
    return { kind: 'response', response: new JsonResponse(200, headers, translated.body, translated.body === json ? text : undefined) };
  } catch (err) {
    res.body.destroy();
    res.release();
    throw err instanceof GatewayError || err instanceof ClientGoneError ? err : upstreamFailure(err, provider, 'body');
  } finally {
    if (!op.stream || res.body.destroyed || res.body.readableEnded) res.release();
  }
}

/**
 * The upstream answered a stream request with a complete JSON body (some OpenAI-compatible servers
 * ignore `stream`). It is already translated; send it as one chunk so the client still gets a stream.
 */
async function* singleChunkStream(body: unknown): AsyncGenerator<unknown> {
  yield body;
}

async function* translateStream(ctx: Context, attempt: Attempt, adapter: HttpAdapter, op: Operation, res: UpstreamResponse, provider: string, counter: TokenCounter): AsyncGenerator<unknown> {
  const translator = adapter.streamTranslator(op);
  const delivered = new DeliveredText(counter);
  let completed = false;
  let yielded = false;
  try {
    // After the provider's end marker, read on to the end of the body rather than break: leaving the
    // loop early would destroy the body and with it a keep-alive connection to the provider.
    for await (const event of adapter.streamFormat === 'ndjson' ? readJsonLines(res.body) : readSSE(res.body)) {
      if (completed) continue;
      const { chunks, done } = translator.event(event);
      for (const chunk of chunks) {
        delivered.add(chunk);
        yielded = true;
        yield chunk;
      }
      if (done) completed = true;
    }
    if (!completed) {
      for (const chunk of translator.end()) {
        delivered.add(chunk);
        yielded = true;
        yield chunk;
      }
    }
    completed = true;
  } catch (err) {
    if (ctx.signal.aborted) throw new ClientGoneError();
    throw err instanceof GatewayError ? err : upstreamFailure(err, provider, 'stream');
  } finally {
    if (!completed || !res.body.readableEnded) res.body.destroy();
    res.release();
    if (yielded) streamAnswered(ctx, attempt, op, translator.usage(), completed, delivered);
    else attempt.ms = performance.now() - ctx.startedAt - attempt.startMs;
  }
}

/** An offline adapter's stream, with its final usage recorded however it ends. */
async function* recordUsage(ctx: Context, attempt: Attempt, op: Operation, chunks: AsyncIterable<unknown>, usage: () => Usage | undefined, counter: TokenCounter): AsyncGenerator<unknown> {
  const delivered = new DeliveredText(counter);
  let completed = false;
  let yielded = false;
  try {
    for await (const chunk of chunks) {
      delivered.add(chunk);
      yielded = true;
      yield chunk;
    }
    completed = true;
  } finally {
    if (yielded) streamAnswered(ctx, attempt, op, completed ? usage() : undefined, completed, delivered);
    else attempt.ms = performance.now() - ctx.startedAt - attempt.startMs;
  }
}

async function readLimited(res: UpstreamResponse, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    parts.push(chunk);
    size += chunk.length;
    if (size >= limit) break;
  }
  return Buffer.concat(parts).toString('utf8').slice(0, limit);
}
