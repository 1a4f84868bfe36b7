/**
 * Wire-format check: the official `@anthropic-ai/sdk` talks to the Anthropic mock and to the raw
 * fixtures. If the SDK parses them, the mock and fixtures the adapter is tested against speak the
 * real Messages API protocol (https://platform.claude.com/docs/en/api/messages).
 */
import t from 'tap';
import Anthropic from '@anthropic-ai/sdk';
import { serveFixtures, startWireMock } from './wire-mock.js';
import { renderAnthropic } from './anthropic-wire.js';
import type { ProviderMock } from './conformance.js';

let mock: ProviderMock;
let client: Anthropic;

t.before(async () => {
  mock = await startWireMock(renderAnthropic);
  client = new Anthropic({ baseURL: mock.baseUrl, apiKey: 'sk-ant-test', maxRetries: 0 });
});
t.afterEach(() => void (mock.calls.length = 0));
t.teardown(() => mock.close());

const params = { model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hello' }] };

t.test('the SDK parses a plain message from the mock, sent where the adapter sends it', async (t) => {
  mock.respondWith({ kind: 'text', text: 'Hi there!', usage: { input: 11, output: 3 } });
  const message = await client.messages.create(params);
  t.equal(message.type, 'message');
  t.same(message.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Hi there!']);
  t.equal(message.stop_reason, 'end_turn');
  t.equal(message.usage.input_tokens, 11);
  t.equal(message.usage.output_tokens, 3);
  const call = mock.calls[0]!;
  t.equal(call.url, '/v1/messages', 'the SDK posts to the path the adapter uses');
  t.ok(call.headers['anthropic-version'], 'the SDK sends anthropic-version too');
  t.equal(call.headers['authorization'], 'Bearer sk-ant-test', 'this SDK sends the key as a bearer token (the adapter\'s auth_header: authorization)');
});

t.test('the SDK assembles a streamed message from the mock (messages.stream → finalMessage)', async (t) => {
  mock.respondWith({ kind: 'stream', parts: ['Hel', 'lo', ' world'], usage: { input: 5, output: 3 } });
  const stream = client.messages.stream(params);
  const deltas: string[] = [];
  stream.on('text', (d) => deltas.push(d));
  const message = await stream.finalMessage();
  t.same(deltas, ['Hel', 'lo', ' world']);
  t.same(message.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Hello world']);
  t.equal(message.stop_reason, 'end_turn');
  t.equal(message.usage.output_tokens, 3);
  t.equal(mock.calls[0]?.body?.['stream'], true);
});

t.test('the SDK assembles streamed tool input from the mock', async (t) => {
  mock.respondWith({ kind: 'tools', stream: true, usage: { input: 20, output: 10 }, calls: [{ id: 'toolu_9', name: 'get_weather', arguments: '{"city":"Lima"}' }] });
  const message = await client.messages.stream(params).finalMessage();
  const block = message.content[0];
  t.equal(block?.type, 'tool_use');
  t.same(block?.type === 'tool_use' ? [block.id, block.name, block.input] : [], ['toolu_9', 'get_weather', { city: 'Lima' }]);
  t.equal(message.stop_reason, 'tool_use');
});

t.test('the SDK reads the mock error body as an Anthropic error', async (t) => {
  mock.respondWith({ kind: 'error', status: 529, message: 'Overloaded' });
  const err = await client.messages.create(params).catch((e: unknown) => e);
  t.ok(err instanceof Anthropic.APIError);
  t.equal((err as InstanceType<typeof Anthropic.APIError>).status, 529);
  t.match((err as InstanceType<typeof Anthropic.APIError>).error, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
});

t.test('the SDK parses every raw fixture', async (t) => {
  const server = await serveFixtures('anthropic');
  t.teardown(() => server.close());
  const raw = new Anthropic({ baseURL: server.url, apiKey: 'x', maxRetries: 0 });
  const using = (name: string) => ({ headers: { 'x-fixture': name } });

  const plain = await raw.messages.create(params, using('message'));
  t.equal(plain.content[0]?.type === 'text' ? plain.content[0].text : '', 'Hi! My name is Claude.');

  const tools = await raw.messages.create(params, using('message-tool-use'));
  t.same(tools.content.map((b) => b.type), ['text', 'tool_use', 'tool_use']);

  const text = await raw.messages.stream(params, using('stream-text')).finalMessage();
  t.same(text.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Hello!']);
  t.equal(text.usage.output_tokens, 15);

  const toolStream = await raw.messages.stream(params, using('stream-tool-use')).finalMessage();
  t.same(toolStream.content.map((b) => b.type), ['thinking', 'text', 'tool_use', 'tool_use']);
  t.same(toolStream.content[2]?.type === 'tool_use' ? toolStream.content[2].input : undefined, { city: 'San Francisco' });

  const failed = await raw.messages.stream(params, using('stream-error')).finalMessage().catch((e: unknown) => e);
  t.ok(failed instanceof Anthropic.APIError, 'an error event fails the SDK stream');
  t.match(String((failed as Error).message), /Overloaded/);
});
