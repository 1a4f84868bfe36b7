/**
 * Hostile clients at the HTTP level, over raw `node:net` sockets: oversized headers, garbage
 * request lines, chunked bodies over the limit, slow-header drips and clients that vanish mid-body.
 * Each must get the OpenAI error envelope (or a closed socket) without hurting other clients.
 */
import t, { type Test } from 'tap';
import { connect, type Socket } from 'node:net';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
let port: number;

t.before(async () => {
  // No upstream is needed: every normal request goes to the offline `demo` model.
  gw = await startGateway(openaiConfig('http://127.0.0.1:9/v1', 'server: { body_limit: 1kb, headers_timeout: 1s }\n'));
  port = gw.gateway.address().port;
});
t.teardown(() => gw.close());

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses one HTTP/1.1 response with a content-length (all the gateway's error answers have one). */
function parseResponse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(end + 4) };
}

/** Opens a socket to the gateway; resolves once connected. */
function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Collects everything the server sends until it closes the socket (bounded by `ms`). */
function readAll(socket: Socket, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    // A reset after the answer is fine; what matters is what arrived before it.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

async function rawRequest(data: string): Promise<RawResponse | undefined> {
  const socket = await open();
  const reply = readAll(socket);
  socket.write(data);
  return parseResponse(await reply);
}

/** Asserts a raw response is the error envelope with the given status and code, id in header and body. */
function expectRawError(t: Test, res: RawResponse | undefined, status: number, code: string): void {
  if (!res) {
    t.fail('no HTTP response before the socket closed');
    return;
  }
  t.equal(res.status, status, 'status');
  t.match(res.headers['content-type'], /^application\/json/);
  t.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body, 'latin1'), 'content-length matches the body');
  const { error } = JSON.parse(res.body) as { error: Record<string, unknown> };
  t.same(Object.keys(error).sort(), ['code', 'message', 'param', 'request_id', 'type']);
  t.equal(error['code'], code, 'code');
  t.equal(error['type'], status === 408 ? 'timeout_error' : 'invalid_request_error', 'type');
  t.equal(error['param'], null);
  t.type(error['message'], 'string');
  t.ok(res.headers['x-request-id'], 'x-request-id header');
  t.equal(error['request_id'], res.headers['x-request-id'], 'request_id matches the header');
}

async function stillServes(t: Test): Promise<void> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'still there?' }] }),
  });
  t.equal(res.status, 200, 'a normal request still succeeds');
  await res.arrayBuffer();
}

function errorLogs(): Record<string, unknown>[] {
  return gw.logs.filter((l) => l['level'] === 'error' || l['level'] === 'fatal');
}

t.test('request headers over max_header_size are 431 in JSON', async (t) => {
  const res = await rawRequest(`GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(32 * 1024)}\r\n\r\n`);
  expectRawError(t, res, 431, 'headers_too_large');
  await stillServes(t);
});

t.test('a garbage request line is 400 malformed_http in JSON', async (t) => {
  expectRawError(t, await rawRequest('GARBAGE\r\n\r\n'), 400, 'malformed_http');
  expectRawError(t, await rawRequest('GET /v1/models HTTP/1.1\r\nBad Header Name: x\r\n\r\n'), 400, 'malformed_http');
  await stillServes(t);
});

t.test('ambiguous body framing (request smuggling shapes) is 400 malformed_http', async (t) => {
  const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
  const cases = [
    `${head}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    `${head}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
    `${head}Content-Length: abc\r\n\r\n{}`,
  ];
  for (const data of cases) expectRawError(t, await rawRequest(data), 400, 'malformed_http');
  await stillServes(t);
});

t.test('a chunked body over body_limit (no content-length) is 413 request_too_large', async (t) => {
  const chunk = `258\r\n${'a'.repeat(0x258)}\r\n`;
  const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
  const res = await rawRequest(`${head}${chunk}${chunk}${chunk}0\r\n\r\n`);
  expectRawError(t, res, 413, 'request_too_large');
  t.equal(res?.headers['connection'], 'close', 'the connection is closed rather than reading the rest');
  await stillServes(t);
});

/** Sends `partial` one byte every 200 ms (at most 20 bytes) until the server answers or closes. */
async function drip(partial: string): Promise<{ text: string; closedAt: number; bytesSent: number }> {
  const socket = await open();
  let bytesSent = 0;
  const timer = setInterval(() => {
    if (bytesSent >= 20 || !socket.writable) return clearInterval(timer);
    socket.write(partial[bytesSent++]!);
  }, 200);
  const text = await readAll(socket, 5000);
  clearInterval(timer);
  return { text, closedAt: performance.now(), bytesSent };
}

t.test('slow header drips get 408 after headers_timeout and do not starve other clients', async (t) => {
  const partial = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  const drips = [0, 1, 2].map(() => drip(partial));
  await new Promise((r) => setTimeout(r, 400));
  await stillServes(t);
  const servedAt = performance.now();
  const results = await Promise.all(drips);
  t.ok(
    results.every((r) => r.closedAt > servedAt),
    'the normal request was answered while every drip was still open',
  );
  for (const r of results) {
    t.ok(r.bytesSent < 20, `the server cut the drip off (after ${r.bytesSent} bytes), not the test's bound`);
    expectRawError(t, parseResponse(r.text), 408, 'request_timeout');
  }
  await stillServes(t);
});

t.test('a client that disconnects mid-body leaves no error and the gateway keeps serving', async (t) => {
  const before = gw.logs.length;
  const socket = await open();
  const closed = readAll(socket);
  socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n');
  socket.write(`{"model":"demo","messages":[{"role":"user","content":"${'x'.repeat(200)}`);
  await new Promise((r) => setTimeout(r, 100));
  socket.destroy();
  t.equal(await closed, '', 'nothing was answered to a half-sent request');
  // The access log line is written once the gateway has finished with the request; wait up to 1 s.
  const accessLine = () => gw.logs.slice(before).find((l) => l['msg'] === 'request' && l['path'] === '/v1/chat/completions');
  for (let i = 0; i < 50 && !accessLine(); i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(accessLine()?.['status'], 499, 'logged as a client disconnect');
  await stillServes(t);
  t.same(errorLogs(), [], 'no error-level log lines');
});

t.test('no error-level log lines were written by any hostile request', async (t) => {
  t.same(errorLogs(), []);
});
