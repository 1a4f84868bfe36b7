/**
 * Conformance of the `anthropic` adapter: the shared suite (official `openai` SDK → gateway →
 * loopback mock speaking the Messages API, https://platform.claude.com/docs/en/api/messages), then
 * recorded fixture streams replayed through the gateway.
 */
import t, { type Test } from 'tap';
import { collectStream, gatewayClient, runConformance, streamUntilError } from './conformance.js';
import { serveEvents, startWireMock } from './wire-mock.js';
import { renderAnthropic, streamFixture } from './anthropic-wire.js';

const config = (baseUrl: string): string => `version: 1
providers:
  p: { adapter: anthropic, base_url: "${baseUrl}", api_key: sk-ant-provider, beta: [fine-grained-tool-streaming-2025-05-14] }
models:
  test-model: { targets: [{ provider: p, model: claude-sonnet-5-5 }] }
`;

runConformance(t, {
  name: 'anthropic',
  startMock: () => startWireMock(renderAnthropic),
  config,
  checkChatRequest(t, call) {
    t.equal(call.url, '/v1/messages');
    t.equal(call.headers['x-api-key'], 'sk-ant-provider');
    t.equal(call.headers['anthropic-version'], '2023-06-01');
    t.equal(call.headers['anthropic-beta'], 'fine-grained-tool-streaming-2025-05-14');
    t.notOk(call.headers['authorization'], 'the client key is not forwarded');
    t.equal(call.body?.['model'], 'claude-sonnet-5-5');
    t.equal(call.body?.['max_tokens'], 50);
    t.equal(call.body?.['temperature'], 0.2);
    t.same(call.body?.['system'], [{ type: 'text', text: 'Be brief.' }]);
    t.same(call.body?.['messages'], [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }]);
  },
  checkToolResultRequest(t, call) {
    const messages = call.body?.['messages'] as { role: string; content: { type: string; tool_use_id?: string; id?: string; input?: unknown }[] }[];
    t.same(messages.map((m) => m.role), ['user', 'assistant', 'user'], 'both tool results share one user turn');
    t.same(messages[1]?.content.map((b) => [b.type, b.id, b.input]), [
      ['tool_use', 'call_1', { city: 'Paris' }],
      ['tool_use', 'call_2', { city: 'Oslo' }],
    ]);
    t.same(messages[2]?.content, [
      { type: 'tool_result', tool_use_id: 'call_1', content: '{"temp":21}' },
      { type: 'tool_result', tool_use_id: 'call_2', content: '{"temp":-3}' },
    ]);
    t.same((call.body?.['tools'] as { name: string }[]).map((x) => x.name), ['get_weather']);
  },
  checkJsonModeRequest(t, call) {
    t.same(call.body?.['tool_choice'], { type: 'tool', name: 'json_response' });
    t.same((call.body?.['tools'] as { name: string; input_schema: unknown }[])[0], { name: 'json_response', description: 'Give the complete answer as this tool input.', input_schema: { type: 'object' } });
  },
  overloadedStatus: 529,
});

/** A gateway whose provider replays the fixture stream `name` to every request. */
async function replaying(t: Test, name: string) {
  const server = await serveEvents(streamFixture(name));
  t.teardown(() => server.close());
  return gatewayClient(t, config(server.url));
}

t.test('anthropic: a recorded tool-use stream (thinking, text, two tools) reaches the client as OpenAI chunks', async (t) => {
  const client = await replaying(t, 'stream-tool-use');
  const { text, names, args, finish, usage } = await collectStream(await client.chat.completions.create({ model: 'test-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Weather?' }] }));
  t.equal(text, "Okay, let's check the weather for San Francisco, CA:", 'thinking is not shown as content');
  t.same(names, ['get_weather', 'get_time'], 'each tool keeps its own index');
  t.same(args.map((a) => JSON.parse(a) as unknown), [{ city: 'San Francisco' }, { zone: 'PST' }]);
  t.equal(finish, 'tool_calls');
  t.match(usage, { prompt_tokens: 772, completion_tokens: 89, total_tokens: 861, prompt_tokens_details: { cached_tokens: 300 }, completion_tokens_details: { reasoning_tokens: 12 } });
});

t.test('anthropic: an error event mid-stream ends the client stream with an error', async (t) => {
  const client = await replaying(t, 'stream-error');
  const { text, error } = await streamUntilError(await client.chat.completions.create({ model: 'test-model', stream: true, messages: [{ role: 'user', content: 'Hi' }] }));
  t.equal(text, 'Par', 'the text before the error arrived');
  t.ok(error instanceof Error, 'the client sees an error');
  t.match((error as Error).message, /Overloaded/);
});
