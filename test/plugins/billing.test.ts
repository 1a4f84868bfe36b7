/**
 * `billing` through real in-process gateways (PGlite): the cost header, the cost of the target that
 * served after a fallback, streamed and aborted-stream records, the usage rows and the admin
 * summary, a database failure retried, and a shutdown that loses no row.
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { chunk, startMockOpenAI, type MockOpenAI, helloWithUsage } from '../helpers/mock-openai.js';
import { openSqlStore } from '../../core/stores/open-sql.js';
import { PLUGIN_MIGRATIONS, silentLog } from '../stores/sql-suite.js';

const ADMIN_KEY = 'billing-test-admin-secret';

/** A fake `auth`: `x-test-key: org:key` names the organization and key on the request's record. */
const FAKE_AUTH = `
export default {
  name: 'fake-auth',
  schema: { type: 'object' },
  create() {
    return {
      async handle(ctx, next) {
        const sent = ctx.headers['x-test-key'];
        if (typeof sent === 'string') {
          const [org, key] = sent.split(':');
          ctx.report.org = org;
          ctx.report.keyId = key;
        }
        await next();
      },
    };
  },
};
`;

const USAGE = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 200 } };
/** gpt-4o-mini at $0.15 / $0.60 / $0.075 cached per 1M: 800 × 0.15 + 200 × 0.075 + 500 × 0.6 micro-USD. */
const MINI_COST = 435;

let dir: string;
let upstream: MockOpenAI;
t.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-billing-'));
  await writeFile(join(dir, 'fake-auth.mjs'), FAKE_AUTH);
  upstream = await startMockOpenAI();
  upstream.on('/v1/chat/completions', helloWithUsage(USAGE));
});
t.teardown(async () => {
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

function config(sql: string, records = '{ flush_interval: 20ms }'): string {
  return `version: 1
stores: { kv: memory, sql: ${sql} }
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream }
  down: { adapter: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-upstream }
  demo: { adapter: mock, chunk_delay: 20ms }
models:
  smart: { targets: [{ provider: down, model: gpt-4o }, { provider: up, model: gpt-4o-mini }] }
  gpt-4o-mini: { targets: [{ provider: up }] }
  unpriced: { targets: [{ provider: up, model: my-finetune }] }
  demo: { targets: [{ provider: demo }] }
pipeline:
  - use: "${join(dir, 'fake-auth.mjs')}"
  - billing:
      models: { "demo/demo": { input_per_1m: 1, output_per_1m: 2 } }
      records: ${records}
  - route
`;
}

function post(gw: TestGateway, body: Record<string, unknown>, id: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id, 'x-test-key': 'org-a:key-1' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
    signal,
  });
}

interface Row {
  request_id: string;
  org_id: string | null;
  key_id: string | null;
  model_requested: string | null;
  model_served: string | null;
  provider: string | null;
  attempts: number;
  status: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  estimated: boolean;
  cost_micros: string | null;
  error_code: string | null;
}

/** Waits for the queue to write the row of `id` (it flushes every 20 ms here). */
async function rowOf(gw: TestGateway, id: string): Promise<Row> {
  const sql = await gw.gateway.stores.sql();
  for (let i = 0; i < 250; i++) {
    const { rows } = await sql.query<Row>('SELECT * FROM billing_usage WHERE request_id = $1', [id]);
    if (rows.length > 1) throw new Error(`${rows.length} rows for ${id}`);
    if (rows[0]) return rows[0];
    await sleep(20);
  }
  throw new Error(`no usage row for ${id}`);
}

let gw: TestGateway;
t.before(async () => {
  gw = await startGateway(config('{ pglite: memory }'), { level: 'warn', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
});
t.teardown(() => gw.close());

t.test('a fallback to a cheaper target is priced at the target that served, in the header and the record', async (t) => {
  const res = await post(gw, { model: 'smart' }, 'fallback-1');
  t.equal(res.status, 200);
  const body = (await res.json()) as { usage: Record<string, unknown> };
  t.equal(res.headers.get('x-switchyard-cost'), String(MINI_COST), 'gpt-4o-mini prices, not gpt-4o (which would be 7250)');
  t.same(body.usage, USAGE, 'the usage object is as the provider sent it');
  const row = await rowOf(gw, 'fallback-1');
  t.match(row, { org_id: 'org-a', key_id: 'key-1', model_requested: 'smart', model_served: 'gpt-4o-mini', provider: 'up', status: 200 });
  t.ok(row.attempts >= 2, `the failed target's attempts count too (${row.attempts})`);
  t.match(row, { prompt_tokens: 1000, completion_tokens: 500, cached_tokens: 200, estimated: false, error_code: null });
  t.equal(row.cost_micros, String(MINI_COST));
});

t.test("the access log line carries the request's cost (cost_micros), streamed or not", async (t) => {
  const logged = await startGateway(config('{ pglite: memory }'), { level: 'info', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
  t.teardown(() => logged.close());
  await (await post(logged, { model: 'gpt-4o-mini' }, 'log-cost-1')).text();
  await (await post(logged, { model: 'gpt-4o-mini', stream: true }, 'log-cost-2')).text();
  await (await post(logged, { model: 'unpriced' }, 'log-cost-3')).text();
  const line = async (id: string) => {
    for (let i = 0; i < 100 && !logged.logs.some((l) => l['request_id'] === id && l['msg'] === 'request'); i++) await sleep(10);
    return logged.logs.find((l) => l['request_id'] === id && l['msg'] === 'request');
  };
  t.equal((await line('log-cost-1'))?.['cost_micros'], MINI_COST, 'non-streamed');
  t.equal((await line('log-cost-2'))?.['cost_micros'], MINI_COST, 'streamed: the cost of its final usage');
  const unpriced = await line('log-cost-3');
  t.ok(unpriced, 'an unpriced request is logged');
  t.notOk('cost_micros' in unpriced!, 'with no cost field (unknown, not 0)');
});

t.test('a stream has no cost header; its record carries the cost of its final usage', async (t) => {
  const res = await post(gw, { model: 'gpt-4o-mini', stream: true }, 'stream-1');
  t.equal(res.status, 200);
  t.equal(res.headers.get('x-switchyard-cost'), null);
  const text = await res.text();
  t.notMatch(text, /"usage"/, 'the usage chunk the gateway asked for is not shown to a client that did not');
  const row = await rowOf(gw, 'stream-1');
  t.match(row, { status: 200, prompt_tokens: 1000, completion_tokens: 500, estimated: false });
  t.equal(row.cost_micros, String(MINI_COST), 'streamed costs what non-streamed costs');
});

t.test('an aborted stream is billed for its estimated usage', async (t) => {
  const controller = new AbortController();
  const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
  const res = await post(gw, { model: 'demo', stream: true, messages: [{ role: 'user', content: words }] }, 'abort-1', controller.signal);
  const reader = res.body!.getReader();
  let seen = '';
  while (!/word3/.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
  controller.abort();
  await reader.cancel().catch(() => {});
  const row = await rowOf(gw, 'abort-1');
  t.equal(row.status, 499);
  t.equal(row.estimated, true);
  t.ok(row.completion_tokens >= 4, `billed for the chunks delivered (${row.completion_tokens} tokens)`);
  t.ok(row.completion_tokens < 200, 'not for the whole answer');
  t.equal(row.cost_micros, String(row.prompt_tokens + 2 * row.completion_tokens), '$1 in, $2 out per 1M');
});

t.test('a model without a price is recorded with an unknown cost and gets no header; a refusal costs 0', async (t) => {
  const res = await post(gw, { model: 'unpriced' }, 'unpriced-1');
  t.equal(res.status, 200);
  t.equal(res.headers.get('x-switchyard-cost'), null);
  await res.text();
  const row = await rowOf(gw, 'unpriced-1');
  t.match(row, { model_served: 'my-finetune', prompt_tokens: 1000 });
  t.equal(row.cost_micros, null, 'not invented');
  const refused = await post(gw, { model: 'nope' }, 'refused-1');
  t.equal(refused.status, 404);
  t.equal(refused.headers.get('x-switchyard-cost'), null);
  const refusedRow = await rowOf(gw, 'refused-1');
  t.match(refusedRow, { status: 404, error_code: 'model_not_found', provider: null });
  t.equal(refusedRow.cost_micros, '0', 'nothing served, nothing spent');
});

t.test('GET /admin/usage sums the records of an org and key, by model', async (t) => {
  const org = 'org-sum';
  const send = (model: string, id: string) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id, 'x-test-key': `${org}:key-9` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    }).then((r) => r.text());
  await send('gpt-4o-mini', 'sum-1');
  await send('smart', 'sum-2');
  await send('demo', 'sum-3');
  await rowOf(gw, 'sum-3');
  await rowOf(gw, 'sum-1');
  await rowOf(gw, 'sum-2');
  const res = await fetch(`${gw.url}/admin/usage?org=${org}&key=key-9&group_by=model`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  t.equal(res.status, 200);
  const summary = (await res.json()) as { currency: string; totals: Record<string, number>; data: Record<string, unknown>[] };
  t.equal(summary.currency, 'USD');
  t.equal(summary.totals['requests'], 3);
  t.equal(summary.totals['unpriced_requests'], 0);
  const demoRow = await rowOf(gw, 'sum-3');
  const demoCost = Number(demoRow.cost_micros);
  t.equal(summary.totals['cost_micros'], 2 * MINI_COST + demoCost);
  t.same(
    summary.data.map((d) => [d['model'], d['requests'], d['cost_micros']]),
    [
      ['demo', 1, demoCost],
      ['gpt-4o-mini', 2, 2 * MINI_COST],
    ],
  );
  const bad = await fetch(`${gw.url}/admin/usage?group_by=week`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  t.equal(bad.status, 400);
  t.match(await bad.json(), { error: { code: 'invalid_group_by', param: 'group_by' } });
});

t.test('a failed write is retried: records made while the table is missing arrive once it is back', async (t) => {
  const sql = await gw.gateway.stores.sql();
  await sql.query('ALTER TABLE billing_usage RENAME TO billing_usage_away');
  const ids = ['retry-1', 'retry-2', 'retry-3'];
  for (const id of ids) await (await post(gw, { model: 'gpt-4o-mini' }, id)).text();
  for (let i = 0; i < 250 && !/usage records: write failed/.test(gw.logText()); i++) await sleep(20);
  t.match(gw.logText(), /billing: usage records: write failed; retrying/, 'the failure is logged');
  await sql.query('ALTER TABLE billing_usage_away RENAME TO billing_usage');
  for (const id of ids) t.equal((await rowOf(gw, id)).cost_micros, String(MINI_COST), `${id} arrived`);
});

t.test('shutdown loses nothing: rows queued at close are written before the store closes', async (t) => {
  const dataDir = join(dir, 'pglite-shutdown');
  const N = 40;
  // An interval far beyond the test: only the flush at close can write them.
  const one = await startGateway(config(`{ pglite: "${dataDir}" }`, '{ flush_interval: 1h, batch_rows: 1000 }'), { level: 'warn' });
  await Promise.all(Array.from({ length: N }, (_, i) => post(one, { model: i % 2 ? 'demo' : 'gpt-4o-mini' }, `shutdown-${i}`).then((r) => r.text())));
  const sqlBefore = await one.gateway.stores.sql();
  t.equal(Number((await sqlBefore.query<{ n: string }>('SELECT count(*) AS n FROM billing_usage')).rows[0]!.n), 0, 'nothing written before close');
  await one.close();
  const reopened = await openSqlStore({ pglite: dataDir }, dir, silentLog, PLUGIN_MIGRATIONS);
  t.teardown(() => reopened.close());
  const { rows } = await reopened.query<{ n: string; ids: string }>("SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM billing_usage WHERE request_id LIKE 'shutdown-%'");
  t.equal(Number(rows[0]!.n), N, `all ${N} rows`);
  t.equal(Number(rows[0]!.ids), N, 'each once');
});
