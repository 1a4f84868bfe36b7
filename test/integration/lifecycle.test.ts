/**
 * Operational behaviour: health, readiness and metrics endpoints; graceful shutdown (the drain
 * delay keeps serving while `/ready` fails, in-flight streams finish, new connections are refused,
 * what is left at the deadline ends with `server_shutting_down`); and the provider
 * key staying out of logs and error bodies.
 */
import t, { type Test } from 'tap';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, chunk, sse, sendError, type MockOpenAI } from '../helpers/mock-openai.js';

const SECRET = 'sk-upstream-secret-9f8e7d6c5b4a';
let upstream: MockOpenAI;

t.before(async () => {
  upstream = await startMockOpenAI();
});
t.afterEach(() => upstream.reset());
t.teardown(() => upstream.close());

function config(extraProviders = '', server = ''): string {
  return `version: 1
${server ? `server: { ${server} }\n` : ''}providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: "${SECRET}" }
  slow: { adapter: mock, chunk_delay: 40ms }
  stuck: { adapter: mock, chunk_delay: 30s }
  hang: { adapter: mock, latency: 30s }
${extraProviders}
models:
  gpt-4o-mini: { targets: [{ provider: up }] }
  demo: { targets: [{ provider: slow }] }
  stuck: { targets: [{ provider: stuck }] }
  hang: { targets: [{ provider: hang }] }
`;
}

/** Starts a gateway that the test closes itself (the harness close() after it is a no-op). */
async function gateway(t: Test, extraProviders = '', server = ''): Promise<TestGateway> {
  const gw = await startGateway(config(extraProviders, server));
  t.teardown(() => gw.close());
  return gw;
}

const chatBody = (model: string, content: string, stream = true) => JSON.stringify({ model, stream, messages: [{ role: 'user', content }] });

function port(gw: TestGateway): number {
  return gw.gateway.address().port;
}

/** An HTTP/1.1 request written by hand, so a second request can be pipelined on the same connection later. */
function rawPost(p: number, path: string, body: string): { socket: Socket; text: () => string; ended: Promise<void> } {
  const socket = connect(p, '127.0.0.1');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  // Bounded, so a connection the gateway failed to close fails the test instead of hanging it.
  const ended = Promise.race([new Promise<void>((r) => socket.once('close', () => r())), sleep(3000).then(() => void socket.destroy())]);
  socket.write(`POST ${path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  return { socket, text: () => text, ended };
}

/** Waits (bounded) until `ok` holds. */
async function until(ok: () => boolean, ms = 2000): Promise<boolean> {
  for (let waited = 0; !ok() && waited < ms; waited += 10) await sleep(10);
  return ok();
}

function refused(p: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(p, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

t.test('/health, /ready and /metrics with route, model and status labels', async (t) => {
  const gw = await gateway(t);
  const health = await fetch(`${gw.url}/health`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
  const ready = await fetch(`${gw.url}/ready`);
  t.equal(ready.status, 200);
  t.match(await ready.json(), { status: 'ready' });

  await (await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody('demo', 'hi', false) })).json();
  await (await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody('nope', 'hi', false) })).json();
  // Counters update when each response's socket event fires, so poll briefly.
  let metrics = '';
  for (let i = 0; i < 20 && !/status="404"/.test(metrics); i++) metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /^switchyard_requests_total\{route="\/v1\/chat\/completions",model="demo",status="200"\} 1$/m);
  t.match(metrics, /^switchyard_requests_total\{route="\/v1\/chat\/completions",model="none",status="404"\} 1$/m, 'unknown ids do not become label values');
  t.match(metrics, /^switchyard_requests_total\{route="\/health",model="none",status="200"\} 1$/m);
  t.match(metrics, /^# TYPE switchyard_request_duration_seconds histogram$/m);
});

t.test('graceful close: an in-flight stream finishes with [DONE], /ready turns 503, new connections are refused', async (t) => {
  const gw = await gateway(t);
  const p = port(gw);
  const words = 'one two three four five six seven eight';
  const stream = rawPost(p, '/v1/chat/completions', chatBody('demo', words));
  t.ok(await until(() => stream.text().includes('"content":"one "')), 'stream started');

  let closed = false;
  const closing = gw.gateway.close(5000).then(() => (closed = true));
  t.equal(await refused(p), 'ECONNREFUSED', 'new connections are refused once close starts');
  // Pipelined behind the stream on the same connection, so it is parsed while the gateway drains.
  stream.socket.write('GET /ready HTTP/1.1\r\nHost: gw\r\n\r\n');
  t.equal(closed, false, 'close waits for the stream');

  await closing;
  await stream.ended;
  const text = stream.text();
  const [streamPart, readyPart = ''] = text.split(/(?=HTTP\/1\.1 )/).slice(0, 2);
  t.match(streamPart, /^HTTP\/1\.1 200 /);
  const content = [...streamPart!.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('');
  t.equal(content, `${words} `.trimEnd(), 'every word arrived');
  t.match(streamPart, /data: \[DONE\]\n\n/, 'stream completed');
  t.match(readyPart, /^HTTP\/1\.1 503 /, '/ready fails while draining');
  t.match(readyPart, /"status":"draining"/);
});

/** The SSE events of a raw HTTP/1.1 stream response, parsed; `[DONE]` stays a string. */
function events(raw: string): unknown[] {
  return [...raw.matchAll(/^data: (.*)$/gm)].map((m) => (m[1] === '[DONE]' ? '[DONE]' : JSON.parse(m[1]!)));
}

t.test('at the shutdown deadline a stream still running ends with a server_shutting_down error event and no [DONE]', async (t) => {
  const gw = await gateway(t);
  const stream = rawPost(port(gw), '/v1/chat/completions', chatBody('stuck', 'first second'));
  t.ok(await until(() => stream.text().includes('"content":"first "')), 'stream started');
  const started = performance.now();
  const outcome = await Promise.race([gw.gateway.close(200).then(() => 'closed'), sleep(3000).then(() => 'hung')]);
  t.equal(outcome, 'closed');
  t.ok(performance.now() - started >= 150, 'waited for the deadline first');
  await stream.ended;
  const sent = events(stream.text());
  t.notOk(sent.includes('[DONE]'), 'the cut stream has no [DONE]');
  t.match(sent.at(-1), { error: { code: 'server_shutting_down', type: 'server_error', message: /shutting down/, request_id: String } }, 'its last event is the error');
  t.match(sent.at(-2), { choices: [{ delta: { content: 'first ' } }] }, 'after what was generated');
  t.match(stream.text(), /\r\n0\r\n\r\n$/, 'the chunked response was ended properly before the connection closed');
});

t.test('at the shutdown deadline a request not answered yet gets 503 server_shutting_down', async (t) => {
  const gw = await gateway(t);
  const pending = fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody('hang', 'x', false) });
  t.ok(await until(() => gw.gateway.current().active === 1), 'request in flight');
  const closing = gw.gateway.close(200);
  const res = await pending;
  t.equal(res.status, 503);
  t.match(await res.json(), { error: { code: 'server_shutting_down', type: 'server_error' } });
  await closing;
});

t.test('the drain delay: /ready is 503 draining while requests are still served, then new connections are refused and requests in flight finish', async (t) => {
  const gw = await gateway(t, '', 'drain_delay: 600ms');
  const p = port(gw);
  // 25 words at 40 ms each: still streaming when the drain delay ends.
  const words = Array.from({ length: 25 }, (_, i) => `w${i}`).join(' ');
  const stream = rawPost(p, '/v1/chat/completions', chatBody('demo', words));
  t.ok(await until(() => stream.text().includes('"content":"w0 "')), 'stream started');
  const started = performance.now();
  let closed = false;
  const closing = gw.gateway.close(3000, { drainDelay: true }).then(() => (closed = true));

  const ready = await fetch(`${gw.url}/ready`);
  t.equal(ready.status, 503, '/ready fails at once');
  t.match(await ready.json(), { status: 'draining' });
  t.equal(await refused(p), 'connected', 'the listener still accepts');
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody('demo', 'still served', false) });
  t.equal(res.status, 200, 'a new request is still served');
  t.match(await res.json(), { choices: [{ message: { content: 'still served' } }] });
  t.equal(res.headers.get('connection'), 'close', 'and told to reconnect (elsewhere)');
  t.ok(performance.now() - started < 600, 'all of that within the drain delay');

  let refusedAt = 0;
  for (let i = 0; i < 100 && !refusedAt; i++) {
    if ((await refused(p)) === 'ECONNREFUSED') refusedAt = performance.now() - started;
    else await sleep(20);
  }
  t.ok(refusedAt >= 550, `new connections are refused once the delay ended (${Math.round(refusedAt)} ms)`);
  t.equal(closed, false, 'while the stream in flight still runs');
  await closing;
  await stream.ended;
  const content = [...stream.text().matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('');
  t.equal(content.trimEnd(), words, 'the stream in flight finished');
  t.match(stream.text(), /data: \[DONE\]\n\n/);
});

t.test('close() without options has no drain delay, whatever server.drain_delay says', async (t) => {
  const gw = await gateway(t, '', 'drain_delay: 30s');
  const p = port(gw);
  const started = performance.now();
  await gw.gateway.close(1000);
  t.ok(performance.now() - started < 1000, 'closed at once');
  t.equal(await refused(p), 'ECONNREFUSED');
});

t.test('close with a short deadline also aborts a stalled upstream call', async (t) => {
  const gw = await gateway(t);
  let upstreamClosed = false;
  upstream.on('/v1/chat/completions', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk('gpt-4o-mini', { role: 'assistant', content: 'first' }));
    req.socket.once('close', () => (upstreamClosed = true));
  });
  const stream = rawPost(port(gw), '/v1/chat/completions', chatBody('gpt-4o-mini', 'x'));
  t.ok(await until(() => stream.text().includes('"content":"first"')), 'stream started');
  const outcome = await Promise.race([gw.gateway.close(200).then(() => 'closed'), sleep(3000).then(() => 'hung')]);
  t.equal(outcome, 'closed');
  t.ok(await until(() => upstreamClosed, 1000), 'upstream connection closed');
});

t.test('the provider key never reaches logs or error bodies', async (t) => {
  const gw = await startGateway(config(`  dead: { adapter: openai, base_url: "http://127.0.0.1:1/v1", api_key: "${SECRET}" }`).replace('models:\n', 'models:\n  dead: { targets: [{ provider: dead }] }\n'), { level: 'debug' });
  t.teardown(() => gw.close());
  const post = async (body: string) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, text: await res.text() };
  };
  const bodies: string[] = [];
  // Some providers echo the credential they rejected.
  upstream.on('/v1/chat/completions', (req, res) => sendError(res, 401, `Incorrect API key provided: ${String(req.headers['authorization'])}`, 'invalid_request_error', 'invalid_api_key'));
  const rejected = await post(chatBody('gpt-4o-mini', 'x', false));
  t.equal(rejected.status, 401);
  t.match(rejected.text, /Incorrect API key provided/);
  bodies.push(rejected.text);
  upstream.on('/v1/chat/completions', (req, res) => void res.writeHead(500, { 'content-type': 'text/plain' }).end(`crash; request headers were ${JSON.stringify(req.headers)}`));
  bodies.push((await post(chatBody('gpt-4o-mini', 'x', false))).text);
  upstream.on('/v1/chat/completions', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, { error: { message: `stream failed for key ${String(req.headers['authorization'])}`, code: 'boom' } });
    res.end();
  });
  bodies.push((await post(chatBody('gpt-4o-mini', 'x'))).text);
  bodies.push((await post(chatBody('dead', 'x', false))).text);
  await sleep(50);
  t.equal(bodies.length, 4);
  for (const [i, body] of bodies.entries()) t.notMatch(body, SECRET, `error body ${i} has no key`);
  t.ok(gw.logs.length > 0, 'logs were captured');
  t.notMatch(gw.logText(), SECRET, 'logs have no key');
});
