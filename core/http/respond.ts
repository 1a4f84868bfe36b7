/**
 * Writing responses: JSON, server-sent event streams and OpenAI error envelopes. Only the HTTP edge
 * (core/server.ts) calls these; no plugin writes bytes.
 */
import type { ServerResponse } from 'node:http';
import { GatewayError, toGatewayError, type ErrorEnvelope } from '../errors.js';
import { sseData, sseEvents, SSE_DONE } from './sse.js';
import { nativeBody, nativeFrames, type Dialect } from '../api/dialects/dialect.js';
import { ClientGoneError } from './upstream.js';
import { ChunkStream, JsonResponse, type Context, type GatewayResponse } from '../context.js';
import type { Logger } from '../log.js';

export const JSON_TYPE = 'application/json';
const SSE_HEADERS = ['content-type', 'text/event-stream; charset=utf-8', 'cache-control', 'no-cache', 'x-accel-buffering', 'no'];

/**
 * A response's headers as one flat `[name, value, …]` list for `writeHead`: Node then writes them
 * in one pass instead of storing each through `setHeader` first (about 7% of a small JSON
 * response's cost, measured on a bare server). `base` goes first (request id, …); the core's own
 * `fixed` headers go last and replace a plugin's header of the same name.
 */
export function headerList(base: readonly string[], headers: Record<string, string | number>, fixed: readonly string[]): string[] {
  const list = base.slice();
  for (const name in headers) {
    const lower = name.toLowerCase();
    let replaced = false;
    for (let i = 0; i < fixed.length; i += 2) if (fixed[i] === lower) replaced = true;
    if (!replaced) list.push(name, String(headers[name]));
  }
  for (const value of fixed) list.push(value);
  return list;
}

export function writeJson(res: ServerResponse, base: readonly string[], response: Extract<GatewayResponse, { stream?: undefined }>): void {
  const text = response instanceof JsonResponse ? response.serialize() : response.body === undefined ? '' : JSON.stringify(response.body);
  res.writeHead(response.status, headerList(base, response.headers, ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(text))]));
  res.end(text);
}

/** Writes a text body as it is (an admin export such as CSV), with its content type. */
export function writeText(res: ServerResponse, base: readonly string[], status: number, headers: Record<string, string>, contentType: string, text: string): void {
  res.writeHead(status, headerList(base, headers, ['content-type', contentType, 'content-length', String(Buffer.byteLength(text))]));
  res.end(text);
}

/**
 * Writes a response. For a stream, each chunk goes out as soon as it exists (backpressure
 * respected) and this resolves only once the stream's producer has finished — completed, failed or
 * stopped because the client left — so that the usage it recorded is final. Returns the error a
 * stream ended with (sent to the client as its last event), if any.
 */
export async function writeResponse(log: Logger, ctx: Context, res: ServerResponse, base: readonly string[], response: GatewayResponse): Promise<GatewayError | undefined> {
  if (response.stream === undefined) {
    writeJson(res, base, response);
    return undefined;
  }
  res.writeHead(response.status, headerList(base, response.headers, SSE_HEADERS));
  res.flushHeaders();
  let first = true;
  // Untouched pass-through chunks go out as the text they came as; anything else is serialised.
  const events = response instanceof ChunkStream && response.passThrough ? response.payloads() : serialised(response.stream);
  try {
    // Leaving the loop (client gone) returns the producer, whose `finally` records the usage so far.
    for await (const payload of events) {
      if (ctx.signal.aborted) break;
      if (first) {
        first = false;
        ctx.report.ttftMs = performance.now() - ctx.startedAt;
      }
      if (!res.write(`data: ${payload}\n\n`)) await drained(res);
    }
    if (!ctx.signal.aborted) res.end(SSE_DONE);
    return undefined;
  } catch (err) {
    if (err instanceof ClientGoneError || ctx.signal.aborted) return undefined;
    const error = toGatewayError(err);
    if (!(err instanceof GatewayError)) log.error({ err, request_id: ctx.id }, 'stream failed');
    ctx.report.streamError = error;
    if (!res.writableEnded) res.end(sseData(error.toEnvelope(ctx.id)));
    return error;
  }
}

async function* serialised(stream: AsyncIterable<unknown>): AsyncGenerator<string> {
  for await (const chunk of stream) yield JSON.stringify(chunk);
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Writes an error envelope (in `dialect`'s shape on another API's route), or ends a response whose
 * headers already went out. Returns the error as sent.
 */
export function writeError(log: Logger, res: ServerResponse, base: readonly string[], id: string, err: unknown, dialect?: Dialect): GatewayError {
  const error = toGatewayError(err);
  if (!(err instanceof GatewayError)) log.error({ err, request_id: id }, 'unhandled error');
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return error;
  }
  const shaped = dialect?.errorBody(error, id);
  const body = JSON.stringify(shaped ? shaped.body : (error.toEnvelope(id) satisfies ErrorEnvelope));
  const fixed = ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(body))];
  if (error.status === 413 && !base.includes('connection')) fixed.push('connection', 'close');
  res.writeHead(shaped ? shaped.status : error.status, headerList(base, error.headers, fixed)).end(body);
  return error;
}

/**
 * Writes a response on another API's route (`/v1/messages`, `/v1/responses`): the pipeline's chat
 * answer translated into the dialect — or, when the adapter brought the provider's own answer in
 * that API and no plugin changed the chat form, that answer as it came (see dialects/dialect.ts).
 */
export async function writeDialectResponse(log: Logger, ctx: Context, res: ServerResponse, base: readonly string[], response: GatewayResponse, dialect: Dialect): Promise<GatewayError | undefined> {
  const inbound = ctx.inbound!;
  if (response.stream === undefined) {
    const chat = response.body;
    // Only `create` answers in chat form; other operations (`count_tokens`) answer in the dialect's own.
    const body = response.status >= 400 || inbound.operation !== 'create' ? chat : (nativeBody(chat, dialect.name) ?? dialect.fromChat(chat, inbound, ctx.id));
    writeJson(res, base, { status: response.status, headers: response.headers, body });
    return undefined;
  }
  // Untouched by plugins (only observed): the adapter's native frames may go out as they came.
  const mayPassNative = !(response instanceof ChunkStream) || response.passThrough;
  res.writeHead(response.status, headerList(base, response.headers, SSE_HEADERS));
  res.flushHeaders();
  const translator = dialect.stream(inbound, ctx.id);
  let native: boolean | undefined;
  const chunks = response instanceof ChunkStream ? response.values() : response.stream;
  try {
    for await (const chunk of chunks) {
      if (ctx.signal.aborted) break;
      const frames = nativeFrames(chunk);
      native ??= mayPassNative && frames !== undefined;
      let text: string;
      if (native) {
        text = frames === undefined ? '' : frames.join('');
      } else {
        text = sseEvents(translator.chunk(chunk));
      }
      if (text === '') continue;
      if (ctx.report.ttftMs === undefined) ctx.report.ttftMs = performance.now() - ctx.startedAt;
      if (!res.write(text)) await drained(res);
    }
    if (!ctx.signal.aborted) res.end(native ? '' : sseEvents(translator.end()));
    return undefined;
  } catch (err) {
    if (err instanceof ClientGoneError || ctx.signal.aborted) return undefined;
    const error = toGatewayError(err);
    if (!(err instanceof GatewayError)) log.error({ err, request_id: ctx.id }, 'stream failed');
    ctx.report.streamError = error;
    if (!res.writableEnded) res.end(sseEvents(translator.error(error, ctx.id, native === true)));
    return error;
  }
}
