/**
 * The HTTP edge: per request, pick the current config version, build a Context, run the plugin
 * chain, and write what it produced — JSON, an SSE stream, or an OpenAI error envelope. This is the
 * only place that formats errors or writes response bytes.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { newId } from './ids.js';
import { GatewayError, errors } from './errors.js';
import { readBody, parseJsonBody, tooLarge } from './http/body.js';
import { sseData, sseEvents } from './http/sse.js';
import { ClientGoneError } from './http/upstream.js';
import { JSON_TYPE, writeError, writeJson, writeResponse, writeDialectResponse, writeText } from './http/respond.js';
import { matchEndpoint, normalisePath, checkRequestBody, type PluginEndpoints } from './api/endpoints.js';
import { DIALECTS, dialectHeaders } from './api/dialects/index.js';
import type { Dialect, Inbound } from './api/dialects/dialect.js';
import type { RawProxy } from './http/proxy.js';
import type { AdminRouter } from './admin/router.js';
import type { Attempt, Context, Outcome } from './context.js';
import { RequestContext } from './request.js';
import type { RecordBus, RequestRecord } from './record.js';
import type { Tracing } from './telemetry/index.js';
import type { ConfigVersion, ServerSettings } from './pipeline.js';
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
  /** The client endpoints plugins serve. */
  readonly endpoints: PluginEndpoints;
  /** Why the gateway is not ready (unreachable stores); empty when ready. */
  checkReady(): Promise<string[]>;
  /** Degraded but ready: what plugins report for `/ready`'s `details` (never a reason for 503). */
  readyDetails(): Record<string, unknown>;
  /** Where each request's record goes once the request is over. */
  readonly records: RecordBus;
  /** Request traces (`tracing:`); `current` is undefined when tracing is off. */
  readonly tracing?: Tracing;
}

/** Ends a request in flight with `error` (see `cutAtShutdown`). */
export type CutRequest = (error: GatewayError) => void;

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
  const id = newId();
  const body = JSON.stringify(new GatewayError(status, status === 408 ? 'timeout_error' : 'invalid_request_error', code, message).toEnvelope(id));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
  );
}

async function handleRequest(host: ServerHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const version = host.current();
  version.acquire();
  const startedAt = performance.now();
  const time = Date.now();
  const socket = req.socket;
  const writtenBefore = socket.bytesWritten;
  const sent = req.headers['x-request-id'];
  const id = typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : newId();
  // Every response of this request carries these; passed to `writeHead` with the rest (see headerList).
  const base = host.draining ? ['x-request-id', id, 'connection', 'close'] : ['x-request-id', id];

  const controller = new AbortController();
  let ctx: RequestContext | undefined;
  const cut: CutRequest = (error) => cutAtShutdown(host, res, base, id, ctx, controller, error, dialect);
  host.requestStarted(cut);
  const closed = new Promise<void>((resolve) =>
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new ClientGoneError());
      resolve();
    }),
  );

  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const path = normalisePath(rawPath);
  const search = q === -1 ? '' : url.slice(q);
  const method = req.method ?? 'GET';
  const trace = host.tracing?.current?.begin(req, path, startedAt, version.loaded.config.providers);
  const limit = version.settings.bodyLimit;
  let template = 'unmatched';
  let bytesIn = 0;
  let error: GatewayError | undefined;
  let adminErrorCode: string | undefined;
  /** The client API of the route (its errors take that API's shape); undefined for OpenAI's. */
  let dialect: Dialect | undefined;

  try {
    if (method === 'GET' && (path === '/health' || path === '/ready' || path === '/metrics')) {
      template = path;
      await answerOperational(host, path, res, base);
    } else if (path === '/admin' || path.startsWith('/admin/')) {
      template = '/admin';
      const answer = await host.admin.handle({
        method,
        path,
        search,
        headers: req.headers,
        requestId: id,
        readBody: async () => {
          const raw = await readBody(req, limit);
          bytesIn = raw.length;
          return raw.length === 0 ? undefined : parseJsonBody(req.headers['content-type'], raw);
        },
      });
      if (answer.status >= 400) adminErrorCode = errorCodeOf(answer.body);
      if (answer.contentType !== undefined && typeof answer.body === 'string') writeText(res, base, answer.status, { 'cache-control': 'no-store' }, answer.contentType, answer.body);
      else writeJson(res, base, { status: answer.status, headers: { 'cache-control': 'no-store' }, body: answer.body });
    } else {
      const match = matchEndpoint(method, path) ?? host.endpoints.match(method, path);
      if (match instanceof GatewayError) throw match;
      if (match?.dialect) dialect = DIALECTS[match.dialect];
      const proxyRoute = match ? undefined : version.proxyRoutes.find((r) => r.matches(path));
      if (!match && !proxyRoute) {
        throw errors.notFound('unknown_url', `Unknown request URL: ${method} ${rawPath.slice(0, 200)}. See GET /v1/models for models, and the README for the endpoints this gateway serves.`);
      }
      template = match ? match.template : proxyRoute!.path;
      let body: Record<string, unknown> | undefined;
      let inbound: Inbound | undefined;
      if (match && method === 'POST') {
        const raw = await readBody(req, limit);
        bytesIn = raw.length;
        // A plugin's endpoint may take no body; a model endpoint must have one.
        if (raw.length > 0 || !match.pluginRoute) {
          body = parseJsonBody(req.headers['content-type'], raw);
          checkRequestBody(match.template, body);
        }
        if (dialect && match.operation && body) {
          const translated = dialect.toChat(body, match.operation);
          inbound = {
            dialect: dialect.name,
            body,
            operation: match.operation,
            messagesText: JSON.stringify(translated.chat['messages']),
            headers: dialectHeaders(req.headers),
            ...(translated.extra ? { extra: translated.extra } : {}),
          };
          body = translated.chat;
        }
      } else if (proxyRoute && Number(req.headers['content-length'] ?? 0) > limit) {
        throw tooLarge(limit);
      }
      ctx = new RequestContext({
        id,
        method,
        path,
        search,
        headers: req.headers,
        clientIp: version.settings.clientIp(socket.remoteAddress, req.headers['x-forwarded-for']),
        kind: match ? 'model' : 'proxy',
        endpoint: match?.endpoint,
        modelParam: match?.modelParam,
        pluginRoute: match?.pluginRoute,
        body,
        inbound,
        signal: controller.signal,
        log: host.log,
        startedAt,
        models: match ? version.models : undefined,
      });
      if (trace) (ctx as Context).trace = trace;
      if (match) {
        await version.modelChain(ctx, noTerminal);
        if (!ctx.response) throw errors.internal('The pipeline produced no response.');
        trace?.responding(ctx.response);
        error = dialect && ctx.inbound ? await writeDialectResponse(host.log, ctx, res, base, ctx.response, dialect) : await writeResponse(host.log, ctx, res, base, ctx.response);
      } else {
        const proxyCtx = ctx;
        const route = proxyRoute!;
        // The terminal step of a raw proxy route: forward through http-proxy, which writes the
        // response itself; plugins on the way back see its status.
        await route.chain(proxyCtx, async () => {
          if (proxyCtx.signal.aborted) return;
          for (let i = 0; i < base.length; i += 2) res.setHeader(base[i]!, base[i + 1]!);
          proxied.add(res);
          bytesIn = await host.proxy.forward(req, res, route, proxyCtx, limit);
          proxyCtx.response = { status: res.statusCode, headers: {}, body: undefined };
        });
        if (!proxied.has(res)) await writeResponse(host.log, proxyCtx, res, base, proxyCtx.response ?? { status: 204, headers: {}, body: undefined });
      }
    }
  } catch (err) {
    if (err instanceof ClientGoneError || controller.signal.aborted) {
      if (!res.headersSent && !res.destroyed) res.destroy();
      if (err instanceof GatewayError && !(err instanceof ClientGoneError)) error = err;
    } else {
      error = writeError(host.log, res, base, id, err, dialect);
    }
  }
  // The body is final once the response is written out or the client is gone.
  await closed;
  if (ctx?.usagePending) await ctx.usagePending;
  const aborted = controller.signal.aborted && !res.writableFinished;
  const status = aborted ? 499 : res.statusCode;
  error ??= ctx?.report.streamError;
  const attempt = ctx && lastAnswered(ctx.attempts);
  const outcome: Outcome = { status, body: aborted ? 'aborted' : error ? 'failed' : 'completed', usage: ctx?.usage, error, attempt, bytesIn, bytesOut: socket.bytesWritten - writtenBefore };
  if (ctx?.work) await runAfterResponse(host.log, ctx, outcome);
  version.release();
  host.requestEnded(cut);
  // Only what the request already resolved: a refused request is not resolved (nor its unknown id searched) just for its record.
  const model = ctx?.resolvedModel;
  const record: RequestRecord = {
    id,
    time,
    route: template,
    method,
    path: rawPath.length > 200 ? rawPath.slice(0, 200) : rawPath,
    status,
    body: outcome.body,
    org: ctx?.report.org,
    keyId: ctx?.report.keyId,
    modelRequested: model?.requested,
    modelKey: model?.key,
    provider: attempt?.provider,
    modelServed: attempt?.model,
    attempts: ctx?.attempts ?? NO_ATTEMPTS,
    usage: outcome.usage,
    cache: ctx?.report.cache,
    ms: performance.now() - startedAt,
    ttftMs: ctx?.report.ttftMs,
    clientIp: ctx?.clientIp ?? socket.remoteAddress ?? '',
    errorCode: error?.code ?? adminErrorCode,
    bytesIn,
    bytesOut: socket.bytesWritten - writtenBefore,
    costMicros: ctx?.report.costMicros,
  };
  host.records.emit(record);
  trace?.end(record, ctx);
}

const NO_ATTEMPTS: readonly Attempt[] = Object.freeze([]);

/** The attempt that answered: the last one, when it got a response. */
function lastAnswered(attempts: readonly Attempt[]): Attempt | undefined {
  const last = attempts[attempts.length - 1];
  return last !== undefined && last.status !== undefined && last.status < 400 ? last : undefined;
}

/** The error code of an admin answer's envelope, for the record. */
function errorCodeOf(body: unknown): string | undefined {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Runs the request's post-response work, in registration order, each after the one before (a
 * settlement may depend on an earlier one). A failure is logged and does not stop the rest.
 */
async function runAfterResponse(log: Logger, ctx: RequestContext, outcome: Outcome): Promise<void> {
  for (const work of ctx.work!) {
    try {
      await work(outcome);
    } catch (err) {
      log.error({ err, request_id: ctx.id }, 'post-response work failed');
    }
  }
}

/**
 * Ends a request still running at the shutdown deadline, in OpenAI shape where HTTP allows it: a
 * request not answered yet gets `error` as its answer, a stream gets it as its last event (and no
 * `[DONE]`); a raw-proxied response, whose bytes are the upstream's, is cut with its connection.
 * Then the request's work (upstream calls, plugins) is aborted.
 */
function cutAtShutdown(host: ServerHost, res: ServerResponse, base: readonly string[], id: string, ctx: RequestContext | undefined, controller: AbortController, error: GatewayError, dialect: Dialect | undefined): void {
  if (!res.writableEnded && !res.destroyed) {
    if (proxied.has(res)) {
      res.destroy();
    } else if (!res.headersSent) {
      writeError(host.log, res, base, id, error, dialect);
    } else if (ctx?.response?.stream !== undefined) {
      ctx.report.streamError = error;
      res.end(dialect && ctx.inbound ? sseEvents(dialect.stream(ctx.inbound, id).error(error, id)) : sseData(error.toEnvelope(id)));
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
  const details = host.readyDetails();
  const body = JSON.stringify({ status, config_version: host.current().id, ...(problems.length ? { problems } : {}), ...(Object.keys(details).length ? { details } : {}) });
  res.writeHead(ready ? 200 : 503, [...base, 'content-type', JSON_TYPE]).end(body);
}

/** Responses handed to http-proxy: from then on only it writes to them. */
const proxied = new WeakSet<ServerResponse>();

