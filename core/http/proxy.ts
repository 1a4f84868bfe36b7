/**
 * Raw reverse-proxy routes (`routes:` in YAML): after their own plugin list, the untouched request
 * is handed to `http-proxy`. One proxy server and one keep-alive agent per gateway.
 */
import httpProxy from 'http-proxy';
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { GatewayError } from '../errors.js';
import type { Context } from '../context.js';
import type { ProxyRoute } from '../pipeline.js';

export class RawProxy {
  private readonly proxy = httpProxy.createProxyServer({ xfwd: true, changeOrigin: true, ws: false });
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 256 });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 256 });
  /** Requests whose upstream call hit the route timeout: a reset caused by our own timeout is a 504, any other a 502. */
  private readonly timedOut = new WeakSet<IncomingMessage>();

  constructor() {
    this.proxy.on('proxyReq', (proxyReq, req) => proxyReq.once('timeout', () => this.timedOut.add(req)));
    // http-proxy pipes the upstream body without watching it: an upstream that dies mid-body would
    // leave the client waiting forever, so cut the client connection too.
    this.proxy.on('proxyRes', (proxyRes, _req, res) =>
      proxyRes.once('close', () => {
        if (!proxyRes.complete) res.destroy();
      }),
    );
  }

  /** Forwards the request; resolves when the upstream answered or failed (the error is answered in JSON). */
  forward(req: IncomingMessage, res: ServerResponse, route: ProxyRoute, ctx: Context): Promise<void> {
    for (const [name, value] of Object.entries(ctx.upstreamHeaders)) {
      if (value === null) delete req.headers[name.toLowerCase()];
      else req.headers[name.toLowerCase()] = value;
    }
    if (route.strip) {
      const rest = ctx.path.slice(route.strip.length);
      req.url = (rest.startsWith('/') ? rest : `/${rest}`) + ctx.search;
    }
    const https = route.upstream.startsWith('https:');
    return new Promise((resolve, reject) => {
      res.once('finish', () => resolve());
      res.once('close', () => resolve());
      this.proxy.web(
        req,
        res,
        { target: route.upstream, proxyTimeout: route.timeoutMs, agent: https ? this.httpsAgent : this.httpAgent },
        (err: NodeJS.ErrnoException) => {
          if (ctx.signal.aborted) return resolve();
          const timedOut = this.timedOut.has(req);
          reject(
            timedOut
              ? new GatewayError(504, 'timeout_error', 'upstream_timeout', `Upstream of route ${route.path} did not answer in time.`)
              : new GatewayError(502, 'upstream_error', 'upstream_unreachable', `Upstream of route ${route.path} could not be reached${err.code ? ` (${err.code})` : ''}.`),
          );
        },
      );
    });
  }

  close(): void {
    this.proxy.close();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
