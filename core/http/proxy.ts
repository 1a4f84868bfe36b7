/**
 * Raw reverse-proxy routes (`routes:` in YAML): after their own plugin list, the request is handed
 * to `http-proxy` untouched but for the client's gateway credential, which never leaves the gateway
 * unless the route says `forward_credentials: true`. One proxy server and one keep-alive agent per
 * gateway.
 */
import httpProxy from 'http-proxy';
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { GatewayError } from '../errors.js';
import { tooLarge } from './body.js';
import { CREDENTIAL_HEADERS } from './credentials.js';
import { failedAfterConnect } from './upstream.js';
import type { Context } from '../context.js';
import type { ProxyRoute } from '../pipeline.js';

export class RawProxy {
  private readonly proxy = httpProxy.createProxyServer({ xfwd: true, changeOrigin: true, ws: false });
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 256 });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 256 });
  /** Requests whose upstream call hit the route timeout: a reset caused by our own timeout is a 504, any other a 502. */
  private readonly timedOut = new WeakSet<IncomingMessage>();
  /** The upstream request of each client request, to stop an upload that goes over the body limit. */
  private readonly outgoing = new WeakMap<IncomingMessage, { destroy(): void }>();

  constructor() {
    this.proxy.on('proxyReq', (proxyReq, req) => {
      this.outgoing.set(req, proxyReq);
      proxyReq.once('timeout', () => this.timedOut.add(req));
    });
    // http-proxy pipes the upstream body without watching it: an upstream that dies mid-body would
    // leave the client waiting forever, so cut the client connection too.
    this.proxy.on('proxyRes', (proxyRes, _req, res) =>
      proxyRes.once('close', () => {
        if (!proxyRes.complete) res.destroy();
      }),
    );
  }

  /**
   * Forwards the request; resolves with the request body's size once the response is complete, or
   * rejects with the error to answer (upstream failure; 413 when an upload — chunked ones too —
   * goes over `bodyLimit` before the upstream answered). Headers the route's plugins set apply
   * after the credential is taken off, so a plugin may still give the upstream a credential of its own.
   */
  forward(req: IncomingMessage, res: ServerResponse, route: ProxyRoute, ctx: Context, bodyLimit: number): Promise<number> {
    if (!route.forwardCredentials) for (const header of CREDENTIAL_HEADERS) delete req.headers[header];
    for (const [name, value] of Object.entries(ctx.upstreamHeaders)) {
      if (value === null) delete req.headers[name.toLowerCase()];
      else req.headers[name.toLowerCase()] = value;
    }
    if (route.strip) {
      const rest = ctx.path.slice(route.strip.length);
      req.url = (rest.startsWith('/') ? rest : `/${rest}`) + ctx.search;
    }
    const https = route.upstream.startsWith('https:');
    let received = 0;
    return new Promise((resolve, reject) => {
      res.once('finish', () => resolve(received));
      res.once('close', () => resolve(received));
      this.proxy.web(
        req,
        res,
        { target: route.upstream, proxyTimeout: route.timeoutMs, agent: https ? this.httpsAgent : this.httpAgent },
        (err: NodeJS.ErrnoException) => {
          if (ctx.signal.aborted || received > bodyLimit) return resolve(received);
          reject(proxyFailure(err, route, this.timedOut.has(req)));
        },
      );
      // http-proxy has piped the request into the upstream call (synchronously, above); counting
      // alongside the pipe sees every byte, whatever the framing.
      const count = (chunk: Buffer): void => {
        received += chunk.length;
        if (received <= bodyLimit) return;
        req.off('data', count);
        req.unpipe();
        this.outgoing.get(req)?.destroy();
        if (res.headersSent) res.destroy();
        else reject(tooLarge(bodyLimit));
      };
      req.on('data', count);
    });
  }

  close(): void {
    this.proxy.close();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The client's error for a proxied request that got no response (the headers were not sent yet). */
function proxyFailure(err: NodeJS.ErrnoException, route: ProxyRoute, timedOut: boolean): GatewayError {
  const upstream = `Upstream of route ${route.path}`;
  const detail = err.code ? ` (${err.code})` : '';
  if (timedOut) return new GatewayError(504, 'timeout_error', 'upstream_timeout', `${upstream} did not answer in time.`);
  if (err.code?.startsWith('HPE_')) return new GatewayError(502, 'upstream_error', 'upstream_invalid_response', `${upstream} sent a malformed HTTP response${detail}.`);
  if (failedAfterConnect(err.code)) return new GatewayError(502, 'upstream_error', 'upstream_invalid_response', `${upstream} closed the connection without answering${detail}.`);
  return new GatewayError(502, 'upstream_error', 'upstream_unreachable', `${upstream} could not be reached${detail}.`);
}
