/**
 * Raw reverse-proxy routes (`routes:` with `upstream:`): prefix and exact matching, `strip_prefix`,
 * query strings, methods and bodies passed through byte for byte, the route's own plugin list, the
 * client's credentials kept from the upstream (unless `forward_credentials`), and JSON envelopes
 * when the upstream is down, too slow, or closes the connection.
 */
import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

let backend: Server;
let backendUrl: string;
let deadUrl: string;
const seen: Seen[] = [];
let gw: TestGateway;

/** A plain upstream that records each request and answers with a small JSON summary of it. */
async function startBackend(): Promise<void> {
  backend = createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = Buffer.concat(parts);
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    if (req.url?.includes('/hang')) return;
    if (req.url?.includes('/reset')) return void req.socket.destroy();
    if (req.url?.includes('/stall-body')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.write('partial');
    }
    if (req.url?.includes('/die')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.write('partial', () => res.socket!.destroy());
    }
    res.writeHead(201, { 'content-type': 'application/json', 'x-backend': 'yes' }).end(JSON.stringify({ method: req.method, url: req.url, bytes: body.length }));
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
}

async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

t.before(async () => {
  await startBackend();
  deadUrl = await closedPortUrl();
  gw = await startGateway(`version: 1
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
routes:
  - { path: /search/*, upstream: "${backendUrl}" }
  - { path: /ext/*, upstream: "${backendUrl}/base", strip_prefix: true }
  - { path: /exact, upstream: "${backendUrl}" }
  - { path: /slow/*, upstream: "${backendUrl}", strip_prefix: true, timeout: 200ms }
  - { path: /gone/*, upstream: "${deadUrl}" }
  - { path: /trusted/*, upstream: "${backendUrl}", forward_credentials: true }
  - path: /own-key/*
    upstream: "${backendUrl}"
    pipeline:
      - transform:
          rules:
            - request: { headers: { set: { authorization: Bearer upstream-own-key } } }
  - path: /tagged/*
    upstream: "${backendUrl}"
    pipeline:
      - transform:
          rules:
            - request: { headers: { set: { x-route-tag: tagged }, remove: [x-drop-me] } }
`);
});
t.afterEach(() => void (seen.length = 0));
t.teardown(async () => {
  await gw.close();
  backend.closeAllConnections();
  await new Promise<void>((r) => backend.close(() => r()));
});

t.test('a prefix route forwards the path and query string unchanged', async (t) => {
  const res = await fetch(`${gw.url}/search/docs/_search?q=hello%20world&size=2`);
  t.equal(res.status, 201);
  t.equal(res.headers.get('x-backend'), 'yes', 'upstream response headers pass back');
  t.type(res.headers.get('x-request-id'), 'string');
  t.same(await res.json(), { method: 'GET', url: '/search/docs/_search?q=hello%20world&size=2', bytes: 0 });
  t.equal(seen[0]!.headers['x-forwarded-for'], '127.0.0.1');
});

t.test('the bare prefix matches too, a look-alike prefix does not', async (t) => {
  t.equal((await fetch(`${gw.url}/search`)).status, 201);
  const miss = await fetch(`${gw.url}/searchable`);
  t.equal(miss.status, 404);
  t.match(await miss.json(), { error: { code: 'unknown_url' } });
  t.equal(seen.length, 1);
});

t.test('strip_prefix removes the prefix and keeps the upstream base path and query', async (t) => {
  const res = await fetch(`${gw.url}/ext/items/7?expand=true`);
  t.same(await res.json(), { method: 'GET', url: '/base/items/7?expand=true', bytes: 0 });
});

t.test('an exact route matches only its path', async (t) => {
  t.equal((await fetch(`${gw.url}/exact`)).status, 201);
  t.equal((await fetch(`${gw.url}/exact/more`)).status, 404);
  t.equal(seen.length, 1);
});

t.test('methods and non-JSON bodies pass through byte for byte', async (t) => {
  const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 10, 13, 0]);
  const put = await fetch(`${gw.url}/search/blob`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: binary });
  t.equal(put.status, 201);
  t.equal(seen[0]!.method, 'PUT');
  t.ok(seen[0]!.body.equals(binary), 'binary body untouched');
  t.equal(seen[0]!.headers['content-type'], 'application/octet-stream');

  const text = 'not json at all { ';
  await fetch(`${gw.url}/search/doc`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text });
  t.equal(seen[1]!.method, 'POST');
  t.equal(seen[1]!.body.toString(), text);

  const ndjson = '{"index":{}}\n{"a":1}\n';
  await fetch(`${gw.url}/search/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson });
  t.equal(seen[2]!.body.toString(), ndjson, 'a JSON-ish body is not re-serialised');

  const del = await fetch(`${gw.url}/search/doc/1`, { method: 'DELETE' });
  t.equal(del.status, 201);
  t.equal(seen[3]!.method, 'DELETE');
});

t.test('a transform plugin in the route pipeline sets and removes request headers', async (t) => {
  await fetch(`${gw.url}/tagged/x`, { headers: { 'x-drop-me': 'secret', 'x-keep-me': 'kept' } });
  const h = seen[0]!.headers;
  t.equal(h['x-route-tag'], 'tagged');
  t.equal(h['x-drop-me'], undefined);
  t.equal(h['x-keep-me'], 'kept');
  await fetch(`${gw.url}/search/x`);
  t.equal(seen[1]!.headers['x-route-tag'], undefined, 'other routes do not run it');
});

t.test('an unreachable upstream is a 502 JSON envelope', async (t) => {
  const res = await fetch(`${gw.url}/gone/anything`, { method: 'POST', body: 'x' });
  t.equal(res.status, 502);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.match(await res.json(), { error: { type: 'upstream_error', code: 'upstream_unreachable', message: /ECONNREFUSED/, request_id: String } });
});

t.test('an upstream slower than the route timeout is a 504 JSON envelope', async (t) => {
  const res = await fetch(`${gw.url}/slow/hang`);
  t.equal(res.status, 504);
  t.match(await res.json(), { error: { type: 'timeout_error', code: 'upstream_timeout' } });
});

t.test('an upstream that resets the connection before answering is a 502 upstream_invalid_response, not a timeout or "unreachable"', async (t) => {
  const res = await fetch(`${gw.url}/slow/reset`);
  t.equal(res.status, 502);
  t.match(await res.json(), { error: { type: 'upstream_error', code: 'upstream_invalid_response', message: /closed the connection without answering/ } });
});

t.test('an upstream that goes silent mid-body past the route timeout cuts the client connection', async (t) => {
  const res = await fetch(`${gw.url}/slow/stall-body`, { signal: AbortSignal.timeout(2000) });
  t.equal(res.status, 200);
  const err = (await res.text().catch((e: unknown) => e)) as Error;
  t.type(err, Error, 'the body read fails');
  t.not(err.name, 'TimeoutError', 'the gateway closed the connection at the route timeout');
});

t.test('an upstream that dies mid-response cuts the client connection instead of leaving it hanging', async (t) => {
  const res = await fetch(`${gw.url}/search/die`, { signal: AbortSignal.timeout(2000) });
  t.equal(res.status, 200);
  const err = (await res.text().catch((e: unknown) => e)) as Error;
  t.type(err, Error, 'the body read fails');
  t.not(err.name, 'TimeoutError', 'the gateway closed the connection, the client did not have to time out');
});

const CLIENT_CREDENTIALS = { authorization: 'Bearer sk-client-gateway-key', 'x-api-key': 'sk-client-gateway-key', 'api-key': 'sk-client-gateway-key' };

t.test('a route with no plugins keeps the client credentials from the upstream, other headers pass', async (t) => {
  const res = await fetch(`${gw.url}/search/x`, { headers: { ...CLIENT_CREDENTIALS, cookie: 'session=1', 'x-keep': 'kept' } });
  t.equal(res.status, 201);
  const h = seen[0]!.headers;
  t.equal(h['authorization'], undefined);
  t.equal(h['x-api-key'], undefined);
  t.equal(h['api-key'], undefined);
  t.equal(h['x-keep'], 'kept');
  t.equal(h['cookie'], 'session=1', 'a cookie is not a gateway credential');
  t.notOk(JSON.stringify(h).includes('sk-client-gateway-key'), 'no header carries the client key');
});

t.test('a route with forward_credentials: true passes the client credentials on', async (t) => {
  await (await fetch(`${gw.url}/trusted/x`, { headers: CLIENT_CREDENTIALS })).text();
  t.match(seen[0]!.headers, CLIENT_CREDENTIALS);
});

t.test("a credential a route's plugin sets is the one the upstream gets, not the client's", async (t) => {
  await (await fetch(`${gw.url}/own-key/x`, { headers: CLIENT_CREDENTIALS })).text();
  const h = seen[0]!.headers;
  t.equal(h['authorization'], 'Bearer upstream-own-key');
  t.notOk(JSON.stringify(h).includes('sk-client-gateway-key'), 'no header carries the client key');
});
