/**
 * Streams through the `cache` plugin, with the official `openai` SDK as the client: a streamed miss
 * is forwarded as it comes and stored as one answer, which then serves streaming requests (replayed
 * as chunks) and non-streaming ones alike; a stream that broke off is not stored.
 */
import t from 'tap';
import OpenAI from 'openai';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, chunk, sse, type MockOpenAI } from '../helpers/mock-openai.js';

let upstream: MockOpenAI;
let gw: TestGateway;
let client: OpenAI;

t.before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - cache\n  - route\n'));
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
});
t.afterEach(() => upstream.reset());
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

const messages = (content: string) => [{ role: 'user' as const, content }];

/** Streams a chat request; returns the chunks, the text and the cache header. */
async function streamChat(content: string, options: { includeUsage?: boolean } = {}) {
  const { data, response } = await client.chat.completions
    .create({ model: 'gpt-4o-mini', temperature: 0, stream: true, messages: messages(content), ...(options.includeUsage ? { stream_options: { include_usage: true } } : {}) })
    .withResponse();
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const c of data) chunks.push(c);
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  return { chunks, text, cache: response.headers.get('x-switchyard-cache'), age: response.headers.get('age') };
}

async function plainChat(content: string) {
  const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', temperature: 0, messages: messages(content) }).withResponse();
  return { completion: data, cache: response.headers.get('x-switchyard-cache') };
}

t.test('a streamed miss is replayed to a streaming request and serves a non-streaming one', async (t) => {
  const miss = await streamChat('stream me please');
  t.equal(miss.cache, 'MISS');
  t.equal(miss.text, 'upstream says: stream me please ');
  t.ok(miss.chunks.length > 3, 'the miss arrived in several chunks');

  const replay = await streamChat('stream me please', { includeUsage: true });
  t.equal(replay.cache, 'HIT');
  t.ok(replay.age !== null, 'a replayed hit has an Age');
  t.equal(replay.text, miss.text, 'the replay carries the same content');
  t.equal(replay.chunks[0]!.choices[0]!.delta.role, 'assistant', 'starts with the role');
  t.equal(replay.chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]!.finish_reason, 'stop');
  t.same(replay.chunks.at(-1)!.usage, { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 }, 'usage chunk when asked for');
  t.equal(replay.chunks[0]!.id, miss.chunks[0]!.id, 'ids are the stored ones');

  const plain = await plainChat('stream me please');
  t.equal(plain.cache, 'HIT');
  t.equal(plain.completion.object, 'chat.completion');
  t.equal(plain.completion.choices[0]!.message.content, miss.text);
  t.equal(plain.completion.choices[0]!.finish_reason, 'stop');
  t.same(plain.completion.usage, { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 }, 'usage is in the stored answer');
  t.equal(upstream.requests.length, 1);
});

t.test('a non-streamed miss is replayed to a streaming request', async (t) => {
  const miss = await plainChat('plain first');
  t.equal(miss.cache, 'MISS');
  const replay = await streamChat('plain first');
  t.equal(replay.cache, 'HIT');
  t.equal(replay.text, miss.completion.choices[0]!.message.content);
  t.notOk(replay.chunks.some((c) => c.usage), 'no usage chunk unless asked for');
  t.equal(upstream.requests.length, 1);
});

t.test('streamed tool calls are assembled into one answer and replayed', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    const model = String(body?.['model']);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(model, { role: 'assistant', content: null }));
    sse(res, chunk(model, { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
    sse(res, chunk(model, { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }));
    sse(res, chunk(model, { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }));
    sse(res, chunk(model, {}, 'tool_calls'));
    sse(res, '[DONE]');
    res.end();
  });
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' } } }];
  const first = await client.chat.completions.create({ model: 'gpt-4o-mini', temperature: 0, stream: true, tools, messages: messages('weather?') });
  for await (const _ of first) void _;
  const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', temperature: 0, tools, messages: messages('weather?') });
  t.equal(plain.choices[0]!.finish_reason, 'tool_calls');
  t.same(plain.choices[0]!.message.tool_calls, [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
  const replay = await client.chat.completions.create({ model: 'gpt-4o-mini', temperature: 0, stream: true, tools, messages: messages('weather?') });
  const calls: unknown[] = [];
  for await (const c of replay) if (c.choices[0]?.delta.tool_calls) calls.push(...c.choices[0].delta.tool_calls);
  t.match(calls, [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
  t.equal(upstream.requests.length, 1);
});

t.test('a stream cut by an upstream failure is not stored', async (t) => {
  let calls = 0;
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    calls++;
    const model = String(body?.['model']);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(model, { role: 'assistant', content: '' }));
    sse(res, chunk(model, { content: 'half an ans' }));
    // The upstream dies mid-stream: no finish reason, no [DONE].
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const first = await client.chat.completions.create({ model: 'gpt-4o-mini', temperature: 0, stream: true, messages: messages('cut') });
  let text = '';
  await t.rejects(
    (async () => {
      for await (const c of first) text += c.choices[0]?.delta.content ?? '';
    })(),
    'the client sees the stream fail',
  );
  t.equal(text, 'half an ans', 'chunks were forwarded before the failure');
  upstream.reset();
  const again = await streamChat('cut');
  t.equal(again.cache, 'MISS', 'nothing was stored');
  t.equal(again.text, 'upstream says: cut ');
  t.equal(calls, 1);
});

t.test('a streamed miss forwards each chunk before the upstream sends the next', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  upstream.on('/v1/chat/completions', async (_req, res, body) => {
    const model = String(body?.['model']);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(model, { role: 'assistant', content: 'first ' }));
    await gate;
    sse(res, chunk(model, { content: 'second' }));
    sse(res, chunk(model, {}, 'stop'));
    sse(res, '[DONE]');
    res.end();
  });
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', temperature: 0, stream: true, messages: messages('gated') });
  const iterator = stream[Symbol.asyncIterator]();
  const firstChunk = await iterator.next();
  t.equal(firstChunk.value?.choices[0]?.delta.content, 'first ', 'the first chunk arrived while the upstream was still waiting');
  release();
  let rest = '';
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest += r.value.choices[0]?.delta.content ?? '';
  t.equal(rest, 'second');
  upstream.reset();
  t.equal((await plainChat('gated')).completion.choices[0]!.message.content, 'first second', 'and the whole answer was stored');
});

t.test('a completions stream is stored and replayed', async (t) => {
  const body = { model: 'gpt-3.5-turbo-instruct', prompt: 'Say this', temperature: 0 };
  const miss = await client.completions.create({ ...body, stream: true });
  let text = '';
  for await (const c of miss) text += c.choices[0]?.text ?? '';
  t.equal(text, 'completed: Say this');
  const plain = await client.completions.create(body);
  t.equal(plain.choices[0]!.text, text);
  t.equal(plain.choices[0]!.finish_reason, 'stop');
  const replay = await client.completions.create({ ...body, stream: true });
  let again = '';
  for await (const c of replay) again += c.choices[0]?.text ?? '';
  t.equal(again, text);
  t.equal(upstream.requests.length, 1);
});
