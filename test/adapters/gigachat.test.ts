/**
 * Conformance of the `gigachat` adapter: the shared suite (official `openai` SDK → gateway →
 * loopback GigaChat API, test/adapters/gigachat-wire.ts, fixtures in test/fixtures/gigachat/ citing
 * https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-chat), with the OAuth token
 * endpoint on its own loopback server. The API mock accepts only tokens that endpoint issued.
 */
import t from 'tap';
import { runConformance } from './conformance.js';
import { startWireMock } from './wire-mock.js';
import { gigachatRender, startAuthServer, type AuthServer } from './gigachat-wire.js';

const KEY = Buffer.from('0199e2aa-client-id:c1ient-secret-value').toString('base64');
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Sent {
  role: string;
  content: string;
  name?: string;
  function_call?: { name: string; arguments: unknown };
}

let auth: AuthServer;

runConformance(t, {
  name: 'gigachat',
  async startMock() {
    auth = await startAuthServer();
    const api = await startWireMock(gigachatRender(auth), '/api/v1');
    return {
      ...api,
      async close() {
        await api.close();
        await auth.close();
      },
    };
  },
  config: (baseUrl) => `version: 1
providers:
  g: { adapter: gigachat, base_url: "${baseUrl}", auth_url: "${auth.url}", credentials: "${KEY}", scope: GIGACHAT_API_CORP }
models:
  test-model: { targets: [{ provider: g, model: GigaChat-2-Max }] }
`,
  checkChatRequest(t, call) {
    t.equal(call.url, '/api/v1/chat/completions');
    t.match(call.headers['authorization'], /^Bearer .+/);
    t.ok(auth.valid.has(String(call.headers['authorization']).slice(7)), 'the token the OAuth endpoint issued');
    t.ok(call.headers['x-request-id'], 'X-Request-ID for GigaChat logs');
    t.same(call.body, {
      model: 'GigaChat-2-Max',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
      temperature: 0.2,
      max_tokens: 50,
    });
    t.equal(auth.calls.length, 1, 'one token for the whole suite so far');
    const tokenCall = auth.calls[0]!;
    t.equal(tokenCall.headers['authorization'], `Basic ${KEY}`);
    t.match(tokenCall.headers['rquid'], UUID_V4, 'RqUID is a UUID v4');
    t.equal(tokenCall.headers['content-type'], 'application/x-www-form-urlencoded');
    t.equal(tokenCall.body, 'scope=GIGACHAT_API_CORP');
  },
  checkToolResultRequest(t, call) {
    const messages = call.body?.['messages'] as Sent[];
    t.same(messages.map((m) => m.role), ['user', 'assistant', 'function', 'assistant', 'function'], 'parallel calls replayed one by one, each with its result');
    t.same(messages[1], { role: 'assistant', content: '', function_call: { name: 'get_weather', arguments: { city: 'Paris' } } }, 'arguments as an object');
    t.same(messages[2], { role: 'function', name: 'get_weather', content: '{"temp":21}' }, 'function name recovered from the tool call id');
    t.same(messages[3]?.function_call, { name: 'get_weather', arguments: { city: 'Oslo' } });
    t.same(messages[4], { role: 'function', name: 'get_weather', content: '{"temp":-3}' });
    t.same(call.body?.['functions'], [{ name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }]);
    t.equal(call.body?.['function_call'], 'auto');
  },
  overloadedStatus: 503,
  parallelToolCalls: false,
});
