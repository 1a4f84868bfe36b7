/**
 * `yandex` response translation: completions, cumulative NDJSON streams → OpenAI deltas, error
 * bodies, embeddings. Fixtures in test/fixtures/yandex/ cite the reference pages they follow.
 * Pure: parseResponse / streamTranslator / parseError, plus the core NDJSON reader fed bytes.
 */
import t from 'tap';
import { readJsonLines } from '../../core/http/sse.js';
import type { StreamTranslator } from '../../plugins/route/adapter.js';
import { chatOp, embeddingOp, line, makeYandex } from './yandex-adapter.js';
import { expectError } from './harness.js';
import { yandexFixture } from './yandex-wire.js';

const { adapter } = makeYandex();
const op = chatOp({});
const parse = (body: unknown) => adapter.parseResponse(op, body);
const streamLines = yandexFixture<{ lines: unknown[] }>('stream-lines').lines;
const alt = (message: Record<string, unknown>, status: string, usage: Record<string, unknown> = { inputTextTokens: '3', completionTokens: '2', totalTokens: '5' }) => ({ result: { alternatives: [{ message: { role: 'assistant', ...message }, status }], usage, modelVersion: '1' } });

interface Chunk {
  choices: { delta: { role?: string; content?: string; tool_calls?: unknown[] }; finish_reason: string | null }[];
  usage?: Record<string, unknown>;
}
const feed = (translator: StreamTranslator, values: unknown[]) => values.flatMap((v) => translator.event(line(v)).chunks) as Chunk[];
const contents = (chunks: Chunk[]) => chunks.map((c) => c.choices[0]?.delta.content).filter((c) => c !== undefined && c !== '');

t.test('a completion: text, stop, usage parsed from int64 strings (reasoning tokens included)', async (t) => {
  const { body, usage } = parse(yandexFixture('completion'));
  t.match(body, { id: 'chatcmpl-req-1', object: 'chat.completion', model: 'yandexgpt-lite', choices: [{ index: 0, message: { role: 'assistant', content: 'To be, or not to be: that is the question.' }, finish_reason: 'stop' }] });
  t.same((body as Record<string, unknown>)['usage'], { prompt_tokens: 28, completion_tokens: 10, total_tokens: 38, completion_tokens_details: { reasoning_tokens: 0 } });
  t.same(usage, { prompt_tokens: 28, completion_tokens: 10, total_tokens: 38, reasoning_tokens: 0 });
  t.same(parse(alt({ text: 'x' }, 'ALTERNATIVE_STATUS_FINAL', { inputTextTokens: 4, completionTokens: 1 })).usage, { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 }, 'plain numbers work too');
  const unwrapped = alt({ text: 'x' }, 'ALTERNATIVE_STATUS_FINAL').result;
  t.match(parse(unwrapped).body, { choices: [{ message: { content: 'x' } }] }, 'an unwrapped CompletionResponse is read too');
});

t.test('finish reasons: TRUNCATED_FINAL → length, CONTENT_FILTER → content_filter, TOOL_CALLS → tool_calls', async (t) => {
  const finish = (status: string) => ((parse(alt({ text: 'x' }, status)).body as Chunk & { choices: { finish_reason: string }[] }).choices[0]!.finish_reason);
  t.equal(finish('ALTERNATIVE_STATUS_FINAL'), 'stop');
  t.equal(finish('ALTERNATIVE_STATUS_TRUNCATED_FINAL'), 'length');
  t.equal(finish('ALTERNATIVE_STATUS_CONTENT_FILTER'), 'content_filter');
  const { body } = parse(yandexFixture('completion-tool-calls'));
  t.match(body, { choices: [{ message: { content: null, tool_calls: [{ id: 'call_req-1_0', type: 'function', function: { name: 'weatherTool', arguments: '{"city":"Saint Petersburg"}' } }] }, finish_reason: 'tool_calls' }] });
});

t.test('a body without alternatives is a 502', async (t) => {
  expectError(t, () => parse({ result: { alternatives: [] } }), 502, 'upstream_invalid_response');
  expectError(t, () => parse({ hello: 'world' }), 502, 'upstream_invalid_response');
});

t.test('stream: each cumulative line yields only its new suffix; finish and usage chunk at the end', async (t) => {
  const translator = adapter.streamTranslator(chatOp({}, { stream: true, clientWantsUsage: true }));
  const out: Chunk[] = [];
  let done = false;
  for (const l of streamLines) {
    const r = translator.event(line(l));
    out.push(...(r.chunks as Chunk[]));
    done = r.done === true;
  }
  t.ok(done, 'the final status ends the stream');
  t.equal(out[0]?.choices[0]?.delta.role, 'assistant', 'role first');
  t.same(contents(out), ['Один', ', два, три', ', четыре, пять.']);
  t.equal(out.at(-2)?.choices[0]?.finish_reason, 'stop');
  t.same(out.at(-1)?.choices, [], 'usage chunk has no choices');
  t.same(out.at(-1)?.usage, { prompt_tokens: 15, completion_tokens: 10, total_tokens: 25, completion_tokens_details: { reasoning_tokens: 2 } });
  t.same(translator.usage(), { prompt_tokens: 15, completion_tokens: 10, total_tokens: 25, reasoning_tokens: 2 });
  const quiet = adapter.streamTranslator(chatOp({}, { stream: true }));
  t.notOk(feed(quiet, streamLines).some((c) => c.usage), 'no usage chunk unless the client asked');
  t.ok(quiet.usage(), 'usage still recorded for the gateway');
});

t.test('stream: multi-byte UTF-8 text split across network chunks at every byte comes out whole', async (t) => {
  const bytes = Buffer.from(streamLines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += 3) yield bytes.subarray(i, i + 3); // cuts Cyrillic (2-byte) characters
  }
  const translator = adapter.streamTranslator(chatOp({}, { stream: true }));
  const out: Chunk[] = [];
  for await (const event of readJsonLines(pieces())) out.push(...(translator.event(event).chunks as Chunk[]));
  t.equal(contents(out).join(''), 'Один, два, три, четыре, пять.');
  t.notOk(contents(out).join('').includes('\uFFFD'), 'no replacement characters');
});

t.test('stream: a shorter final text or a content-filter replacement adds nothing; another rewrite is a 502', async (t) => {
  const trimmed = adapter.streamTranslator(chatOp({}, { stream: true }));
  const out = feed(trimmed, [alt({ text: 'Hello ' }, 'ALTERNATIVE_STATUS_PARTIAL'), alt({ text: 'Hello' }, 'ALTERNATIVE_STATUS_FINAL')]);
  t.same(contents(out), ['Hello '], 'the client keeps what it had');
  t.equal(out.at(-1)?.choices[0]?.finish_reason, 'stop');
  const rewritten = adapter.streamTranslator(chatOp({}, { stream: true }));
  rewritten.event(line(alt({ text: 'Hello' }, 'ALTERNATIVE_STATUS_PARTIAL')));
  expectError(t, () => rewritten.event(line(alt({ text: 'Goodbye' }, 'ALTERNATIVE_STATUS_PARTIAL'))), 502, 'upstream_stream_diverged');
  const filtered = adapter.streamTranslator(chatOp({}, { stream: true }));
  const stopped = feed(filtered, [alt({ text: 'Here is how to' }, 'ALTERNATIVE_STATUS_PARTIAL'), alt({ text: 'I cannot discuss this topic.' }, 'ALTERNATIVE_STATUS_CONTENT_FILTER')]);
  t.same(contents(stopped), ['Here is how to'], 'a filter that replaces the text adds nothing');
  t.equal(stopped.at(-1)?.choices[0]?.finish_reason, 'content_filter');
});

t.test('stream: function calls on the final line become one tool_calls delta', async (t) => {
  const translator = adapter.streamTranslator(chatOp({}, { stream: true, requestId: 'r9' }));
  const tool = (yandexFixture<{ result: unknown }>('completion-tool-calls'));
  const out = feed(translator, [alt({ text: '' }, 'ALTERNATIVE_STATUS_PARTIAL'), tool]);
  t.same(out.find((c) => c.choices[0]?.delta.tool_calls)?.choices[0]?.delta.tool_calls, [{ index: 0, id: 'call_r9_0', type: 'function', function: { name: 'weatherTool', arguments: '{"city":"Saint Petersburg"}' } }]);
  t.equal(out.at(-1)?.choices[0]?.finish_reason, 'tool_calls');
  t.equal(translator.usage()?.prompt_tokens, 74);
});

t.test('stream: error lines, non-JSON lines and early ends', async (t) => {
  const s = () => adapter.streamTranslator(chatOp({}, { stream: true }));
  const limited = expectError(t, () => s().event(line({ error: { grpcCode: 8, httpCode: 429, message: 'ai.textGenerationCompletionSessionsCount.count gauge quota limit exceed', httpStatus: 'Too Many Requests' } })), 429, 'rate_limit_exceeded');
  t.match(limited.message, /^yc: .*quota limit exceed/);
  expectError(t, () => s().event(line({ error: { grpcCode: 14, message: 'unavailable' } })), 503, 'upstream_error');
  expectError(t, () => s().event(line({ code: 13, message: 'internal', details: [] })), 502, 'upstream_error');
  expectError(t, () => s().event(line('not json')), 502, 'upstream_invalid_response');
  const cut = s();
  cut.event(line(alt({ text: 'Hel' }, 'ALTERNATIVE_STATUS_PARTIAL')));
  expectError(t, () => cut.end(), 502, 'upstream_stream_truncated');
});

t.test('errors: google.rpc.Status and grpc-gateway envelopes → status, type, code; secrets redacted', async (t) => {
  const errs = yandexFixture<{ status: unknown; gateway: unknown }>('errors');
  const unauth = adapter.parseError(401, JSON.stringify(errs.status), {});
  t.match(unauth, { status: 401, type: 'authentication_error', code: 'unauthenticated', message: 'yc: Token is invalid or has expired.' });
  const bad = adapter.parseError(400, JSON.stringify(errs.gateway), {});
  t.match(bad, { status: 400, type: 'invalid_request_error', code: 'invalid_argument' });
  t.match(bad.message, /number of input tokens must be no more than 32768/);
  const echoed = adapter.parseError(401, JSON.stringify({ error: { grpcCode: 16, httpCode: 401, message: "Unknown api key 'AQVN-test-key-123'", httpStatus: 'Unauthorized' } }), {});
  t.notOk(echoed.message.includes('AQVN-test-key-123'), 'the key is not echoed to the client');
  t.match(echoed.message, /\[redacted\]/);
  const iam = makeYandex({ api_key: undefined, iam_token: 't1.secret-iam-token' }).adapter.parseError(401, '{"code":16,"message":"bad token t1.secret-iam-token"}', {});
  t.notOk(iam.message.includes('t1.secret-iam-token'), 'IAM tokens are redacted too');
  t.match(adapter.parseError(429, JSON.stringify({ error: { grpcCode: 8, httpCode: 429, message: 'quota' } }), { 'retry-after': '7' }), { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', headers: { 'retry-after': '7' } });
  t.match(adapter.parseError(500, '{"code":13,"message":"internal"}', {}), { status: 502, type: 'upstream_error' });
  t.match(adapter.parseError(503, '<html>Service Unavailable</html>', {}), { status: 503, message: 'yc: <html>Service Unavailable</html>' });
  t.match(adapter.parseError(404, '', {}), { status: 404, type: 'not_found_error', message: 'yc: HTTP 404' });
});

t.test('embeddings: string-typed vector and numTokens → an OpenAI list; base64 on request', async (t) => {
  const fixture = yandexFixture('text-embedding');
  const { body, usage } = adapter.parseResponse(embeddingOp({ input: 'hello' }), fixture);
  t.same(body, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [-0.0255126953125, 0.0362548828125, 0.01409912109375, -0.0833740234375] }], model: 'text-search-doc', usage: { prompt_tokens: 8, total_tokens: 8 } });
  t.same(usage, { prompt_tokens: 8, completion_tokens: 0, total_tokens: 8 });
  const b64 = adapter.parseResponse(embeddingOp({ input: 'hello', encoding_format: 'base64' }), fixture).body as { data: { embedding: string }[] };
  const floats = new Float32Array(Uint8Array.from(Buffer.from(b64.data[0]!.embedding, 'base64')).buffer);
  t.equal(floats.length, 4);
  t.equal(floats[1], Math.fround(0.0362548828125));
  expectError(t, () => adapter.parseResponse(embeddingOp({ input: 'x' }), { embedding: ['NaN?'] }), 502, 'upstream_invalid_response');
  expectError(t, () => adapter.parseResponse(embeddingOp({ input: 'x' }), {}), 502, 'upstream_invalid_response');
});
