/**
 * `anthropic` response translation: Message → chat.completion, SSE events → chunks, error bodies →
 * status and OpenAI type. Inputs are the fixtures in `test/fixtures/anthropic/` (each cites its doc page).
 */
import t from 'tap';
import { GatewayError } from '../../core/errors.js';
import { chatOp, makeAnthropic } from './anthropic-adapter.js';
import { fixture, streamFixture } from './anthropic-wire.js';
import { deltas, feedStream, sse, thrown } from './harness.js';
import type { SseEvent } from './wire-mock.js';

const { adapter } = makeAnthropic();
type Json = Record<string, unknown>;
type Completion = { id: string; model: string; choices: { message: { content: string | null; tool_calls?: { id: string; function: { name: string; arguments: string } }[] }; finish_reason: string }[]; usage: Json };

const parse = (body: unknown, op = chatOp({})) => adapter.parseResponse(op, body) as { body: Completion; usage: unknown };

t.test('a text message becomes a chat.completion with usage', async (t) => {
  const { body, usage } = parse(fixture('message'));
  t.match(body, { id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF', object: 'chat.completion', model: 'claude-sonnet-5-5' });
  t.same(body.choices[0]?.message, { role: 'assistant', content: 'Hi! My name is Claude.', refusal: null });
  t.equal(body.choices[0]?.finish_reason, 'stop');
  t.same(usage, { prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598, cached_tokens: 0 });
  t.same(body.usage, { prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598, prompt_tokens_details: { cached_tokens: 0 } });
});

t.test('tool_use blocks become tool_calls; cache writes and reads count as prompt tokens', async (t) => {
  const { body, usage } = parse(fixture('message-tool-use'));
  const choice = body.choices[0]!;
  t.equal(choice.finish_reason, 'tool_calls');
  t.equal(choice.message.content, "I'll check the weather in both cities.");
  t.same(choice.message.tool_calls, [
    { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    { id: 'toolu_01B19q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
  ]);
  t.same(usage, { prompt_tokens: 2572, completion_tokens: 91, total_tokens: 2663, cached_tokens: 2000, cache_write_tokens: 100, reasoning_tokens: 40 });
  t.match(body.usage, { prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 100 }, completion_tokens_details: { reasoning_tokens: 40 } });
});

t.test('1-hour cache writes reach usage as cache_write_1h_tokens, and the client sees the split by TTL', async (t) => {
  const { body, usage } = parse(fixture('message-cache-1h'));
  t.same(usage, { prompt_tokens: 3550, completion_tokens: 120, total_tokens: 3670, cached_tokens: 2000, cache_write_tokens: 1500, cache_write_1h_tokens: 1000 });
  t.same(body.usage, {
    prompt_tokens: 3550,
    completion_tokens: 120,
    total_tokens: 3670,
    prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 1500, cache_creation_token_details: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 } },
  });
  const fiveMinutes = parse(fixture('message-tool-use'));
  t.notOk('cache_write_1h_tokens' in (fiveMinutes.usage as Json), 'only 5-minute writes: no 1-hour count');
  t.notOk('cache_creation_token_details' in ((fiveMinutes.body.usage['prompt_tokens_details'] ?? {}) as Json), 'nor a split in what the client sees');
});

t.test('stop reasons map to OpenAI finish reasons', async (t) => {
  const cases: [string, string][] = [
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['pause_turn', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['refusal', 'content_filter'],
    ['tool_use', 'tool_calls'],
  ];
  for (const [stop, finish] of cases) t.equal(parse({ ...fixture<Json>('message'), stop_reason: stop }).body.choices[0]?.finish_reason, finish, stop);
});

t.test('the synthetic JSON tool comes back as message text', async (t) => {
  const message = { ...fixture('message-tool-use'), content: [{ type: 'thinking', thinking: 'hmm', signature: 's' }, { type: 'tool_use', id: 'toolu_1', caller: { type: 'direct' }, name: 'json_response', input: { ok: true } }] };
  const { body } = parse(message, chatOp({ response_format: { type: 'json_object' } }));
  t.equal(body.choices[0]?.message.content, '{"ok":true}');
  t.notOk(body.choices[0]?.message.tool_calls, 'no tool calls');
  t.equal(body.choices[0]?.finish_reason, 'stop');
  const plain = parse(message).body.choices[0];
  t.equal(plain?.message.tool_calls?.[0]?.function.name, 'json_response', 'without response_format it is an ordinary tool call');
});

t.test('a body that is not a message is a 502', async (t) => {
  for (const bad of [null, 'text', { type: 'error' }, { type: 'message', content: 'x' }]) {
    t.match(thrown(() => parse(bad)), { status: 502, code: 'upstream_invalid_response' });
  }
});

function runStream(events: SseEvent[], op = chatOp({}, { stream: true })) {
  const translator = adapter.streamTranslator(op);
  return { ...feedStream(translator, events), translator };
}

t.test('a text stream becomes chunks: role, content deltas, finish, usage chunk when asked', async (t) => {
  const { chunks, done, translator } = runStream(streamFixture('stream-text'), chatOp({}, { stream: true, clientWantsUsage: true }));
  t.ok(done, 'message_stop ends the stream');
  t.same(deltas(chunks).map((c) => c && [c.delta, c.finish_reason]), [[{ role: 'assistant', content: '' }, null], [{ content: 'Hello' }, null], [{ content: '!' }, null], [{}, 'stop'], undefined]);
  t.ok(chunks.every((c) => c['id'] === 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY' && c['object'] === 'chat.completion.chunk'));
  const last = chunks.at(-1);
  t.same([last?.['choices'], last?.['usage']], [[], { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40, prompt_tokens_details: { cached_tokens: 0 } }], 'final usage chunk');
  t.same(translator.usage(), { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40, cached_tokens: 0 });
  t.equal(runStream(streamFixture('stream-text')).chunks.filter((c) => 'usage' in c).length, 0, 'no usage chunk unless asked');
});

t.test('a stream keeps the 1-hour cache writes of message_start through message_delta', async (t) => {
  const { chunks, translator } = runStream(streamFixture('stream-cache-1h'), chatOp({}, { stream: true, clientWantsUsage: true }));
  t.same(translator.usage(), { prompt_tokens: 3550, completion_tokens: 120, total_tokens: 3670, cached_tokens: 2000, cache_write_tokens: 1500, cache_write_1h_tokens: 1000 });
  t.same(chunks.at(-1)?.['usage'], {
    prompt_tokens: 3550,
    completion_tokens: 120,
    total_tokens: 3670,
    prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 1500, cache_creation_token_details: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 } },
  });
  t.same(parse(fixture('message-cache-1h')).usage, translator.usage(), 'the same usage as the message unstreamed');
});

t.test('streamed tool input becomes tool_call argument deltas with one index per tool', async (t) => {
  const tools = deltas(runStream(streamFixture('stream-tool-use')).chunks).flatMap((c) => (c?.delta['tool_calls'] as Json[] | undefined) ?? []);
  t.same(tools, [
    { index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } },
    { index: 0, function: { arguments: '{"city":' } },
    { index: 0, function: { arguments: ' "San Francisco"}' } },
    { index: 1, id: 'toolu_02T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_time', arguments: '' } },
    { index: 1, function: { arguments: '{"zone": "PST"}' } },
  ]);
});

t.test('the synthetic JSON tool streams as content', async (t) => {
  const events = streamFixture('stream-tool-use').filter((e) => ![0, 1, 3].includes(Number(e.data['index'] ?? -1)));
  const start = events.find((e) => e.event === 'content_block_start')!;
  (start.data['content_block'] as Json)['name'] = 'json_response';
  const out = deltas(runStream(events, chatOp({ response_format: { type: 'json_object' } }, { stream: true })).chunks);
  t.equal(out.map((c) => (c?.delta['content'] as string | undefined) ?? '').join(''), '{"city": "San Francisco"}');
  t.equal(out.find((c) => c?.finish_reason)?.finish_reason, 'stop');
  t.notOk(out.some((c) => c?.delta['tool_calls']));
});

t.test('a stream cut before its stop reason is a truncation; one missing only message_stop is whole', async (t) => {
  const events = streamFixture('stream-text');
  const cut = runStream(events.slice(0, 4)).translator;
  t.match(thrown(() => cut.end()), { status: 502, code: 'upstream_stream_truncated' });
  const { translator } = runStream(events.slice(0, -1), chatOp({}, { stream: true, clientWantsUsage: true }));
  t.match(translator.end(), [{ choices: [], usage: { total_tokens: 40 } }]);
  t.match(thrown(() => runStream([events[0]!, { event: 'message_stop', data: { type: 'message_stop' } }])), { code: 'upstream_stream_truncated' });
});

t.test('an error event mid-stream becomes the client error for its type', async (t) => {
  const overloaded = thrown(() => runStream(streamFixture('stream-error')));
  t.ok(overloaded instanceof GatewayError);
  t.match(overloaded, { status: 503, type: 'upstream_error', message: 'claude: Overloaded (overloaded_error)' });
  const limited = thrown(() => runStream([{ event: 'error', data: { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } } }]));
  t.match(limited, { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' });
  t.match(thrown(() => adapter.streamTranslator(chatOp({})).event(sse('not json'))), { status: 502, code: 'upstream_invalid_response' });
});

t.test('HTTP error bodies map to status, OpenAI type and retry-after', async (t) => {
  const over = fixture<{ status: number; body: unknown }>('error-overloaded');
  t.match(adapter.parseError(over.status, JSON.stringify(over.body), {}), { status: 503, type: 'upstream_error', message: 'claude: Overloaded (overloaded_error)' });
  const limit = fixture<{ status: number; headers: Record<string, string>; body: unknown }>('error-rate-limit');
  const limited = adapter.parseError(limit.status, JSON.stringify(limit.body), limit.headers);
  t.match(limited, { status: 429, type: 'rate_limit_error', headers: { 'retry-after': '17' } });
  const body = (type: string) => JSON.stringify({ type: 'error', error: { type, message: 'm' } });
  t.match(adapter.parseError(400, body('invalid_request_error'), {}), { status: 400, type: 'invalid_request_error' });
  t.match(adapter.parseError(401, body('authentication_error'), {}), { status: 401, type: 'authentication_error' });
  t.match(adapter.parseError(403, body('permission_error'), {}), { status: 403, type: 'permission_error' });
  t.match(adapter.parseError(404, body('not_found_error'), {}), { status: 404, type: 'not_found_error' });
  t.match(adapter.parseError(413, body('request_too_large'), {}), { status: 413, type: 'invalid_request_error' });
  t.match(adapter.parseError(500, body('api_error'), {}), { status: 502, type: 'upstream_error' });
  t.match(adapter.parseError(502, '<html>Bad gateway</html>', {}), { status: 502, message: 'claude: <html>Bad gateway</html>' });
});
