/**
 * The `cache` plugin on a real gateway in front of a mock upstream: hits are byte-identical and
 * labelled, keys ignore what cannot change the answer, tenants are isolated, entries expire, and the
 * request controls and policies decide what is read and written.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, chatCompletion, type MockOpenAI } from '../helpers/mock-openai.js';
import { canonicalJson, requestHash, cacheKey } from '../../plugins/cache/request-key.js';

const orgPlugin = fileURLToPath(new URL('./cache-org-plugin.ts', import.meta.url));

let upstream: MockOpenAI;
/** Upstream answers are numbered, so a second upstream call is visible in the body. */
let answered = 0;

t.before(async () => {
  upstream = await startMockOpenAI();
});
t.afterEach(() => {
  upstream.reset();
  answered = 0;
});
t.teardown(() => upstream.close());

/** Upstream chat answers as pretty-printed JSON: re-serialising them would change the bytes. */
function numberedChat(): void {
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    answered++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(String(body?.['model']), `answer #${answered}`), null, 2));
  });
}

function config(cache = 'cache', extra = ''): string {
  return `version: 1
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream-secret }
models:
  gpt-4o-mini: { aliases: [mini], targets: [{ provider: up }] }
  gpt-4o: { targets: [{ provider: up }] }
  text-embedding-3-small: { targets: [{ provider: up }] }
  dall-e-3: { targets: [{ provider: up }] }
${extra}pipeline:
  - use: "${orgPlugin}"
  - ${cache}
  - route
`;
}

async function post(gw: TestGateway, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, cache: res.headers.get('x-switchyard-cache'), age: res.headers.get('age'), text: await res.text() };
}

const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content }], ...extra });
const chat = (gw: TestGateway, body: unknown, headers: Record<string, string> = {}) => post(gw, '/v1/chat/completions', body, headers);

t.test('a hit returns the miss bytes unchanged, with HIT and a growing Age, without calling upstream', async (t) => {
  numberedChat();
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  const miss = await chat(gw, ask('hello'));
  t.equal(miss.status, 200);
  t.equal(miss.cache, 'MISS');
  t.equal(miss.age, null, 'a miss has no Age');
  t.match(miss.text, /\n {2}"id"/, 'the upstream text (pretty-printed) reached the client as sent');
  const hit = await chat(gw, ask('hello'));
  t.equal(hit.cache, 'HIT');
  t.equal(hit.text, miss.text, 'byte-identical');
  t.equal(hit.age, '0');
  await new Promise((r) => setTimeout(r, 1100));
  const later = await chat(gw, ask('hello'));
  t.equal(later.cache, 'HIT');
  t.ok(Number(later.age) >= 1, `age grew to ${later.age}`);
  t.equal(upstream.requests.length, 1, 'one upstream call for three requests');
});

t.test('the key ignores user, stream options, metadata, key order and aliases, but not sampling parameters', async (t) => {
  numberedChat();
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  const first = await chat(gw, ask('same'));
  t.equal(first.cache, 'MISS');
  const reordered = { messages: [{ content: 'same', role: 'user' }], temperature: 0, model: 'mini', user: 'someone', metadata: { a: '1' }, store: false, seed: null };
  const same = await chat(gw, reordered);
  t.equal(same.cache, 'HIT', 'alias, key order, user, metadata, store and null fields do not matter');
  t.equal(same.text, first.text);
  for (const change of [{ temperature: 0, max_tokens: 5 }, { seed: 1 }, { top_p: 0.5 }, { stop: ['x'] }, { tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] }, { response_format: { type: 'json_object' } }]) {
    const other = await chat(gw, ask('same', change));
    t.equal(other.cache, 'MISS', `${JSON.stringify(change)} makes a new entry`);
  }
  t.equal((await chat(gw, { ...ask('same'), model: 'gpt-4o' })).cache, 'MISS', 'another model is another entry');
});

t.test('canonical JSON sorts keys at every level; the hash depends on endpoint and model', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null }, u: undefined }), '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
  const body = { messages: [{ role: 'user', content: 'x' }] };
  t.equal(requestHash('chat.completions', 'm', body), requestHash('chat.completions', 'm', { ...body, stream: true, user: 'u' }));
  t.not(requestHash('chat.completions', 'm', body), requestHash('completions', 'm', body));
  t.not(requestHash('chat.completions', 'm', body), requestHash('chat.completions', 'n', body));
  t.equal(cacheKey(undefined, 'anthropic/*', 'h'), 'cache:_:anthropic%2F*:h');
  t.equal(cacheKey('a:b', 'm', 'h'), 'cache:a%3Ab:m:h', 'an org cannot reach into another namespace with the separator');
});

t.test('tenants never see each other\'s entries', async (t) => {
  numberedChat();
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  const a1 = await chat(gw, ask('shared question'), { 'x-test-org': 'org-a' });
  const b1 = await chat(gw, ask('shared question'), { 'x-test-org': 'org-b' });
  const anon = await chat(gw, ask('shared question'));
  t.same([a1.cache, b1.cache, anon.cache], ['MISS', 'MISS', 'MISS']);
  t.not(a1.text, b1.text, 'org-b got its own upstream answer');
  const a2 = await chat(gw, ask('shared question'), { 'x-test-org': 'org-a' });
  const b2 = await chat(gw, ask('shared question'), { 'x-test-org': 'org-b' });
  t.same([a2.cache, a2.text], ['HIT', a1.text]);
  t.same([b2.cache, b2.text], ['HIT', b1.text]);
  t.equal(upstream.requests.length, 3);
});

t.test('entries expire after their ttl; per-model ttl overrides win', async (t) => {
  numberedChat();
  const gw = await startGateway(config(`cache: { ttl: 300ms, models: { "gpt-4o": { ttl: 1h } } }`));
  t.teardown(() => gw.close());
  t.equal((await chat(gw, ask('ttl'))).cache, 'MISS');
  t.equal((await chat(gw, { ...ask('ttl'), model: 'gpt-4o' })).cache, 'MISS');
  t.equal((await chat(gw, ask('ttl'))).cache, 'HIT');
  await new Promise((r) => setTimeout(r, 450));
  const expired = await chat(gw, ask('ttl'));
  t.equal(expired.cache, 'MISS', 'the 300ms entry expired');
  t.match(expired.text, /answer #3/);
  t.equal((await chat(gw, { ...ask('ttl'), model: 'gpt-4o' })).cache, 'HIT', 'the 1h entry did not');
});

t.test('Cache-Control: no-cache refreshes the entry; no-store neither reads nor writes', async (t) => {
  numberedChat();
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  const first = await chat(gw, ask('controls'));
  const refreshed = await chat(gw, ask('controls'), { 'cache-control': 'no-cache' });
  t.equal(refreshed.cache, 'MISS');
  t.match(refreshed.text, /answer #2/, 'the upstream was called despite the entry');
  const after = await chat(gw, ask('controls'));
  t.equal(after.cache, 'HIT');
  t.equal(after.text, refreshed.text, 'the fresh answer replaced the old one');
  t.not(after.text, first.text);

  const bypass = await chat(gw, ask('controls'), { 'cache-control': 'no-store' });
  t.equal(bypass.cache, 'BYPASS');
  t.match(bypass.text, /answer #3/, 'no-store does not read');
  t.equal((await chat(gw, ask('controls'))).text, refreshed.text, 'and does not write');
  t.equal((await chat(gw, ask('never stored'), { 'cache-control': 'no-store' })).cache, 'BYPASS');
  t.equal((await chat(gw, ask('never stored'))).cache, 'MISS');
});

t.test('by default only deterministic requests are cached; the opt-in header caches any request', async (t) => {
  numberedChat();
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  const warm = { model: 'gpt-4o-mini', temperature: 0.7, messages: [{ role: 'user', content: 'creative' }] };
  t.equal((await chat(gw, warm)).cache, 'BYPASS');
  t.equal((await chat(gw, warm)).cache, 'BYPASS');
  t.equal(upstream.requests.length, 2);
  t.equal((await chat(gw, { ...warm, seed: 7 })).cache, 'MISS', 'a seed makes a request deterministic');
  t.equal((await chat(gw, { ...warm, seed: 7 })).cache, 'HIT');
  t.equal((await chat(gw, warm, { 'x-switchyard-cache': 'force' })).cache, 'MISS');
  t.equal((await chat(gw, warm, { 'x-switchyard-cache': 'force' })).cache, 'HIT');
});

t.test('when: opt_in caches only opted-in requests; when: always caches everything', async (t) => {
  numberedChat();
  const optIn = await startGateway(config('cache: { when: opt_in, models: { "gpt-4o": { when: always } } }'));
  t.teardown(() => optIn.close());
  t.equal((await chat(optIn, ask('o'))).cache, 'BYPASS', 'temperature 0 is not enough');
  t.equal((await chat(optIn, ask('o'), { 'x-switchyard-cache': 'force' })).cache, 'MISS');
  t.equal((await chat(optIn, ask('o'), { 'x-switchyard-cache': 'force' })).cache, 'HIT');
  const warm = { model: 'gpt-4o', temperature: 1, messages: [{ role: 'user', content: 'o' }] };
  t.equal((await chat(optIn, warm)).cache, 'MISS', 'the per-model rule says always');
  t.equal((await chat(optIn, warm)).cache, 'HIT');
});

t.test('errors are never stored', async (t) => {
  let calls = 0;
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    calls++;
    if (calls === 1) return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"boom","type":"invalid_request_error","param":null,"code":"bad_thing"}}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(String(body?.['model']), 'ok')));
  });
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  const failed = await chat(gw, ask('flaky'));
  t.equal(failed.status, 400);
  t.match(JSON.parse(failed.text), { error: { code: 'bad_thing' } });
  const ok = await chat(gw, ask('flaky'));
  t.same([ok.status, ok.cache], [200, 'MISS']);
  t.equal((await chat(gw, ask('flaky'))).cache, 'HIT');
});

t.test('answers over max_entry_bytes are served but not stored', async (t) => {
  numberedChat();
  const gw = await startGateway(config('cache: { max_entry_bytes: 200 }'));
  t.teardown(() => gw.close());
  const first = await chat(gw, ask('big'));
  t.same([first.status, first.cache], [200, 'MISS']);
  t.equal((await chat(gw, ask('big'))).cache, 'MISS');
  t.equal(upstream.requests.length, 2);
});

t.test('embeddings are cached; images are not unless listed', async (t) => {
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  const body = { model: 'text-embedding-3-small', input: ['a', 'b'] };
  t.equal((await post(gw, '/v1/embeddings', body)).cache, 'MISS');
  const hit = await post(gw, '/v1/embeddings', body);
  t.equal(hit.cache, 'HIT');
  t.equal(JSON.parse(hit.text).data.length, 2);
  const image = await post(gw, '/v1/images/generations', { model: 'dall-e-3', prompt: 'a cat' });
  t.equal(image.status, 200);
  t.equal(image.cache, null, 'not a cached endpoint: no header');
  t.equal(upstream.requests.length, 2);
});

t.test('completions are cached too', async (t) => {
  const gw = await startGateway(config(`cache: { per_endpoint: { completions: { when: always } } }`, ''));
  t.teardown(() => gw.close());
  const gwModels = { model: 'gpt-4o-mini', prompt: 'Say hi' };
  const miss = await post(gw, '/v1/completions', gwModels);
  t.same([miss.status, miss.cache], [200, 'MISS']);
  const hit = await post(gw, '/v1/completions', gwModels);
  t.same([hit.cache, hit.text], ['HIT', miss.text]);
});

t.test('unknown models pass through to route unchanged', async (t) => {
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  const res = await chat(gw, { ...ask('x'), model: 'no-such-model' });
  t.equal(res.status, 404);
  t.equal(res.cache, null);
  t.equal(JSON.parse(res.text).error.code, 'model_not_found');
});

t.test('hits, misses and bypasses are counted in /metrics with bounded labels', async (t) => {
  numberedChat();
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  await chat(gw, ask('m'));
  await chat(gw, ask('m'));
  await chat(gw, ask('m'));
  await chat(gw, ask('m'), { 'cache-control': 'no-store' });
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(text, /switchyard_cache_requests_total\{result="hit"\} 2/);
  t.match(text, /switchyard_cache_requests_total\{result="miss"\} 1/);
  t.match(text, /switchyard_cache_requests_total\{result="bypass"\} 1/);
  t.match(text, /switchyard_cache_bytes \d+/);
  t.match(text, /switchyard_cache_evictions 0/);
});

t.test('entries survive a hot reload (they live in the gateway\'s store)', async (t) => {
  numberedChat();
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  const first = await chat(gw, ask('reload'));
  await gw.write(config('cache: { ttl: 5m }'));
  await gw.gateway.reload();
  const after = await chat(gw, ask('reload'));
  t.same([after.cache, after.text], ['HIT', first.text]);
});
