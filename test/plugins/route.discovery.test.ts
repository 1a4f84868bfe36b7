/**
 * Live model discovery (`discover:` on a provider): each adapter reads its provider's list endpoint
 * as the provider documents it (fixtures under test/fixtures/<provider>/models*.json, served by a
 * loopback upstream); listed models appear in `/v1/models` as `<provider>/<model>` and can be
 * called so; the TTL and the admin API refresh them; a failing listing keeps the last good one and
 * shows in `/ready`; a key limited to some models sees only those.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { loadConfig } from '../../core/config/load.js';
import { compileStandalone } from '../../core/commands.js';
import { builtinPlugins } from '../../plugins/index.js';
import { chatCompletion } from '../helpers/mock-openai.js';
import type { RouteProcess } from '../../plugins/route/index.js';

const ADMIN_KEY = 'sk-admin-discovery-0123456789';
const FULL_KEY = 'sk-discovery-full-0123456789abcdef';
const LIMITED_KEY = 'sk-discovery-limited-0123456789abc';

/** A fixture's body as the provider sends it (without our `_source` note). */
function fixture(path: string): unknown {
  const { _source, ...body } = JSON.parse(readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8')) as Record<string, unknown>;
  return body;
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

/** A loopback upstream: `routes` maps `METHOD path?query` (or `METHOD path`) to a handler; it records every request. */
async function startUpstream() {
  const seen: Seen[] = [];
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse, body: string) => void>();
  const waiters: { match: (s: Seen) => boolean; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers };
      seen.push(s);
      for (const w of [...waiters]) if (w.match(s)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
      const handler = routes.get(`${req.method} ${req.url}`) ?? routes.get(`${req.method} ${req.url!.split('?')[0]}`);
      if (handler) handler(req, res, body);
      else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"no such route"}}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const json = (value: unknown, status = 200) => (_req: IncomingMessage, res: ServerResponse) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  return {
    url,
    seen,
    routes,
    json,
    /** Resolves when the next request matching `match` arrives. */
    next: (match: (s: Seen) => boolean) => new Promise<void>((resolve) => waiters.push({ match, resolve })),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

const discovery = (gw: TestGateway) => (gw.gateway.services.stateNamed('route') as RouteProcess).discovery;
const listIds = async (gw: TestGateway, key = FULL_KEY) => ((await (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: { id: string }[] }).data.map((m) => m.id);
const chat = (gw: TestGateway, model: string, key = FULL_KEY) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }) });
const refresh = (gw: TestGateway, body: unknown = {}) =>
  fetch(`${gw.url}/admin/models/refresh`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

t.test('each adapter lists its provider’s models as the provider documents them', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const openaiLike = ['openai', 'openrouter', 'ollama', 'vllm', 'groq', 'mistral'];
  const bases: Record<string, string> = { openai: '/openai/v1', openrouter: '/openrouter/api/v1', ollama: '/ollama/v1', vllm: '/vllm/v1', groq: '/groq/openai/v1', mistral: '/mistral/v1' };
  for (const name of openaiLike) up.routes.set(`GET ${bases[name]}/models`, up.json(fixture(`${name}/models.json`)));
  up.routes.set('GET /anthropic/v1/models?limit=1000', up.json(fixture('anthropic/models.json')));
  up.routes.set('GET /anthropic/v1/models?limit=1000&after_id=claude-opus-4-1-20250805', up.json(fixture('anthropic/models-page-2.json')));
  up.routes.set('GET /gemini/v1beta/models?pageSize=1000', up.json(fixture('gemini/models.json')));
  up.routes.set('GET /cohere/v1/models?page_size=1000', up.json(fixture('cohere/models.json')));
  up.routes.set('POST /gigachat/oauth', up.json({ access_token: 'giga-access-token', expires_at: Date.now() + 1_800_000 }));
  up.routes.set('GET /gigachat/api/v1/models', up.json(fixture('gigachat/models.json')));

  const providers = openaiLike.map((n) => `  ${n}: { adapter: openai, base_url: "${up.url}${bases[n]}", api_key: sk-${n}-secret, discover: true }`).join('\n');
  const gw = await startGateway(`version: 1
providers:
${providers}
  claude: { adapter: anthropic, base_url: "${up.url}/anthropic", api_key: sk-ant-secret, discover: true }
  gemini: { adapter: gemini, base_url: "${up.url}/gemini/v1beta", api_key: gemini-secret, discover: { ttl: 10m } }
  cohere: { adapter: cohere, base_url: "${up.url}/cohere", api_key: cohere-secret, discover: true }
  giga: { adapter: gigachat, base_url: "${up.url}/gigachat/api/v1", auth_url: "${up.url}/gigachat/oauth", credentials: Z2lnYTpzZWNyZXQ=, discover: true }
models: {}
pipeline:
  - route: { provider_prefix: false }
`);
  t.teardown(() => gw.close());
  await discovery(gw).settled();

  const res = await fetch(`${gw.url}/v1/models`);
  const body = (await res.json()) as { data: Record<string, unknown>[] };
  const byId = new Map(body.data.map((m) => [m.id as string, m]));
  const expected = [
    'openai/gpt-4o', 'openai/gpt-4o-mini', 'openai/text-embedding-3-small', 'openai/ft:gpt-4o-mini-2024-07-18:acme::9x7AbCdE',
    'openrouter/openai/gpt-4o-mini', 'openrouter/anthropic/claude-sonnet-4',
    'ollama/llama3.2:latest', 'ollama/nomic-embed-text:latest',
    'vllm/meta-llama/Llama-3.1-8B-Instruct',
    'groq/llama-3.3-70b-versatile', 'groq/whisper-large-v3',
    'mistral/mistral-small-latest', 'mistral/mistral-embed',
    'claude/claude-sonnet-4-5-20250929', 'claude/claude-opus-4-1-20250805', 'claude/claude-3-5-haiku-20241022',
    'gemini/gemini-2.5-flash', 'gemini/text-embedding-004',
    'cohere/command-a-03-2025', 'cohere/embed-v4.0',
    'giga/GigaChat-2', 'giga/GigaChat-2-Pro', 'giga/GigaChat-2-Max', 'giga/Embeddings',
  ];
  t.same([...byId.keys()].sort(), [...expected].sort(), 'every listed model, both Anthropic pages, and no model the adapter cannot call (Gemini aqa, Cohere rerank)');
  t.match(byId.get('openai/gpt-4o'), { object: 'model', owned_by: 'openai', created: 1715367049 });
  t.match(byId.get('openrouter/anthropic/claude-sonnet-4'), { context_window: 200000, max_output_tokens: 64000 });
  t.match(byId.get('groq/llama-3.3-70b-versatile'), { context_window: 131072, max_output_tokens: 32768 });
  t.match(byId.get('mistral/mistral-small-latest'), { context_window: 131072 });
  t.match(byId.get('vllm/meta-llama/Llama-3.1-8B-Instruct'), { context_window: 131072 });
  t.match(byId.get('gemini/gemini-2.5-flash'), { context_window: 1048576, max_output_tokens: 65536 });
  t.match(byId.get('cohere/command-a-03-2025'), { context_window: 256000 });
  t.match(byId.get('claude/claude-sonnet-4-5-20250929'), { created: Date.parse('2025-09-29T00:00:00Z') / 1000 });

  const header = (path: string) => up.seen.find((s) => s.url.startsWith(path))!.headers;
  t.equal(header('/openai/v1/models').authorization, 'Bearer sk-openai-secret', 'OpenAI-compatible: bearer key');
  t.equal(header('/anthropic/v1/models')['x-api-key'], 'sk-ant-secret', 'Anthropic: x-api-key');
  t.equal(header('/anthropic/v1/models')['anthropic-version'], '2023-06-01');
  t.equal(header('/gemini/v1beta/models')['x-goog-api-key'], 'gemini-secret', 'Gemini: the key in a header, not the URL');
  t.notMatch(up.seen.find((s) => s.url.startsWith('/gemini'))!.url, /key=/);
  t.equal(header('/cohere/v1/models').authorization, 'Bearer cohere-secret');
  t.equal(header('/gigachat/api/v1/models').authorization, 'Bearer giga-access-token', 'GigaChat: the OAuth access token');
  t.ok(up.seen.every((s) => s.method === 'GET' || s.url === '/gigachat/oauth'), 'listings are GETs');

  const retrieved = await fetch(`${gw.url}/v1/models/vllm/meta-llama/Llama-3.1-8B-Instruct`);
  t.equal(retrieved.status, 200, 'GET /v1/models/{id} knows a discovered id');
  t.match(await retrieved.json(), { id: 'vllm/meta-llama/Llama-3.1-8B-Instruct', owned_by: 'vllm' });
});

t.test('providers that cannot list are refused at load, at their discover path', async (t) => {
  for (const provider of ['{ adapter: yandex, api_key: k, folder_id: f, discover: true }', '{ adapter: mock, discover: true }', '{ adapter: openai, base_url: "https://x.openai.azure.com", azure: { api_version: "2024-10-21" }, discover: true }']) {
    await t.rejects(startGateway(`version: 1\nproviders:\n  p: ${provider}\nmodels: {}\npipeline: [route]\n`), /providers\.p\.discover.*has no model list to discover/, provider);
  }
  await t.rejects(startGateway(`version: 1\nproviders:\n  p: { adapter: openai, base_url: "http://127.0.0.1:9/v1", discover: { ttl: 10ms } }\nmodels: {}\npipeline: [route]\n`), /discover\.ttl.*at least 100ms/);
});

t.test('validating a config (switchyard validate) lists nothing upstream', async (t) => {
  const up = await startUpstream();
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-discovery-'));
  t.teardown(async () => {
    await up.close();
    await rm(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'gateway.yaml');
  up.routes.set('POST /oauth', up.json({ access_token: 'giga-access-token', expires_at: Date.now() + 1_800_000 }));
  await writeFile(
    file,
    `version: 1\nproviders:\n  up: { adapter: openai, base_url: "${up.url}/v1", discover: true }\n  giga: { adapter: gigachat, base_url: "${up.url}/api/v1", auth_url: "${up.url}/oauth", credentials: Z2lnYTpzZWNyZXQ=, discover: true }\nmodels: {}\npipeline: [route]\n`,
  );
  await compileStandalone(await loadConfig(file, process.env), builtinPlugins);
  // Waiting for something not to happen: time for a token request (GigaChat's comes first) to arrive.
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(up.seen, [], 'neither a listing nor a token request reached the provider');
});

t.test('discovered models: called as provider/model, refreshed by TTL and admin, kept when listing fails, filtered per key', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  let listing: unknown = fixture('openai/models.json');
  let listingStatus = 200;
  up.routes.set('GET /v1/models', (_req, res) => res.writeHead(listingStatus, { 'content-type': 'application/json' }).end(JSON.stringify(listingStatus === 200 ? listing : { error: { message: 'The server had an error while processing your request. key sk-up-secret', type: 'server_error', param: null, code: null } })));
  up.routes.set('POST /v1/chat/completions', (_req, res, raw) => {
    const model = (JSON.parse(raw) as { model: string }).model;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(model, `hello from ${model}`)));
  });
  up.routes.set('GET /slow/v1/models', up.json(fixture('ollama/models.json')));

  const yaml = (ttl: string, extraModel = '') => `version: 1
providers:
  up: { adapter: openai, base_url: "${up.url}/v1", api_key: sk-up-secret, discover: { ttl: ${ttl} } }
  local: { adapter: openai, base_url: "${up.url}/slow/v1", discover: { ttl: 10m } }
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
${extraModel}
pipeline:
  - auth:
      keys: [static]
      static:
        - { name: full, key: ${FULL_KEY}, org: acme }
        - { name: limited, key: ${LIMITED_KEY}, org: acme, allowed_models: ["up/gpt-4o*"] }
  - route: { provider_prefix: false }
`;
  const gw = await startGateway(yaml('300ms'), { env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
  t.teardown(() => gw.close());
  await discovery(gw).settled();

  t.test('listed models join /v1/models and answer as provider/model (through the openai SDK too)', async (t) => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: FULL_KEY, maxRetries: 0 });
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    t.ok(ids.includes('demo'), 'configured ids stay');
    t.ok(ids.includes('up/gpt-4o') && ids.includes('up/ft:gpt-4o-mini-2024-07-18:acme::9x7AbCdE') && ids.includes('local/llama3.2:latest'), 'discovered ids join them');

    const completion = await client.chat.completions.create({ model: 'up/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    t.equal(completion.choices[0]!.message.content, 'hello from gpt-4o', 'the upstream was asked for its own id');
    const sent = up.seen.filter((s) => s.url === '/v1/chat/completions');
    t.equal(sent.length, 1);

    const unknown = await chat(gw, 'up/gpt-9-unlisted');
    t.equal(unknown.status, 404, 'an id the provider did not list is not served (provider_prefix is off)');
    t.match(await unknown.json(), { error: { code: 'model_not_found' } });
  });

  t.test('a key limited to some models sees and calls only those', async (t) => {
    t.same((await listIds(gw, LIMITED_KEY)).sort(), ['up/gpt-4o', 'up/gpt-4o-mini']);
    t.equal((await chat(gw, 'up/gpt-4o-mini', LIMITED_KEY)).status, 200);
    const refused = await chat(gw, 'up/text-embedding-3-small', LIMITED_KEY);
    t.equal(refused.status, 403);
    t.match(await refused.json(), { error: { code: 'model_not_allowed' } });
    t.equal((await fetch(`${gw.url}/v1/models/local/llama3.2:latest`, { headers: { authorization: `Bearer ${LIMITED_KEY}` } })).status, 403, 'nor retrieves another');
  });

  t.test('the TTL refresh picks up a change, in the background', async (t) => {
    listing = fixture('openai/models-changed.json');
    await up.next((s) => s.url === '/v1/models');
    await discovery(gw).settled();
    const ids = await listIds(gw);
    t.ok(ids.includes('up/gpt-4.1'), 'a new model appears');
    t.notOk(ids.includes('up/ft:gpt-4o-mini-2024-07-18:acme::9x7AbCdE'), 'a withdrawn one goes');
    t.equal((await chat(gw, 'up/gpt-4.1')).status, 200);
  });

  t.test('a reload keeps the listings of unchanged providers (no new listing, no gap)', async (t) => {
    const before = up.seen.filter((s) => s.url === '/slow/v1/models').length;
    await gw.write(yaml('300ms', '  extra: { targets: [{ provider: demo }] }'));
    const reload = await gw.gateway.reload();
    t.ok(reload.ok);
    const ids = await listIds(gw);
    t.ok(ids.includes('extra') && ids.includes('local/llama3.2:latest') && ids.includes('up/gpt-4.1'), 'the new version serves the listings at once');
    t.equal(up.seen.filter((s) => s.url === '/slow/v1/models').length, before, 'the 10-minute listing was not fetched again');
  });

  t.test('a failing listing keeps the last good one, is logged once, and shows in /ready details', async (t) => {
    listingStatus = 500;
    const first = await refresh(gw, { provider: 'up' });
    t.equal(first.status, 200);
    t.match(await first.json(), { object: 'list', data: [{ provider: 'up', status: 'failing', models: 4, failures: Number }] });
    await up.next((s) => s.url === '/v1/models');
    await discovery(gw).settled();
    t.ok((await listIds(gw)).includes('up/gpt-4.1'), 'the last good listing is still served');
    t.equal((await chat(gw, 'up/gpt-4.1')).status, 200, 'and still callable');

    const ready = await fetch(`${gw.url}/ready`);
    t.equal(ready.status, 200, 'a failing listing is a degraded detail, not unreadiness');
    const readyBody = (await ready.json()) as { status: string; details: { route: { discovery: Record<string, Record<string, unknown>> } } };
    t.equal(readyBody.status, 'ready');
    t.match(readyBody.details.route.discovery['up'], { status: 'failing', models: 4, error: /HTTP 500|server had an error/, failing_since: String });
    t.ok((readyBody.details.route.discovery['up']!['failures'] as number) >= 2);
    t.match(readyBody.details.route.discovery['local'], { status: 'ok', models: 2 });
    t.notMatch(JSON.stringify(readyBody), /sk-up-secret/, 'no secret in the details');

    const warnings = gw.logs.filter((l) => l['msg'] === 'model discovery failed; serving the last good listing');
    t.equal(warnings.length, 1, 'one warning for the whole failure streak');
    t.notOk('stack' in warnings[0]! || 'err' in warnings[0]!, 'without a stack');
    t.equal(warnings[0]!['provider'], 'up');

    listingStatus = 200;
    listing = fixture('openai/models.json');
    const healed = await refresh(gw);
    t.match(await healed.json(), { data: [{ provider: 'up', status: 'ok', models: 4 }, { provider: 'local', status: 'ok' }] });
    t.ok(gw.logs.some((l) => l['msg'] === 'model discovery recovered'));
  });

  t.test('the admin refresh lists at once, without waiting for the TTL', async (t) => {
    await gw.write(yaml('10m'));
    t.ok((await gw.gateway.reload()).ok);
    await discovery(gw).settled();
    listing = fixture('openai/models-changed.json');
    t.notOk((await listIds(gw)).includes('up/gpt-4.1'), 'not yet');
    const res = await refresh(gw, { provider: 'up' });
    t.equal(res.status, 200);
    t.match(await res.json(), { data: [{ provider: 'up', status: 'ok', models: 4 }] });
    t.ok((await listIds(gw)).includes('up/gpt-4.1'), 'listed as soon as the call returns');
    const unknown = await refresh(gw, { provider: 'demo' });
    t.equal(unknown.status, 404, 'a provider that does not discover is named in a 404');
  });
});
