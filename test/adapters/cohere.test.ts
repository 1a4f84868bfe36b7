/**
 * Conformance of the `cohere` adapter: the shared suite (official `openai` SDK → gateway → loopback
 * mock speaking Cohere's API v2, https://docs.cohere.com/v2/reference/chat), then recorded fixture
 * streams and embeddings through the gateway.
 */
import t, { type Test } from 'tap';
import { collectStream, gatewayClient, runConformance, streamUntilError } from './conformance.js';
import { serveEvents, startWireMock } from './wire-mock.js';
import { renderCohere, streamFixture } from './cohere-wire.js';

const config = (baseUrl: string, extra = ''): string => `version: 1
providers:
  p: { adapter: cohere, base_url: "${baseUrl}", api_key: co-provider-key${extra} }
models:
  test-model: { targets: [{ provider: p, model: command-a-03-2025 }] }
  test-embed: { targets: [{ provider: p, model: embed-v4.0 }] }
`;

runConformance(t, {
  name: 'cohere',
  startMock: () => startWireMock(renderCohere),
  config: (baseUrl) => config(baseUrl),
  checkChatRequest(t, call) {
    t.equal(call.url, '/v2/chat');
    t.equal(call.headers['authorization'], 'Bearer co-provider-key', 'the provider key, not the client key');
    t.same(call.body, {
      model: 'command-a-03-2025',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
      max_tokens: 50,
      temperature: 0.2,
    });
  },
  checkToolResultRequest(t, call) {
    const messages = call.body?.['messages'] as Record<string, unknown>[];
    t.same(messages.map((m) => m['role']), ['user', 'assistant', 'tool', 'tool']);
    t.same(messages[1], {
      role: 'assistant',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      ],
    });
    t.same(messages.slice(2), [
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      { role: 'tool', tool_call_id: 'call_2', content: '{"temp":-3}' },
    ]);
    t.same(call.body?.['tools'], [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }]);
  },
  checkJsonModeRequest(t, call) {
    t.same(call.body?.['response_format'], { type: 'json_object' });
  },
  overloadedStatus: 503,
});

/** A gateway whose provider (with `extra` settings) replays the fixture stream `name` to every request. */
async function replaying(t: Test, name: string, extra = '') {
  const server = await serveEvents(streamFixture(name));
  t.teardown(() => server.close());
  return gatewayClient(t, config(server.url, extra));
}

t.test('cohere: a documented tool-calling stream (thinking, tool plan, two calls) reaches the client as OpenAI chunks', async (t) => {
  const client = await replaying(t, 'stream-tool-calls');
  const { text, names, args, finish, usage } = await collectStream(await client.chat.completions.create({ model: 'test-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Sales?' }] }));
  t.equal(text, 'I will use the query_daily_sales_report tool and the query_product_catalog tool.', 'the tool plan is text; thinking is not');
  t.same(names, ['query_daily_sales_report', 'query_product_catalog']);
  t.same(args.map((a) => JSON.parse(a) as unknown), [{ day: '2023-09-29' }, { category: 'Electronics' }]);
  t.equal(finish, 'tool_calls');
  t.same(usage, { prompt_tokens: 1589, completion_tokens: 135, total_tokens: 1724, prompt_tokens_details: { cached_tokens: 1024 } });
});

t.test('cohere: with usage_source billed_units the client sees the billed counts', async (t) => {
  const client = await replaying(t, 'stream-text', ', usage_source: billed_units');
  const { text, usage } = await collectStream(await client.chat.completions.create({ model: 'test-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'LLMs?' }] }));
  t.equal(text, 'LLMs stand for Large Language Models.');
  t.same(usage, { prompt_tokens: 5, completion_tokens: 26, total_tokens: 31 });
});

t.test('cohere: a generation that ends in ERROR ends the client stream with an error', async (t) => {
  const client = await replaying(t, 'stream-error');
  const { text, error } = await streamUntilError(await client.chat.completions.create({ model: 'test-model', stream: true, messages: [{ role: 'user', content: 'Hi' }] }));
  t.equal(text, 'Par', 'the text before the error arrived');
  t.ok(error instanceof Error, 'the client sees an error');
  t.match((error as Error).message, /internal server error, please try again/);
});

t.test('cohere: embeddings through the gateway, as floats and as base64', async (t) => {
  const mock = await startWireMock(renderCohere);
  t.teardown(() => mock.close());
  mock.respondWith({ kind: 'text', text: '', usage: { input: 1, output: 1 } });
  const client = await gatewayClient(t, config(mock.baseUrl));
  const res = await client.embeddings.create({ model: 'test-embed', input: ['hello', 'goodbye'], dimensions: 256, encoding_format: 'float' });
  t.equal(res.object, 'list');
  t.same(res.data.map((d) => [d.index, d.embedding.length]), [[0, 4], [1, 4]]);
  t.same(res.data[0]?.embedding, [0.016296387, -0.008354187, -0.04699707, -0.07104492]);
  t.same(res.usage, { prompt_tokens: 4, total_tokens: 4 });
  t.same(mock.calls[0]?.body, { model: 'embed-v4.0', texts: ['hello', 'goodbye'], input_type: 'search_document', embedding_types: ['float'], output_dimension: 256 });
  t.equal(mock.calls[0]?.url, '/v2/embed');

  // The openai SDK asks for base64 by default and decodes it: the vectors must survive the trip.
  const decoded = await client.embeddings.create({ model: 'test-embed', input: 'hello' });
  t.same(decoded.data[0]?.embedding.map((x) => Math.round(x * 1e6) / 1e6), [0.016296, -0.008354, -0.046997, -0.071045]);
});
