/**
 * Conformance of the `cohere` adapter: the shared suite (official `openai` SDK → gateway → loopback
 * mock speaking Cohere's API v2, https://docs.cohere.com/v2/reference/chat), then recorded fixture
 * streams and embeddings through the gateway.
 */
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runConformance } from './conformance.js';
import { startWireMock } from './wire-mock.js';
import { renderCohere, streamFixture, writeEvents } from './cohere-wire.js';
import { startGateway } from '../helpers/gateway.js';

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

/** Serves one fixture stream to every request. */
async function replay(name: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      writeEvents(res, streamFixture(name));
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function gatewayFor(t: Test, url: string, extra = ''): Promise<OpenAI> {
  const gw = await startGateway(config(url, extra));
  t.teardown(() => gw.close());
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
}

t.test('cohere: a documented tool-calling stream (thinking, tool plan, two calls) reaches the client as OpenAI chunks', async (t) => {
  const { server, url } = await replay('stream-tool-calls');
  t.teardown(() => server.close());
  const client = await gatewayFor(t, url);
  const stream = await client.chat.completions.create({ model: 'test-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Sales?' }] });
  let text = '';
  const args: string[] = [];
  const names: string[] = [];
  let finish: string | null | undefined;
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    text += choice?.delta.content ?? '';
    for (const tc of choice?.delta.tool_calls ?? []) {
      if (tc.function?.name) names[tc.index] = tc.function.name;
      args[tc.index] = (args[tc.index] ?? '') + (tc.function?.arguments ?? '');
    }
    finish = choice?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  t.equal(text, 'I will use the query_daily_sales_report tool and the query_product_catalog tool.', 'the tool plan is text; thinking is not');
  t.same(names, ['query_daily_sales_report', 'query_product_catalog']);
  t.same(args.map((a) => JSON.parse(a) as unknown), [{ day: '2023-09-29' }, { category: 'Electronics' }]);
  t.equal(finish, 'tool_calls');
  t.same(usage, { prompt_tokens: 1589, completion_tokens: 135, total_tokens: 1724, prompt_tokens_details: { cached_tokens: 1024 } });
});

t.test('cohere: with usage_source billed_units the client sees the billed counts', async (t) => {
  const { server, url } = await replay('stream-text');
  t.teardown(() => server.close());
  const client = await gatewayFor(t, url, ', usage_source: billed_units');
  const stream = await client.chat.completions.create({ model: 'test-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'LLMs?' }] });
  let text = '';
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  t.equal(text, 'LLMs stand for Large Language Models.');
  t.same(usage, { prompt_tokens: 5, completion_tokens: 26, total_tokens: 31 });
});

t.test('cohere: a generation that ends in ERROR ends the client stream with an error', async (t) => {
  const { server, url } = await replay('stream-error');
  t.teardown(() => server.close());
  const client = await gatewayFor(t, url);
  const stream = await client.chat.completions.create({ model: 'test-model', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
  let text = '';
  const err = await (async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  })().catch((e: unknown) => e);
  t.equal(text, 'Par', 'the text before the error arrived');
  t.ok(err instanceof Error, 'the client sees an error');
  t.match((err as Error).message, /internal server error, please try again/);
});

t.test('cohere: embeddings through the gateway, as floats and as base64', async (t) => {
  const mock = await startWireMock(renderCohere);
  t.teardown(() => mock.close());
  mock.respondWith({ kind: 'text', text: '', usage: { input: 1, output: 1 } });
  const client = await gatewayFor(t, mock.baseUrl);
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
