/**
 * Conformance of the `yandex` adapter: the shared suite (official `openai` SDK → gateway →
 * loopback mock speaking the Foundation Models REST API, test/adapters/yandex-wire.ts, fixtures in
 * test/fixtures/yandex/ citing https://yandex.cloud/en/docs/ai-studio/text-generation/api-ref/TextGeneration/completion).
 * The mock streams newline-delimited JSON with cumulative text, so the suite's streamed chat checks
 * the cumulative-to-delta conversion end to end.
 */
import t from 'tap';
import { runConformance } from './conformance.js';
import { startYandexMock } from './yandex-wire.js';

interface Message {
  role: string;
  text?: string;
  toolCallList?: { toolCalls: { functionCall: { name: string; arguments: unknown } }[] };
  toolResultList?: { toolResults: { functionResult: { name: string; content: string } }[] };
}

runConformance(t, {
  name: 'yandex',
  startMock: startYandexMock,
  config: (baseUrl) => `version: 1
providers:
  y: { adapter: yandex, base_url: "${baseUrl}", folder_id: b1gtestfolder, api_key: AQVNprovider-secret-key }
models:
  test-model: { targets: [{ provider: y, model: yandexgpt-lite }] }
`,
  checkChatRequest(t, call) {
    t.equal(call.url, '/foundationModels/v1/completion');
    t.equal(call.headers['authorization'], 'Api-Key AQVNprovider-secret-key', 'the provider key, not the client key');
    t.equal(call.headers['x-folder-id'], 'b1gtestfolder');
    t.equal(call.headers['x-data-logging-enabled'], 'false', 'logging off by default');
    t.ok(call.headers['x-client-request-id'], 'request id forwarded');
    t.equal(call.body?.['modelUri'], 'gpt://b1gtestfolder/yandexgpt-lite/latest');
    t.same(call.body?.['completionOptions'], { stream: false, temperature: 0.2, maxTokens: '50' });
    t.same(call.body?.['messages'], [
      { role: 'system', text: 'Be brief.' },
      { role: 'user', text: 'Hello' },
    ]);
    t.notOk('model' in (call.body ?? {}), 'the model travels as modelUri only');
  },
  checkToolResultRequest(t, call) {
    const messages = call.body?.['messages'] as Message[];
    t.same(messages.map((m) => m.role), ['user', 'assistant', 'user'], 'both tool results share one user message');
    t.same(messages[1]?.toolCallList?.toolCalls.map((c) => c.functionCall), [
      { name: 'get_weather', arguments: { city: 'Paris' } },
      { name: 'get_weather', arguments: { city: 'Oslo' } },
    ]);
    t.same(messages[2]?.toolResultList?.toolResults.map((r) => r.functionResult), [
      { name: 'get_weather', content: '{"temp":21}' },
      { name: 'get_weather', content: '{"temp":-3}' },
    ], 'function names recovered from the synthesized call ids');
    t.same((call.body?.['tools'] as { function: { name: string } }[]).map((x) => x.function.name), ['get_weather']);
  },
  checkJsonModeRequest(t, call) {
    t.equal(call.body?.['jsonObject'], true);
  },
  overloadedStatus: 503,
});
