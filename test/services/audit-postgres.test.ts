/**
 * `audit` on PostgreSQL with two writers: appends serialise on the chain head's row lock, so two
 * gateway replicas (and two raw writers hammering batches at once) leave one unbroken chain —
 * contiguous seq, every event once — that verifies.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { openSqlStore } from '../../core/stores/open-sql.js';
import { PLUGIN_MIGRATIONS, silentLog } from '../stores/sql-suite.js';
import { appendEntries, auditEntry, chainKey, verifyChain } from '../../plugins/audit/chain.js';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';

const ADMIN_KEY = 'audit-pg-admin-secret-0123456789';

let schema: ScratchSchema;
t.before(async () => {
  schema = await createScratchSchema('audit');
});
t.teardown(() => schema.drop());

t.test('two raw writers appending batches at once leave one verified chain', async (t) => {
  const [a, b] = await Promise.all([0, 1].map(() => openSqlStore({ postgres: schema.url }, '.', silentLog, PLUGIN_MIGRATIONS)));
  t.teardown(() => Promise.all([a!.close(), b!.close()]));
  const key = chainKey(Buffer.from('shared server secret'));
  const BATCHES = 25;
  const PER_BATCH = 4;
  const write = (store: typeof a, label: string) =>
    Promise.all(
      Array.from({ length: BATCHES }, (_, i) =>
        appendEntries(
          store!,
          key,
          Array.from({ length: PER_BATCH }, (_, j) => auditEntry({ kind: 'admin', action: 'test.write', actor: label, request_id: `${label}-${i}-${j}`, status: 200 }, { i, j })),
        ),
      ),
    );
  await Promise.all([write(a, 'a'), write(b, 'b')]);
  const total = 2 * BATCHES * PER_BATCH;
  t.same(await verifyChain(a!, key), { ok: true, rows: total, headSeq: String(total) });
  const { rows } = await a!.query<{ n: string; ids: string; min: string; max: string }>('SELECT count(*) AS n, count(DISTINCT request_id) AS ids, min(seq) AS min, max(seq) AS max FROM audit_log');
  t.same(rows[0], { n: String(total), ids: String(total), min: '1', max: String(total) }, 'contiguous, each event once');
  const runs = await a!.query<{ actor: string }>('SELECT actor FROM audit_log ORDER BY seq');
  const switches = runs.rows.filter((r, i) => i > 0 && r.actor !== runs.rows[i - 1]!.actor).length;
  t.ok(switches > 0, `the writers interleaved (${switches} switches), and the chain still holds`);
  await a!.query('TRUNCATE audit_log');
  await a!.query(`UPDATE audit_chain_head SET seq = 0, hash = '${'0'.repeat(64)}'`);
});

t.test('two gateway replicas on one PostgreSQL: concurrent admin actions, one chain, verify passes', async (t) => {
  const yaml = `version: 1
stores: { kv: memory, sql: { postgres: "${schema.url}" } }
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline:
  - audit: { queue: { flush_interval: 10ms, batch_rows: 3 } }
  - route
`;
  const env = { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY, SWITCHYARD_SECRET: 'audit-pg-shared-server-secret-0123456789' };
  const gateways: TestGateway[] = [];
  for (let i = 0; i < 2; i++) gateways.push(await startGateway(yaml, { env, level: 'silent' }));
  t.teardown(() => Promise.all(gateways.map((g) => g.close())));
  const N = 40;
  const statuses = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      fetch(`${gateways[i % 2]!.url}/admin/plans`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `plan-${i}` }),
      }).then(async (r) => (await r.text(), r.status)),
    ),
  );
  t.same(statuses, Array(N).fill(201));
  // Each verifies after writing its own queue; the second sees both replicas' rows.
  for (const g of gateways) {
    const res = await fetch(`${g.url}/admin/audit/verify`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    t.equal(res.status, 200);
    t.match(await res.json(), { object: 'audit.verification', ok: true });
  }
  const res = await fetch(`${gateways[0]!.url}/admin/audit/verify`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  t.same(await res.json(), { object: 'audit.verification', ok: true, rows: N, head_seq: String(N) }, 'every action once, in one chain');
  const listed = (await (await fetch(`${gateways[1]!.url}/admin/audit?kind=admin&limit=1000`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { data: { action: string; event: { after: { name: string } } }[] };
  t.same(listed.data.map((r) => r.event.after.name).sort(), Array.from({ length: N }, (_, i) => `plan-${i}`).sort());
});
