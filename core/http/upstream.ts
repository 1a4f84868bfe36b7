/**
 * The one HTTP client for upstream calls: undici, one keep-alive pool per origin (undici's Agent
 * keeps a Pool per origin), with connect / first-byte / total timeouts, and an abort that follows
 * the client's disconnect. Pools outlive config reloads, so a reload never drops warm connections.
 */
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';

export interface UpstreamTimeouts {
  connectMs: number;
  /** Until the response headers arrive; also the longest silence between body chunks. */
  firstByteMs: number;
  /** The whole call, body included. */
  totalMs: number;
}

export interface UpstreamRequest {
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** Milliseconds until the response headers arrived. */
  headersMs: number;
  /** Ends the call's total timer and listeners; called once the body is consumed or abandoned. */
  release(): void;
}

export class UpstreamClient {
  private readonly agents = new Map<string, Agent>();
  constructor(private readonly connections: number = 256) {}

  private agentFor(connectMs: number): Agent {
    const key = String(connectMs);
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new Agent({ connections: this.connections, connect: { timeout: connectMs }, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /**
   * Sends a request. Rejects with a GatewayError for connection failures and timeouts (5xx), or
   * with `ClientGoneError` when `signal` (the client) aborted. Non-2xx responses resolve; the
   * caller's adapter turns them into errors. The client's signal goes straight to undici (no
   * per-call controller); the total timeout is the headers timeout until headers arrive, then a
   * timer that destroys the body.
   */
  async send(req: UpstreamRequest, signal: AbortSignal, timeouts: UpstreamTimeouts, upstreamName: string): Promise<UpstreamResponse> {
    if (signal.aborted) throw new ClientGoneError();
    const { origin, path } = splitUrl(req.url);
    const started = performance.now();
    const totalFirst = timeouts.totalMs <= timeouts.firstByteMs;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.agentFor(timeouts.connectMs).request({
        origin,
        path,
        method: req.method,
        headers: req.headers,
        body: req.body ?? null,
        signal,
        headersTimeout: totalFirst ? timeouts.totalMs : timeouts.firstByteMs,
        bodyTimeout: timeouts.firstByteMs,
      });
    } catch (err) {
      if (signal.aborted) throw new ClientGoneError();
      throw upstreamFailure(err, upstreamName, totalFirst && err instanceof undiciErrors.HeadersTimeoutError);
    }
    const headersMs = performance.now() - started;
    const body = res.body;
    const timer = setTimeout(() => body.destroy(upstreamFailure(undefined, upstreamName, true)), Math.max(1, timeouts.totalMs - headersMs));
    timer.unref();
    return { status: res.statusCode, headers: res.headers, body, headersMs, release: () => clearTimeout(timer) };
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }
}

const urlParts = new Map<string, { origin: string; path: string }>();

/** `origin` + `path` of a URL, cached: providers call a handful of fixed URLs, so this is a Map hit. */
function splitUrl(url: string): { origin: string; path: string } {
  let parts = urlParts.get(url);
  if (!parts) {
    const u = new URL(url);
    parts = { origin: u.origin, path: `${u.pathname}${u.search}` };
    if (urlParts.size >= 1024) urlParts.clear();
    urlParts.set(url, parts);
  }
  return parts;
}

/** The client went away; there is no one to answer. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('client disconnected');
  }
}

/** Maps a transport failure (or a failure while reading a body) to the gateway error the client sees. */
export function upstreamFailure(err: unknown, upstreamName: string, totalTimeout = false): GatewayError {
  if (err instanceof GatewayError) return err;
  if (totalTimeout) return new GatewayError(504, 'timeout_error', 'upstream_timeout', `Upstream '${upstreamName}' did not finish within the total timeout.`);
  if (err instanceof undiciErrors.ConnectTimeoutError)
    return new GatewayError(504, 'timeout_error', 'upstream_connect_timeout', `Could not connect to upstream '${upstreamName}' in time.`);
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError)
    return new GatewayError(504, 'timeout_error', 'upstream_timeout', `Upstream '${upstreamName}' stopped answering (first-byte timeout).`);
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  return new GatewayError(502, 'upstream_error', 'upstream_unreachable', `Upstream '${upstreamName}' could not be reached${code ? ` (${code})` : ''}.`);
}
