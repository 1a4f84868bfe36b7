/**
 * The HTTP edge: per request, pick the current config version, build a Context, run the plugin
 * chain, and write what it produced — JSON, an SSE stream, or an OpenAI error envelope. This is the
 * only place that formats errors or writes response bytes.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { GatewayError, toGatewayError, errors, type ErrorEnvelope } from './errors.js';
import { readBody, parseJsonBody, tooLarge } from './http/body.js';
import { sseData, SSE_DONE } from './http/sse.js';
import { ClientGoneError } from './http/upstream.js';
import { matchEndpoint, normalisePath, checkRequestBody } from './api/endpoints.js';
import type { RawProxy } from './http/proxy.js';
import type { AdminRouter } from './admin/router.js';
import { JsonResponse, type Context, type GatewayResponse, type RequestReport, type Endpoint } from './context.js';
import type { ConfigVersion, ServerSettings, ProxyRoute } from './pipeline.js';
import type { GatewayMetrics } from './metrics.js';
import type { Logger } from './log.js';

/** What the HTTP edge needs from the gateway that owns it. */
export interface ServerHost {
  current(): ConfigVersion;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly proxy: RawProxy;
  /** True once shutdown started: `/ready` fails and responses close their connection. */
  readonly draining: boolean;
  /**
   * Called when a request starts, for graceful drain: the gateway calls `cut` if the request is
   * still running at the shutdown deadline. `requestEnded` follows once it is completely done.
   */
  requestStarted(cut: CutRequest): void;
  requestEnded(cut: CutRequest): void;
  /** The `/admin` API. */
  readonly admin: AdminRouter;
  /** Why the gateway is not ready (unreachable stores); empty when ready. */
  checkReady(): Promise<string[]>;
}

/** Ends a request in flight with `error` (see `cutAtShutdown`). */
export type CutRequest = (error: GatewayError) => void;

const JSON_TYPE = 'application/json';
const REQUEST_ID = /^[\w\-.:]{1,128}$/;

export function createGatewayServer(host: ServerHost, settings: ServerSettings): Server {
  const server = createServer(
    {
      maxHeaderSize: settings.maxHeaderSize,
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: Math.max(settings.requestTimeoutMs, settings.headersTimeoutMs),
      keepAliveTimeout: settings.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(settings.headersTimeoutMs / 4))),
      requireHostHeader: false,
    },
    (req, res) => void handleRequest(host, req, res),
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket));
  return server;
}

/** Malformed HTTP, oversized headers and slow clients never reach a handler; answer them in JSON too. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'Request headers are larger than the gateway accepts.']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request_timeout', 'The request was not received in time.']
        : [400, 'Bad Request', 'malformed_http', 'The request is not valid HTTP/1.1.'];
  const id = randomUUID();
  const body = JSON.stringify(new GatewayError(status, status === 408 ? 'timeout_error' : 'invalid_request_error', code, message).toEnvelope(id));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
  );
}

async function handleRequest(host: ServerHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const version = host.current();
  version.acquire();
  const startedAt = performance.now();
  const sent = req.headers['x-request-id'];
  const id = typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : randomUUID();
  // Every response of this request carries these; passed to `writeHead` with the rest (see headerList).
  const base = host.draining ? ['x-request-id', id, 'connection', 'close'] : ['x-request-id', id];

  const controller = new AbortController();
  let ctx: Context | undefined;
  const cut: CutRequest = (error) => cutAtShutdown(host, res, base, id, ctx, controller, error);
  host.requestStarted(cut);
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new ClientGoneError());
    resolveDone();
  });

  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const path = normalisePath(rawPath);
  const search = q === -1 ? '' : url.slice(q);
  const method = req.method ?? 'GET';
  const report: RequestReport = {};
  let template = 'unmatched';

  try {
    if (method === 'GET' && (path === '/health' || path === '/ready' || path === '/metrics')) {
      template = path;
      await answerOperational(host, path, res, base);
      return;
    }
    if (path === '/admin' || path.startsWith('/admin/')) {
      template = '/admin';
      const answer = await host.admin.handle({
        method,
        path,
        search,
        headers: req.headers,
        requestId: id,
        readBody: async () => {
          const raw = await readBody(req, version.settings.bodyLimit);
          return raw.length === 0 ? undefined : parseJsonBody(req.headers['content-type'], raw);
        },
      });
      writeJson(res, base, { status: answer.status, headers: { 'cache-control': 'no-store' }, body: answer.body });
      return;
    }
    const match = matchEndpoint(method, path);
    if (match instanceof GatewayError) throw match;
    const proxyRoute = match ? undefined : version.proxyRoutes.find((r) => r.matches(path));
    if (!match && !proxyRoute) {
      throw errors.notFound('unknown_url', `Unknown request URL: ${method} ${rawPath.slice(0, 200)}. See GET /v1/models for models, and the README for the endpoints this gateway serves.`);
    }
    template = match ? match.template : proxyRoute!.path;
    let body: Record<string, unknown> | undefined;
    if (match && method === 'POST') {
      body = parseJsonBody(req.headers['content-type'], await readBody(req, version.settings.bodyLimit));
      checkRequestBody(match.endpoint, body);
    } else if (proxyRoute && Number(req.headers['content-length'] ?? 0) > version.settings.bodyLimit) {
      throw tooLarge(version.settings.bodyLimit);
    }
    ctx = {
      id,
      method,
      path,
      search,
      headers: req.headers,
      clientIp: version.settings.clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for']),
      kind: match ? 'model' : 'proxy',
      endpoint: match?.endpoint as Endpoint | undefined,
      modelParam: match?.modelParam,
      body,
      response: undefined,
      upstreamHeaders: {},
      signal: controller.signal,
      done,
      log: host.log,
      startedAt,
      report,
    };
    if (match) {
      await version.modelChain(ctx, noTerminal);
      if (!ctx.response) throw errors.internal('The pipeline produced no response.');
      await writeResponse(host, ctx, res, base, ctx.response);
    } else {
      await proxyRequest(host, ctx, proxyRoute!, req, res, base);
    }
  } catch (err) {
    if (err instanceof ClientGoneError || controller.signal.aborted) {
      if (!res.headersSent && !res.destroyed) res.destroy();
    } else {
      writeError(host, res, base, id, err);
    }
  } finally {
    void done.then(() => {
      version.release();
      host.requestEnded(cut);
      finish(host, version.settings, id, method, rawPath, template, res, report, startedAt, controller.signal.aborted);
    });
  }
}

/**
 * Ends a request still running at the shutdown deadline, in OpenAI shape where HTTP allows it: a
 * request not answered yet gets `error` as its answer, a stream gets it as its last event (and no
 * `[DONE]`); a raw-proxied response, whose bytes are the upstream's, is cut with its connection.
 * Then the request's work (upstream calls, plugins) is aborted.
 */
function cutAtShutdown(host: ServerHost, res: ServerResponse, base: readonly string[], id: string, ctx: Context | undefined, controller: AbortController, error: GatewayError): void {
  if (!res.writableEnded && !res.destroyed) {
    if (proxied.has(res)) {
      res.destroy();
    } else if (!res.headersSent) {
      writeError(host, res, base, id, error);
    } else if (ctx?.response?.stream !== undefined) {
      ctx.report.streamError = error;
      res.end(sseData(error.toEnvelope(id)));
    }
  }
  controller.abort(error);
}

async function noTerminal(): Promise<void> {
  throw errors.internal('The pipeline has no terminal plugin.');
}

async function answerOperational(host: ServerHost, path: string, res: ServerResponse, base: readonly string[]): Promise<void> {
  if (path === '/metrics') {
    const text = await host.metrics.registry.metrics();
    res.writeHead(200, [...base, 'content-type', host.metrics.registry.contentType]).end(text);
    return;
  }
  if (path === '/health') {
    res.writeHead(200, [...base, 'content-type', JSON_TYPE]).end('{"status":"ok"}');
    return;
  }
  const problems = host.draining ? [] : await host.checkReady();
  const ready = !host.draining && problems.length === 0;
  const status = host.draining ? 'draining' : ready ? 'ready' : 'unavailable';
  const body = JSON.stringify({ status, config_version: host.current().id, ...(problems.length ? { problems } : {}) });
  res.writeHead(ready ? 200 : 503, [...base, 'content-type', JSON_TYPE]).end(body);
}

/** Responses handed to http-proxy: from then on only it writes to them. */
const proxied = new WeakSet<ServerResponse>();

async function proxyRequest(host: ServerHost, ctx: Context, route: ProxyRoute, req: IncomingMessage, res: ServerResponse, base: readonly string[]): Promise<void> {
  let forwarded = false;
  await route.chain(ctx, async () => {
    forwarded = true;
  });
  if (!forwarded || ctx.response) {
    await writeResponse(host, ctx, res, base, ctx.response ?? { status: 204, headers: {}, body: undefined });
    return;
  }
  // Cut at shutdown (or the client left) while the plugins ran: nothing to forward.
  if (ctx.signal.aborted) return;
  // http-proxy copies the upstream's headers onto the response; ours are set first, through setHeader.
  for (let i = 0; i < base.length; i += 2) res.setHeader(base[i]!, base[i + 1]!);
  proxied.add(res);
  await host.proxy.forward(req, res, route, ctx);
}

/**
 * A response's headers as one flat `[name, value, …]` list for `writeHead`: Node then writes them
 * in one pass instead of storing each through `setHeader` first (about 7% of a small JSON
 * response's cost, measured on a bare server). `base` goes first (request id, …); the core's own
 * `fixed` headers go last and replace a plugin's header of the same name.
 */
function headerList(base: readonly string[], headers: Record<string, string | number>, fixed: readonly string[]): string[] {
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

function writeJson(res: ServerResponse, base: readonly string[], response: Extract<GatewayResponse, { stream?: undefined }>): void {
  const text = response instanceof JsonResponse ? response.serialize() : response.body === undefined ? '' : JSON.stringify(response.body);
  res.writeHead(response.status, headerList(base, response.headers, ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(text))]));
  res.end(text);
}

const SSE_HEADERS = ['content-type', 'text/event-stream; charset=utf-8', 'cache-control', 'no-cache', 'x-accel-buffering', 'no'];

async function writeResponse(host: ServerHost, ctx: Context, res: ServerResponse, base: readonly string[], response: GatewayResponse): Promise<void> {
  if (response.stream === undefined) {
    writeJson(res, base, response);
    return;
  }
  res.writeHead(response.status, headerList(base, response.headers, SSE_HEADERS));
  res.flushHeaders();
  let first = true;
  try {
    for await (const chunk of response.stream) {
      if (ctx.signal.aborted) break;
      if (first) {
        first = false;
        ctx.report.ttftMs = performance.now() - ctx.startedAt;
      }
      if (!res.write(sseData(chunk))) await drained(res);
    }
    if (!ctx.signal.aborted) res.end(SSE_DONE);
  } catch (err) {
    if (err instanceof ClientGoneError || ctx.signal.aborted) return;
    const error = toGatewayError(err);
    if (!(err instanceof GatewayError)) host.log.error({ err, request_id: ctx.id }, 'stream failed');
    ctx.report.streamError = error;
    res.end(sseData(error.toEnvelope(ctx.id)));
  }
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

/** Writes an error envelope, or ends a stream whose headers already went out. */
function writeError(host: ServerHost, res: ServerResponse, base: readonly string[], id: string, err: unknown): void {
  const error = toGatewayError(err);
  if (!(err instanceof GatewayError)) host.log.error({ err, request_id: id }, 'unhandled error');
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const body = JSON.stringify(error.toEnvelope(id) satisfies ErrorEnvelope);
  const fixed = ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(body))];
  if (error.status === 413 && !base.includes('connection')) fixed.push('connection', 'close');
  res.writeHead(error.status, headerList(base, error.headers, fixed)).end(body);
}

function finish(
  host: ServerHost,
  settings: ServerSettings,
  id: string,
  method: string,
  path: string,
  template: string,
  res: ServerResponse,
  report: RequestReport,
  startedAt: number,
  aborted: boolean,
): void {
  const seconds = (performance.now() - startedAt) / 1000;
  const status = aborted && !res.writableFinished ? 499 : res.statusCode;
  const model = report.modelKey ?? 'none';
  const m = host.metrics;
  m.observeRequest(template, model, status, seconds);
  if (report.ttftMs !== undefined) m.timeToFirstToken.observe({ model }, report.ttftMs / 1000);
  if (report.upstreamMs !== undefined && report.provider) m.upstreamDuration.observe({ provider: report.provider }, report.upstreamMs / 1000);
  if (report.usage && report.provider) {
    m.tokens.inc({ direction: 'input', model, provider: report.provider }, report.usage.prompt_tokens);
    m.tokens.inc({ direction: 'output', model, provider: report.provider }, report.usage.completion_tokens);
  }
  if (settings.accessLog) {
    host.log.info(
      {
        request_id: id,
        method,
        path: path.slice(0, 200),
        status,
        ms: Math.round(seconds * 10_000) / 10,
        model: report.model,
        provider: report.provider,
        usage: report.usage,
        ttft_ms: report.ttftMs && Math.round(report.ttftMs * 10) / 10,
        stream_error: report.streamError?.code,
      },
      'request',
    );
  }
}
