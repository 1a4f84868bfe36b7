/**
 * `billing` on PostgreSQL: the batched `unnest` INSERT and the summary run there as on PGlite, and
 * rows queued at shutdown are written before the pool closes.
 */
import t from 'tap';
import pg from 'pg';
import { startGateway } from '../helpers/gateway.js';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';

let schema: ScratchSchema;
t.before(async () => {
  schema = await createScratchSchema('billing');
});
t.teardown(() => schema.drop());

t.test('every request of a closed gateway has its priced row in PostgreSQL', async (t) => {
  const N = 30;
  const gw = await startGateway(
    `version: 1
stores: { kv: memory, sql: { postgres: "${schema.url}" } }
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline:
  - billing:
      models: { demo: { input_per_1m: 1, output_per_1m: 2 } }
      records: { flush_interval: 1h, batch_rows: 7 }
  - route
`,
    { level: 'silent' },
  );
  const costs: number[] = [];
  for (let i = 0; i < N; i++) {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': `pg-${i}` },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: `message number ${i}` }] }),
    });
    costs.push(Number(res.headers.get('x-switchyard-cost')));
    await res.text();
  }
  await gw.close();
  const client = new pg.Client({ connectionString: schema.url });
  await client.connect();
  t.teardown(() => client.end());
  const { rows } = await client.query<{ n: string; ids: string; cost: string; priced: string }>(
    `SELECT count(*) AS n, count(DISTINCT request_id) AS ids, sum(cost_micros) AS cost, sum(prompt_tokens + 2 * completion_tokens) AS priced FROM billing_usage`,
  );
  t.equal(Number(rows[0]!.n), N, 'batches of 7 while running, the rest at close');
  t.equal(Number(rows[0]!.ids), N, 'each once');
  t.equal(Number(rows[0]!.cost), costs.reduce((a, b) => a + b, 0), 'the rows cost what the headers said');
  t.equal(Number(rows[0]!.cost), Number(rows[0]!.priced), '$1 in, $2 out per 1M');
});
