/**
 * The `cache` plugin on the real Redis at 127.0.0.1:6379 (REDIS_URL), with two gateways sharing it
 * as two replicas would: an answer stored by one is a hit on the other, tenants stay isolated,
 * entries expire by Redis TTL, and a purge through either replica's admin API removes them. Fails
 * (never skips) when Redis is down. The run uses its own key prefix and deletes its keys afterwards.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { createScratchRedis, REDIS_URL } from './scratch-redis.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, chatCompletion, type MockOpenAI } from '../helpers/mock-openai.js';

const ADMIN_KEY = 'sk-admin-cache-redis-0123456789';
const scratch = createScratchRedis('cache');
const { prefix, raw } = scratch;
const orgPlugin = fileURLToPath(new URL('../plugins/cache-org-plugin.ts', import.meta.url));

let upstream: MockOpenAI;
let replicas: [TestGateway, TestGateway];
let answered = 0;

t.before(async () => {
  t.equal(await scratch.check(), 'PONG', `Redis answers at ${REDIS_URL}`);
  upstream = await startMockOpenAI();
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    answered++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(String(body?.['model']), `answer #${answered}`), null, 1));
  });
  const yaml = `version: 1
stores: { kv: { redis: { url: "${REDIS_URL}", prefix: "${prefix}" } } }
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream-secret }
models:
  gpt-4o-mini: { targets: [{ provider: up }] }
  gpt-4o: { targets: [{ provider: up }] }
pipeline:
  - use: "${orgPlugin}"
  - cache: { ttl: 1h, models: { "gpt-4o": { ttl: 600ms } } }
  - route
`;
  const env = { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY };
  replicas = [await startGateway(yaml, { env }), await startGateway(yaml, { env })];
});

t.teardown(async () => {
  await Promise.all(replicas?.map((r) => r.close()) ?? []);
  await upstream?.close();
  await scratch.drop();
});

async function chat(gw: TestGateway, content: string, options: { org?: string; model?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(options.org ? { 'x-test-org': options.org } : {}) };
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: options.model ?? 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content }] }) });
  return { status: res.status, cache: res.headers.get('x-switchyard-cache'), text: await res.text() };
}

async function purge(gw: TestGateway, query: string) {
  const res = await fetch(`${gw.url}/admin/cache${query}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return (await res.json()) as { object: string; deleted: number };
}

/** Waits until the entry written (not awaited) by the answering replica is in Redis. */
async function settled(): Promise<void> {
  await new Promise((r) => setTimeout(r, 50));
}

t.test('an answer stored by one replica is a byte-identical hit on the other', async (t) => {
  const [a, b] = replicas;
  const miss = await chat(a, 'across replicas');
  t.equal(miss.cache, 'MISS');
  await settled();
  const hit = await chat(b, 'across replicas');
  t.equal(hit.cache, 'HIT');
  t.equal(hit.text, miss.text);
  const keys = await raw.keys(`${prefix}cache:_:gpt-4o-mini:*`);
  t.equal(keys.length, 1, 'one entry, under the store prefix and the cache namespace');
  const ttl = await raw.pttl(keys[0]!);
  t.ok(ttl > 3_500_000 && ttl <= 3_600_000, `Redis expires it by itself (${ttl} ms left)`);
});

t.test('tenants are isolated across replicas', async (t) => {
  const [a, b] = replicas;
  const acme = await chat(a, 'tenant question', { org: 'acme' });
  await settled();
  const globex = await chat(b, 'tenant question', { org: 'globex' });
  t.same([acme.cache, globex.cache], ['MISS', 'MISS']);
  t.not(acme.text, globex.text);
  await settled();
  const acmeAgain = await chat(b, 'tenant question', { org: 'acme' });
  const globexAgain = await chat(a, 'tenant question', { org: 'globex' });
  t.same([acmeAgain.cache, acmeAgain.text], ['HIT', acme.text]);
  t.same([globexAgain.cache, globexAgain.text], ['HIT', globex.text]);
});

t.test('entries expire by their (per-model) TTL', async (t) => {
  const [a, b] = replicas;
  t.equal((await chat(a, 'short lived', { model: 'gpt-4o' })).cache, 'MISS');
  await settled();
  t.equal((await chat(b, 'short lived', { model: 'gpt-4o' })).cache, 'HIT');
  await new Promise((r) => setTimeout(r, 700));
  t.equal((await chat(b, 'short lived', { model: 'gpt-4o' })).cache, 'MISS', 'expired after 600 ms');
});

t.test('a purge through one replica removes what the other stored', async (t) => {
  const [a, b] = replicas;
  for (const org of ['initech', 'umbrella']) for (const model of ['gpt-4o-mini', 'gpt-4o']) await chat(a, 'purge target', { org, model });
  await settled();
  t.same(await purge(b, '?org=initech&model=gpt-4o-mini'), { object: 'cache.purge', deleted: 1 });
  t.equal((await chat(b, 'purge target', { org: 'initech', model: 'gpt-4o-mini' })).cache, 'MISS');
  t.equal((await chat(b, 'purge target', { org: 'initech', model: 'gpt-4o' })).cache, 'HIT');
  await settled();
  t.same(await purge(b, '?org=initech'), { object: 'cache.purge', deleted: 2 });
  t.equal((await chat(a, 'purge target', { org: 'initech', model: 'gpt-4o' })).cache, 'MISS');
  t.equal((await chat(a, 'purge target', { org: 'umbrella', model: 'gpt-4o-mini' })).cache, 'HIT', 'other tenants keep theirs');
  await settled();
  const all = await purge(a, '');
  t.ok(all.deleted >= 4, `purge all removed ${all.deleted} entries`);
  t.same(await raw.keys(`${prefix}cache:*`), [], 'nothing left under the cache namespace');
  t.equal((await chat(b, 'purge target', { org: 'umbrella', model: 'gpt-4o-mini' })).cache, 'MISS');
});

t.test('a purge by model alone reaches every org, including orgs only the other replica served', async (t) => {
  const [a, b] = replicas;
  for (const org of ['hooli', 'piedpiper']) for (const model of ['gpt-4o-mini', 'gpt-4o']) await chat(a, 'model purge', { org, model });
  await settled();
  t.same(await purge(b, '?model=gpt-4o'), { object: 'cache.purge', deleted: 2 }, 'b never served these orgs');
  for (const org of ['hooli', 'piedpiper']) {
    t.equal((await chat(b, 'model purge', { org, model: 'gpt-4o' })).cache, 'MISS', `${org}'s gpt-4o entry is gone`);
    t.equal((await chat(b, 'model purge', { org, model: 'gpt-4o-mini' })).cache, 'HIT', `${org}'s gpt-4o-mini entry stays`);
  }
});

t.test('stats report the Redis store without memory figures', async (t) => {
  const res = await fetch(`${replicas[0].url}/admin/cache/stats`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const stats = (await res.json()) as Record<string, unknown>;
  t.equal(stats['object'], 'cache.stats');
  t.equal(stats['store'], 'redis');
  t.equal(stats['bytes'], undefined);
  t.ok((stats['requests'] as { hit: number }).hit >= 1);
});
