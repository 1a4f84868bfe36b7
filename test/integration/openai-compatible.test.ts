/**
 * The `openai` adapter against OpenAI-compatible providers, proven by what the mock upstream
 * records: Azure deployment paths and `api-key`, OpenRouter headers and slash model ids, Bearer
 * keys, keyless local servers, extra query params; model resolution (prefix, glob, alias, default);
 * upstream errors mapped to OpenAI envelopes; timeouts; and fallback between targets.
 */
import t from 'tap';
import OpenAI from 'openai';
import { createServer } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, sendError, type MockOpenAI } from '../helpers/mock-openai.js';

let upstream: MockOpenAI;
let backup: MockOpenAI;
let gw: TestGateway;
let client: OpenAI;
let deadUrl: string;

/** A loopback URL nothing listens on (a port that was just bound and released). */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}

t.before(async () => {
  upstream = await startMockOpenAI();
  backup = await startMockOpenAI();
  deadUrl = await closedPortUrl();
  const u = upstream.baseUrl;
  gw = await startGateway(`version: 1
providers:
  azure: { adapter: openai, base_url: "${upstream.url}", api_key: az-secret-key, azure: { api_version: "2024-10-21", deployments: { gpt-4o: prod-gpt4o } } }
  or: { adapter: openai, base_url: "${u}", api_key: sk-or-secret, headers: { HTTP-Referer: "https://switchyard.example", X-Title: "Switchyard" } }
  mistral: { adapter: openai, base_url: "${u}", api_key: mistral-secret, query: { tenant: t1 } }
  local: { adapter: openai, base_url: "${u}" }
  stall: { adapter: openai, base_url: "${u}", api_key: k, timeouts: { first_byte: 300ms } }
  primary: { adapter: openai, base_url: "${u}", api_key: primary-secret }
  backup: { adapter: openai, base_url: "${backup.baseUrl}", api_key: backup-secret }
  down: { adapter: openai, base_url: "${deadUrl}", api_key: k }
models:
  gpt-4o: { targets: [{ provider: azure }] }
  gpt-4o-mini: { targets: [{ provider: azure }] }
  "openrouter/*": { targets: [{ provider: or }] }
  mistral-small-latest: { targets: [{ provider: mistral }], aliases: [mistral-small] }
  "mixtral-*": { targets: [{ provider: mistral }] }
  llama3: { targets: [{ provider: local, model: "llama3.1:8b" }] }
  slow: { targets: [{ provider: stall }] }
  unreachable: { targets: [{ provider: down }] }
  flaky: { targets: [{ provider: primary }, { provider: backup }] }
  dead-first: { targets: [{ provider: down }, { provider: backup }] }
pipeline:
  - transform:
      rules:
        - match: { models: [llama3] }
          request: { headers: { set: { x-tenant: acme }, remove: [x-request-id] } }
  - route: { defaults: { chat: llama3 } }
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client-key', maxRetries: 0 });
});
t.afterEach(() => {
  upstream.reset();
  backup.reset();
});
t.teardown(async () => {
  await gw.close();
  await upstream.close();
  await backup.close();
});

const messages = [{ role: 'user' as const, content: 'hello' }];
const chat = (model: string) => client.chat.completions.create({ model, messages });

async function post(body: Record<string, unknown>): Promise<{ status: number; body: { error?: Record<string, unknown> } & Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-key' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { error?: Record<string, unknown> }, headers: res.headers };
}

t.test('Azure: deployment path, api-version query, api-key header and no Authorization', async (t) => {
  const res = await chat('gpt-4o');
  t.equal(res.choices[0]?.message.content, 'upstream says: hello');
  const r = upstream.requests[0]!;
  t.equal(r.url, '/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
  t.equal(r.headers['api-key'], 'az-secret-key');
  t.equal(r.headers['authorization'], undefined, 'neither the provider key as Bearer nor the client key');
  await chat('gpt-4o-mini');
  t.equal(upstream.requests[1]!.url, '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21', 'unmapped model uses its id as deployment');
});

t.test('OpenRouter: fixed headers and slash model ids through an "openrouter/*" glob', async (t) => {
  const res = await chat('openrouter/anthropic/claude-3.5-sonnet');
  t.equal(res.model, 'anthropic/claude-3.5-sonnet');
  const r = upstream.requests[0]!;
  t.equal(r.url, '/v1/chat/completions');
  t.equal(r.body!['model'], 'anthropic/claude-3.5-sonnet');
  t.equal(r.headers['http-referer'], 'https://switchyard.example');
  t.equal(r.headers['x-title'], 'Switchyard');
  t.equal(r.headers['authorization'], 'Bearer sk-or-secret');
});

t.test('Mistral/Groq style: Bearer key, base_url with /v1, extra query params, aliases', async (t) => {
  await chat('mistral-small');
  const r = upstream.requests[0]!;
  t.equal(r.url, '/v1/chat/completions?tenant=t1');
  t.equal(r.headers['authorization'], 'Bearer mistral-secret');
  t.equal(r.body!['model'], 'mistral-small-latest', 'alias resolves to the configured id');
});

t.test('vLLM/Ollama style: no api_key means no Authorization header, and the client key never leaks upstream', async (t) => {
  const res = await chat('llama3');
  t.equal(res.choices[0]?.message.content, 'upstream says: hello');
  const r = upstream.requests[0]!;
  t.equal(r.headers['authorization'], undefined);
  t.equal(r.body!['model'], 'llama3.1:8b', 'target model overrides the requested id');
  t.notOk(JSON.stringify(r.headers).includes('sk-client-key'));
});

t.test('provider/model prefix routing and wildcard routing', async (t) => {
  await chat('mistral/codestral-latest');
  t.equal(upstream.requests[0]!.body!['model'], 'codestral-latest');
  t.equal(upstream.requests[0]!.headers['authorization'], 'Bearer mistral-secret');
  const res = await client.chat.completions.create({ model: 'mixtral-8x7b', messages }).withResponse();
  t.equal(upstream.requests[1]!.body!['model'], 'mixtral-8x7b', 'a non-prefix glob keeps the whole id');
  t.equal(res.response.headers.get('x-switchyard-provider'), 'mistral');
});

t.test('the endpoint default model serves a request without `model`', async (t) => {
  const res = await post({ messages });
  t.equal(res.status, 200);
  t.equal(upstream.requests[0]!.body!['model'], 'llama3.1:8b');
});

t.test('transform request.headers reach the upstream', async (t) => {
  await chat('llama3');
  const h = upstream.requests[0]!.headers;
  t.equal(h['x-tenant'], 'acme');
  t.equal(h['x-request-id'], undefined, 'removed header is not sent');
  await chat('mistral-small');
  t.equal(upstream.requests[1]!.headers['x-tenant'], undefined, 'rule only applies to its models');
  t.type(upstream.requests[1]!.headers['x-request-id'], 'string');
});

const MAPPED: [upstream: number, client: number, type: string][] = [
  [400, 400, 'invalid_request_error'],
  [401, 401, 'authentication_error'],
  [403, 403, 'permission_error'],
  [404, 404, 'not_found_error'],
  [429, 429, 'rate_limit_error'],
  [500, 502, 'upstream_error'],
  [503, 503, 'upstream_error'],
];

t.test('upstream error statuses map to OpenAI-typed envelopes', async (t) => {
  for (const [from, to, type] of MAPPED) {
    upstream.on('/v1/chat/completions', (_req, res) => sendError(res, from, `upstream failed with ${from}`, 'x', from === 400 ? 'bad_param' : null));
    const res = await post({ model: 'mistral-small-latest', messages });
    t.equal(res.status, to, `${from} → ${to}`);
    t.match(res.body.error, { type, message: `mistral: upstream failed with ${from}`, request_id: String }, `${from} envelope`);
  }
  upstream.on('/v1/chat/completions', (_req, res) => sendError(res, 400, 'bad', 'invalid_request_error', 'bad_param'));
  t.equal((await post({ model: 'mistral-small-latest', messages })).body.error!['code'], 'bad_param', 'provider code kept');
  const err = await chat('mistral-small-latest').catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.BadRequestError, 'SDK sees a BadRequestError');
});

t.test('an upstream redirect (not followed) is a 502, not a status the client cannot act on', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => void res.writeHead(301, { location: 'https://elsewhere.invalid/v1/chat/completions' }).end());
  const res = await post({ model: 'mistral-small-latest', messages });
  t.equal(res.status, 502);
  t.match(res.body.error, { type: 'upstream_error', code: 'upstream_301' });
  t.equal(res.headers.get('location'), null);
});

t.test('an upstream answering invalid JSON is a 502 upstream_invalid_response', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "chatcmpl-1", "choices": ['));
  const res = await post({ model: 'mistral-small-latest', messages });
  t.equal(res.status, 502);
  t.match(res.body.error, { type: 'upstream_error', code: 'upstream_invalid_response' });
});

t.test('connection refused is a 502 upstream_unreachable', async (t) => {
  const res = await post({ model: 'unreachable', messages });
  t.equal(res.status, 502);
  t.match(res.body.error, { type: 'upstream_error', code: 'upstream_unreachable', message: /ECONNREFUSED/ });
});

t.test('an upstream that never answers hits the first_byte timeout as a 504', async (t) => {
  upstream.on('/v1/chat/completions', () => undefined);
  const res = await post({ model: 'slow', messages });
  t.equal(res.status, 504);
  t.match(res.body.error, { type: 'timeout_error', code: 'upstream_timeout' });
});

t.test('fallback: a 503 from the first target is answered by the second', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => sendError(res, 503, 'overloaded', 'server_error'));
  const res = await client.chat.completions.create({ model: 'flaky', messages }).withResponse();
  t.equal(res.data.choices[0]?.message.content, 'upstream says: hello');
  t.equal(res.response.headers.get('x-switchyard-provider'), 'backup');
  t.equal(upstream.requests.length, 1, 'first target tried once');
  t.equal(backup.requests[0]!.headers['authorization'], 'Bearer backup-secret');
  t.equal(backup.requests[0]!.body!['model'], 'flaky');
});

t.test('fallback: an unreachable first target is answered by the second', async (t) => {
  const res = await chat('dead-first');
  t.equal(res.choices[0]?.message.content, 'upstream says: hello');
  t.equal(backup.requests.length, 1);
});

t.test('fallback: a 400 from the first target is not retried elsewhere', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => sendError(res, 400, 'context too long', 'invalid_request_error', 'context_length_exceeded'));
  const res = await post({ model: 'flaky', messages });
  t.equal(res.status, 400);
  t.match(res.body.error, { code: 'context_length_exceeded', message: 'primary: context too long' });
  t.equal(backup.requests.length, 0);
});

t.test('fallback also applies to streams that fail before the first byte', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => sendError(res, 503, 'overloaded', 'server_error'));
  const stream = await client.chat.completions.create({ model: 'flaky', messages, stream: true });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  t.equal(text, 'upstream says: hello ');
  t.equal(backup.requests.length, 1);
});
