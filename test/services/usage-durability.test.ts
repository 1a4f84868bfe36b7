/**
 * Usage records survive a PostgreSQL outage: with the database behind a fault-injecting proxy
 * (test/helpers/fault-proxy.ts) cut while traffic flows, and a queue bound of 5 rows, the rows go to
 * the spill file and, once the database is back, every request has exactly one row, in the order
 * the records were made. Migration 3 and retention on PostgreSQL; the bytes a usage row takes there.
 */
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startGateway } from '../helpers/gateway.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';
import { migrateSchema, openSqlDriver, openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlDriver } from '../../core/stores/migrate.js';
import { RECORDED_ROUTES, type UsageRow } from '../../plugins/billing/usage-rows.js';
import { UsageTable } from '../../plugins/billing/retention.js';
import { PLUGIN_MIGRATIONS, silentLog } from '../stores/sql-suite.js';

const DAY_MS = 86_400_000;

let schema: ScratchSchema;
let direct: SqlDriver;
let dataDir: string;
t.before(async () => {
  schema = await createScratchSchema('usagedur');
  direct = await openSqlStore({ postgres: schema.url }, process.cwd(), silentLog, PLUGIN_MIGRATIONS);
  dataDir = await mkdtemp(join(tmpdir(), 'switchyard-usage-spill-'));
});
t.teardown(async () => {
  await direct?.close();
  await schema?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Resolves once `check` is true (checked every 50 ms), or fails after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

t.test('PostgreSQL cut during traffic: after recovery every request has exactly one usage row, in order, through the spill file', async (t) => {
  const u = new URL(schema.url);
  const proxy = await startFaultProxy({ host: u.hostname, port: Number(u.port) });
  t.teardown(() => proxy.close());
  u.host = `127.0.0.1:${proxy.port}`;
  const gw = await startGateway(
    `version: 1
stores: { kv: memory, sql: { postgres: { url: "${u.toString()}", connect_timeout: 300ms, query_timeout: 300ms } } }
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline:
  - billing: { models: { demo: { input_per_1m: 1, output_per_1m: 1 } }, records: { flush_interval: 50ms, batch_rows: 5, max_queued: 5 } }
  - route
`,
    { level: 'error', env: { ...process.env, SWITCHYARD_DATA_DIR: dataDir } },
  );
  t.teardown(() => gw.close());
  const made: string[] = [];
  const off = gw.gateway.records.subscribe((r) => {
    if (RECORDED_ROUTES.has(r.route)) made.push(r.id);
  });
  t.teardown(off);
  const scrape = async () => (await fetch(`${gw.url}/metrics`)).text();
  const traffic = async (label: string, n: number) => {
    // Four clients at a time.
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < n) {
          const id = `${label}-${next++}-${randomUUID().slice(0, 8)}`;
          const res = await fetch(`${gw.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': id },
            body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: `hello ${id}` }] }),
          });
          t.equal(res.status, 200, 'the outage does not fail requests');
          await res.text();
        }
      }),
    );
  };

  await traffic('before', 20);
  await until('the rows before the outage', async () => Number((await direct.query<{ n: string }>('SELECT count(*) AS n FROM billing_usage')).rows[0]!.n) === 20);
  proxy.setMode('refuse');
  await traffic('during', 60);
  await until('a failed write', async () => metric(await scrape(), 'switchyard_usage_record_write_failures_total') > 0);
  await traffic('still-during', 60);
  const during = await scrape();
  t.ok(metric(during, 'switchyard_records_spilled_total{queue="usage"}') >= 100, 'rows past the bound of 5 went to the spill file');
  t.ok(metric(during, 'switchyard_records_queued{queue="usage",where="memory"}') <= 5 + 5, 'memory held at most max_queued plus a failed batch');
  const spillFile = join(dataDir, 'spill', 'usage.jsonl');
  t.ok((await readFile(spillFile, 'utf8')).split('\n').length > 100, 'the spill file holds them');

  proxy.setMode('forward');
  await traffic('after', 20);
  const total = 160;
  await until('every row', async () => Number((await direct.query<{ n: string }>('SELECT count(*) AS n FROM billing_usage')).rows[0]!.n) >= total);
  t.equal(made.length, total);
  const { rows } = await direct.query<{ request_id: string }>('SELECT request_id FROM billing_usage ORDER BY tableoid::regclass::text, ctid');
  // Rows are only ever inserted, one batch at a time: their physical order is the order they were written.
  t.same(rows.map((r) => r.request_id), made, 'exactly one row per request, none lost, none twice, in the order the records were made');
  const daily = await direct.query<{ requests: string }>('SELECT sum(requests) AS requests FROM billing_usage_daily');
  t.equal(Number(daily.rows[0]!.requests), total, 'the daily sums count each request once');
  const after = await scrape();
  t.equal(metric(after, 'switchyard_records_dropped_total{queue="usage"}'), 0, 'nothing dropped');
  t.equal(metric(after, 'switchyard_records_queued{queue="usage",where="spill"}'), 0, 'the spill file is replayed');
  t.equal((await readFile(spillFile)).length, 0, 'and emptied');
});

t.test('bytes per usage row in PostgreSQL, over 10,000 rows', async (t) => {
  const measured = await createScratchSchema('usagebytes');
  t.teardown(() => measured.drop());
  const db = await openSqlStore({ postgres: measured.url }, process.cwd(), silentLog, PLUGIN_MIGRATIONS);
  t.teardown(() => db.close());
  const table = new UsageTable({ sql: async () => db, log: silentLog });
  const now = Date.now();
  const rows: UsageRow[] = Array.from({ length: 10_000 }, (_, i) => ({
    rowId: randomUUID(),
    at: now - (10_000 - i) * 100,
    requestId: randomUUID(),
    org: `org_${i % 20}`,
    keyId: `key_${i % 200}`,
    modelRequested: 'gpt-4o-mini',
    modelServed: 'gpt-4o-mini-2024-07-18',
    provider: 'openai',
    attempts: 1,
    status: 200,
    promptTokens: 500 + (i % 1000),
    completionTokens: 100 + (i % 300),
    cachedTokens: i % 5 === 0 ? 256 : 0,
    reasoningTokens: 0,
    estimated: false,
    costMicros: BigInt(150 + i),
    cache: null,
    latencyMs: 400 + (i % 700),
    ttftMs: 120 + (i % 90),
    errorCode: null,
  }));
  for (let i = 0; i < rows.length; i += 500) await table.write(rows.slice(i, i + 500));
  await db.query('VACUUM ANALYZE billing_usage');
  const { rows: size } = await db.query<{ n: string; row_bytes: string; heap: string; total: string }>(
    `SELECT (SELECT count(*) FROM billing_usage) AS n,
            (SELECT avg(pg_column_size(u.*)) FROM billing_usage u) AS row_bytes,
            (SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree('billing_usage')) AS heap,
            (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('billing_usage')) AS total`,
  );
  const s = size[0]!;
  t.equal(Number(s.n), 10_000);
  const rowBytes = Number(s.row_bytes);
  const totalPerRow = Number(s.total) / 10_000;
  t.comment(`usage row: ${rowBytes.toFixed(0)} bytes (pg_column_size); heap ${(Number(s.heap) / 10_000).toFixed(0)} bytes/row; with indexes ${totalPerRow.toFixed(0)} bytes/row`);
  t.ok(rowBytes < 250, `a row references prices instead of copying them: ${rowBytes.toFixed(0)} bytes`);
  t.ok(totalPerRow < 600, `table and indexes: ${totalPerRow.toFixed(0)} bytes per row`);
});

t.test('on PostgreSQL: migration 3 moves existing rows into day partitions, and retention drops old days while the daily sums stay', async (t) => {
  const scratch = await createScratchSchema('usageparts');
  t.teardown(() => scratch.drop());
  const db = await openSqlDriver({ postgres: scratch.url }, process.cwd(), silentLog);
  t.teardown(() => db.close());
  const before = PLUGIN_MIGRATIONS.map((o) => (o.owner === 'billing' ? { ...o, migrations: o.migrations.filter((m) => m.id < 3) } : o));
  await migrateSchema(db, before, silentLog);
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  // 10 rows on each of the last 5 days, in the table as it was before partitioning.
  await db.query(
    `INSERT INTO billing_usage (row_id, at, request_id, org_id, key_id, model_requested, model_served, attempts, status,
       prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, estimated, cost_micros, latency_ms)
     SELECT gen_random_uuid(), $1::timestamptz - ((i / 10) || ' days')::interval + ((i % 10) || ' minutes')::interval, 'r' || i, 'acme', 'k', 'm', 'm', 1, 200,
       10, 5, 0, 0, false, 100, 20
     FROM generate_series(0, 49) AS i`,
    [new Date(today).toISOString()],
  );
  t.same((await migrateSchema(db, PLUGIN_MIGRATIONS, silentLog)).filter((m) => m.id <= 3), [{ owner: 'billing', id: 3 }]);
  const partitions = async () => (await db.query<{ name: string }>(`SELECT relid::text AS name FROM pg_partition_tree('billing_usage') WHERE isleaf ORDER BY 1`)).rows.map((r) => r.name);
  const dayName = (ms: number) => `billing_usage_p${new Date(ms).toISOString().slice(0, 10).replaceAll('-', '')}`;
  t.same(await partitions(), [-4, -3, -2, -1, 0].map((d) => dayName(today + d * DAY_MS)), 'one partition per day that had rows');

  const table = new UsageTable({ sql: async () => db, log: silentLog });
  table.configure({ rawDays: 2, aggregateDays: undefined });
  await table.maintain();
  await table.close();
  t.same(await partitions(), [-1, 0, 1].map((d) => dayName(today + d * DAY_MS)), 'yesterday, today and tomorrow (made ahead) are left');
  const raw = await db.query<{ n: string }>('SELECT count(*) AS n FROM billing_usage');
  t.equal(Number(raw.rows[0]!.n), 20, 'the older rows went with their partitions');
  const daily = await db.query<{ n: string }>('SELECT sum(requests) AS n FROM billing_usage_daily');
  t.equal(Number(daily.rows[0]!.n), 50, 'the daily sums of all five days are kept');
});
