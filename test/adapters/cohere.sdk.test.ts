/**
 * Wire-format check with Cohere's official `cohere-ai` SDK (v8, `CohereClientV2`): pointed at the
 * Cohere mock and at the raw fixtures, the SDK parses chat responses, streams, embeddings and
 * errors. The SDK maps each object of a body that matches Cohere's API definition to camelCase
 * (`finish_reason` → `finishReason`, `usage.billed_units` → `usage.billedUnits`) and leaves an
 * object that does not match as it came, so the camelCase fields asserted below show the mock speaks
 * the real protocol. The requests the SDK sends for a call are compared with the ones the adapter
 * builds for the same OpenAI call.
 */
import t from 'tap';
import { Cohere, CohereClientV2 } from 'cohere-ai';
import { serveFixtures, startWireMock } from './wire-mock.js';
import { renderCohere } from './cohere-wire.js';
import type { ProviderMock } from './conformance.js';
import { cohereOp, makeCohere } from './cohere-adapter.js';
import { sentBody } from './harness.js';

let mock: ProviderMock;
let client: CohereClientV2;
const { adapter } = makeCohere();

t.before(async () => {
  mock = await startWireMock(renderCohere);
  client = new CohereClientV2({ token: 'co-sdk-key', environment: mock.baseUrl, maxRetries: 0 });
});
t.afterEach(() => {
  mock.calls.length = 0;
});
t.teardown(() => mock.close());

const weather = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
/** The body the SDK sent, without the `stream` flag the SDK always writes (the adapter writes it only when streaming). */
const sdkBody = (i = 0) => {
  const { stream: _s, ...rest } = mock.calls[i]!.body ?? {};
  return rest;
};

t.test('the SDK parses a chat response from the mock, and sends what the adapter sends', async (t) => {
  mock.respondWith({ kind: 'text', text: 'Hi there!', usage: { input: 11, output: 3 } });
  const res = await client.chat({ model: 'command-a-03-2025', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], temperature: 0.2, maxTokens: 50, stopSequences: ['END'] });
  t.same(res.message.content, [{ type: 'text', text: 'Hi there!' }]);
  t.equal(res.finishReason, 'COMPLETE');
  t.same(res.usage?.tokens, { inputTokens: 11, outputTokens: 3 });
  t.same(res.usage?.billedUnits, { inputTokens: 5, outputTokens: 3 });
  const call = mock.calls[0]!;
  t.equal(call.url, '/v2/chat', 'the SDK posts where the adapter posts');
  t.equal(call.headers['authorization'], 'Bearer co-sdk-key', 'and authenticates the same way');
  t.same(sentBody(adapter, cohereOp({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], temperature: 0.2, max_tokens: 50, stop: 'END' })), sdkBody());
});

t.test('the SDK reads tool calls and the tool plan; tools are declared as the adapter declares them', async (t) => {
  mock.respondWith({ kind: 'tools', stream: false, usage: { input: 20, output: 10 }, calls: [{ id: 'get_weather_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] });
  const messages = [{ role: 'user' as const, content: 'Weather in Paris?' }];
  const res = await client.chat({ model: 'command-a-03-2025', messages, tools: [weather], toolChoice: 'REQUIRED' });
  t.equal(res.finishReason, 'TOOL_CALL');
  t.same(res.message.toolCalls, [{ id: 'get_weather_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
  t.match(res.message.toolPlan, /sales summary/);
  t.same(sentBody(adapter, cohereOp({ messages, tools: [weather], tool_choice: 'required' })), sdkBody());
});

t.test('the SDK assembles the mock stream (chatStream), sent as the adapter streams', async (t) => {
  mock.respondWith({ kind: 'stream', parts: ['Hel', 'lo', ' world'], usage: { input: 5, output: 3 } });
  const stream = await client.chatStream({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Hello' }] });
  const types: string[] = [];
  let text = '';
  let end: Cohere.ChatMessageEndEventDelta | undefined;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'content-delta') text += event.delta?.message?.content?.text ?? '';
    if (event.type === 'message-end') end = event.delta;
  }
  t.same(types, ['message-start', 'content-start', 'content-delta', 'content-delta', 'content-delta', 'content-end', 'message-end']);
  t.equal(text, 'Hello world');
  t.equal(end?.finishReason, 'COMPLETE');
  t.same(end?.usage?.tokens, { inputTokens: 5, outputTokens: 3 });
  t.equal(mock.calls[0]?.body?.['stream'], true);
  t.same(sentBody(adapter, cohereOp({ messages: [{ role: 'user', content: 'Hello' }] }, { stream: true })), mock.calls[0]?.body);
});

t.test('the SDK assembles streamed tool calls from the mock', async (t) => {
  mock.respondWith({ kind: 'tools', stream: true, usage: { input: 20, output: 10 }, calls: [{ id: 'get_weather_9', name: 'get_weather', arguments: '{"city":"Lima"}' }] });
  const stream = await client.chatStream({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Weather in Lima?' }], tools: [weather] });
  let name: string | undefined;
  let args = '';
  let plan = '';
  let finish: string | undefined;
  for await (const event of stream) {
    if (event.type === 'tool-plan-delta') plan += event.delta?.message?.toolPlan ?? '';
    if (event.type === 'tool-call-start') name = event.delta?.message?.toolCalls?.function?.name;
    if (event.type === 'tool-call-delta') args += event.delta?.message?.toolCalls?.function?.arguments ?? '';
    if (event.type === 'message-end') finish = event.delta?.finishReason;
  }
  t.equal(plan, 'I will look that up.');
  t.equal(name, 'get_weather');
  t.same(JSON.parse(args), { city: 'Lima' });
  t.equal(finish, 'TOOL_CALL');
});

t.test('the SDK parses embeddings from the mock, and embeds what the adapter sends', async (t) => {
  const res = await client.embed({ model: 'embed-v4.0', texts: ['hello', 'goodbye'], inputType: 'search_document', embeddingTypes: ['float'], outputDimension: 256 });
  t.equal(res.embeddings.float?.length, 2);
  t.equal(res.embeddings.float?.[0]?.length, 4);
  t.equal(res.meta?.billedUnits?.inputTokens, 4);
  t.equal(mock.calls[0]?.url, '/v2/embed');
  t.same(sentBody(adapter, cohereOp({ input: ['hello', 'goodbye'], dimensions: 256 }, { endpoint: 'embeddings' })), mock.calls[0]?.body);
});

t.test('the SDK reads the mock error bodies as Cohere errors', async (t) => {
  mock.respondWith({ kind: 'error', status: 429, message: 'You are past the per minute request limit, please wait and try again later.', retryAfter: '13' });
  const limited = await client.chat({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
  t.ok(limited instanceof Cohere.TooManyRequestsError);
  t.match((limited as Cohere.TooManyRequestsError).body, { message: 'You are past the per minute request limit, please wait and try again later.' });
  mock.respondWith({ kind: 'error', status: 503, message: 'overloaded' });
  const overloaded = await client.chat({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
  t.ok(overloaded instanceof Cohere.ServiceUnavailableError, 'Cohere documents 503 for an unavailable service');
});

t.test('the SDK parses every raw fixture', async (t) => {
  const server = await serveFixtures('cohere');
  t.teardown(() => server.close());
  const raw = new CohereClientV2({ token: 'x', environment: server.url, maxRetries: 0 });
  const using = (name: string) => ({ headers: { 'x-fixture': name } });
  const params = { model: 'command-a-03-2025', messages: [{ role: 'user' as const, content: 'Hi' }] };

  const chat = await raw.chat(params, using('chat'));
  t.equal(chat.usage?.billedUnits?.inputTokens, 5);
  const tools = await raw.chat(params, using('chat-tool-calls'));
  t.equal(tools.message.toolCalls?.length, 2);
  t.equal(tools.usage?.cachedTokens, 512);
  const embed = await raw.embed({ model: 'embed-v4.0', texts: ['hello', 'goodbye'], inputType: 'classification', embeddingTypes: ['float'] }, using('embed'));
  t.equal(embed.embeddings.float?.length, 2);
  t.equal(embed.meta?.billedUnits?.inputTokens, 2);
  t.equal(embed.responseType, 'embeddings_by_type');

  const ends: Record<string, Cohere.ChatMessageEndEventDelta | undefined> = {};
  for (const name of ['stream-text', 'stream-tool-calls', 'stream-error']) {
    for await (const event of await raw.chatStream(params, using(name))) if (event.type === 'message-end') ends[name] = event.delta;
  }
  t.equal(ends['stream-text']?.finishReason, 'COMPLETE');
  t.equal(ends['stream-tool-calls']?.usage?.cachedTokens, 1024);
  t.match(ends['stream-error'], { finishReason: 'ERROR', error: 'internal server error, please try again' });
});
