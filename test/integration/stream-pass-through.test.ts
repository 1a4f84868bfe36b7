/**
 * Stream pass-through for OpenAI-compatible upstreams: chunks no plugin rewrites go to the client as
 * the exact text the provider sent (no parse, no re-serialisation — a provider's spacing, `\u`
 * escapes and unknown fields survive byte for byte), while the gateway still reads what it must:
 * the usage chunk, error events and finish reasons. A plugin that iterates the stream (`transform`
 * rewriting chunks) gets objects and the chunks are serialised again; `cache` reads along without
 * stopping the pass-through.
 */
import t from 'tap';
import type { ServerResponse } from 'node:http';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';
import type { RequestRecord } from '../../core/record.js';
import { RawChunk } from '../../core/context.js';
import { DeliveredText, TokenCounter } from '../../plugins/route/final-usage.js';

/** Chunks as a Python server writes them (`json.dumps`: spaces after separators, non-ASCII escaped). */
const PY_CHUNKS = [
  '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up-model", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}], "usage": null}',
  '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up-model", "choices": [{"index": 0, "delta": {"content": "caf\\u00e9 "}, "finish_reason": null}], "usage": null, "x_vendor": {"latency": 3}}',
  '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up-model", "choices": [{"index": 0, "delta": {"content": "\\"quoted\\" text"}, "finish_reason": null}], "usage": null}',
  '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up-model", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": null}',
];
const PY_USAGE = '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up-model", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}}';

function writePython(res: ServerResponse, chunks: string[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const c of chunks) res.write(`data: ${c}\n\n`);
  res.end('data: [DONE]\n\n');
}

/** The `data:` payloads of an SSE body. */
const payloads = (text: string): string[] => text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));

let upstream: MockOpenAI;
let gw: TestGateway;
const records: RequestRecord[] = [];
const waiting: ((r: RequestRecord) => void)[] = [];
const nextRecord = (): Promise<RequestRecord> => new Promise((resolve) => waiting.push(resolve));

t.before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway(`version: 1
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-up }
models:
  plain: { targets: [{ provider: up, model: up-model }] }
  cached: { targets: [{ provider: up, model: up-model }] }
  rewritten: { targets: [{ provider: up, model: up-model }] }
pipeline:
  - cache:
      when: opt_in
      models: { cached: { when: deterministic } }
  - transform:
      rules:
        - match: { models: [rewritten] }
          response: { set: { served_by: gateway } }
  - route
`);
  gw.gateway.records.subscribe((r) => {
    if (!r.path.startsWith('/v1/chat')) return;
    records.push(r);
    waiting.shift()?.(r);
  });
});
t.afterEach(() => upstream.reset());
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

async function stream(model: string, extra: Record<string, unknown> = {}): Promise<{ status: number; headers: Headers; text: string; record: RequestRecord }> {
  const recorded = nextRecord();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, temperature: 0, messages: [{ role: 'user', content: 'hi' }], ...extra }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, record: await recorded };
}

t.test('chunks reach the client as the provider wrote them, and the usage chunk is still read', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => writePython(res, [...PY_CHUNKS, PY_USAGE]));
  const { status, text, record } = await stream('plain', { stream_options: { include_usage: true } });
  t.equal(status, 200);
  const got = payloads(text);
  t.same(got.slice(0, 4), PY_CHUNKS, 'every content chunk byte for byte: spacing, \\u escapes and the unknown field kept');
  t.equal(got.at(-1), '[DONE]');
  t.same(JSON.parse(got[4]!), JSON.parse(PY_USAGE), 'the usage chunk the client asked for');
  t.match(record.usage, { prompt_tokens: 7, completion_tokens: 5 }, 'the usage was read from the spaced-out usage chunk');
  t.notOk(record.usage?.estimated, 'reported, not estimated');
});

t.test('the usage chunk the gateway asked for on its own is read, then dropped', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    t.same(body?.['stream_options'], { include_usage: true }, 'the gateway asks for usage');
    writePython(res, [...PY_CHUNKS, PY_USAGE]);
  });
  const { text, record } = await stream('plain');
  t.same(payloads(text), [...PY_CHUNKS, '[DONE]'], 'the client did not ask for the usage chunk and gets none');
  t.match(record.usage, { prompt_tokens: 7, completion_tokens: 5 });
});

t.test('a stream that ends without a finish reason is still caught as truncated', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const c of PY_CHUNKS.slice(0, 2)) res.write(`data: ${c}\n\n`);
    res.end();
  });
  const { text, record } = await stream('plain');
  const got = payloads(text);
  t.same(got.slice(0, 2), PY_CHUNKS.slice(0, 2));
  t.match(JSON.parse(got.at(-1)!), { error: { code: 'upstream_stream_truncated' } }, 'ends with an error event, not [DONE]');
  t.equal(record.errorCode, 'upstream_stream_truncated');
  t.ok(record.usage?.estimated, 'usage of a cut stream is estimated');
  t.ok((record.usage?.completion_tokens ?? 0) >= 2, 'from the delivered text of the raw chunks');
});

t.test('an error event in the stream is read (not passed through as if it were a chunk)', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) =>
    writePython(res, [PY_CHUNKS[0]!, '{"error": {"message": "overloaded", "type": "server_error", "code": "overloaded"}}']),
  );
  const { text } = await stream('plain');
  const got = payloads(text);
  t.equal(got[0], PY_CHUNKS[0]);
  t.match(JSON.parse(got.at(-1)!), { error: { code: 'overloaded', message: /overloaded/ } });
  t.notOk(got.includes('[DONE]'));
});

t.test('text that is not a one-line JSON object is parsed, and rejected when it is not JSON', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => writePython(res, [PY_CHUNKS[0]!, 'not json at all']));
  const { text } = await stream('plain');
  t.match(JSON.parse(payloads(text).at(-1)!), { error: { code: 'upstream_invalid_response' } });
});

t.test('the cache reads along without stopping the pass-through, and its hit replays the answer', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => writePython(res, [...PY_CHUNKS, PY_USAGE]));
  const first = await stream('cached');
  t.equal(first.headers.get('x-switchyard-cache'), 'MISS');
  t.same(payloads(first.text).slice(0, 4), PY_CHUNKS, 'the miss still passes chunks through byte for byte');
  const second = await stream('cached');
  t.equal(second.headers.get('x-switchyard-cache'), 'HIT');
  t.equal(upstream.requests.length, 1, 'the hit called nothing upstream');
  const content = payloads(second.text)
    .filter((p) => p !== '[DONE]')
    .map((p) => (JSON.parse(p) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '')
    .join('');
  t.equal(content, 'café "quoted" text', 'the stored answer is the streamed text');
});

t.test('a plugin that rewrites chunks gets objects, and the client gets its rewrite', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => writePython(res, [...PY_CHUNKS, PY_USAGE]));
  const { text, record } = await stream('rewritten');
  const got = payloads(text).filter((p) => p !== '[DONE]');
  t.equal(got.length, 4);
  for (const p of got) t.equal((JSON.parse(p) as { served_by?: string }).served_by, 'gateway', 'every chunk rewritten');
  t.equal(got[1], JSON.stringify({ ...(JSON.parse(PY_CHUNKS[1]!) as object), served_by: 'gateway' }), 're-serialised compactly');
  t.match(record.usage, { prompt_tokens: 7, completion_tokens: 5 });
});

t.test('delivered text is read from raw chunks exactly as from parsed ones', async (t) => {
  const counter = new TokenCounter();
  t.teardown(() => counter.close());
  const chunks = [
    ...PY_CHUNKS,
    '{"choices":[{"index":0,"delta":{"reasoning_content":"think\\n\\ttab"},"finish_reason":null}]}',
    '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"}}]},"finish_reason":null}]}',
    '{"object":"text_completion","choices":[{"index":0,"text":"plain \\u2603 text","finish_reason":null}]}',
  ];
  const raw = new DeliveredText(counter);
  const parsed = new DeliveredText(counter);
  for (const c of chunks) {
    raw.add(new RawChunk(c));
    parsed.add(JSON.parse(c));
  }
  t.equal(raw.text(), parsed.text());
  t.equal(raw.text(), 'café "quoted" textthink\n\ttabget_weather{"city": "Paris"}plain ☃ text');
});
