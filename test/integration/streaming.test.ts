/**
 * Streaming end to end: chunks pass through as they arrive (no buffering), a client that leaves
 * closes the upstream call, an upstream that breaks off ends the stream with an error event (never
 * a silent truncation), an upstream stream nobody writes is closed, usage and time-to-first-token
 * reach /metrics, tool-call deltas reassemble in the SDK, and the offline `mock` provider streams too.
 */
import t from 'tap';
import OpenAI from 'openai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, chunk, sse, type MockOpenAI } from '../helpers/mock-openai.js';

let upstream: MockOpenAI;
let gw: TestGateway;
let client: OpenAI;
let pluginDir: string;

/** A pipeline plugin that fails after `route` answered, for requests whose `user` is "fail-after". */
const FAIL_AFTER = `export default {
  name: 'fail-after',
  schema: { type: 'object' },
  create: () => ({
    async handle(ctx, next) {
      await next();
      if (ctx.body && ctx.body.user === 'fail-after') throw new Error('plugin failed after route');
    },
  }),
};
`;

t.before(async () => {
  upstream = await startMockOpenAI();
  pluginDir = await mkdtemp(join(tmpdir(), 'switchyard-plugin-'));
  await writeFile(join(pluginDir, 'fail-after.mjs'), FAIL_AFTER);
  gw = await startGateway(`version: 1
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream-secret }
  slow: { adapter: mock, words_per_chunk: 2, chunk_delay: 20ms }
  stall: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: k, timeouts: { first_byte: 200ms } }
models:
  gpt-4o-mini: { targets: [{ provider: up }] }
  slow-echo: { targets: [{ provider: slow }] }
  stalling: { targets: [{ provider: stall }] }
pipeline:
  - use: ${join(pluginDir, 'fail-after.mjs')}
  - route
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
});
t.afterEach(() => upstream.reset());
t.teardown(async () => {
  await gw.close();
  await upstream.close();
  await rm(pluginDir, { recursive: true, force: true });
});

const MODEL = 'gpt-4o-mini';
const messages = [{ role: 'user' as const, content: 'hi' }];

function post(body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: signal ?? null });
}

/** The `data:` payloads of an SSE text, in order. */
function events(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
}

/** Reads from `reader` until the accumulated text contains `needle` (or the stream ends). */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, needle: string): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes(needle)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

/** Resolves when `release()` is called, or after `ms` so a buffering gateway fails the test instead of hanging it. */
function gate(ms = 2000): { held: Promise<void>; release(): void } {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  return { held: Promise.race([held, sleep(ms)]), release };
}

/** Watches an upstream request's socket: `within()` says whether it closed in time. */
function closeWatch(): { track(req: IncomingMessage): void; within(ms?: number): Promise<string> } {
  let closed!: () => void;
  const promise = new Promise<void>((r) => (closed = r));
  return {
    track: (req) => void req.socket.once('close', () => closed()),
    within: (ms = 1000) => Promise.race([promise.then(() => 'closed'), sleep(ms).then(() => 'still open')]),
  };
}

/** An upstream handler that sends one chunk, waits for the gate, then finishes. */
function heldStream(g: ReturnType<typeof gate>, state: { secondSent: boolean }) {
  return async (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(MODEL, { role: 'assistant', content: 'first' }));
    await g.held;
    state.secondSent = true;
    sse(res, chunk(MODEL, { content: ' second' }));
    sse(res, chunk(MODEL, {}, 'stop'));
    sse(res, '[DONE]');
    res.end();
  };
}

t.test('the first chunk reaches a raw client while the upstream still holds the second', async (t) => {
  const g = gate();
  const state = { secondSent: false };
  upstream.on('/v1/chat/completions', heldStream(g, state));
  const res = await post({ model: MODEL, stream: true, messages });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/event-stream/);
  const reader = res.body!.getReader();
  const head = await readUntil(reader, 'first');
  t.match(head, /"content":"first"/);
  t.equal(state.secondSent, false, 'first chunk arrived before the upstream sent the second');
  g.release();
  const rest = head + (await readUntil(reader, 'data: [DONE]'));
  t.match(rest, /"content":" second"/);
  t.ok(rest.endsWith('data: [DONE]\n\n'));
});

t.test('the SDK iterator yields the first chunk while the upstream still holds the second', async (t) => {
  const g = gate();
  const state = { secondSent: false };
  upstream.on('/v1/chat/completions', heldStream(g, state));
  const stream = await client.chat.completions.create({ model: MODEL, stream: true, messages });
  const seen: string[] = [];
  for await (const c of stream) {
    const content = c.choices[0]?.delta.content;
    if (content === 'first') {
      t.equal(state.secondSent, false, 'first chunk arrived before the upstream sent the second');
      g.release();
    }
    if (content) seen.push(content);
  }
  t.same(seen, ['first', ' second']);
});

t.test('a client that aborts mid-stream closes the upstream connection', async (t) => {
  const watch = closeWatch();
  upstream.on('/v1/chat/completions', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(MODEL, { role: 'assistant', content: 'tick' }));
    let n = 0;
    const timer = setInterval(() => (++n > 50 ? clearInterval(timer) : sse(res, chunk(MODEL, { content: ' tick' }))), 100);
    req.socket.once('close', () => clearInterval(timer));
    watch.track(req);
  });
  const abort = new AbortController();
  const res = await post({ model: MODEL, stream: true, messages }, abort.signal);
  const reader = res.body!.getReader();
  await readUntil(reader, 'tick');
  abort.abort();
  t.equal(await watch.within(), 'closed', 'upstream socket closed within 1s of the client abort');
});

t.test('a client that aborts before the upstream answered closes the upstream connection', async (t) => {
  const watch = closeWatch();
  let arrived!: () => void;
  const requested = new Promise<void>((r) => (arrived = r));
  upstream.on('/v1/chat/completions', (req) => {
    watch.track(req);
    arrived();
  });
  const abort = new AbortController();
  const pending = post({ model: MODEL, stream: true, messages }, abort.signal).catch((e: unknown) => e);
  await Promise.race([requested, sleep(2000)]);
  abort.abort();
  t.type(await pending, Error);
  t.equal(await watch.within(), 'closed', 'upstream socket closed within 1s of the client abort');
});

t.test('an upstream that goes silent mid-stream past first_byte ends the stream with an error event', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk('stalling', { role: 'assistant', content: 'only' }));
  });
  const data = events(await (await post({ model: 'stalling', stream: true, messages })).text());
  t.equal(data.length, 2);
  t.match(JSON.parse(data[0]!), { choices: [{ delta: { content: 'only' } }] });
  t.match(JSON.parse(data[1]!), { error: { code: 'upstream_stream_error', message: /first-byte timeout/ } });
});

t.test('an upstream stream that is never written (a later plugin failed) is closed, not left open', async (t) => {
  const watch = closeWatch();
  upstream.on('/v1/chat/completions', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(MODEL, { role: 'assistant', content: 'unseen' }));
    watch.track(req);
  });
  const res = await post({ model: MODEL, stream: true, messages, user: 'fail-after' });
  t.equal(res.status, 500);
  t.match(await res.json(), { error: { code: 'internal_error' } });
  t.equal(await watch.within(), 'closed', 'upstream socket closed once the request was over');
});

/** An upstream that sends two content chunks and then `finish` does something to the connection. */
function breaksOff(finish: (res: ServerResponse) => void) {
  return async (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(MODEL, { role: 'assistant', content: 'one' }));
    await new Promise((r) => res.write(`data: ${JSON.stringify(chunk(MODEL, { content: ' two' }))}\n\n`, r));
    finish(res);
  };
}

t.test('an upstream that drops the connection mid-stream ends the stream with an error event', async (t) => {
  upstream.on('/v1/chat/completions', breaksOff((res) => res.socket!.destroy()));
  const res = await post({ model: MODEL, stream: true, messages });
  const data = events(await res.text());
  t.equal(data.length, 3, 'two chunks and one error event');
  t.match(JSON.parse(data[0]!), { choices: [{ delta: { content: 'one' } }] });
  t.match(JSON.parse(data[1]!), { choices: [{ delta: { content: ' two' } }] });
  t.match(JSON.parse(data[2]!), { error: { type: 'upstream_error', code: 'upstream_stream_error', message: String } });
  t.notOk(data.includes('[DONE]'), 'no [DONE] after an error');
});

t.test('the SDK throws an APIError when the upstream drops mid-stream', async (t) => {
  upstream.on('/v1/chat/completions', breaksOff((res) => res.socket!.destroy()));
  const stream = await client.chat.completions.create({ model: MODEL, stream: true, messages });
  const seen: string[] = [];
  const err = await (async () => {
    for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
  })().catch((e: unknown) => e);
  t.same(seen, ['one', ' two']);
  t.ok(err instanceof OpenAI.APIError, 'APIError thrown');
  t.match((err as InstanceType<typeof OpenAI.APIError>).message, /stream broke off/);
});

t.test('an upstream that ends without [DONE] or finish_reason yields upstream_stream_truncated', async (t) => {
  upstream.on('/v1/chat/completions', breaksOff((res) => res.end()));
  const res = await post({ model: MODEL, stream: true, messages });
  const data = events(await res.text());
  t.equal(data.length, 3);
  t.match(JSON.parse(data.at(-1)!), { error: { code: 'upstream_stream_truncated' } });
  t.notOk(data.includes('[DONE]'));
});

t.test('an upstream that ends after finish_reason without [DONE] completes normally', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(MODEL, { role: 'assistant', content: 'done' }));
    sse(res, chunk(MODEL, {}, 'stop'));
    res.end();
  });
  const data = events(await (await post({ model: MODEL, stream: true, messages })).text());
  t.equal(data.at(-1), '[DONE]');
  t.notOk(data.some((d) => d.includes('"error"')));
});

/** Sum of a metric's samples whose labels include all of `labels`. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

/** Polls /metrics (bounded) until `ok` holds: the counters update when the response's socket event fires. */
async function metricsWhen(ok: (text: string) => boolean): Promise<string> {
  let text = '';
  for (let i = 0; i < 20; i++) {
    text = await (await fetch(`${gw.url}/metrics`)).text();
    if (ok(text)) break;
    await sleep(25);
  }
  return text;
}

t.test('include_usage forwards the usage chunk and counts tokens and time to first token', async (t) => {
  const before = await (await fetch(`${gw.url}/metrics`)).text();
  const labels = { model: MODEL, provider: 'up' };
  const inputBefore = metric(before, 'switchyard_tokens_total', { ...labels, direction: 'input' });
  const ttftBefore = metric(before, 'switchyard_time_to_first_token_seconds_count', { model: MODEL });
  const stream = await client.chat.completions.create({ model: MODEL, stream: true, stream_options: { include_usage: true }, messages });
  const usage = [];
  for await (const c of stream) if (c.usage) usage.push(c.usage);
  t.same(usage, [{ prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 }], 'one final usage chunk');
  const after = await metricsWhen((m) => metric(m, 'switchyard_tokens_total', { ...labels, direction: 'input' }) > inputBefore);
  t.equal(metric(after, 'switchyard_tokens_total', { ...labels, direction: 'input' }) - inputBefore, 9);
  t.equal(metric(after, 'switchyard_tokens_total', { ...labels, direction: 'output' }) - metric(before, 'switchyard_tokens_total', { ...labels, direction: 'output' }), 12);
  t.equal(metric(after, 'switchyard_time_to_first_token_seconds_count', { model: MODEL }) - ttftBefore, 1, 'one TTFT sample');
});

t.test('streamed tool-call argument deltas reassemble in the SDK', async (t) => {
  const call = (delta: Record<string, unknown>) => chunk(MODEL, { tool_calls: [{ index: 0, ...delta }] });
  upstream.on('/v1/chat/completions', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(MODEL, { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
    for (const part of ['{"loc', 'ation":', ' "Paris"}']) sse(res, call({ function: { arguments: part } }));
    sse(res, chunk(MODEL, {}, 'tool_calls'));
    sse(res, '[DONE]');
    res.end();
  });
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } }];
  const stream = client.chat.completions.stream({ model: MODEL, messages, tools });
  const final = await stream.finalChatCompletion();
  const choice = final.choices[0]!;
  t.equal(choice.finish_reason, 'tool_calls');
  const toolCall = choice.message.tool_calls?.[0];
  t.match(toolCall, { id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"location": "Paris"}' } });
  t.same(upstream.requests[0]!.body!['tools'], tools, 'tools reached the upstream unchanged');
});

t.test('the offline mock provider streams words_per_chunk words per chunk', async (t) => {
  const stream = await client.chat.completions.create({ model: 'slow-echo', stream: true, messages: [{ role: 'user', content: 'a b c d e' }] });
  const parts: string[] = [];
  let finish: string | null | undefined;
  for await (const c of stream) {
    if (c.choices[0]?.delta.content) parts.push(c.choices[0].delta.content);
    finish = c.choices[0]?.finish_reason ?? finish;
  }
  t.same(parts, ['a b ', 'c d ', 'e']);
  t.equal(finish, 'stop');
  t.equal(upstream.requests.length, 0, 'no network call');
});
