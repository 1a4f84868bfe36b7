/**
 * `gigachat` response translation: complete answers, SSE streams, error bodies and embeddings →
 * OpenAI shapes, from the fixtures in test/fixtures/gigachat/ (the examples of
 * https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-chat). Pure: parseResponse,
 * streamTranslator and parseError only.
 */
import t from 'tap';
import type { HttpAdapter } from '../../plugins/route/adapter.js';
import { chatOp, makeGigachat } from './gigachat-adapter.js';
import { gigaFixture } from './gigachat-wire.js';
import { deltas, feedStream, thrown } from './harness.js';

type Json = Record<string, unknown>;

function withFinish(reason: string): Json {
  const body = gigaFixture<{ choices: Json[] }>('chat-completion');
  body.choices[0]!['finish_reason'] = reason;
  return body;
}

t.test('a text answer: content, created, model, usage with the cached prompt tokens', async (t) => {
  const { adapter } = await makeGigachat(t);
  const { body, usage } = adapter.parseResponse(chatOp({}), gigaFixture('chat-completion'));
  t.match(body, {
    id: 'chatcmpl-req-1',
    object: 'chat.completion',
    created: 1760434636,
    model: 'GigaChat:2.0.28.2',
    choices: [{ index: 0, message: { role: 'assistant', content: /^GigaChat is a service/ }, finish_reason: 'stop' }],
  });
  // GigaChat's prompt_tokens leave out the 4 cached tokens (its total_tokens is the billable count); OpenAI's include them.
  t.same(usage, { prompt_tokens: 59, completion_tokens: 30, total_tokens: 89, cached_tokens: 4 });
  t.same((body as Json)['usage'], { prompt_tokens: 59, completion_tokens: 30, total_tokens: 89, prompt_tokens_details: { cached_tokens: 4 } });
});

t.test('a function call: one tool call with a synthesized id and the arguments object as JSON text', async (t) => {
  const { adapter } = await makeGigachat(t);
  const { body } = adapter.parseResponse(chatOp({}), gigaFixture('chat-function-call'));
  const choice = (body as { choices: { message: Json; finish_reason: string }[] }).choices[0]!;
  t.equal(choice.finish_reason, 'tool_calls');
  t.equal(choice.message['content'], null);
  const calls = choice.message['tool_calls'] as { id: string; type: string; function: { name: string; arguments: string } }[];
  t.equal(calls.length, 1);
  t.match(calls[0]!.id, /^call_[0-9a-f]{24}$/);
  t.same(calls[0]!.function, { name: 'weather_forecast', arguments: '{"location":"Манжерок","num_days":10}' });
  const again = adapter.parseResponse(chatOp({}), gigaFixture('chat-function-call')).body as typeof body;
  t.equal((again as { choices: { message: { tool_calls: { id: string }[] } }[] }).choices[0]!.message.tool_calls[0]!.id, calls[0]!.id, 'the same answer yields the same id');
  const other = adapter.parseResponse(chatOp({}, { requestId: 'req-2' }), gigaFixture('chat-function-call')).body;
  t.not((other as { choices: { message: { tool_calls: { id: string }[] } }[] }).choices[0]!.message.tool_calls[0]!.id, calls[0]!.id, 'another request, another id');
});

t.test('finish reasons: length, blacklist → content_filter, error → 502', async (t) => {
  const { adapter } = await makeGigachat(t);
  const finish = (reason: string) => (adapter.parseResponse(chatOp({}), withFinish(reason)).body as { choices: { finish_reason: string }[] }).choices[0]!.finish_reason;
  t.equal(finish('length'), 'length');
  t.equal(finish('blacklist'), 'content_filter');
  t.equal(finish('stop'), 'stop');
  const err = thrown(() => adapter.parseResponse(chatOp({}), withFinish('error')));
  t.equal(err.status, 502);
  t.equal(err.code, 'upstream_invalid_tool_call');
  t.equal(thrown(() => adapter.parseResponse(chatOp({}), { choices: [] })).code, 'upstream_invalid_response');
});

t.test('error bodies keep their status and message; 5xx become 502', async (t) => {
  const { adapter } = await makeGigachat(t);
  const bodies = gigaFixture<{ bodies: Record<string, Json> }>('errors').bodies;
  const parse = (status: number, headers: Record<string, string> = {}) => adapter.parseError(status, JSON.stringify(bodies[String(status)]), headers);
  t.match(parse(404), { status: 404, type: 'not_found_error', message: 'giga: No such model' });
  t.match(parse(422), { status: 422, type: 'invalid_request_error', message: /repetition_penalty must be in range/ });
  t.match(parse(413), { status: 413, type: 'invalid_request_error' });
  t.match(parse(401), { status: 401, type: 'authentication_error' });
  t.match(parse(429, { 'retry-after': '7' }), { status: 429, type: 'rate_limit_error', headers: { 'retry-after': '7' } });
  t.match(parse(500), { status: 502, type: 'upstream_error' });
  t.match(parse(503), { status: 503 });
  t.match(adapter.parseError(502, '<html>Bad Gateway</html>', {}), { status: 502, message: 'giga: <html>Bad Gateway</html>' });
  t.match(adapter.parseError(400, 'key a2V5OnNlY3JldA== refused', {}), { message: 'giga: key [redacted] refused' }, 'the authorization key is redacted');
});

function run(adapter: HttpAdapter, events: unknown[], opts: { clientWantsUsage?: boolean; end?: boolean } = {}) {
  const translator = adapter.streamTranslator(chatOp({}, { stream: true, clientWantsUsage: opts.clientWantsUsage ?? false }));
  return { ...feedStream(translator, events.map((data) => ({ data })), opts), usage: translator.usage() };
}

t.test('the documented stream: role, content, finish, then the usage chunk when asked', async (t) => {
  const { adapter } = await makeGigachat(t);
  const events = gigaFixture<{ events: unknown[] }>('stream-text').events;
  const { chunks, done, usage } = run(adapter, events, { clientWantsUsage: true });
  t.ok(done, '[DONE] ends the stream');
  t.same(deltas(chunks.slice(0, 3)).map((c) => [c?.delta, c?.finish_reason]), [
    [{ role: 'assistant', content: '' }, null],
    [{ content: "GigaChat is a service capable of interacting with the user in a dialogue format, writing code, and creating texts and images upon the user's request." }, null],
    [{}, 'stop'],
  ]);
  t.match(chunks[0], { id: 'chatcmpl-req-1', object: 'chat.completion.chunk', model: 'GigaChat:2.0.28.2' });
  t.same(chunks[3]!['choices'], []);
  t.same(chunks[3]!['usage'], { prompt_tokens: 59, completion_tokens: 31, total_tokens: 90, prompt_tokens_details: { cached_tokens: 3 } });
  t.equal(chunks.length, 4);
  t.same(usage, { prompt_tokens: 59, completion_tokens: 31, total_tokens: 90, cached_tokens: 3 });
  t.equal(run(adapter, events).chunks.length, 3, 'no usage chunk unless the client asked');
});

t.test('a streamed function call becomes one tool-call delta; built-in function progress is skipped', async (t) => {
  const { adapter } = await makeGigachat(t);
  const { choices, created, model } = gigaFixture<{ choices: { message: Json }[]; created: number; model: string }>('chat-function-call');
  const frame = (delta: Json, extra: Json = {}) => ({ choices: [{ delta, index: 0, ...extra }], created, model, object: 'chat.completion' });
  const { chunks } = run(adapter, [
    frame({ role: 'function_in_progress', content: '5 seconds left', name: 'text2image', created }),
    frame(choices[0]!.message),
    frame({ content: '' }, { finish_reason: 'function_call' }),
    '[DONE]',
  ]);
  const d = deltas(chunks);
  t.equal(d.length, 3, 'role, the call, the finish');
  t.match(d[1]?.delta, { tool_calls: [{ index: 0, id: /^call_/, type: 'function', function: { name: 'weather_forecast', arguments: '{"location":"Манжерок","num_days":10}' } }] });
  t.equal(d[2]?.finish_reason, 'tool_calls');
});

t.test('broken streams: truncation, a lost [DONE], error events, bad JSON, finish_reason error', async (t) => {
  const { adapter } = await makeGigachat(t);
  const [first, last] = gigaFixture<{ events: Json[] }>('stream-text').events;
  t.equal(thrown(() => run(adapter, [first], { end: true })).code, 'upstream_stream_truncated');
  t.equal(thrown(() => run(adapter, [first, '[DONE]'])).code, 'upstream_stream_truncated', '[DONE] before any finish reason');
  const lostDone = run(adapter, [first, last], { end: true, clientWantsUsage: true });
  t.same(lostDone.chunks.at(-1)!['choices'], [], 'finish seen: the answer is whole, usage still sent');
  const err = thrown(() => run(adapter, [first, { status: 429, message: 'Too many requests' }]));
  t.match(err, { status: 429, message: 'giga: Too many requests' });
  t.equal(thrown(() => run(adapter, ['{"choices": ['])).code, 'upstream_invalid_response');
  t.equal(thrown(() => run(adapter, [{ choices: [{ delta: {}, index: 0, finish_reason: 'error' }] }])).code, 'upstream_invalid_tool_call');
});

t.test('embeddings: vectors in order, token counts summed, base64 on request', async (t) => {
  const { adapter } = await makeGigachat(t);
  const op = (body: Json) => ({ ...chatOp({}), endpoint: 'embeddings' as const, model: 'Embeddings', body });
  const fixture = gigaFixture<{ data: Json[] }>('embeddings');
  fixture.data.reverse();
  const { body, usage } = adapter.parseResponse(op({ input: ['a', 'b'] }), fixture);
  t.same(usage, { prompt_tokens: 10, completion_tokens: 0, total_tokens: 10 });
  t.match(body, { object: 'list', model: 'Embeddings', data: [{ object: 'embedding', index: 0, embedding: [0.0123, -0.0456, 0.0789, 0.0012] }, { index: 1 }], usage: { prompt_tokens: 10, total_tokens: 10 } });
  const b64 = adapter.parseResponse(op({ input: ['a', 'b'], encoding_format: 'base64' }), gigaFixture('embeddings')).body as { data: { embedding: string }[] };
  const bytes = Buffer.from(b64.data[1]!.embedding, 'base64');
  const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  t.same([...floats].map((f) => Math.round(f * 1e4) / 1e4), [-0.0321, 0.0654, -0.0987, 0.0021]);
  t.equal(thrown(() => adapter.parseResponse(op({ input: ['a', 'b', 'c'] }), gigaFixture('embeddings'))).code, 'upstream_invalid_response');
});
