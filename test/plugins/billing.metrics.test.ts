/**
 * `billing`'s cost metrics through a real in-process gateway (PGlite in memory):
 * `switchyard_cost_micros_total{model,provider}` grows by exactly the `x-switchyard-cost` of each
 * non-streamed request and by the final cost of a streamed one (known only after its end), labelled
 * with the `models:` key and the provider that served; an unpriced request counts in
 * `switchyard_cost_unpriced_requests_total{model}` and not in the cost.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI, helloWithUsage } from '../helpers/mock-openai.js';
import type { RequestRecord } from '../../core/record.js';

const USAGE = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 200 } };
/** gpt-4o-mini at $0.15 / $0.60 / $0.075 cached per 1M: 800 × 0.15 + 200 × 0.075 + 500 × 0.6 micro-USD. */
const MINI_COST = 435;

let upstream: MockOpenAI;
let gw: TestGateway;
t.before(async () => {
  upstream = await startMockOpenAI();
  upstream.on('/v1/chat/completions', helloWithUsage(USAGE));
  gw = await startGateway(
    `version: 1
server: { drain_delay: 0s }
stores: { kv: memory, sql: { pglite: memory } }
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream }
  down: { adapter: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-upstream }
  demo: { adapter: mock }
models:
  smart: { targets: [{ provider: down, model: gpt-4o }, { provider: up, model: gpt-4o-mini }] }
  gpt-4o-mini: { targets: [{ provider: up }] }
  unpriced: { targets: [{ provider: up, model: my-finetune }] }
  demo: { targets: [{ provider: demo }] }
pipeline:
  - billing:
      models: { "demo/demo": { input_per_1m: 1, output_per_1m: 2 } }
  - route
`,
    { level: 'silent' },
  );
});
t.teardown(async () => {
  await gw?.close();
  await upstream?.close();
});

/** Resolves once `n` more model-request records are emitted (the counter moves when a record arrives). */
function records(n: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    const unsubscribe = gw.gateway.records.subscribe((r: RequestRecord) => {
      if (r.route === '/v1/chat/completions' && ++seen === n) {
        unsubscribe();
        resolve();
      }
    });
  });
}

/** Sample value → of each series of `metric` in the scrape, by its label set as written. */
async function scrape(metric: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)$/.exec(line);
    if (m && m[1] === metric) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

async function chat(body: Record<string, unknown>): Promise<{ status: number; cost: string | null; text: string }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi there' }], ...body }),
  });
  return { status: res.status, cost: res.headers.get('x-switchyard-cost'), text: await res.text() };
}

const total = (series: Map<string, number>) => [...series.values()].reduce((a, b) => a + b, 0);

t.test('the cost counter is the sum of the cost headers, by models: key and serving provider', async (t) => {
  const before = await scrape('switchyard_cost_micros_total');
  t.equal(total(before), 0, 'nothing counted before any request');
  const done = records(4);
  const answers = [await chat({ model: 'gpt-4o-mini' }), await chat({ model: 'gpt-4o-mini' }), await chat({ model: 'demo' }), await chat({ model: 'smart' })];
  await done;
  t.same(answers.map((a) => a.status), [200, 200, 200, 200]);
  const costs = answers.map((a) => Number(a.cost));
  t.ok(answers.every((a) => a.cost !== null && /^\d+$/.test(a.cost)), `every answer has an integer cost header (${answers.map((a) => a.cost).join(', ')})`);
  t.equal(costs[0], MINI_COST);
  t.ok(costs[2]! > 0, 'the demo model has its configured price');
  const after = await scrape('switchyard_cost_micros_total');
  t.equal(total(after), costs.reduce((a, b) => a + b, 0), 'the counter sums the headers');
  t.equal(after.get('{model="gpt-4o-mini",provider="up"}'), 2 * MINI_COST);
  t.equal(after.get('{model="demo",provider="demo"}'), costs[2]);
  t.equal(after.get('{model="smart",provider="up"}'), MINI_COST, 'a fallback counts under its models: key, at the provider that served');
  for (const v of after.values()) t.ok(Number.isInteger(v), `${v} is an integer`);
});

t.test('a stream adds its final cost, known only after its end', async (t) => {
  const before = await scrape('switchyard_cost_micros_total');
  const done = records(1);
  const streamed = await chat({ model: 'gpt-4o-mini', stream: true });
  t.equal(streamed.status, 200);
  t.equal(streamed.cost, null, 'a stream has no cost header');
  t.match(streamed.text, /\[DONE\]/);
  await done;
  const after = await scrape('switchyard_cost_micros_total');
  const key = '{model="gpt-4o-mini",provider="up"}';
  t.equal(after.get(key)! - before.get(key)!, MINI_COST, 'streamed costs what non-streamed costs');
  t.equal(total(after) - total(before), MINI_COST, 'and nothing else moved');
});

t.test('an unpriced request is counted as such, not as a cost; a refusal counts nothing', async (t) => {
  const costBefore = total(await scrape('switchyard_cost_micros_total'));
  const done = records(2);
  const unpriced = await chat({ model: 'unpriced' });
  const refused = await chat({ model: 'nope' });
  await done;
  t.equal(unpriced.status, 200);
  t.equal(unpriced.cost, null);
  t.equal(refused.status, 404);
  t.equal(total(await scrape('switchyard_cost_micros_total')), costBefore, 'the cost counter did not move');
  t.same([...(await scrape('switchyard_cost_unpriced_requests_total')).entries()], [['{model="unpriced"}', 1]]);
});
