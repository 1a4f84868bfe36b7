/**
 * Stored responses on PostgreSQL: a response made through one replica is retrieved and continued
 * through another (and stays invisible to another organization there); the store's own contract —
 * one row per organization and id, the same id reused in an organization replaces its row, purging
 * expired rows in batches leaves unexpired ones.
 */
import t from 'tap';
import OpenAI from 'openai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlStore } from '../../core/stores/sql.js';
import { PLUGIN_MIGRATIONS, silentLog } from '../stores/sql-suite.js';
import { ResponseStore, type NewStoredResponse } from '../../plugins/responses/store.js';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';

const KEY_ACME = 'sk-responses-pg-acme-0123456789abcdef';
const KEY_GLOBEX = 'sk-responses-pg-globex-0123456789abcdef';

let schema: ScratchSchema;
t.before(async () => {
  schema = await createScratchSchema('responses');
});
t.teardown(() => schema.drop());

const config = (url: string) => `version: 1
stores: { kv: memory, sql: { postgres: "${url}" } }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
pipeline:
  - auth:
      keys: [static]
      static:
        - { name: acme, key: "${KEY_ACME}", org: acme, scopes: [read, write] }
        - { name: globex, key: "${KEY_GLOBEX}", org: globex, scopes: [read, write] }
  - responses: {}
  - route
`;

t.test('a response made through one replica is retrieved and continued through another, for its organization only', async (t) => {
  const replicas: TestGateway[] = [];
  t.teardown(() => Promise.all(replicas.map((r) => r.close())));
  replicas.push(await startGateway(config(schema.url)), await startGateway(config(schema.url)));
  const [a, b] = replicas.map((r) => new OpenAI({ baseURL: `${r.url}/v1`, apiKey: KEY_ACME, maxRetries: 0 }));
  const first = await a!.responses.create({ model: 'demo', input: 'made on replica a' });
  t.equal((await b!.responses.retrieve(first.id)).output_text, 'made on replica a');
  const second = await b!.responses.create({ model: 'demo', previous_response_id: first.id, input: 'continued on b' });
  t.equal(second.previous_response_id, first.id);
  t.equal(second.usage!.input_tokens > first.usage!.input_tokens, true, 'the earlier turn was part of the prompt');
  const globex = new OpenAI({ baseURL: `${replicas[1]!.url}/v1`, apiKey: KEY_GLOBEX, maxRetries: 0 });
  const refused = await globex.responses.retrieve(first.id).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.equal(refused instanceof OpenAI.APIError && refused.status, 404, 'another organization gets 404');
});

t.test('the store: per-organization rows, replace on reuse, purge in batches', async (t) => {
  const db: SqlStore = await openSqlStore({ postgres: schema.url }, '.', silentLog, PLUGIN_MIGRATIONS);
  t.teardown(() => db.close());
  const store = new ResponseStore(async () => db);
  const row = (orgId: string, text: string): NewStoredResponse => ({
    orgId,
    id: 'resp_shared',
    keyId: 'k',
    model: 'demo',
    previousId: undefined,
    retentionSeconds: 3600,
    conversation: [{ role: 'user', content: text }],
    input: [],
    response: { id: 'resp_shared', text },
  });
  await store.save(row('o1', 'first'));
  await store.save(row('o2', 'other org'));
  await store.save(row('o1', 'replaced'));
  t.same((await store.load('o1', 'resp_shared'))?.response, { id: 'resp_shared', text: 'replaced' });
  t.same((await store.load('o2', 'resp_shared'))?.response, { id: 'resp_shared', text: 'other org' });
  t.equal(await store.load('o3', 'resp_shared'), undefined);
  t.equal(await store.remove('o2', 'resp_shared'), true);
  t.equal(await store.remove('o2', 'resp_shared'), false);
  t.ok(await store.load('o1', 'resp_shared'), "removing one organization's row leaves the other's");

  await db.query(
    `INSERT INTO responses_stored (org_id, id, expires_at, conversation, input, response)
     SELECT 'bulk', 'resp_' || g, now() - interval '1 minute', '[]', '[]', '{}' FROM generate_series(1, 2500) AS g`,
  );
  t.equal(await store.purgeExpired(), 2500, 'every expired row, over several batches');
  t.same((await db.query<{ n: string }>("SELECT count(*) AS n FROM responses_stored WHERE org_id = 'bulk'")).rows, [{ n: '0' }]);
  t.ok(await store.load('o1', 'resp_shared'), 'the unexpired row stays');
});
