/**
 * Issue 13's evidence: the official `@anthropic-ai/sdk` (Messages) and the official `openai` SDK
 * (Responses) against the gateway, with the model served by an OpenAI-compatible upstream, Anthropic
 * and Gemini (loopback mocks speaking each provider's documented wire format: test/adapters/*-wire.ts)
 * and the offline `mock` adapter. Text, streams, a tool round trip, streamed tool input, images,
 * token counting; streamed and non-streamed usage agree.
 */
import t from 'tap';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startWireMock } from '../adapters/wire-mock.js';
import { renderOpenAI } from '../adapters/openai-wire.js';
import { renderAnthropic } from '../adapters/anthropic-wire.js';
import { startGeminiMock } from '../adapters/gemini-wire.js';
import type { ProviderMock } from '../adapters/conformance.js';

interface ProviderCase {
  name: string;
  start(): Promise<ProviderMock>;
  provider(baseUrl: string): string;
  model: string;
}

const PROVIDERS: ProviderCase[] = [
  { name: 'openai-compatible', start: () => startWireMock(renderOpenAI, '/v1'), provider: (b) => `{ adapter: openai, base_url: "${b}", api_key: sk-provider }`, model: 'gpt-4o-mini' },
  { name: 'anthropic', start: () => startWireMock(renderAnthropic), provider: (b) => `{ adapter: anthropic, base_url: "${b}", api_key: sk-ant-provider }`, model: 'claude-sonnet-5-5' },
  { name: 'gemini', start: startGeminiMock, provider: (b) => `{ adapter: gemini, base_url: "${b}", api_key: gemini-provider-key }`, model: 'gemini-3.8-flash' },
];

const WEATHER_TOOL = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } };
const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

for (const p of PROVIDERS) {
  t.test(`through ${p.name}`, async (t) => {
    const mock = await p.start();
    const gw: TestGateway = await startGateway(`version: 1
providers:
  p: ${p.provider(mock.baseUrl)}
models:
  test-model: { targets: [{ provider: p, model: ${p.model} }] }
`);
    t.teardown(async () => {
      await gw.close();
      await mock.close();
    });
    t.afterEach(() => void (mock.calls.length = 0));
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'sk-client', maxRetries: 0 });
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
    const usage = { input: 11, output: 7 };

    t.test('Anthropic SDK: messages.create and messages.stream agree', async (t) => {
      mock.respondWith({ kind: 'text', text: 'Hello there', usage });
      const message = await anthropic.messages.create({ model: 'test-model', max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }] });
      t.equal(message.type, 'message');
      t.equal(message.role, 'assistant');
      // Translated answers name the model the client asked for; a native pass-through answer is
      // Anthropic's own, naming the model that served it (as Anthropic's API does).
      t.equal(message.model, p.name === 'anthropic' ? p.model : 'test-model', 'the model named');
      t.same(message.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Hello there']);
      t.equal(message.stop_reason, 'end_turn');
      t.match(message.usage, { input_tokens: 11, output_tokens: 7 });
      t.equal(mock.calls.length, 1);

      mock.respondWith({ kind: 'stream', parts: ['Hel', 'lo', ' there'], usage });
      const stream = anthropic.messages.stream({ model: 'test-model', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
      const events: string[] = [];
      stream.on('streamEvent', (e) => events.push(e.type));
      const final = await stream.finalMessage();
      t.same(final.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Hello there']);
      t.equal(final.stop_reason, 'end_turn');
      t.equal(final.usage.output_tokens, message.usage.output_tokens, 'streamed usage equals the non-streamed');
      t.equal(final.usage.input_tokens, message.usage.input_tokens);
      t.equal(events[0], 'message_start');
      t.equal(events.at(-1), 'message_stop');
      t.ok(events.includes('content_block_start') && events.includes('content_block_delta') && events.includes('content_block_stop') && events.includes('message_delta'), events.join(','));
    });

    t.test('Anthropic SDK: a tool round trip, and streamed tool input', async (t) => {
      mock.respondWith({ kind: 'tools', calls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], usage, stream: false });
      const first = await anthropic.messages.create({ model: 'test-model', max_tokens: 64, tools: [WEATHER_TOOL], messages: [{ role: 'user', content: 'Weather in Paris?' }] });
      t.equal(first.stop_reason, 'tool_use');
      const use = first.content.find((b) => b.type === 'tool_use');
      t.ok(use, 'a tool_use block');
      if (use?.type !== 'tool_use') return;
      t.equal(use.name, 'get_weather');
      t.same(use.input, { city: 'Paris' });

      mock.respondWith({ kind: 'text', text: 'Sunny, 21°C', usage });
      const second = await anthropic.messages.create({
        model: 'test-model',
        max_tokens: 64,
        tools: [WEATHER_TOOL],
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny, 21 degrees' }] },
        ],
      });
      t.same(second.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Sunny, 21°C']);
      const sent = JSON.stringify(mock.calls.at(-1)!.body);
      t.match(sent, 'sunny, 21 degrees', 'the tool result reached the provider');
      t.match(sent, 'Paris', 'with the call that asked for it');

      mock.respondWith({ kind: 'tools', calls: [{ id: 'toolu_2', name: 'get_weather', arguments: '{"city":"Oslo"}' }], usage, stream: true });
      const stream = anthropic.messages.stream({ model: 'test-model', max_tokens: 64, tools: [WEATHER_TOOL], messages: [{ role: 'user', content: 'Weather in Oslo?' }] });
      const jsonDeltas: string[] = [];
      stream.on('inputJson', (partial) => jsonDeltas.push(partial));
      const final = await stream.finalMessage();
      t.equal(final.stop_reason, 'tool_use');
      const streamed = final.content.find((b) => b.type === 'tool_use');
      t.same(streamed?.type === 'tool_use' ? streamed.input : undefined, { city: 'Oslo' }, 'tool input assembled from input_json_delta events');
      t.ok(jsonDeltas.length >= 1, 'input_json_delta events arrived');
    });

    t.test('Anthropic SDK: an image reaches the provider; count_tokens answers', async (t) => {
      mock.respondWith({ kind: 'text', text: 'A pixel.', usage });
      const message = await anthropic.messages.create({
        model: 'test-model',
        max_tokens: 64,
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PIXEL } }, { type: 'text', text: 'What is this?' }] }],
      });
      t.same(message.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['A pixel.']);
      t.match(JSON.stringify(mock.calls.at(-1)!.body), PIXEL, 'the image data was sent upstream');

      const counted = await anthropic.messages.countTokens({ model: 'test-model', system: 'Be brief.', messages: [{ role: 'user', content: 'How many tokens is this sentence?' }] });
      t.type(counted.input_tokens, 'number');
      t.ok(counted.input_tokens >= 8 && counted.input_tokens < 40, `a plausible count (${counted.input_tokens})`);
      const longer = await anthropic.messages.countTokens({ model: 'test-model', messages: [{ role: 'user', content: 'How many tokens is this sentence? '.repeat(10) }] });
      t.ok(longer.input_tokens > counted.input_tokens, 'a longer prompt counts more');
      const refused = await anthropic.messages.countTokens({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      t.ok(refused instanceof Anthropic.NotFoundError, 'an unknown model is refused as on /v1/messages (404, in Anthropic shape)');
    });

    t.test('Anthropic SDK: a server tool reaches Anthropic natively, and is refused (not dropped) elsewhere', async (t) => {
      mock.respondWith({ kind: 'text', text: 'Searched.', usage });
      const request = anthropic.messages.create({
        model: 'test-model',
        max_tokens: 64,
        tools: [WEATHER_TOOL, { type: 'web_search_20250305', name: 'web_search', max_uses: 1 }],
        messages: [{ role: 'user', content: 'Search the weather' }],
      });
      if (p.name === 'anthropic') {
        t.same((await request).content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Searched.']);
        t.match(JSON.stringify(mock.calls.at(-1)!.body), 'web_search_20250305', 'the server tool went upstream as sent');
      } else {
        const error = await request.catch((e: unknown) => e);
        t.ok(error instanceof Anthropic.BadRequestError, 'a 400 in Anthropic shape');
        t.match((error as { message?: string }).message, /tools\[1\]/, 'naming the server tool');
        t.equal(mock.calls.length, 0, 'nothing was sent upstream');
      }
    });

    t.test('OpenAI SDK: responses.create and responses.stream agree', async (t) => {
      mock.respondWith({ kind: 'text', text: 'Hello there', usage });
      const response = await openai.responses.create({ model: 'test-model', instructions: 'Be brief.', input: 'Hi' });
      t.equal(response.object, 'response');
      t.equal(response.status, 'completed');
      t.equal(response.output_text, 'Hello there');
      t.match(response.usage, { input_tokens: 11, output_tokens: 7, total_tokens: 18 });

      mock.respondWith({ kind: 'stream', parts: ['Hel', 'lo', ' there'], usage });
      const stream = openai.responses.stream({ model: 'test-model', input: 'Hi' });
      const events: string[] = [];
      stream.on('event', (e) => events.push(e.type));
      const final = await stream.finalResponse();
      t.equal(final.output_text, 'Hello there');
      t.equal(final.usage?.output_tokens, response.usage?.output_tokens, 'streamed usage equals the non-streamed');
      t.equal(final.usage?.input_tokens, response.usage?.input_tokens);
      t.equal(events[0], 'response.created');
      t.equal(events.at(-1), 'response.completed');
      t.ok(events.includes('response.output_text.delta') && events.includes('response.output_item.added'), events.join(','));
    });

    t.test('OpenAI SDK: a function call round trip, streamed arguments, JSON schema output', async (t) => {
      const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'get_weather', description: 'Weather for a city', parameters: WEATHER_TOOL.input_schema, strict: false }];
      mock.respondWith({ kind: 'tools', calls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], usage, stream: false });
      const first = await openai.responses.create({ model: 'test-model', tools, input: 'Weather in Paris?' });
      const call = first.output.find((o) => o.type === 'function_call');
      t.ok(call, 'a function_call item');
      if (call?.type !== 'function_call') return;
      t.equal(call.name, 'get_weather');
      t.same(JSON.parse(call.arguments), { city: 'Paris' });

      mock.respondWith({ kind: 'text', text: 'Sunny', usage });
      const second = await openai.responses.create({
        model: 'test-model',
        tools,
        input: [{ role: 'user', content: 'Weather in Paris?' }, call, { type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21 degrees' }],
      });
      t.equal(second.output_text, 'Sunny');
      t.match(JSON.stringify(mock.calls.at(-1)!.body), 'sunny, 21 degrees', 'the function output reached the provider');

      mock.respondWith({ kind: 'tools', calls: [{ id: 'call_2', name: 'get_weather', arguments: '{"city":"Oslo"}' }], usage, stream: true });
      const stream = openai.responses.stream({ model: 'test-model', tools, input: 'Weather in Oslo?' });
      const argDeltas: string[] = [];
      stream.on('response.function_call_arguments.delta', (e) => argDeltas.push(e.delta));
      const final = await stream.finalResponse();
      const streamedCall = final.output.find((o) => o.type === 'function_call');
      t.same(streamedCall?.type === 'function_call' ? JSON.parse(streamedCall.arguments) : undefined, { city: 'Oslo' });
      t.equal(argDeltas.join(''), '{"city":"Oslo"}', 'arguments arrived as deltas');

      mock.respondWith({ kind: 'text', text: '{"city":"Paris","temp":21}', usage });
      const json = await openai.responses.create({
        model: 'test-model',
        input: 'Weather as JSON',
        text: { format: { type: 'json_schema', name: 'weather', schema: { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'number' } }, required: ['city', 'temp'], additionalProperties: false }, strict: true } },
      });
      t.same(JSON.parse(json.output_text), { city: 'Paris', temp: 21 });
      t.match(JSON.stringify(mock.calls.at(-1)!.body), 'temp', 'the schema reached the provider in its own terms');
    });
  });
}

t.test('the offline mock adapter answers both APIs (the quickstart)', async (t) => {
  const gw = await startGateway(`version: 1
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
`);
  t.teardown(() => gw.close());
  const anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'sk-client', maxRetries: 0 });
  const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
  const message = await anthropic.messages.create({ model: 'demo', max_tokens: 32, messages: [{ role: 'user', content: 'Hello' }] });
  t.ok(message.content.some((b) => b.type === 'text' && b.text.length > 0));
  const streamed = await anthropic.messages.stream({ model: 'demo', max_tokens: 32, messages: [{ role: 'user', content: 'Hello' }] }).finalMessage();
  const texts = (m: Anthropic.Message) => m.content.map((b) => (b.type === 'text' ? b.text : b.type));
  t.same(texts(streamed), texts(message), 'the same answer streamed');
  t.same(streamed.usage.output_tokens, message.usage.output_tokens);
  const response = await openai.responses.create({ model: 'demo', input: 'Hello' });
  t.ok(response.output_text.length > 0);
  const final = await openai.responses.stream({ model: 'demo', input: 'Hello' }).finalResponse();
  t.equal(final.output_text, response.output_text);
  t.equal(final.usage?.output_tokens, response.usage?.output_tokens);
});
