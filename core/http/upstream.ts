/**
 * The one HTTP client for upstream calls: undici, one keep-alive pool per origin (undici's Agent
 * keeps a Pool per origin), with connect / first-byte / total timeouts, and an abort that follows
 * the client's disconnect. Pools outlive config reloads, so a reload never drops warm connections.
 */
import { Agent, request, errors as undiciErrors, type Dispatcher } from 'undici';
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
   * caller's adapter turns them into errors.
   */
  async send(req: UpstreamRequest, signal: AbortSignal, timeouts: UpstreamTimeouts, upstreamName: string): Promise<UpstreamResponse> {
    const controller = new AbortController();
    let timedOut = false;
    const onClientAbort = () => controller.abort(new ClientGoneError());
    if (signal.aborted) throw new ClientGoneError();
    signal.addEventListener('abort', onClientAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('total timeout'));
    }, timeouts.totalMs);
    timer.unref();
    const release = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onClientAbort);
    };
    const started = performance.now();
    try {
      const res = await request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body ?? null,
        signal: controller.signal,
        dispatcher: this.agentFor(timeouts.connectMs),
        headersTimeout: timeouts.firstByteMs,
        bodyTimeout: timeouts.firstByteMs,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body, headersMs: performance.now() - started, release };
    } catch (err) {
      release();
      if (signal.aborted) throw new ClientGoneError();
      throw upstreamFailure(err, upstreamName, timedOut);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }
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
