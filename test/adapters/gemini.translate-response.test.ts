/**
 * Response, stream and error translation of the `gemini` adapter (Gemini → OpenAI), from the
 * fixtures in test/fixtures/gemini/ (https://ai.google.dev/api/generate-content#generatecontentresponse,
 * https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes).
 */
import t from 'tap';
import { GatewayError } from '../../core/errors.js';
import { geminiFixture } from './gemini-wire.js';
import { geminiOp, makeGemini } from './gemini-adapter.js';
import { feedStream, sse, thrown } from './harness.js';

const { adapter } = makeGemini();
type Choice = { index: number; message: { content: string | null; tool_calls?: { id: string; function: { name: string; arguments: string }; extra_content?: unknown }[] }; finish_reason: string };
const parse = (body: unknown, extra = {}) => adapter.parseResponse(geminiOp({}, extra), body) as { body: { id: string; model: string; choices: Choice[]; usage?: Record<string, unknown> }; usage: Record<string, unknown> | undefined };
const candidate = (finishReason: string, parts: unknown[] = [{ text: 'x' }]) => ({ candidates: [{ content: { role: 'model', parts }, finishReason, index: 0 }], responseId: 'r1' });

t.test('text, usage with cached and reasoning tokens (reasoning counted as completion, as OpenAI does)', async (t) => {
  const res = parse({ ...geminiFixture('generate-content'), usageMetadata: { promptTokenCount: 100, candidatesTokenCount: 20, thoughtsTokenCount: 30, cachedContentTokenCount: 64, totalTokenCount: 150 } });
  t.equal(res.body.choices[0]!.message.content, 'Hi there!');
  t.equal(res.body.choices[0]!.finish_reason, 'stop');
  t.equal(res.body.id, 'chatcmpl-mTUmaeTGBIbW7M8P3rmy0Qc');
  t.equal(res.body.model, 'gemini-3.8-flash');
  t.same(res.usage, { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150, cached_tokens: 64, reasoning_tokens: 30 });
  t.same(res.body.usage, { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150, prompt_tokens_details: { cached_tokens: 64 }, completion_tokens_details: { reasoning_tokens: 30 } });
});

t.test('finish reasons map to OpenAI finish reasons', async (t) => {
  const finish = (reason: string, parts?: unknown[]) => parse(candidate(reason, parts)).body.choices[0]!.finish_reason;
  t.equal(finish('STOP'), 'stop');
  t.equal(finish('MAX_TOKENS'), 'length');
  for (const reason of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII']) t.equal(finish(reason), 'content_filter', reason);
  t.equal(finish('OTHER'), 'stop');
  t.equal(finish('STOP', [{ functionCall: { name: 'f', args: {} } }]), 'tool_calls');
  t.equal(finish('MAX_TOKENS', [{ functionCall: { name: 'f', args: {} } }]), 'length');
});

t.test('a blocked prompt is a content_filter answer with no content', async (t) => {
  const res = parse(geminiFixture('prompt-blocked'));
  t.equal(res.body.choices[0]!.finish_reason, 'content_filter');
  t.equal(res.body.choices[0]!.message.content, null);
  t.equal(res.usage?.['prompt_tokens'], 9);
  const err = thrown(() => parse({ candidates: [] }));
  t.ok(err instanceof GatewayError && err.status === 502 && err.code === 'upstream_invalid_response', 'no candidates and no block reason is a provider fault');
});

t.test('function calls: stable synthesized ids, native ids kept, thought signature in extra_content, thoughts hidden', async (t) => {
  const fixture = geminiFixture('generate-content-function-call');
  const first = parse(fixture).body.choices[0]!;
  const again = parse(fixture).body.choices[0]!;
  const calls = first.message.tool_calls!;
  t.equal(first.message.content, null);
  t.match(calls.map((c) => c.id), [/^call_0_[0-9a-f]{16}$/, /^call_1_[0-9a-f]{16}$/]);
  t.same(again.message.tool_calls!.map((c) => c.id), calls.map((c) => c.id), 'the same answer gets the same ids');
  t.not(parse({ ...fixture, responseId: 'other' }).body.choices[0]!.message.tool_calls![0]!.id, calls[0]!.id, 'another answer gets other ids');
  t.same(calls[0]!.extra_content, { google: { thought_signature: 'CiwBjz1rX3Lx0cTkD3v6kJ0Z2yZqfUqGQ1ZSd3VOcW1rYXZtY2hjZ2U=' } });
  t.notOk(calls[1]!.extra_content);
  t.same(calls.map((c) => JSON.parse(c.function.arguments)), [{ city: 'Paris' }, { city: 'Oslo' }]);
  const native = parse(candidate('STOP', [{ text: 'thinking…', thought: true }, { text: 'Sure.' }, { functionCall: { name: 'f', args: {}, id: 'fc-9' } }])).body.choices[0]!;
  t.equal(native.message.tool_calls![0]!.id, 'fc-9');
  t.equal(native.message.content, 'Sure.', 'thought summaries are not content');
});

t.test('n > 1: one choice per candidate', async (t) => {
  const res = parse({ candidates: [0, 1].map((index) => ({ content: { role: 'model', parts: [{ text: `answer ${index}` }] }, finishReason: 'STOP', index })), responseId: 'r' });
  t.same(res.body.choices.map((c) => [c.index, c.message.content]), [[0, 'answer 0'], [1, 'answer 1']]);
});

t.test('streams: text deltas, whole function calls numbered across events, finish, usage chunk on request', async (t) => {
  const translator = adapter.streamTranslator(geminiOp({}, { stream: true, clientWantsUsage: true }));
  const { chunks } = feedStream(translator, geminiFixture<{ events: unknown[] }>('stream-events').events.map((data) => ({ data })), { end: true });
  const deltas = chunks.map((c) => (c['choices'] as { delta: Record<string, unknown>; finish_reason: string | null }[])[0]);
  t.same(deltas.slice(0, 4).map((d) => d?.delta), [{ role: 'assistant', content: '' }, { content: 'Hel' }, { content: 'lo' }, { content: ' world' }]);
  t.equal(deltas[4]?.finish_reason, 'stop');
  t.same(chunks[5]?.['choices'], []);
  t.same(chunks[5]?.['usage'], { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  t.equal(chunks.length, 6);
  t.ok(chunks.every((c) => c['id'] === 'chatcmpl-stream-1' && c['object'] === 'chat.completion.chunk'));

  const fixture = geminiFixture<{ candidates: { content: { parts: unknown[] } }[]; responseId: string }>('generate-content-function-call');
  const [a, b] = fixture.candidates[0]!.content.parts;
  const tools = adapter.streamTranslator(geminiOp({}, { stream: true }));
  const streamed = [
    ...tools.event(sse({ candidates: [{ content: { role: 'model', parts: [a] }, index: 0 }], responseId: fixture.responseId })).chunks,
    ...tools.event(sse({ candidates: [{ content: { role: 'model', parts: [b] }, finishReason: 'STOP', index: 0 }], responseId: fixture.responseId, usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 2 } })).chunks,
  ] as { choices: { delta: { tool_calls?: { index: number; id: string }[] }; finish_reason: string | null }[] }[];
  t.same(tools.end(), [], 'no usage chunk unless asked');
  t.same(tools.usage(), { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
  const streamedCalls = streamed.flatMap((c) => c.choices[0]!.delta.tool_calls ?? []);
  t.same(streamedCalls.map((c) => c.index), [0, 1]);
  t.same(streamedCalls.map((c) => c.id), parse(fixture).body.choices[0]!.message.tool_calls!.map((c) => c.id), 'same ids as the complete response');
  t.equal(streamed.at(-1)!.choices[0]!.finish_reason, 'tool_calls');
});

t.test('streams: cut off before the finish reason, or an error event, is an error', async (t) => {
  const cut = adapter.streamTranslator(geminiOp({}, { stream: true }));
  cut.event(sse({ candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] }, index: 0 }] }));
  const err = thrown(() => cut.end());
  t.ok(err instanceof GatewayError && err.code === 'upstream_stream_truncated' && err.status === 502);
  t.ok(thrown(() => adapter.streamTranslator(geminiOp({}, { stream: true })).end()) instanceof GatewayError, 'an empty stream is cut off too');
  const failing = thrown(() => adapter.streamTranslator(geminiOp({}, { stream: true })).event(sse({ error: { code: 500, message: 'boom', status: 'INTERNAL' } })));
  t.ok(failing instanceof GatewayError && failing.status === 502);
  t.match((failing as Error).message, 'boom');
  const blocked = adapter.streamTranslator(geminiOp({}, { stream: true }));
  const chunks = blocked.event(sse(geminiFixture('prompt-blocked'))).chunks as { choices: { finish_reason: string | null }[] }[];
  t.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'content_filter');
  t.same(blocked.end(), []);
});

t.test('errors: Google envelopes map to the OpenAI status and type', async (t) => {
  const errors = geminiFixture<Record<string, unknown>>('errors');
  const badKey = adapter.parseError(400, JSON.stringify(errors['api_key_invalid']), {});
  t.same([badKey.status, badKey.type, badKey.code], [401, 'authentication_error', 'invalid_api_key']);
  t.equal(badKey.message, 'g: API key not valid. Please pass a valid API key.');
  const limited = adapter.parseError(429, JSON.stringify([errors['rate_limited']]), {});
  t.same([limited.status, limited.type, limited.headers['retry-after']], [429, 'rate_limit_error', '13'], 'array-wrapped body, RetryInfo → retry-after');
  t.equal(adapter.parseError(429, '{}', { 'retry-after': '7' }).headers['retry-after'], '7', 'a retry-after header wins');
  const overloaded = adapter.parseError(503, JSON.stringify(errors['overloaded']), {});
  t.same([overloaded.status, overloaded.type], [503, 'upstream_error']);
  t.same([adapter.parseError(500, '{"error":{"code":500,"message":"x","status":"INTERNAL"}}', {}).status, adapter.parseError(504, 'gateway timeout', {}).status], [502, 504]);
  const precondition = adapter.parseError(400, '{"error":{"code":400,"message":"User location is not supported","status":"FAILED_PRECONDITION"}}', {});
  t.same([precondition.status, precondition.type, precondition.code], [400, 'invalid_request_error', 'failed_precondition']);
  t.same([adapter.parseError(403, '{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}', {}).type, adapter.parseError(404, 'not json', {}).message], ['permission_error', 'g: not json']);
});

t.test('embeddings responses become an OpenAI list; base64 on request; usage estimated when not reported', async (t) => {
  const fixture = geminiFixture<{ embed_content: unknown; batch_embed_contents: unknown }>('embeddings');
  const op = (input: unknown, extra: Record<string, unknown> = {}) => geminiOp({ input, ...extra }, { endpoint: 'embeddings', model: 'gemini-embedding-001' });
  const one = adapter.parseResponse(op('hello there'), fixture.embed_content) as unknown as { body: { data: { embedding: number[]; index: number }[]; model: string }; usage: Record<string, unknown> };
  t.same(one.body.data, [{ object: 'embedding', index: 0, embedding: [0.0123, -0.0456, 0.0789, -0.0012] }]);
  t.equal(one.body.model, 'gemini-embedding-001');
  t.same(one.usage, { prompt_tokens: 3, completion_tokens: 0, total_tokens: 3 });
  const many = adapter.parseResponse(op(['a', 'b'], { encoding_format: 'base64' }), fixture.batch_embed_contents) as { body: { data: { embedding: string }[] } };
  const decoded = Buffer.from(many.body.data[1]!.embedding, 'base64');
  t.same(Array.from(new Float32Array(decoded.buffer, decoded.byteOffset, 4)).map((v) => Math.round(v * 1e4) / 1e4), [0.0321, 0.0654, -0.0987, 0.0021]);
  const err = thrown(() => adapter.parseResponse(op(['a', 'b', 'c']), fixture.batch_embed_contents));
  t.ok(err instanceof GatewayError && err.code === 'upstream_invalid_response', 'one vector per input or a 502');
});

t.test('image responses: b64_json or a data: URL; a refused prompt is a 400, no image otherwise a 502', async (t) => {
  const op = (extra: Record<string, unknown> = {}) => geminiOp({ prompt: 'a cat', ...extra }, { endpoint: 'images.generations', model: 'gemini-nano-banana-2.1' });
  const fixture = geminiFixture<{ candidates: { content: { parts: { inlineData: { data: string } }[] } }[] }>('image-generate-content');
  const png = fixture.candidates[0]!.content.parts[0]!.inlineData.data;
  const b64 = adapter.parseResponse(op(), fixture) as unknown as { body: { data: unknown[] }; usage: Record<string, unknown> };
  t.same(b64.body.data, [{ b64_json: png }]);
  t.same(b64.usage, { prompt_tokens: 7, completion_tokens: 1120, total_tokens: 1127 });
  t.same((adapter.parseResponse(op({ response_format: 'url' }), fixture).body as { data: unknown[] }).data, [{ url: `data:image/png;base64,${png}` }]);
  const refused = thrown(() => adapter.parseResponse(op(), candidate('IMAGE_SAFETY', [])));
  t.ok(refused instanceof GatewayError && refused.status === 400 && refused.code === 'content_policy_violation');
  const empty = thrown(() => adapter.parseResponse(op(), candidate('NO_IMAGE', [{ text: 'I cannot draw that.' }])));
  t.ok(empty instanceof GatewayError && empty.status === 502);
});
