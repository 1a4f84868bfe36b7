/**
 * `POST /v1/messages/count_tokens` counted by the provider when the model's target is Anthropic:
 * the client's own body goes to Anthropic's `POST /v1/messages/count_tokens`
 * (https://docs.anthropic.com/en/api/messages-count-tokens) with the target's model, and its
 * `input_tokens` is the answer; a plugin's rewrite of the conversation is counted too (the
 * translation is sent then). Other providers, and an Anthropic call that fails, are estimated
 * locally (o200k). `x-switchyard-token-count` says which.
 */
import t from 'tap';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';

interface Call {
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** How the mock Anthropic answers `count_tokens`: the documented `{input_tokens}`, or an error. */
let answer: { status: number; body: unknown } = { status: 200, body: { input_tokens: 4242 } };
const calls: Call[] = [];
const anthropic = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    calls.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown> });
    res.writeHead(answer.status, { 'content-type': 'application/json', 'request-id': 'req_mock' }).end(JSON.stringify(answer.body));
  });
});

let openai: MockOpenAI;
let gw: TestGateway;

t.before(async () => {
  await new Promise<void>((resolve) => anthropic.listen(0, '127.0.0.1', resolve));
  openai = await startMockOpenAI();
  gw = await startGateway(
    `version: 1
providers:
  ant: { adapter: anthropic, base_url: "http://127.0.0.1:${(anthropic.address() as AddressInfo).port}", api_key: sk-ant-provider, beta: [configured-beta] }
  up: { adapter: openai, base_url: "${openai.baseUrl}", api_key: sk-upstream }
models:
  claude: { targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  claude-governed: { targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
  gpt: { targets: [{ provider: up, model: gpt-4o-mini }] }
pipeline:
  - transform:
      rules:
        - match: { models: [claude-governed] }
          request: { system_prompt: "GOVERNED-SYSTEM-PROMPT" }
  - route: {}
`,
    { level: 'fatal' },
  );
});
t.afterEach(() => {
  calls.length = 0;
  answer = { status: 200, body: { input_tokens: 4242 } };
});
t.teardown(async () => {
  await gw.close();
  await openai.close();
  anthropic.closeAllConnections();
  await new Promise((resolve) => anthropic.close(resolve));
});

function count(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}/v1/messages/count_tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
}

const TOOL = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } };

t.test('an Anthropic target counts: the client body goes to its count_tokens, its answer comes back', async (t) => {
  const body = {
    model: 'claude',
    system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'A long report.' }, citations: { enabled: true }, cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Summarise.' }] }],
    tools: [TOOL, { type: 'web_search_20250305', name: 'web_search' }],
    thinking: { type: 'enabled', budget_tokens: 2048 },
  };
  const res = await count(body, { 'anthropic-beta': 'client-beta' });
  t.equal(res.status, 200);
  t.same(await res.json(), { input_tokens: 4242 }, "the provider's count");
  t.equal(res.headers.get('x-switchyard-token-count'), 'provider');
  t.equal(calls.length, 1);
  const call = calls[0]!;
  t.equal(call.url, '/v1/messages/count_tokens');
  t.same(call.body, { ...body, model: 'claude-sonnet-4-5' }, "the client's own body (citations, cache_control, server tools, thinking and all), for the target's model");
  t.equal(call.headers['x-api-key'], 'sk-ant-provider', "the provider's key, not the client's");
  t.equal(call.headers['anthropic-version'], '2023-06-01');
  t.equal(call.headers['anthropic-beta'], 'configured-beta,client-beta', 'configured and client beta flags');
  t.equal(openai.requests.length, 0);
});

t.test("a plugin's rewrite of the conversation is counted: the translation is sent", async (t) => {
  const res = await count({ model: 'claude-governed', messages: [{ role: 'user', content: 'Hi' }], tools: [TOOL] });
  t.equal(res.status, 200);
  t.same(await res.json(), { input_tokens: 4242 });
  t.equal(calls.length, 1);
  const sent = calls[0]!.body;
  t.match(JSON.stringify(sent['system']), /GOVERNED-SYSTEM-PROMPT/, 'the injected system prompt is in what was counted');
  t.same(sent['messages'], [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], 'the conversation as the adapter translates it');
  t.match(sent, { model: 'claude-sonnet-4-5', tools: [{ name: 'get_weather', input_schema: TOOL.input_schema }] });
  t.notOk('max_tokens' in sent || 'stream' in sent, 'only the fields count_tokens takes');
});

t.test('other providers are estimated locally, without an upstream call', async (t) => {
  const res = await count({ model: 'gpt', system: 'Be brief.', messages: [{ role: 'user', content: 'How many tokens is this sentence?' }] });
  t.equal(res.status, 200);
  t.equal(res.headers.get('x-switchyard-token-count'), 'estimate');
  const { input_tokens } = (await res.json()) as { input_tokens: number };
  t.ok(input_tokens >= 8 && input_tokens < 40, `a plausible estimate (${input_tokens})`);
  t.equal(calls.length + openai.requests.length, 0, 'no upstream call');
});

t.test('a failed or malformed provider count falls back to the estimate', async (t) => {
  for (const failure of [
    { status: 500, body: { type: 'error', error: { type: 'api_error', message: 'Internal server error' } } },
    { status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } },
    { status: 200, body: { tokens: 'many' } },
  ]) {
    answer = failure;
    const res = await count({ model: 'claude', messages: [{ role: 'user', content: 'How many tokens is this sentence?' }] });
    t.equal(res.status, 200, `upstream ${failure.status}: still answered`);
    t.equal(res.headers.get('x-switchyard-token-count'), 'estimate');
    const { input_tokens } = (await res.json()) as { input_tokens: number };
    t.ok(input_tokens > 0 && input_tokens < 40, `estimated (${input_tokens})`);
  }
  t.equal(calls.length, 3, 'the provider was asked each time');
});

t.test('an unknown model is refused before any provider is asked', async (t) => {
  const res = await count({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
  t.equal(res.status, 404);
  const body = (await res.json()) as { type: string; error: { type: string } };
  t.equal(body.type, 'error');
  t.equal(body.error.type, 'not_found_error');
  t.equal(calls.length, 0);
});
