/**
 * billing's usage and balance queries through a real in-process gateway (PGlite): the caller's own
 * `GET /v1/usage`, OpenRouter's `/api/v1/key` and `/api/v1/generation`, IndoxRouter's
 * `/api/v1/user`, OpenAI's `/v1/organization/usage/completions` and `/v1/organization/costs`
 * (own organization only), the admin CSV export and OpenAI-shaped admin pages, and
 * `switchyard usage`.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { runUsageCli } from '../../plugins/billing/cli.js';
import { csvField } from '../../plugins/billing/csv.js';
import { ADMIN_KEY, admin, chat, COST, creditsConfig, eventually, keyOf, startUpstream, topUp, USAGE, type Upstream } from './billing-credits-fixture.js';

let upstream: Upstream;
let gw: TestGateway;
t.before(async () => {
  upstream = await startUpstream();
  gw = await startGateway(creditsConfig(upstream.baseUrl, '{ pglite: memory }', ['qa', 'qb', 'qc'], { billing: '      budgets: { enabled: true }\n' }), {
    level: 'warn',
    env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY },
  });
});
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

/** A client GET with the caller's key (`sk-…` of a static org, or a SQL key's secret). */
async function get(path: string, key: string): Promise<{ status: number; body: Record<string, any>; headers: Headers }> {
  const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers };
}

/** Waits until the usage rows of `ids` are written (the queue flushes every 20 ms here). */
async function recorded(ids: readonly string[]): Promise<void> {
  const sql = await gw.gateway.stores.sql();
  const n = await eventually(
    async () => Number((await sql.query<{ n: string }>('SELECT count(*)::text AS n FROM billing_usage WHERE request_id = ANY($1::text[])', [ids])).rows[0]!.n),
    (n) => n === ids.length,
    800, // up to 20 s: a loaded machine may be slow to flush
  );
  if (n !== ids.length) throw new Error(`only ${n} of ${ids.length} usage rows written`);
}

const DAY = 86_400;
const todayStart = () => Math.floor(Date.now() / 1000 / DAY) * DAY;

// qa: two requests of COST each; qb: one. Every test below reads these.
const QA_IDS = ['qa-req-1', 'qa-req-2'];
const QB_IDS = ['qb-req-1'];
t.before(async () => {
  for (const org of ['qa', 'qb']) if ((await topUp(gw.url, org, 1_000_000)).status !== 201) throw new Error(`top-up of ${org} failed`);
  if ((await admin(gw.url, 'PATCH', '/admin/credits/qa/budgets', { daily_budget_micros: 10_000 })).status !== 200) throw new Error('budget not set');
  for (const id of QA_IDS) if ((await chat(gw.url, 'qa', {}, { headers: { 'content-type': 'application/json', authorization: `Bearer ${keyOf('qa')}`, 'x-request-id': id } })).status !== 200) throw new Error('qa request failed');
  for (const id of QB_IDS) if ((await chat(gw.url, 'qb', {}, { headers: { 'content-type': 'application/json', authorization: `Bearer ${keyOf('qb')}`, 'x-request-id': id } })).status !== 200) throw new Error('qb request failed');
  await recorded([...QA_IDS, ...QB_IDS]);
});

t.test("GET /v1/usage: the caller's key and organization today and this month, its balance and budgets; nothing of another org", async (t) => {
  const qa = await get('/v1/usage', keyOf('qa'));
  t.equal(qa.status, 200);
  t.equal(qa.headers.get('cache-control'), 'no-store');
  t.match(qa.body, { object: 'usage', currency: 'USD', org_id: 'qa', key_id: 'key-qa' });
  for (const scope of ['organization', 'key']) {
    for (const period of ['today', 'this_month']) {
      t.match(qa.body[scope][period], { requests: 2, errors: 0, prompt_tokens: 2 * USAGE.prompt_tokens, completion_tokens: 2 * USAGE.completion_tokens, cost_micros: 2 * COST }, `${scope} ${period}`);
    }
  }
  t.same(qa.body['balance'], { balance_micros: String(1_000_000 - 2 * COST), reserved_micros: '0', available_micros: String(1_000_000 - 2 * COST), enforced: true });
  t.same(qa.body['budgets'], [{ scope: 'org', period: 'day', limit_micros: '10000', spent_micros: String(2 * COST), reserved_micros: '0', remaining_micros: String(10_000 - 2 * COST), enforced: true }]);
  t.notOk('range' in qa.body, 'no range unless asked for');

  const qb = await get('/api/v1/usage', keyOf('qb'));
  t.equal(qb.status, 200, 'served under /api/v1 too');
  t.match(qb.body, { org_id: 'qb', organization: { today: { requests: 1, cost_micros: COST } }, budgets: [] });
});

t.test('GET /v1/usage with a range groups by day or model; a bad group is a 400', async (t) => {
  const byModel = await get('/v1/usage?group_by=model', keyOf('qa'));
  t.equal(byModel.status, 200);
  t.equal(byModel.body['range'].group_by, 'model');
  t.same(byModel.body['range'].organization.data.map((g: Record<string, unknown>) => [g['model'], g['requests'], g['cost_micros']]), [['ok', 2, 2 * COST]]);
  t.equal(byModel.body['range'].organization.totals.requests, 2);
  const start = new Date(todayStart() * 1000).toISOString().slice(0, 10);
  const byDay = await get(`/v1/usage?start=${start}`, keyOf('qa'));
  t.same(byDay.body['range'].key.data.map((g: Record<string, unknown>) => [g['day'], g['requests']]), [[start, 2]]);
  const bad = await get('/v1/usage?group_by=key', keyOf('qa'));
  t.equal(bad.status, 400);
  t.equal(bad.body['error'].code, 'invalid_group_by');
});

t.test("GET /api/v1/generation?id= answers the caller's own request in OpenRouter's fields; another org's is a 404", async (t) => {
  const own = await get(`/api/v1/generation?id=${QA_IDS[0]}`, keyOf('qa'));
  t.equal(own.status, 200);
  t.match(own.body['data'], {
    id: QA_IDS[0],
    model: 'ok',
    provider_name: 'up',
    total_cost: COST / 1_000_000,
    usage: COST / 1_000_000,
    tokens_prompt: USAGE.prompt_tokens,
    tokens_completion: USAGE.completion_tokens,
    native_tokens_cached: 0,
    streamed: false,
    cancelled: false,
    cost_micros: String(COST),
    currency: 'USD',
    status: 200,
    key_id: 'key-qa',
  });
  t.ok(Date.parse(own.body['data'].created_at) <= Date.now());
  const other = await get(`/api/v1/generation?id=${QA_IDS[0]}`, keyOf('qb'));
  t.equal(other.status, 404, "another organization's request is not found");
  t.equal(other.body['error'].code, 'generation_not_found');
  t.notMatch(JSON.stringify(other.body), /key-qa/);
  t.equal((await get('/v1/generation?id=no-such-request', keyOf('qa'))).status, 404);
  t.equal((await get('/v1/generation', keyOf('qa'))).body['error'].code, 'missing_required_parameter');
});

t.test("GET /api/v1/key: OpenRouter's key info in units of the gateway currency", async (t) => {
  const qa = await get('/api/v1/key', keyOf('qa'));
  t.equal(qa.status, 200);
  t.match(qa.body['data'], {
    label: 'key-qa',
    limit: null,
    limit_reset: null,
    usage: (2 * COST) / 1_000_000,
    usage_daily: (2 * COST) / 1_000_000,
    usage_monthly: (2 * COST) / 1_000_000,
    limit_remaining: (1_000_000 - 2 * COST) / 1_000_000,
    is_free_tier: false,
    rate_limit: null,
    currency: 'USD',
  });
  t.ok(qa.body['data'].usage_weekly >= qa.body['data'].usage_daily);
  // An organization never credited: free tier, and nothing left to spend with credits enforced.
  const qc = await get('/api/v1/key', keyOf('qc'));
  t.match(qc.body['data'], { label: 'key-qc', usage: 0, is_free_tier: true, limit_remaining: 0 });
});

t.test("GET /v1/key: a key's monthly budget is its limit, and limit_remaining what is left of it", async (t) => {
  t.equal((await admin(gw.url, 'POST', '/admin/organizations', { slug: 'qkeyed', name: 'Q Keyed' })).status, 201);
  t.equal((await topUp(gw.url, 'qkeyed', 1_000_000)).status, 201);
  const created = await admin(gw.url, 'POST', '/admin/organizations/qkeyed/keys', { name: 'metered-key', limits: { monthly_budget_micros: 3 * COST } });
  t.equal(created.status, 201);
  const secret = String(created.body['key']);
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}`, 'x-request-id': 'qkeyed-1' },
    body: JSON.stringify({ model: 'ok', max_tokens: 20, messages: [{ role: 'user', content: '0123456789' }] }),
  });
  t.equal(res.status, 200);
  await recorded(['qkeyed-1']);
  const key = await get('/v1/key', secret);
  t.match(key.body['data'], { label: 'metered-key', limit: (3 * COST) / 1_000_000, limit_reset: 'monthly', limit_remaining: (2 * COST) / 1_000_000, usage: COST / 1_000_000 });
  const user = await get('/api/v1/user', secret);
  t.match(user.body, { organization: { slug: 'qkeyed', name: 'Q Keyed' }, key: { name: 'metered-key' } });
  const usage = await get('/v1/usage', secret);
  t.same(usage.body['budgets'], [{ scope: 'key', period: 'month', limit_micros: String(3 * COST), spent_micros: String(COST), reserved_micros: '0', remaining_micros: String(2 * COST), enforced: true }]);
});

t.test("GET /api/v1/user: the caller's account IndoxRouter-style", async (t) => {
  const qa = await get('/api/v1/user', keyOf('qa'));
  t.equal(qa.status, 200);
  t.match(qa.body, {
    object: 'user',
    id: 'qa',
    organization: { id: 'qa', slug: null },
    key: { id: 'key-qa', name: 'key-qa' },
    currency: 'USD',
    credits: (1_000_000 - 2 * COST) / 1_000_000,
    balance: { available_micros: String(1_000_000 - 2 * COST) },
    usage: { today: { requests: 2 }, this_month: { requests: 2, cost_micros: 2 * COST }, key: { today: { requests: 2 } } },
  });
});

interface Page {
  object: string;
  data: { object: string; start_time: number; end_time: number; results: Record<string, any>[] }[];
  has_more: boolean;
  next_page: string | null;
}

t.test("OpenAI's usage API as the caller: its own organization's buckets, which add up to its totals", async (t) => {
  const start = todayStart() - 2 * DAY;
  const page = (await get(`/v1/organization/usage/completions?start_time=${start}&bucket_width=1d&group_by=model&limit=3`, keyOf('qa'))).body as unknown as Page;
  t.equal(page.object, 'page');
  t.same(page.data.slice(0, 2).map((b) => [b.object, b.start_time, b.end_time]), [['bucket', start, start + DAY], ['bucket', start + DAY, start + 2 * DAY]]);
  t.equal(page.data[2]!.start_time, start + 2 * DAY, 'today: the last bucket, ending now');
  t.ok(page.data[2]!.end_time <= start + 3 * DAY);
  t.same(page.data[0]!.results, [], 'an empty day is an empty bucket');
  const results = page.data.flatMap((b) => b.results);
  t.same(results, [
    {
      object: 'organization.usage.completions.result',
      input_tokens: 2 * USAGE.prompt_tokens,
      output_tokens: 2 * USAGE.completion_tokens,
      input_cached_tokens: 0,
      input_audio_tokens: 0,
      output_audio_tokens: 0,
      num_model_requests: 2,
      project_id: null,
      user_id: null,
      api_key_id: null,
      model: 'ok',
      batch: null,
    },
  ]);
  t.equal(page.has_more, false);

  const costs = (await get(`/api/v1/organization/costs?start_time=${start}&group_by=line_item&group_by=api_key_id`, keyOf('qa'))).body as unknown as Page;
  const lines = costs.data.flatMap((b) => b.results);
  t.same(lines, [{ object: 'organization.costs.result', amount: { value: (2 * COST) / 1_000_000, currency: 'usd' }, line_item: 'ok', project_id: null, api_key_id: 'key-qa' }]);
  const usage = await get('/v1/usage', keyOf('qa'));
  t.equal(Math.round(lines.reduce((sum, r) => sum + r['amount'].value, 0) * 1_000_000), usage.body['organization'].this_month.cost_micros, 'costs add up to the total');

  const qb = (await get(`/v1/organization/usage/completions?start_time=${start}&org=qa`, keyOf('qb'))).body as unknown as Page;
  t.same(qb.data.flatMap((b) => b.results).map((r) => r['num_model_requests']), [1], "qb sees its own request only, not qa's (a caller's `org` is ignored)");
});

t.test('OpenAI usage pages: limit and next_page walk the range; bad parameters are 400s', async (t) => {
  const start = todayStart() - 2 * DAY;
  const first = (await get(`/v1/organization/usage/completions?start_time=${start}&limit=2`, keyOf('qa'))).body as unknown as Page;
  t.equal(first.data.length, 2);
  t.equal(first.has_more, true);
  const second = (await get(`/v1/organization/usage/completions?start_time=${start}&limit=2&page=${first.next_page}`, keyOf('qa'))).body as unknown as Page;
  t.same(second.data.map((b) => b.start_time), [start + 2 * DAY]);
  t.equal(second.has_more, false);
  t.same([...first.data, ...second.data].flatMap((b) => b.results).map((r) => r['num_model_requests']), [2], 'the pages together hold every request once');
  for (const [query, code] of [
    ['', 'missing_required_parameter'],
    [`start_time=${start}&bucket_width=1w`, 'invalid_bucket_width'],
    [`start_time=${start}&limit=32`, 'invalid_limit'],
    [`start_time=${start}&group_by=project_id`, 'invalid_group_by'],
    [`start_time=${start}&page=bm9wZQ`, 'invalid_page'],
    [`start_time=${start}&end_time=${start}`, 'invalid_time'],
  ] as const) {
    const res = await get(`/v1/organization/usage/completions?${query}`, keyOf('qa'));
    t.equal(res.status, 400, query);
    t.equal(res.body['error'].code, code, query);
  }
});

t.test('admin: GET /admin/usage?format=csv is text/csv with one line per group, matching the JSON', async (t) => {
  const start = new Date(todayStart() * 1000).toISOString().slice(0, 10);
  const json = await admin(gw.url, 'GET', `/admin/usage?group_by=key&start=${start}`);
  const res = await fetch(`${gw.url}/admin/usage?group_by=key&start=${start}&format=csv`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/csv/);
  const lines = (await res.text()).split('\r\n');
  t.equal(lines.pop(), '', 'ends with a line break');
  t.equal(lines[0], 'key,requests,errors,prompt_tokens,completion_tokens,cached_tokens,reasoning_tokens,cost_micros,unpriced_requests');
  const data = json.body['data'] as Record<string, unknown>[];
  t.equal(lines.length - 1, data.length, 'one line per group');
  const parsed = lines.slice(1).map((line) => line.split(','));
  t.same(
    parsed.map((cells) => [cells[0], Number(cells[1]), Number(cells[7])]),
    data.map((g) => [g['key'] ?? '', g['requests'], g['cost_micros']]),
  );
  t.ok(parsed.some((cells) => cells[0] === 'key-qa' && cells[1] === '2'));
  const bad = await admin(gw.url, 'GET', '/admin/usage?format=xml');
  t.equal(bad.status, 400);
});

t.test("admin: OpenAI-shaped pages for any organization, or all; the org's page equals its caller's", async (t) => {
  const start = todayStart() - 2 * DAY;
  const end = todayStart() + DAY;
  const query = `start_time=${start}&end_time=${end}&group_by=api_key_id`;
  const asAdmin = await admin(gw.url, 'GET', `/admin/usage/openai/completions?org=qa&${query}`);
  t.equal(asAdmin.status, 200);
  const asCaller = await get(`/v1/organization/usage/completions?${query}`, keyOf('qa'));
  t.same(asAdmin.body, asCaller.body);
  const all = (await admin(gw.url, 'GET', `/admin/usage/openai/completions?${query}`)).body as unknown as Page;
  const byKey = Object.fromEntries(all.data.flatMap((b) => b.results).map((r) => [r['api_key_id'], r['num_model_requests']]));
  t.match(byKey, { 'key-qa': 2, 'key-qb': 1 });
  const total = await admin(gw.url, 'GET', `/admin/usage?start=${new Date(start * 1000).toISOString()}&end=${new Date(end * 1000).toISOString()}`);
  t.equal(Object.values(byKey).reduce((a, b) => (a as number) + (b as number), 0), (total.body['totals'] as { requests: number }).requests, 'buckets add up to the admin totals');
  const costs = (await admin(gw.url, 'GET', `/admin/usage/openai/costs?org=qb&start_time=${start}&end_time=${end}`)).body as unknown as Page;
  t.same(costs.data.flatMap((b) => b.results).map((r) => r['amount']), [{ value: COST / 1_000_000, currency: 'usd' }]);
  t.equal((await fetch(`${gw.url}/admin/usage/openai/costs?start_time=${start}`, { headers: { authorization: `Bearer ${keyOf('qa')}` } })).status, 401, 'an ordinary key is no admin credential');
});

t.test('switchyard usage: the admin summary as JSON or CSV', async (t) => {
  const run = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await runUsageCli([...args, '--url', gw.url, '--admin-key', ADMIN_KEY], { env: {}, out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  };
  const json = await run('--org', 'qa', '--by', 'model');
  t.equal(json.code, 0, json.err);
  const body = JSON.parse(json.out) as { org: string; group_by: string; totals: { requests: number } };
  t.match(body, { org: 'qa', group_by: 'model', totals: { requests: 2 } });
  const csv = await run('--org', 'qa', '--by', 'key', '--csv');
  t.equal(csv.code, 0, csv.err);
  const res = await fetch(`${gw.url}/admin/usage?org=qa&group_by=key&format=csv`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  t.equal(csv.out, await res.text(), 'the same CSV as the admin export');
  t.match(csv.out, /^key,requests,/);
  t.match(csv.out, /\r\nkey-qa,2,0,20,40,0,0,100,0\r\n$/);
  const bad = await run('--by', 'week');
  t.equal(bad.code, 2);
  t.match(bad.err, /--by must be day, model or key/);
  t.equal((await run('--since', 'yesterday')).code, 2);
  let err = '';
  t.equal(await runUsageCli(['--url', gw.url], { env: {}, out: () => {}, err: (s) => (err += s) }), 2, 'no admin credential');
  t.match(err, /SWITCHYARD_ADMIN_KEY/);
});

t.test('CSV fields are quoted when needed and never start a spreadsheet formula', async (t) => {
  t.equal(csvField('plain'), 'plain');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('say "hi"'), '"say ""hi"""');
  t.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  t.equal(csvField(null), '');
  t.equal(csvField(-5), '-5', 'numbers are numbers');
});
