/**
 * `cohere` response translation: complete chat responses, SSE streams, embed responses and error
 * bodies → OpenAI shapes, from the documented examples in `test/fixtures/cohere/`
 * (https://docs.cohere.com/v2/reference/chat, .../chat-stream, .../embed, https://docs.cohere.com/reference/errors).
 * Pure: parseResponse / streamTranslator / parseError only, no network.
 */
import t, { type Test } from 'tap';
import type { HttpAdapter, Operation } from '../../plugins/route/adapter.js';
import { cohereOp, makeCohere } from './cohere-adapter.js';
import { fixture, streamFixture } from './cohere-wire.js';
import { deltas as firstChoices, feedStream, sse, thrown as failure } from './harness.js';
import type { SseEvent } from './wire-mock.js';

const { adapter } = makeCohere();
const billed = makeCohere({ usage_source: 'billed_units' }).adapter;
type Json = Record<string, unknown>;

const parse = (body: unknown, a: HttpAdapter = adapter, op: Operation = cohereOp({})) => a.parseResponse(op, body) as { body: Json; usage: unknown };
const choice = (body: Json) => (body['choices'] as { message: Json; finish_reason: string }[])[0]!;

/** Runs fixture events through a fresh translator to the end; returns the chunks and the final usage. */
function streamOf(events: SseEvent[], opts: { clientWantsUsage?: boolean; a?: HttpAdapter } = {}) {
  const translator = (opts.a ?? adapter).streamTranslator(cohereOp({}, { stream: true, clientWantsUsage: opts.clientWantsUsage ?? false }));
  return { chunks: feedStream(translator, events, { end: true }).chunks, usage: translator.usage() };
}
const deltas = (chunks: Json[]) => firstChoices(chunks).filter((c) => c !== undefined);

t.test('a complete response: text, stop, usage from the token counts by default', async (t) => {
  const { body, usage } = parse(fixture('chat'));
  t.match(body, { id: 'c14c80c3-18eb-4519-9460-6c92edd8cfb4', object: 'chat.completion', model: 'command-a-03-2025' });
  t.same(choice(body).message, { role: 'assistant', content: 'LLMs stand for Large Language Models, which are a type of neural network model specialized in processing and generating human language.', refusal: null });
  t.equal(choice(body).finish_reason, 'stop');
  t.same(body['usage'], { prompt_tokens: 71, completion_tokens: 418, total_tokens: 489 });
  t.same(usage, { prompt_tokens: 71, completion_tokens: 418, total_tokens: 489 });
  t.same(parse(fixture('chat'), billed).body['usage'], { prompt_tokens: 5, completion_tokens: 418, total_tokens: 423 }, 'usage_source: billed_units');
});

t.test('tool calls: the tool plan is the message text, calls keep their ids, cached tokens are reported with token counts', async (t) => {
  const { body } = parse(fixture('chat-tool-calls'));
  const message = choice(body).message;
  t.equal(message['content'], "I will first find the sales summary for 29th September 2023. Then, I will find the details of the products in the 'Electronics' category.");
  t.same(message['tool_calls'], [
    { id: 'query_daily_sales_report_hgxxmkby3wta', type: 'function', function: { name: 'query_daily_sales_report', arguments: '{"day": "2023-09-29"}' } },
    { id: 'query_product_catalog_rpg0z5h8yyz2', type: 'function', function: { name: 'query_product_catalog', arguments: '{"category": "Electronics"}' } },
  ]);
  t.equal(choice(body).finish_reason, 'tool_calls');
  t.same(body['usage'], { prompt_tokens: 1032, completion_tokens: 124, total_tokens: 1156, prompt_tokens_details: { cached_tokens: 512 } });
  t.same(parse(fixture('chat-tool-calls'), billed).body['usage'], { prompt_tokens: 127, completion_tokens: 69, total_tokens: 196 }, 'billed counts leave cache hits (counted against all tokens) out');

  const { tool_plan: _plan, ...withoutPlan } = fixture<{ message: Json }>('chat-tool-calls').message;
  t.equal(choice(parse({ ...fixture<Json>('chat-tool-calls'), message: withoutPlan }).body).message['content'], null, 'no text next to the calls → content null');
});

t.test('finish reasons, thinking parts and missing usage', async (t) => {
  const withReason = (finish_reason: string) => choice(parse({ ...fixture<Json>('chat'), finish_reason }).body).finish_reason;
  t.equal(withReason('STOP_SEQUENCE'), 'stop');
  t.equal(withReason('MAX_TOKENS'), 'length');
  t.equal(withReason('TIMEOUT'), 'length', 'cut short by the time limit');
  const err = failure(() => parse({ ...fixture<Json>('chat'), finish_reason: 'ERROR' }));
  t.match(err, { status: 502, type: 'upstream_error', code: 'upstream_generation_error' }, 'ERROR is a failure, not an answer');

  const thinking = { id: 'x', finish_reason: 'COMPLETE', message: { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'text', text: 'Yes.' }] } };
  const { body, usage } = parse(thinking);
  t.equal(choice(body).message['content'], 'Yes.', 'thinking is left out');
  t.equal(usage, undefined);
  t.notOk('usage' in body);
});

t.test('a body that is not a Cohere chat response → 502', async (t) => {
  for (const bad of [null, [], { id: 'x' }, { message: {}, finish_reason: 3 }]) {
    t.match(failure(() => parse(bad)), { status: 502, code: 'upstream_invalid_response' });
  }
});

t.test('the documented text stream becomes OpenAI chunks; the usage chunk only when asked', async (t) => {
  const { chunks, usage } = streamOf(streamFixture('stream-text'), { clientWantsUsage: true });
  t.same(deltas(chunks).map((c) => [c.delta, c.finish_reason]), [
    [{ role: 'assistant', content: '' }, null],
    [{ content: 'LL' }, null],
    [{ content: 'Ms' }, null],
    [{ content: ' stand for Large Language Models.' }, null],
    [{}, 'stop'],
  ]);
  t.ok(chunks.every((c) => c['id'] === '29f14a5a-11de-4cae-9800-25e4747408ea' && c['object'] === 'chat.completion.chunk'), 'one id for the whole stream');
  t.same(chunks.at(-1), { ...chunks.at(-1), choices: [], usage: { prompt_tokens: 71, completion_tokens: 26, total_tokens: 97 } });
  t.same(usage, { prompt_tokens: 71, completion_tokens: 26, total_tokens: 97 });
  const quiet = streamOf(streamFixture('stream-text'));
  t.notOk(quiet.chunks.some((c) => 'usage' in c), 'no usage chunk unless the client asked');
  t.same(quiet.usage, usage, 'usage is still recorded');
});

t.test('the documented tool stream: plan as text, thinking left out, tool-call deltas by index', async (t) => {
  const { chunks, usage } = streamOf(streamFixture('stream-tool-calls'));
  t.same(deltas(chunks).slice(1).map((c) => c.delta), [
    { content: 'I will use the query_daily_sales_report tool' },
    { content: ' and the query_product_catalog tool.' },
    { tool_calls: [{ index: 0, id: 'query_daily_sales_report_j3f0adww9pmr', type: 'function', function: { name: 'query_daily_sales_report', arguments: '' } }] },
    { tool_calls: [{ index: 0, function: { arguments: '{"day": ' } }] },
    { tool_calls: [{ index: 0, function: { arguments: '"2023-09-29"}' } }] },
    { tool_calls: [{ index: 1, id: 'query_product_catalog_c66nf11r6s8g', type: 'function', function: { name: 'query_product_catalog', arguments: '' } }] },
    { tool_calls: [{ index: 1, function: { arguments: '{"category": "Electronics"}' } }] },
    {},
  ]);
  t.equal(deltas(chunks).at(-1)?.finish_reason, 'tool_calls');
  t.same(usage, { prompt_tokens: 1589, completion_tokens: 135, total_tokens: 1724, cached_tokens: 1024 });
});

t.test('streams without the `type` field are read by their SSE event name; a trailing [DONE] is accepted', async (t) => {
  const events = streamFixture('stream-text').map((e) => {
    const { type: _type, ...data } = e.data;
    return { event: e.event, data };
  });
  const { chunks } = streamOf(events);
  t.equal(deltas(chunks).map((c) => c.delta['content'] ?? '').join(''), 'LLMs stand for Large Language Models.');
  const translator = adapter.streamTranslator(cohereOp({}, { stream: true }));
  for (const e of streamFixture('stream-text').slice(0, -1)) translator.event(sse(e.data, e.event));
  t.match(failure(() => translator.event(sse('[DONE]'))), { status: 502, code: 'upstream_stream_truncated' }, '[DONE] before message-end is a truncation');
});

t.test('broken streams: truncation, non-JSON events, and a generation error', async (t) => {
  t.match(failure(() => streamOf(streamFixture('stream-text').slice(0, -1))), { status: 502, code: 'upstream_stream_truncated' });
  t.match(failure(() => streamOf([{ data: 'not json' }])), { status: 502, code: 'upstream_invalid_response' });
  const err = failure(() => streamOf(streamFixture('stream-error')));
  t.match(err, { status: 502, code: 'upstream_generation_error' });
  t.match(err.message, 'co: the generation failed: internal server error, please try again');
});

t.test('error bodies → status, type and message; the key never leaks', async (t) => {
  const body = (message: string) => JSON.stringify({ id: 'e1', message });
  const check = (t: Test, status: number, expected: { status: number; type: string; code?: string }) => {
    const err = adapter.parseError(status, body(`problem ${status}`), {});
    t.match(err, expected, `${status}`);
    t.equal(err.message, `co: problem ${status}`);
  };
  check(t, 400, { status: 400, type: 'invalid_request_error' });
  check(t, 401, { status: 401, type: 'authentication_error' });
  check(t, 402, { status: 402, type: 'invalid_request_error' });
  check(t, 403, { status: 403, type: 'permission_error' });
  check(t, 404, { status: 404, type: 'not_found_error' });
  check(t, 422, { status: 422, type: 'invalid_request_error' });
  check(t, 498, { status: 401, type: 'authentication_error', code: 'invalid_api_key' });
  check(t, 499, { status: 502, type: 'upstream_error' });
  check(t, 500, { status: 502, type: 'upstream_error' });
  check(t, 503, { status: 503, type: 'upstream_error' });
  const limited = adapter.parseError(429, body('You are past the per minute request limit, please wait and try again later.'), { 'retry-after': '7' });
  t.match(limited, { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' });
  t.equal(limited.headers['retry-after'], '7');
  const documented = fixture<{ status: number; body: Json }>('error');
  t.equal(adapter.parseError(documented.status, JSON.stringify(documented.body), {}).message, 'co: invalid request: message must be at least 1 token long or tool results must be specified.');
  t.equal(adapter.parseError(502, '<html>bad gateway</html>', {}).message, 'co: <html>bad gateway</html>', 'a body that is not JSON is the message');
  const leaked = adapter.parseError(401, body('invalid api token co-test-key-0123456789'), {});
  t.equal(leaked.message, 'co: invalid api token [redacted]');
});

t.test('embed responses → an OpenAI embeddings list', async (t) => {
  const op = cohereOp({ input: ['hello', 'goodbye'] }, { endpoint: 'embeddings' });
  const { body, usage } = parse(fixture('embed'), adapter, op);
  t.same(body, {
    object: 'list',
    data: [
      { object: 'embedding', index: 0, embedding: [0.016296387, -0.008354187, -0.04699707, -0.07104492] },
      { object: 'embedding', index: 1, embedding: [0.0050201416, -0.01638794, -0.03729248, -0.0418396] },
    ],
    model: 'embed-v4.0',
    usage: { prompt_tokens: 2, total_tokens: 2 },
  });
  t.same(usage, { prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 }, 'embed reports billed units only; usage_source tokens falls back to them');

  const b64 = parse(fixture('embed'), adapter, cohereOp({ input: ['hello', 'goodbye'], encoding_format: 'base64' }, { endpoint: 'embeddings' })).body;
  const bytes = Buffer.from((b64['data'] as { embedding: string }[])[0]!.embedding, 'base64');
  t.same([...new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))].map((x) => Math.round(x * 1e6) / 1e6), [0.016296, -0.008354, -0.046997, -0.071045]);

  const one = cohereOp({ input: 'hello' }, { endpoint: 'embeddings' });
  t.match(failure(() => parse(fixture('embed'), adapter, one)), { status: 502, code: 'upstream_invalid_response' }, 'one vector per input or nothing');
  t.match(failure(() => parse({ id: 'x', embeddings: {} }, adapter, op)), { status: 502, code: 'upstream_invalid_response' });
});
