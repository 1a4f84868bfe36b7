/**
 * The cache's admin routes on a real gateway: purge by organization, by model, by both and
 * everything, stats, and the admin credential they need.
 */
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';

const ADMIN_KEY = 'sk-admin-cache-purge-0123456789';
const orgPlugin = fileURLToPath(new URL('./cache-org-plugin.ts', import.meta.url));

let upstream: MockOpenAI;
let gw: TestGateway;

t.before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway(
    `version: 1
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream-secret }
models:
  gpt-4o-mini: { aliases: [mini], targets: [{ provider: up }] }
  "up-*": { targets: [{ provider: up }] }
pipeline:
  - use: "${orgPlugin}"
  - cache
  - route
`,
    { env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } },
  );
});
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

async function chat(model: string, org?: string): Promise<string | null> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(org ? { 'x-test-org': org } : {}) };
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model, temperature: 0, messages: [{ role: 'user', content: 'purge me' }] }) });
  await res.text();
  return res.headers.get('x-switchyard-cache');
}

async function admin(method: string, path: string, key: string | null = ADMIN_KEY) {
  const res = await fetch(`${gw.url}${path}`, { method, headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** Fills the cache with one entry per (org, model) and returns the cases. */
async function fill(t: Test): Promise<[string, string | undefined][]> {
  const cases: [string, string | undefined][] = [];
  for (const org of ['acme', 'globex', undefined]) for (const model of ['gpt-4o-mini', 'up-large']) cases.push([model, org]);
  for (const [model, org] of cases) await chat(model, org);
  for (const [model, org] of cases) t.equal(await chat(model, org), 'HIT', `filled ${org ?? '_'} / ${model}`);
  return cases;
}

/** Which (model, org) entries are still cached; each probe that misses stores the entry again. */
async function cached(cases: [string, string | undefined][]): Promise<string[]> {
  const out: string[] = [];
  for (const [model, org] of cases) if ((await chat(model, org)) === 'HIT') out.push(`${org ?? '_'}/${model}`);
  return out;
}

t.test('the purge routes need the admin credential', async (t) => {
  t.equal((await admin('DELETE', '/admin/cache', null)).status, 401);
  t.equal((await admin('DELETE', '/admin/cache', 'sk-not-the-admin-key-000')).status, 401);
  t.equal((await admin('GET', '/admin/cache/stats', null)).status, 401);
});

t.test('purge by organization removes only that tenant\'s entries', async (t) => {
  const cases = await fill(t);
  const r = await admin('DELETE', '/admin/cache?org=acme');
  t.same(r, { status: 200, json: { object: 'cache.purge', deleted: 2 } });
  t.same(await cached(cases), ['globex/gpt-4o-mini', 'globex/up-large', '_/gpt-4o-mini', '_/up-large']);
});

t.test('purge by model (a models: key, globs included) removes it for every org', async (t) => {
  const cases = await fill(t);
  const r = await admin('DELETE', `/admin/cache?model=${encodeURIComponent('up-*')}`);
  t.same(r.json, { object: 'cache.purge', deleted: 3 });
  t.same(await cached(cases), ['acme/gpt-4o-mini', 'globex/gpt-4o-mini', '_/gpt-4o-mini']);
});

t.test('purge by org and model removes exactly one namespace', async (t) => {
  const cases = await fill(t);
  const r = await admin('DELETE', '/admin/cache?org=globex&model=gpt-4o-mini');
  t.same(r.json, { object: 'cache.purge', deleted: 1 });
  t.same(await cached(cases), ['acme/gpt-4o-mini', 'acme/up-large', 'globex/up-large', '_/gpt-4o-mini', '_/up-large']);
});

t.test('purge with neither removes everything, and stats count it', async (t) => {
  const cases = await fill(t);
  const r = await admin('DELETE', '/admin/cache');
  t.same(r.json, { object: 'cache.purge', deleted: 6 });
  const stats = await admin('GET', '/admin/cache/stats');
  t.equal(stats.status, 200);
  t.match(stats.json, { object: 'cache.stats', store: 'memory', entries: 0, bytes: 0, evictions: 0 });
  t.ok(stats.json.requests.hit >= 6 && stats.json.requests.miss >= 6, JSON.stringify(stats.json.requests));
  t.same(await cached(cases), []);
});

t.test('the routes are in the OpenAPI document under the cache tag', async (t) => {
  const doc = await admin('GET', '/admin/openapi.json');
  t.equal(doc.json.paths['/admin/cache'].delete.tags[0], 'cache');
  t.ok(doc.json.paths['/admin/cache/stats'].get);
});
