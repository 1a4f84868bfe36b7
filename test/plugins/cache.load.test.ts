/**
 * The `cache` plugin under load: concurrent identical misses share one upstream call, a failing
 * leader does not take its followers down with it, and a flood of unique keys stays within the
 * memory store's byte bound (evicting, counting evictions, RSS roughly flat).
 */
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, chatCompletion, type MockOpenAI } from '../helpers/mock-openai.js';

/** A full garbage collection, so memory readings measure what is kept rather than what is not yet collected. */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

interface CacheStats {
  object: string;
  store: string;
  entries: number;
  bytes: number;
  evictions: number;
  requests: Record<'hit' | 'miss' | 'bypass' | 'coalesced', number>;
}

const ADMIN_KEY = 'sk-admin-cache-test-0123456789';

let upstream: MockOpenAI;
t.before(async () => {
  upstream = await startMockOpenAI();
});
t.afterEach(() => upstream.reset());
t.teardown(() => upstream.close());

const ask = (content: string) => ({ model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content }] });

async function chat(gw: TestGateway, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, cache: res.headers.get('x-switchyard-cache'), text: await res.text() };
}

/** Upstream chat answers after `ms`, numbered; `fail(n)` decides which calls answer 400. */
function slowChat(ms: number, fail: (call: number) => boolean = () => false): () => number {
  let calls = 0;
  upstream.on('/v1/chat/completions', async (_req, res, body) => {
    const call = ++calls;
    await new Promise((r) => setTimeout(r, ms));
    if (fail(call)) return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"no","type":"invalid_request_error","param":null,"code":"refused"}}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(String(body?.['model']), `call #${call}`)));
  });
  return () => calls;
}

t.test('N concurrent identical misses make one upstream call and all get its answer', async (t) => {
  const calls = slowChat(150);
  const gw = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - cache\n  - route\n'));
  t.teardown(() => gw.close());
  const results = await Promise.all(Array.from({ length: 25 }, () => chat(gw, ask('thundering herd'))));
  t.equal(calls(), 1, 'one upstream call');
  t.ok(results.every((r) => r.status === 200 && r.text === results[0]!.text), 'every client got the same bytes');
  const headers = results.map((r) => r.cache).sort();
  t.equal(headers.filter((h) => h === 'MISS').length, 1, 'one leader');
  t.equal(headers.filter((h) => h === 'COALESCED').length, 24, 'the rest waited for it');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /switchyard_cache_requests_total\{result="coalesced"\} 24/);
});

t.test('streaming followers wait for a non-streaming leader and get a replayed stream', async (t) => {
  const calls = slowChat(150);
  const gw = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - cache\n  - route\n'));
  t.teardown(() => gw.close());
  const leader = chat(gw, ask('mixed'));
  await new Promise((r) => setTimeout(r, 30));
  const follower = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...ask('mixed'), stream: true }) });
  const text = await follower.text();
  t.equal((await leader).cache, 'MISS');
  t.equal(follower.headers.get('x-switchyard-cache'), 'COALESCED');
  t.match(text, /"content":"call #1"/);
  t.match(text, /data: \[DONE\]\n\n$/);
  t.equal(calls(), 1);
});

t.test('when the leader fails, each follower makes its own call', async (t) => {
  const calls = slowChat(100, (n) => n === 1);
  const gw = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - cache\n  - route\n'));
  t.teardown(() => gw.close());
  const leader = chat(gw, ask('fragile'));
  await new Promise((r) => setTimeout(r, 20));
  const followers = await Promise.all([chat(gw, ask('fragile')), chat(gw, ask('fragile'))]);
  t.equal((await leader).status, 400, 'the leader gets its error');
  t.ok(followers.every((f) => f.status === 200), 'followers do not inherit it');
  t.ok(calls() >= 2, `followers called upstream themselves (${calls()} calls)`);
});

t.test('a flood of unique keys stays within the memory bound, evicting, with memory flat', async (t) => {
  const maxBytes = 1024 * 1024;
  const padding = 'x'.repeat(32_000);
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    const content = (body?.['messages'] as { content: string }[])[0]!.content;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion('gpt-4o-mini', `${content} ${padding}`)));
  });
  const gw = await startGateway(openaiConfig(upstream.baseUrl, `stores: { kv: { memory: { max_bytes: ${maxBytes} } } }\npipeline:\n  - cache\n  - route\n`), {
    env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY },
    level: 'warn',
  });
  t.teardown(() => gw.close());
  let next = 0;
  const flood = async (count: number) => {
    const end = next + count;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < end) {
          const r = await chat(gw, ask(`unique question ${next++}`));
          if (r.status !== 200) throw new Error(`status ${r.status}`);
        }
      }),
    );
    upstream.requests.length = 0;
    collectGarbage();
    return process.memoryUsage();
  };
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  const warm = await flood(1500);
  const rounds = [await flood(3000), await flood(3000), await flood(3000)];
  t.comment(`after warm-up rss ${mb(warm.rss)} MB, external ${mb(warm.external)} MB; per round of 3,000 (~96 MB of answers): ${rounds.map((m) => `rss ${mb(m.rss)} / external ${mb(m.external)}`).join(', ')}`);
  const total = next;

  const stats = (await (await fetch(`${gw.url}/admin/cache/stats`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as CacheStats;
  t.equal(stats.object, 'cache.stats');
  t.equal(stats.store, 'memory');
  t.ok(stats.bytes <= maxBytes, `bytes ${stats.bytes} ≤ ${maxBytes}`);
  t.ok(stats.entries > 0 && stats.entries * 32_000 <= maxBytes, `entries ${stats.entries} fit the bound`);
  t.ok(stats.evictions >= total - stats.entries - 1, `evictions counted (${stats.evictions})`);
  t.equal(stats.requests.miss, total);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, new RegExp(`switchyard_cache_evictions ${stats.evictions}`));

  // Stored values are Buffers (external memory): kept unbounded they would add ~96 MB per round; the
  // slack covers socket buffers still held under a loaded machine.
  const externalGrowth = Math.max(...rounds.map((m) => m.external)) - warm.external;
  t.ok(externalGrowth < 64 * 2 ** 20, `external memory grew ${mb(externalGrowth)} MB over 9,000 unique entries`);
  // RSS also moves with the allocator's own bookkeeping: generous slack, still far below unbounded (~290 MB).
  const rssGrowth = rounds[2]!.rss - warm.rss;
  t.ok(rssGrowth < 160 * 2 ** 20, `RSS grew ${mb(rssGrowth)} MB over 9,000 unique entries`);

  t.equal((await chat(gw, ask(`unique question ${total - 1}`))).cache, 'HIT', 'recent entries are kept');
  t.equal((await chat(gw, ask('unique question 0'))).cache, 'MISS', 'the oldest were evicted');
});
