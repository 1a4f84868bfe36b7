/**
 * Conformance of the `gemini` adapter against a loopback Gemini API (test/adapters/gemini-wire.ts,
 * fixtures in test/fixtures/gemini/ citing https://ai.google.dev/api/generate-content and
 * https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes).
 */
import t from 'tap';
import { runConformance } from './conformance.js';
import { MOCK_SIGNATURE, startGeminiMock } from './gemini-wire.js';

interface Part {
  text?: string;
  thoughtSignature?: string;
  functionCall?: { name: string; args: Record<string, unknown>; id?: string };
  functionResponse?: { name: string; response: Record<string, unknown>; id?: string };
}
type Contents = { role: string; parts: Part[] }[];

runConformance(t, {
  name: 'gemini',
  startMock: startGeminiMock,
  config: (baseUrl) => `version: 1
providers:
  g: { adapter: gemini, base_url: "${baseUrl}", api_key: gemini-provider-key }
models:
  test-model: { targets: [{ provider: g, model: gemini-3.8-flash }] }
`,
  checkChatRequest(t, call) {
    t.equal(call.url, '/v1beta/models/gemini-3.8-flash:generateContent', 'model in the path, no key in the URL');
    t.equal(call.headers['x-goog-api-key'], 'gemini-provider-key');
    t.notOk(call.headers['authorization'], 'no bearer token');
    t.same(call.body?.['systemInstruction'], { parts: [{ text: 'Be brief.' }] });
    t.same(call.body?.['contents'], [{ role: 'user', parts: [{ text: 'Hello' }] }]);
    t.same(call.body?.['generationConfig'], { temperature: 0.2, maxOutputTokens: 50 });
    t.notOk('model' in (call.body ?? {}), 'the model travels in the path only');
  },
  checkToolResultRequest(t, call) {
    const contents = call.body?.['contents'] as Contents;
    t.same(contents.map((c) => c.role), ['user', 'model', 'user'], 'tool results go back in one user turn');
    const calls = contents[1]!.parts;
    t.same(calls.map((p) => p.functionCall?.name), ['get_weather', 'get_weather']);
    t.same(calls.map((p) => p.functionCall?.args), [{ city: 'Paris' }, { city: 'Oslo' }]);
    t.equal(calls[0]!.thoughtSignature, MOCK_SIGNATURE, 'the thought signature came back on the first call');
    t.notOk(calls[1]!.thoughtSignature, 'only the first parallel call carries one');
    t.notOk(calls[0]!.functionCall?.id, 'synthesized call ids are not sent to Gemini');
    const results = contents[2]!.parts.map((p) => p.functionResponse);
    t.same(results.map((r) => r?.name), ['get_weather', 'get_weather'], 'function names recovered from the tool call ids');
    t.same(results.map((r) => r?.response), [{ temp: 21 }, { temp: -3 }]);
  },
  checkJsonModeRequest(t, call) {
    t.same(call.body?.['generationConfig'], { responseMimeType: 'application/json' });
  },
  overloadedStatus: 503,
});
