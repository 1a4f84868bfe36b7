/**
 * The baseline a gateway is compared with: the least a Node reverse proxy can do — `node:http`
 * server, requests and responses piped through byte for byte over a keep-alive agent, no parsing.
 *
 * Usage: `node --import tsx bench/raw-proxy.ts PORT UPSTREAM_PORT`
 */
import { Agent, createServer, request, type IncomingHttpHeaders } from 'node:http';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
if (!port || !upstreamPort) throw new Error('usage: raw-proxy.ts PORT UPSTREAM_PORT');

const agent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 30_000 });
// Hop-by-hop headers belong to one connection; Node sets its own on each side.
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP.has(k)) out[k] = v;
  return out;
}

const server = createServer((req, res) => {
  const up = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: endToEnd(req.headers), agent }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, endToEnd(upRes.headers));
    upRes.pipe(res);
  });
  up.on('error', () => res.destroy());
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  agent.destroy();
});
