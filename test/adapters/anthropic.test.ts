/**
 * Conformance of the `anthropic` adapter: the shared suite (official `openai` SDK → gateway →
 * loopback mock speaking the Messages API, https://platform.claude.com/docs/en/api/messages), then
 * recorded fixture streams replayed through the gateway.
 */
import t from 'tap';
import OpenAI from 'openai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runConformance } from './conformance.js';
import { startWireMock } from './wire-mock.js';
import { renderAnthropic, streamFixture, writeEvents } from './anthropic-wire.js';
import { startGateway } from '../helpers/gateway.js';

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

t.test('anthropic: a recorded tool-use stream (thinking, text, two tools) reaches the client as OpenAI chunks', async (t) => {
  const { server, url } = await replay('stream-tool-use');
  const gw = await startGateway(config(url));
  t.teardown(async () => {
    await gw.close();
    server.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'test-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Weather?' }] });
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
  t.equal(text, "Okay, let's check the weather for San Francisco, CA:", 'thinking is not shown as content');
  t.same(names, ['get_weather', 'get_time'], 'each tool keeps its own index');
  t.same(args.map((a) => JSON.parse(a) as unknown), [{ city: 'San Francisco' }, { zone: 'PST' }]);
  t.equal(finish, 'tool_calls');
  t.match(usage, { prompt_tokens: 772, completion_tokens: 89, total_tokens: 861, prompt_tokens_details: { cached_tokens: 300 }, completion_tokens_details: { reasoning_tokens: 12 } });
});

t.test('anthropic: an error event mid-stream ends the client stream with an error', async (t) => {
  const { server, url } = await replay('stream-error');
  const gw = await startGateway(config(url));
  t.teardown(async () => {
    await gw.close();
    server.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'test-model', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
  let text = '';
  const err = await (async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  })().catch((e: unknown) => e);
  t.equal(text, 'Par', 'the text before the error arrived');
  t.ok(err instanceof Error, 'the client sees an error');
  t.match((err as Error).message, /Overloaded/);
});
