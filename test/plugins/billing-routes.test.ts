/**
 * Every inbound route is governed by credits the same way: an organization with credit for exactly
 * N requests cannot spend past it through chat, completions, embeddings, images or a raw proxy
 * route — alone or all at once — the balance never goes below zero and no reservation is left.
 * Raw proxy routes: priced per request and per byte, settled to the bytes sent, free when marked so,
 * and a config that would leave a route outside billing does not load. Cache hits are charged
 * `cache_hit_rate` × their usage and recorded as hits.
 *
 * Adding a route to the bypass tests is one line in ROUTES.
 */
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { chatCompletion, startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';
import type { Gateway } from '../../core/gateway.js';
import type { RequestRecord } from '../../core/record.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import { ADMIN_KEY, books, eventually, keyOf, pool, topUp } from './billing-credits-fixture.js';

/** Every priced request below reserves and costs exactly this (see the prices in `config`). */
const COST = 50;
/** 10 characters: a prompt bound of 10 tokens at 1 micro-unit each; + 20 output tokens at 2. */
const PROMPT = '0123456789';
const USAGE = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };

let upstream: MockOpenAI;
let backend: Server;
let backendUrl: string;
let deadUrl: string;
let gw: TestGateway;

function post(path: string, org: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${gw.url}${path}`, {
    method: 'POST',
    // no-store: identical requests must each reach the upstream here (cache hits have their own test).
    headers: { 'content-type': 'application/json', authorization: `Bearer ${keyOf(org)}`, 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  });
}

function get(path: string, org: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${keyOf(org)}`, ...headers } });
}

/** One row per inbound route: how to send one request that costs COST. */
const ROUTES: readonly { name: string; send(org: string): Promise<Response> }[] = [
  { name: 'chat completions', send: (org) => post('/v1/chat/completions', org, { model: 'ok', max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] }) },
  { name: 'completions', send: (org) => post('/v1/completions', org, { model: 'ok', max_tokens: 20, prompt: PROMPT }) },
  { name: 'embeddings', send: (org) => post('/v1/embeddings', org, { model: 'emb', input: PROMPT.repeat(5) }) },
  { name: 'images', send: (org) => post('/v1/images/generations', org, { model: 'img', prompt: 'a cat' }) },
  { name: 'raw proxy route', send: (org) => get('/search/q', org) },
  { name: 'anthropic messages', send: (org) => post('/v1/messages', org, { model: 'ok', max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] }) },
  { name: 'openai responses', send: (org) => post('/v1/responses', org, { model: 'ok', max_output_tokens: 20, input: PROMPT }) },
];

/** A 402 in the route's own shape: OpenAI's `insufficient_quota`, or Anthropic's `billing_error` on /v1/messages. */
function isQuotaRefusal(text: string): boolean {
  const error = (JSON.parse(text) as { error?: { code?: string; type?: string } }).error;
  return error?.code === 'insufficient_quota' || error?.type === 'billing_error';
}

/** The organization of a route's own bypass test. */
const soloOrg = (route: { name: string }) => `solo-${route.name.replace(/\W+/g, '-')}`;
const ORGS = [...ROUTES.map(soloOrg), 'mixed', 'bytes', 'free', 'gone', 'hits'];

const staticKeys = (indent: string) => ORGS.map((org) => `${indent}- { name: key-${org}, key: "${keyOf(org)}", org: ${org}, scopes: [read, write] }`).join('\n');

/** The gateway config; `routes` and `billingRoutes` replace the raw proxy routes and their prices (for the load-error tests). */
function config(over: { routes?: string; billingRoutes?: string } = {}): string {
  const routeAuth = `{ auth: { keys: [static], static: [${ORGS.map((org) => `{ name: key-${org}, key: "${keyOf(org)}", org: ${org}, scopes: [read, write] }`).join(', ')}] } }`;
  return `version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream }
models:
  ok: { targets: [{ provider: up }] }
  emb: { targets: [{ provider: up, model: emb }] }
  img: { targets: [{ provider: up, model: img }] }
pipeline:
  - auth:
      keys: [static, sql]
      static:
${staticKeys('        ')}
  - billing:
      models:
        up/ok: { input_per_1m: 1, output_per_1m: 2 }
        up/emb: { input_per_1m: 1 }
        up/img: { per_image: 0.00005 }
      routes:
${over.billingRoutes ?? `        /search/*: { per_request_micros: ${COST} }
        /bytes/*: { per_request_micros: 10, per_byte_micros: 0.5, max_response_bytes: 4kb }
        /free/*: { free: true }
        /gone/*: { per_request_micros: ${COST} }`}
      cache_hit_rate: 0.5
      records: { flush_interval: 20ms }
      credits: { enabled: true }
  - cache: { ttl: 10m }
  - route: { breaker: { enabled: false } }
routes:
${over.routes ?? `  - { path: /search/*, upstream: "${backendUrl}", pipeline: [${routeAuth}, billing] }
  - { path: /bytes/*, upstream: "${backendUrl}", pipeline: [${routeAuth}, billing] }
  - { path: /free/*, upstream: "${backendUrl}", pipeline: [] }
  - { path: /gone/*, upstream: "${deadUrl}", pipeline: [${routeAuth}, billing] }`}
`;
}

t.before(async () => {
  upstream = await startMockOpenAI();
  // Each answers with usage that costs exactly COST at the configured prices.
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(String(body?.['model']), 'hello', USAGE)));
  });
  upstream.on('/v1/completions', (_req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ id: 'cmpl-1', object: 'text_completion', created: 1, model: body?.['model'], choices: [{ index: 0, text: 'hi', logprobs: null, finish_reason: 'stop' }], usage: USAGE }),
    );
  });
  upstream.on('/v1/embeddings', (_req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: body?.['model'], usage: { prompt_tokens: 50, total_tokens: 50 } }),
    );
  });
  // The raw proxy routes' upstream: `?n=` bytes of body (default 100).
  backend = createServer((req, res) => {
    const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? 100);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(n));
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise((resolve) => closed.close(resolve));
  gw = await startGateway(config(), { level: 'warn', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
});
t.teardown(async () => {
  await gw.close();
  await upstream.close();
  backend.closeAllConnections();
  await new Promise((resolve) => backend.close(resolve));
});

/** Waits for the credit leases' return (50 ms after an organization's last request), then writes the queued usage rows. */
const flush = async (gateway: Gateway) => {
  const state = (gateway as unknown as { services: { stateNamed(n: string): unknown } }).services.stateNamed('billing') as { queue: { flush(): Promise<void> }; leases: { drained(): Promise<boolean> } };
  await state.leases.drained();
  await state.queue.flush();
};
const sql = (): Promise<SqlExecutor> => gw.gateway.stores.sql();

/** Sends every task at once; resolves to the statuses, bodies read (402s checked for their shape). */
async function burst(t: Test, tasks: readonly (() => Promise<Response>)[]): Promise<number[]> {
  return pool(
    tasks.map((send) => async () => {
      const res = await send();
      const body = (await res.text()) || '{}';
      if (res.status === 402) t.ok(isQuotaRefusal(body), body);
      return res.status;
    }),
    tasks.length,
  );
}

/**
 * The books of `org` once its requests are settled (post-response work runs after the client has
 * its response) and their usage rows written, up to `cost` when given.
 */
function settledBooks(org: string, cost?: bigint): ReturnType<typeof books> {
  return eventually(
    async () => {
      await flush(gw.gateway);
      return books(await sql(), org);
    },
    (b) => b.reservations === 0 && b.reserved === 0n && (cost === undefined || b.usageCost === cost),
  );
}

/** The books must close: nothing below zero, nothing reserved, the ledger = the usage rows. */
async function assertBalanced(t: Test, org: string, spent: number): Promise<void> {
  const b = await settledBooks(org, BigInt(spent));
  t.equal(b.balance, 0n, 'balance exactly zero, never below');
  t.equal(b.reserved, 0n, 'nothing held on the account');
  t.equal(b.reservations, 0, 'no reservation row left');
  t.equal(-b.usageEntries, BigInt(spent), 'the ledger charged exactly what was served');
  t.equal(b.usageCost, BigInt(spent), "the usage records' cost = the ledger's charges");
}

for (const route of ROUTES) {
  t.test(`${route.name}: credit for exactly 4 requests, 12 at once → 4 served, then 402`, async (t) => {
    const org = soloOrg(route);
    t.equal((await topUp(gw.url, org, 4 * COST)).status, 201);
    const statuses = await burst(t, Array.from({ length: 12 }, () => () => route.send(org)));
    t.equal(statuses.filter((s) => s === 200).length, 4, `exactly 4 served (${statuses.join(',')})`);
    t.equal(statuses.filter((s) => s === 402).length, 8, 'the rest refused with 402');
    const after = await route.send(org);
    t.equal(after.status, 402, 'and the next one too');
    await after.text();
    await assertBalanced(t, org, 4 * COST);
  });
}

t.test('every route at once on one organization: credit for 10 requests → 10 served in all', async (t) => {
  t.equal((await topUp(gw.url, 'mixed', 10 * COST)).status, 201);
  const statuses = await burst(t, Array.from({ length: 30 }, (_, i) => () => ROUTES[i % ROUTES.length]!.send('mixed')));
  t.equal(statuses.filter((s) => s === 200).length, 10, 'exactly the credit, whatever the route');
  t.equal(statuses.filter((s) => s === 402).length, 20);
  await assertBalanced(t, 'mixed', 10 * COST);
});

t.test('a raw proxy route priced per byte reserves its worst case and is charged the bytes it sent', async (t) => {
  const worst = 10 + 4096 / 2;
  t.equal((await topUp(gw.url, 'bytes', worst)).status, 201);
  const records = new Map<string, RequestRecord>();
  const unsubscribe = gw.gateway.records.subscribe((r) => records.set(r.id, r));
  t.teardown(unsubscribe);
  const id = randomUUID();
  const res = await get('/bytes/page?n=1000', 'bytes', { 'x-request-id': id });
  t.equal(res.status, 200);
  t.equal((await res.text()).length, 1000);
  const b = await settledBooks('bytes');
  const record = (await eventually(async () => records.get(id), (r) => r !== undefined))!;
  await flush(gw.gateway);
  t.ok(record.bytesOut > 1000, 'the record counts the bytes sent, headers included');
  const expected = 10n + (BigInt(record.bytesOut) * 500_000n + 500_000n) / 1_000_000n;
  const { rows } = await (await sql()).query<{ cost: string; model: string }>('SELECT cost_micros::text AS cost, model_requested AS model FROM billing_usage WHERE request_id = $1', [id]);
  t.same(rows, [{ cost: expected.toString(), model: '/bytes/*' }], 'one usage row, at flat + bytes × price, named by the route');
  t.equal(b.balance, BigInt(worst) - expected, 'the balance is charged the actual cost, the rest of the reservation released');
  t.equal(b.reservations, 0);
  // What is left cannot cover another worst case: refused before anything is forwarded.
  const refused = await get('/bytes/page?n=1', 'bytes');
  t.equal(refused.status, 402);
  await refused.text();
});

t.test('a route marked free is served with no credit at all', async (t) => {
  const res = await get('/free/x', 'free');
  t.equal(res.status, 200);
  await res.text();
  const b = await settledBooks('free');
  t.equal(b.balance, 0n);
  t.equal(b.reservations, 0);
});

t.test('a proxied request the upstream never answered costs nothing and holds nothing', async (t) => {
  await topUp(gw.url, 'gone', COST);
  const res = await get('/gone/x', 'gone');
  t.equal(res.status, 502);
  await res.text();
  const b = await settledBooks('gone');
  t.equal(b.balance, BigInt(COST), 'not charged');
  t.equal(b.reserved, 0n);
  t.equal(b.reservations, 0);
});

t.test('cache hits cost cache_hit_rate × their usage and are recorded as hits', async (t) => {
  await topUp(gw.url, 'hits', 10 * COST);
  const send = () =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keyOf('hits')}` },
      body: JSON.stringify({ model: 'ok', max_tokens: 20, temperature: 0, messages: [{ role: 'user', content: 'cache me' }] }),
    });
  // Every response's cost header, by what the cache did (the miss's store write is not awaited by
  // the cache, so a request may miss again before the first hit).
  const costs: { cache: string | null; cost: string | null }[] = [];
  for (let i = 0; i < 50 && costs.at(-1)?.cache !== 'HIT'; i++) {
    const res = await send();
    await res.text();
    costs.push({ cache: res.headers.get('x-switchyard-cache'), cost: res.headers.get('x-switchyard-cost') });
  }
  const hit = await send();
  await hit.text();
  costs.push({ cache: hit.headers.get('x-switchyard-cache'), cost: hit.headers.get('x-switchyard-cost') });
  t.same(costs[0], { cache: 'MISS', cost: String(COST) }, 'a miss costs its usage');
  t.same(costs.slice(-2), [{ cache: 'HIT', cost: String(COST / 2) }, { cache: 'HIT', cost: String(COST / 2) }], 'a hit costs half of what its cached usage costs');
  const total = costs.reduce((sum, c) => sum + BigInt(c.cost ?? 0), 0n);
  const b = await settledBooks('hits', total);
  t.equal(b.balance, BigInt(10 * COST) - total, 'the balance paid exactly what the headers said');
  t.equal(b.usageCost, total);
  const { rows } = await (await sql()).query<{ cache: string; cost: string }>(`SELECT cache, cost_micros::text AS cost FROM billing_usage WHERE org_id = 'hits' AND cache = 'HIT'`);
  t.same(rows, costs.filter((c) => c.cache === 'HIT').map(() => ({ cache: 'HIT', cost: String(COST / 2) })), 'each hit recorded as a HIT, at the hit rate');
});

t.test('a config that leaves a raw proxy route outside credits does not load', async (t) => {
  const start = (yaml: string) => startGateway(yaml, { level: 'silent' }).then(async (g) => (await g.close(), 'loaded'));
  await t.rejects(
    start(config({ billingRoutes: '        /search/*: { per_request_micros: 1 }', routes: `  - { path: /search/*, upstream: "${backendUrl}", pipeline: [auth, billing] }\n  - { path: /other/*, upstream: "${backendUrl}" }` })),
    /'\/other\/\*' has no price/,
    'an unpriced route',
  );
  await t.rejects(
    start(config({ billingRoutes: '        /search/*: { per_request_micros: 1 }', routes: `  - { path: /search/*, upstream: "${backendUrl}" }` })),
    /must list `billing`/,
    'a priced route whose pipeline has no billing',
  );
  await t.rejects(
    start(config({ billingRoutes: '        /search/*: { per_byte_micros: 1 }', routes: `  - { path: /search/*, upstream: "${backendUrl}", pipeline: [auth, billing] }` })),
    /cost_unbounded/,
    'a per-byte price with no bound',
  );
  await t.rejects(
    start(config({ billingRoutes: '        /serch/*: { free: true }', routes: `  - { path: /search/*, upstream: "${backendUrl}", pipeline: [] }` })),
    /no raw proxy route has the path '\/serch\/\*'/,
    'a price for a route that does not exist',
  );
  await t.rejects(
    start(config().replace('  - cache: { ttl: 10m }\n', '').replace('  - billing:\n', '  - cache: { ttl: 10m }\n  - billing:\n')),
    /cache hits are charged only when `billing` comes before `cache`/,
    'a cache-hit rate with the cache answering before billing',
  );
});
