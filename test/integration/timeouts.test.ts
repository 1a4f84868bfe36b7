/**
 * Upstream timeouts fire on time: connect, first byte, the silence between body chunks, the whole
 * call, the fallback away from a hanging target, and a raw proxy route's timeout — each within
 * 50 ms of its configured value, and never before it. The tests run side by side (`t.jobs`), so
 * the file takes about as long as its slowest timer; the values differ so that the timers do not all
 * fire in the same instant.
 *
 * Each timeout starts inside the gateway, between two instants the test can see: "not early" is
 * measured from the earlier one (the client sending, or the upstream writing its last chunk), "on
 * time" from the later one (the upstream receiving the request or the connection), so a busy
 * machine that is slow to hand the request over does not count against the timer.
 */
import t, { type Test } from 'tap';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, chunk, sse, type MockOpenAI } from '../helpers/mock-openai.js';

const TOLERANCE_MS = 50;

/** How long this process's event loop was held up at worst (after the warm-up): printed with each timing, to tell a starved machine from a late timer. */
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();

let upstream: MockOpenAI;
let silentTcp: TcpServer;
const silentSockets = new Set<Socket>();
let hangingBackend: Server;
let gw: TestGateway;

/** `performance.now()` of what each upstream saw last, by upstream model name (or `tcp`, `raw`). */
const seenAt = new Map<string, number>();

/** Chat behaviours, chosen by the part of the upstream model name before `:`. */
const behaviours: Record<string, (res: ServerResponse, model: string) => void> = {
  // Reads the request, never answers.
  hang: () => undefined,
  // Headers and one chunk of a stream, then silence.
  stall: (res, model) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    seenAt.set(model, performance.now());
    sse(res, chunk('stall', { role: 'assistant', content: 'only' }));
  },
  // Headers and half of a JSON body, then silence.
  'stall-json': (res, model) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    seenAt.set(model, performance.now());
    res.write('{"id":"chatcmpl-1","choices":[');
  },
  // Headers and a stream chunk after 100 ms, the rest 100 ms later.
  slow: (res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, chunk('slow', { role: 'assistant', content: 'late' }));
      setTimeout(() => {
        sse(res, chunk('slow', {}, 'stop'));
        res.end('data: [DONE]\n\n');
      }, 100);
    }, 100);
  },
  // A stream that never stops: a chunk every 50 ms.
  trickle: (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const timer = setInterval(() => sse(res, chunk('trickle', { content: '.' })), 50);
    res.on('close', () => clearInterval(timer));
  },
};

t.before(async () => {
  upstream = await startMockOpenAI();
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    const model = String(body?.['model']);
    seenAt.set(model, performance.now());
    const behave = behaviours[model.split(':')[0]!];
    if (behave) return behave(res, model);
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }] }),
    );
  });
  // Accepts TCP connections and says nothing: a TLS handshake with it never completes.
  silentTcp = createTcpServer((socket) => {
    seenAt.set('tcp', performance.now());
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => silentTcp.listen(0, '127.0.0.1', r));
  // Answers /raw/warm (the warm-up); any other path hangs.
  hangingBackend = createServer((req, res) => {
    if (req.url === '/raw/warm') return void res.end('ok');
    seenAt.set('raw', performance.now());
  });
  await new Promise<void>((r) => hangingBackend.listen(0, '127.0.0.1', r));
  const u = upstream.baseUrl;
  gw = await startGateway(`version: 1
providers:
  fb300: { adapter: openai, base_url: "${u}", api_key: k, timeouts: { first_byte: 300ms } }
  fb350: { adapter: openai, base_url: "${u}", api_key: k, timeouts: { first_byte: 350ms } }
  fb450: { adapter: openai, base_url: "${u}", api_key: k, timeouts: { first_byte: 450ms } }
  fb1s: { adapter: openai, base_url: "${u}", api_key: k, timeouts: { first_byte: 1s } }
  total600: { adapter: openai, base_url: "${u}", api_key: k, timeouts: { first_byte: 300ms, total: 600ms } }
  total400: { adapter: openai, base_url: "${u}", api_key: k, timeouts: { first_byte: 10s, total: 400ms } }
  good: { adapter: openai, base_url: "${u}", api_key: k }
  unlimited: { adapter: openai, base_url: "${u}", api_key: k, timeouts: { connect: 0, first_byte: 0, total: 0 } }
  tls: { adapter: openai, base_url: "https://127.0.0.1:${(silentTcp.address() as AddressInfo).port}/v1", api_key: k, timeouts: { connect: 250ms } }
models:
  hang-300: { targets: [{ provider: fb300, model: "hang:300" }] }
  hang-1s: { targets: [{ provider: fb1s, model: "hang:1s" }] }
  hang-model-320: { targets: [{ provider: total400, model: "hang:model" }], timeouts: { first_byte: 320ms, total: 5s } }
  stall-300: { targets: [{ provider: fb300, model: "stall:300" }] }
  stall-json-350: { targets: [{ provider: fb350, model: "stall-json:350" }] }
  trickle-600: { targets: [{ provider: total600, model: "trickle:600" }] }
  hang-total-400: { targets: [{ provider: total400, model: "hang:total" }] }
  handshake-250: { targets: [{ provider: tls }] }
  hang-then-good: { targets: [{ provider: fb450, model: "hang:fallback" }, { provider: good, model: fine }] }
  warm: { targets: [{ provider: good, model: fine }] }
  unlimited: { targets: [{ provider: unlimited, model: slow }] }
routes:
  - { path: /raw/*, upstream: "http://127.0.0.1:${(hangingBackend.address() as AddressInfo).port}", timeout: 200ms }
`);
  // First calls compile lazily: warm the paths up, so that the tests time timers, not a cold start.
  await Promise.all([chat('warm'), chat('warm', true), fetch(`${gw.url}/raw/warm`).then((r) => r.text())]);
  loopDelay.reset();
});
t.teardown(async () => {
  await gw.close();
  await upstream.close();
  for (const s of silentSockets) s.destroy();
  await new Promise<void>((r) => silentTcp.close(() => r()));
  hangingBackend.closeAllConnections();
  await new Promise<void>((r) => hangingBackend.close(() => r()));
});

t.jobs = 10;

interface Answer {
  status: number;
  text: string;
  /** When the request was sent, its first body bytes arrived, and its last (`performance.now()`). */
  sent: number;
  firstBytes: number | undefined;
  ended: number;
}

/** Sends a chat request and reads the whole answer. */
async function chat(model: string, stream = false): Promise<Answer> {
  const sent = performance.now();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  let text = '';
  let firstBytes: number | undefined;
  const decoder = new TextDecoder();
  for await (const part of res.body!) {
    firstBytes ??= performance.now();
    text += decoder.decode(part, { stream: true });
  }
  return { status: res.status, text, sent, firstBytes, ended: performance.now() };
}

/**
 * Asserts a timeout of `configured` ms that the gateway started between `earliest` and `latest`
 * ended the answer within TOLERANCE_MS of its value, and not before it.
 */
function onTime(t: Test, ended: number, configured: number, earliest: number, latest: number | undefined): void {
  t.ok(latest !== undefined, 'the upstream saw the call');
  const atLeast = ended - earliest;
  const atMost = ended - (latest ?? earliest);
  t.ok(atLeast >= configured, `not early: ${atLeast.toFixed(1)} ms ≥ ${configured} ms`);
  // A timer cannot fire while the event loop is held up (this process runs the gateway, the test and
  // the upstream): what it was held up by since the test began is allowed on top of the tolerance.
  const held = loopDelay.max / 1e6;
  t.ok(atMost <= configured + TOLERANCE_MS + held, `on time: ${atMost.toFixed(1)} ms ≤ ${(configured + TOLERANCE_MS + held).toFixed(0)} ms (${TOLERANCE_MS} ms, and the event loop held up ${held.toFixed(0)} ms at worst so far)`);
}

/** The error event that ends a stream. */
function streamError(text: string): unknown {
  const events = text.split('\n\n').filter(Boolean);
  return JSON.parse(events.at(-1)!.replace(/^data: /, ''));
}

t.test('first_byte 300 ms: an upstream that never answers is a 504 at 300 ms', async (t) => {
  const res = await chat('hang-300');
  t.equal(res.status, 504);
  t.match(JSON.parse(res.text), { error: { type: 'timeout_error', code: 'upstream_timeout', message: /first-byte timeout \(300 ms\)/ } });
  onTime(t, res.ended, 300, res.sent, seenAt.get('hang:300'));
});

t.test("a model's own first_byte (320 ms) wins over its provider's (10 s, total 400 ms)", async (t) => {
  const res = await chat('hang-model-320');
  t.equal(res.status, 504);
  t.match(JSON.parse(res.text), { error: { type: 'timeout_error', code: 'upstream_timeout', message: /first-byte timeout \(320 ms\)/ } });
  onTime(t, res.ended, 320, res.sent, seenAt.get('hang:model'));
});

t.test('first_byte 1 s: an upstream that never answers is a 504 at 1 s', async (t) => {
  const res = await chat('hang-1s');
  t.equal(res.status, 504);
  t.match(JSON.parse(res.text), { error: { type: 'timeout_error', code: 'upstream_timeout' } });
  onTime(t, res.ended, 1000, res.sent, seenAt.get('hang:1s'));
});

t.test('a stream that goes silent after one chunk ends with an error event 300 ms after the chunk', async (t) => {
  const res = await chat('stall-300', true);
  t.equal(res.status, 200);
  t.match(res.text, /"content":"only"/);
  t.match(streamError(res.text), { error: { code: 'upstream_stream_error', message: /silent.*first-byte timeout \(300 ms\)/ } });
  // The idle clock restarts when the gateway reads the chunk: after the upstream wrote it, before the client read it.
  onTime(t, res.ended, 300, seenAt.get('stall:300')!, res.firstBytes);
});

t.test('a JSON body that goes silent halfway is a 504 350 ms after its last bytes', async (t) => {
  const res = await chat('stall-json-350');
  t.equal(res.status, 504);
  t.match(JSON.parse(res.text), { error: { type: 'timeout_error', code: 'upstream_timeout' } });
  const wrote = seenAt.get('stall-json:350')!;
  onTime(t, res.ended, 350, wrote, wrote);
});

t.test('a stream that never stops is cut at the total timeout (600 ms), though chunks keep coming', async (t) => {
  const res = await chat('trickle-600', true);
  t.equal(res.status, 200);
  t.match(streamError(res.text), { error: { code: 'upstream_stream_error', message: /total timeout \(600 ms\)/ } });
  onTime(t, res.ended, 600, res.sent, seenAt.get('trickle:600'));
});

t.test('a total timeout shorter than first_byte ends the wait for headers at the total (400 ms)', async (t) => {
  const res = await chat('hang-total-400');
  t.equal(res.status, 504);
  t.match(JSON.parse(res.text), { error: { code: 'upstream_timeout', message: /total timeout \(400 ms\)/ } });
  onTime(t, res.ended, 400, res.sent, seenAt.get('hang:total'));
});

t.test('connect 250 ms: a TLS handshake that never completes is a 504 upstream_connect_timeout at 250 ms', async (t) => {
  const res = await chat('handshake-250');
  t.equal(res.status, 504);
  t.match(JSON.parse(res.text), { error: { type: 'timeout_error', code: 'upstream_connect_timeout', message: /connect timeout \(250 ms\)/ } });
  onTime(t, res.ended, 250, res.sent, seenAt.get('tcp'));
});

t.test('fallback leaves a hanging target at its first_byte timeout (450 ms) for the next one', async (t) => {
  const res = await chat('hang-then-good');
  t.equal(res.status, 200);
  t.match(JSON.parse(res.text), { choices: [{ message: { content: 'fine' } }] });
  // The answer also includes the call to the second target: a millisecond or two on loopback.
  onTime(t, res.ended, 450, res.sent, seenAt.get('hang:fallback'));
});

t.test('a raw proxy route whose upstream never answers is a 504 at the route timeout (200 ms)', async (t) => {
  const sent = performance.now();
  const res = await fetch(`${gw.url}/raw/anything`);
  const body = await res.json();
  t.equal(res.status, 504);
  t.match(body, { error: { code: 'upstream_timeout' } });
  onTime(t, performance.now(), 200, sent, seenAt.get('raw'));
});

t.test('timeouts of 0 are no limit: a slow upstream is waited for', async (t) => {
  const res = await chat('unlimited', true);
  t.equal(res.status, 200);
  t.match(res.text, /"content":"late"/);
  t.match(res.text, /data: \[DONE\]/);
});
