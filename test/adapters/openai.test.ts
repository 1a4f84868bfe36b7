/**
 * Conformance of the `openai` adapter. Wire format per the OpenAI API reference:
 * https://platform.openai.com/docs/api-reference/chat/create (response and streaming chunk objects),
 * https://platform.openai.com/docs/guides/error-codes (error envelope).
 */
import t from 'tap';
import { runConformance } from './conformance.js';
import { startWireMock } from './wire-mock.js';
import { renderOpenAI } from './openai-wire.js';

runConformance(t, {
  name: 'openai',
  startMock: () => startWireMock(renderOpenAI, '/v1'),
  config: (baseUrl) => `version: 1
providers:
  p: { adapter: openai, base_url: "${baseUrl}", api_key: sk-provider }
models:
  test-model: { targets: [{ provider: p, model: gpt-4o-mini }] }
`,
  checkChatRequest(t, call) {
    t.equal(call.url, '/v1/chat/completions');
    t.equal(call.headers['authorization'], 'Bearer sk-provider');
    t.equal(call.body?.['model'], 'gpt-4o-mini');
    t.equal(call.body?.['max_tokens'], 50);
  },
  checkToolResultRequest(t, call) {
    const messages = call.body?.['messages'] as { role: string; tool_call_id?: string }[];
    t.same(messages.map((m) => m.role), ['user', 'assistant', 'tool', 'tool']);
    t.equal(messages[2]?.tool_call_id, 'call_1');
  },
  checkJsonModeRequest(t, call) {
    t.same(call.body?.['response_format'], { type: 'json_object' });
  },
  overloadedStatus: 503,
});
