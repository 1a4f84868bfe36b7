/**
 * Records that are never lost, embedded: the batching queue's spill file (core/stores/batch-queue.ts)
 * with a real file and a writer the test switches off and on; a spill file left by a SIGKILLed
 * process; a gateway process stopped with SIGTERM right after its requests (PGlite); the daily sums
 * agreeing with the raw rows; retention dropping day partitions; migration 3 converting a table
 * that already holds rows.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { BatchQueue, type BatchQueueSettings } from '../../core/stores/batch-queue.js';
import { GatewayMetrics } from '../../core/metrics.js';
import { createLogger } from '../../core/log.js';
import { packageRoot } from '../../core/config/schema.js';
import { migrateSchema, openSqlDriver, openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlDriver } from '../../core/stores/migrate.js';
import { summarizeDaily, summarizeUsage, type GroupBy, type UsageRow } from '../../plugins/billing/usage-rows.js';
import { UsageTable, utcDay } from '../../plugins/billing/retention.js';
import { PLUGIN_MIGRATIONS, silentLog } from '../stores/sql-suite.js';
import { startGateway } from '../helpers/gateway.js';

const root = packageRoot();
const DAY_MS = 86_400_000;

let dir: string;
t.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-usage-durability-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

interface Item {
  n: number;
}

/** A writer the test turns off (every write throws) and on; what it wrote, in order. */
function switchableWriter() {
  const w = {
    down: true,
    written: [] as number[],
    async write(items: Item[]) {
      if (w.down) throw new Error('database down');
      w.written.push(...items.map((i) => i.n));
    },
  };
  return w;
}

function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level: 'info', destination }), lines };
}

async function metricValue(metrics: GatewayMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
}

function queueIn(spillDir: string, writer: { write(items: Item[]): Promise<void> }, settings: Partial<BatchQueueSettings> = {}, metrics?: GatewayMetrics) {
  const { log, lines } = capturedLog();
  const queue = new BatchQueue<Item>({
    name: 'test',
    label: 'test: items',
    write: (items) => writer.write(items),
    log,
    metrics,
    spill: { dir: spillDir, encode: (item) => item, decode: (value) => value as Item },
    settings: { intervalMs: 3_600_000, batchRows: 4, maxQueued: 10, ...settings },
  });
  return { queue, lines };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const fileLines = async (path: string) => (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');

t.test('a full queue spills to its file, memory stays bounded, and the file is replayed in order before newer rows', async (t) => {
  const spillDir = join(dir, 'spill-order');
  const writer = switchableWriter();
  const metrics = new GatewayMetrics({ processMetrics: false });
  const { queue } = queueIn(spillDir, writer, {}, metrics);
  let maxMemory = 0;
  for (const n of range(0, 100)) {
    queue.push({ n });
    maxMemory = Math.max(maxMemory, queue.length);
    // Rows arrive over time, not in one synchronous burst: give the appends their turn now and then.
    if (n % 10 === 9) await Promise.all([queue.flush(), queue.settleSpill()]); // the flush fails: the database is down
  }
  t.ok(maxMemory <= 10 + 4, `memory never held more than max_queued plus the failed batch (${maxMemory})`);
  t.equal(queue.length + queue.spilled, 100, 'every row is in memory or in the file');
  t.equal((await fileLines(join(spillDir, 'test.jsonl'))).length, queue.spilled, 'the spilled rows are in test.jsonl');
  t.ok(queue.spilled >= 90, `the rows past the bound are in the file (${queue.spilled})`);
  t.equal(await metricValue(metrics, 'switchyard_records_spilled_total', { queue: 'test' }), queue.spilled, 'counted as spilled');
  t.equal(await metricValue(metrics, 'switchyard_records_queued', { queue: 'test', where: 'spill' }), queue.spilled, 'the gauge shows the file');

  writer.down = false;
  for (const n of range(100, 105)) queue.push({ n });
  await queue.flush();
  t.same(writer.written, range(0, 105), 'every row once, in arrival order');
  t.equal(queue.spilled, 0, 'nothing left in the file');
  t.equal((await readFile(join(spillDir, 'test.jsonl'))).length, 0, 'the replayed file is emptied');
  t.equal(await metricValue(metrics, 'switchyard_records_dropped_total', { queue: 'test' }), 0, 'nothing dropped');
  await queue.close();
});

t.test('a spill file left by a killed process is replayed at the next start, before new rows; a torn last line is cut off and counted', async (t) => {
  const spillDir = join(dir, 'spill-killed');
  const script = join(dir, 'spiller.mts');
  await writeFile(
    script,
    `import { BatchQueue } from ${JSON.stringify(join(root, 'core/stores/batch-queue.ts'))};
import { createLogger } from ${JSON.stringify(join(root, 'core/log.ts'))};
const queue = new BatchQueue({
  name: 'test', label: 'test', log: createLogger({ level: 'silent' }),
  write: async () => { throw new Error('database down'); },
  spill: { dir: ${JSON.stringify(spillDir)}, encode: (i) => i, decode: (v) => v },
  settings: { intervalMs: 3600000, batchRows: 4, maxQueued: 5 },
});
for (let n = 0; n < 30; n++) {
  queue.push({ n });
  if (n % 5 === 4) await queue.settleSpill();
}
console.log('spilled ' + queue.spilled);
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  const spilled = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL', 'the process was killed, not closed');
  // Rows 0..24 went to the file as the queue filled (5 at a time); 25..29 were in memory and die with the process.
  t.equal(spilled, 'spilled 25');
  await appendFile(join(spillDir, 'test.jsonl'), '{"n": 99'); // a crash in the middle of an append

  const writer = switchableWriter();
  writer.down = false;
  const metrics = new GatewayMetrics({ processMetrics: false });
  const { queue, lines } = queueIn(spillDir, writer, {}, metrics);
  queue.push({ n: 100 });
  queue.push({ n: 101 });
  await queue.flush();
  t.same(writer.written, [...range(0, 25), 100, 101], 'the earlier process\'s rows first, in order, then the new ones');
  t.equal(await metricValue(metrics, 'switchyard_records_dropped_total', { queue: 'test' }), 1, 'the torn line is counted as dropped');
  t.ok(lines.some((l) => l['level'] === 'error' && String(l['msg']).includes('torn line')), 'and logged as an error');
  t.ok(lines.some((l) => l['level'] === 'warn' && l['rows'] === 25 && String(l['msg']).includes('replaying')), 'the replay is logged with its row count');
  await queue.close();
});

t.test('when even the spill file cannot be written, rows past the bound are dropped, counted and logged — never silently', async (t) => {
  const blocker = join(dir, 'not-a-directory');
  await writeFile(blocker, 'a file where the spill directory should be');
  const writer = switchableWriter();
  const metrics = new GatewayMetrics({ processMetrics: false });
  const { queue, lines } = queueIn(join(blocker, 'spill'), writer, {}, metrics);
  await queue.flush(); // the spill file's open has failed by the time a flush starts
  for (const n of range(0, 25)) queue.push({ n });
  t.equal(queue.length, 10, 'memory stays at max_queued');
  t.equal(await metricValue(metrics, 'switchyard_records_dropped_total', { queue: 'test' }), 15, 'each row past the bound is counted');
  t.ok(lines.some((l) => l['level'] === 'error' && String(l['msg']).includes('cannot open the spill file')), 'the unwritable directory is logged as an error');
  t.ok(lines.some((l) => l['level'] === 'error' && String(l['msg']).includes('DROPPED')), 'the drops are logged as errors');
  writer.down = false;
  await queue.close();
  t.same(writer.written, range(0, 10), 'what memory held is written');
});

t.test('at shutdown with the database down, what is queued goes to the spill file in order (a failed batch first) and arrives at the next start', async (t) => {
  const spillDir = join(dir, 'spill-shutdown');
  const writer = switchableWriter();
  const { queue } = queueIn(spillDir, writer, { maxQueued: 100 });
  for (const n of range(0, 20)) queue.push({ n });
  await queue.flush(); // rows 0..3 are the batch that failed
  for (const n of range(20, 25)) queue.push({ n });
  await queue.close();
  const lines = await fileLines(join(spillDir, 'test.jsonl'));
  t.same(lines.map((l) => (JSON.parse(l) as Item).n), range(0, 25), 'all 25 rows in the file, oldest first');

  const next = switchableWriter();
  next.down = false;
  const { queue: again } = queueIn(spillDir, next, { maxQueued: 100 });
  await again.flush();
  t.same(next.written, range(0, 25), 'written at the next start');
  await again.close();
});

t.test('SIGTERM right after N requests: N usage rows in the embedded database', async (t) => {
  const data = join(dir, 'sigterm-data');
  const file = join(dir, 'sigterm.yaml');
  // flush_interval 1h: nothing is written while running, so every row is written by the shutdown.
  await writeFile(
    file,
    `version: 1
stores: { kv: memory, sql: { pglite: "${data}" } }
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline:
  - billing: { models: { demo: { input_per_1m: 1, output_per_1m: 1 } }, records: { flush_interval: 1h } }
  - route
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, SWITCHYARD_LOG_LEVEL: 'info' };
  for (const n of ['SWITCHYARD_CONFIG', 'SWITCHYARD_LISTEN', 'SWITCHYARD_DATA_DIR']) delete env[n];
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/main.ts', 'start', '--config', file, '--listen', '127.0.0.1:0'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.teardown(() => void child.kill('SIGKILL'));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Switchyard listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    void code.then(() => reject(new Error(`gateway exited before listening:\n${output}`)));
  });
  const N = 40;
  const ids = range(0, N).map((i) => `term-${i}-${randomUUID()}`);
  await Promise.all(
    ids.map(async (id) => {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: `hello ${id}` }] }),
      });
      t.equal(res.status, 200);
      await res.text();
    }),
  );
  child.kill('SIGTERM');
  t.equal(await code, 0, 'a clean exit');
  const db = await openSqlStore({ pglite: data }, dir, silentLog, PLUGIN_MIGRATIONS);
  t.teardown(() => db.close());
  const { rows } = await db.query<{ request_id: string }>('SELECT request_id FROM billing_usage');
  t.same(rows.map((r) => r.request_id).sort(), [...ids].sort(), 'one row per request, none missing, none twice');
  const daily = await db.query<{ requests: string }>('SELECT sum(requests) AS requests FROM billing_usage_daily');
  t.equal(Number(daily.rows[0]!.requests), N, 'and the daily sums count them');
});

/** Rows over `days` UTC days ending today: several orgs, keys and models, failures, unpriced and null ids. */
function sampleRows(now: number, days: number, perDay: number): UsageRow[] {
  const rows: UsageRow[] = [];
  for (let d = days - 1; d >= 0; d--) {
    for (let i = 0; i < perDay; i++) {
      const at = Math.floor((now - d * DAY_MS) / DAY_MS) * DAY_MS + ((i * 997) % DAY_MS) + 1000 * i;
      rows.push({
        rowId: randomUUID(),
        at,
        requestId: `r-${d}-${i}`,
        org: i % 5 === 4 ? null : `org-${i % 2}`,
        keyId: i % 7 === 6 ? null : `key-${i % 3}`,
        modelRequested: i % 11 === 10 ? null : `asked-${i % 2}`,
        modelServed: i % 4 === 0 ? null : `served-${i % 3}`,
        provider: 'demo',
        attempts: 1,
        status: i % 6 === 5 ? 502 : 200,
        promptTokens: 10 + i,
        completionTokens: 5 + (i % 9),
        cachedTokens: i % 3,
        reasoningTokens: i % 2,
        estimated: false,
        costMicros: i % 8 === 7 ? null : BigInt(100 + i * 13),
        cache: null,
        latencyMs: 20 + i,
        ttftMs: null,
        errorCode: null,
      });
    }
  }
  return rows;
}

async function memoryDb(t: Test): Promise<SqlDriver> {
  const db = await openSqlStore({ pglite: 'memory' }, dir, silentLog, PLUGIN_MIGRATIONS);
  t.teardown(() => db.close());
  return db;
}

t.test('the daily sums give the same answer as the raw rows for whole days, by day, model and key, with filters; a replayed batch counts once', async (t) => {
  const db = await memoryDb(t);
  const now = Date.now();
  const table = new UsageTable({ sql: async () => db, log: silentLog }, () => now);
  const rows = sampleRows(now, 4, 60);
  for (let i = 0; i < rows.length; i += 50) await table.write(rows.slice(i, i + 50));
  await table.write(rows.slice(0, 50)); // a batch written again (its acknowledgement was lost)
  const { rows: count } = await db.query<{ n: string }>('SELECT count(*) AS n FROM billing_usage');
  t.equal(Number(count[0]!.n), rows.length, 'the replayed batch added no row');
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const ranges = [
    { start: today - 3 * DAY_MS, end: today + DAY_MS },
    { start: today - 2 * DAY_MS, end: today },
    { start: today - 3 * DAY_MS, end: today - 2 * DAY_MS },
  ];
  const filters = [{}, { org: 'org-1' }, { keyId: 'key-2' }, { org: 'org-0', keyId: 'key-0' }];
  let compared = 0;
  for (const range of ranges) {
    for (const filter of filters) {
      for (const groupBy of ['day', 'model', 'key'] as GroupBy[]) {
        const f = { ...range, ...filter };
        const raw = await summarizeUsage(db, f, groupBy);
        const daily = await summarizeDaily(db, f, groupBy);
        t.same(daily, raw, `${JSON.stringify(filter)} by ${groupBy}, ${utcDay(range.start)}..${utcDay(range.end)}`);
        compared++;
      }
    }
  }
  const whole = await summarizeUsage(db, ranges[0]!, 'day');
  t.equal(whole.totals.requests, rows.length, 'the comparison covers every row');
  t.ok(whole.totals.unpriced_requests > 0 && whole.totals.errors > 0, 'including unpriced and failed requests');
  t.equal(compared, 36);
});

t.test('retention drops whole day partitions past `records.retention`; the daily sums stay and GET /admin/usage answers whole days from them', async (t) => {
  const ADMIN_KEY = 'usage-durability-admin';
  const gw = await startGateway(
    `version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline:
  - billing: { records: { retention: 3d, aggregate_retention: 5d } }
  - route
`,
    { level: 'warn', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } },
  );
  t.teardown(() => gw.close());
  const state = gw.gateway.services.stateNamed('billing') as { usage: UsageTable };
  const db = await gw.gateway.services.stores.sql();
  const now = Date.now();
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const rows = sampleRows(now, 7, 10);
  await state.usage.maintain(); // the run at start, which would drop the old days written next
  await state.usage.write(rows);
  const partitions = async () =>
    (await db.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'billing_usage'::regclass ORDER BY 1`)).rows.map((r) => r.name);
  const dayName = (ms: number) => `billing_usage_p${utcDay(ms).replaceAll('-', '')}`;
  t.same(await partitions(), [...range(-6, 2).map((d) => dayName(today + d * DAY_MS))], 'a partition for each day written, and tomorrow');

  await state.usage.maintain();
  t.same(await partitions(), range(-2, 2).map((d) => dayName(today + d * DAY_MS)), 'raw rows: today and the 2 days before are kept');
  const kept = await db.query<{ n: string }>('SELECT count(*) AS n FROM billing_usage');
  t.equal(Number(kept.rows[0]!.n), 30, 'the rows of the dropped days are gone');
  const daily = await db.query<{ day: string }>(`SELECT DISTINCT to_char(day, 'YYYY-MM-DD') AS day FROM billing_usage_daily ORDER BY 1`);
  t.same(daily.rows.map((r) => r.day), range(-4, 1).map((d) => utcDay(today + d * DAY_MS)), 'daily sums: 5 days kept');

  const admin = async (query: string) => {
    const res = await fetch(`${gw.url}/admin/usage?${query}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    t.equal(res.status, 200);
    return (await res.json()) as { totals: { requests: number }; data: { day: string; requests: number }[] };
  };
  const wholeDays = await admin(`start=${utcDay(today - 6 * DAY_MS)}&end=${utcDay(today + DAY_MS)}`);
  t.equal(wholeDays.totals.requests, 50, 'whole days come from the daily sums: 5 days of 10, past the raw retention');
  t.same(wholeDays.data.map((d) => d.day), range(-4, 1).map((d) => utcDay(today + d * DAY_MS)));
  const partial = await admin(`start=${new Date(today - 6 * DAY_MS + 1).toISOString()}&end=${new Date(today + DAY_MS).toISOString()}`);
  t.equal(partial.totals.requests, 30, 'a range that is not whole days reads the raw rows');
});

t.test('migration 3 turns an existing billing_usage into day partitions and sums what it holds', async (t) => {
  const db = await openSqlDriver({ pglite: 'memory' }, dir, silentLog);
  t.teardown(() => db.close());
  const before = PLUGIN_MIGRATIONS.map((o) => (o.owner === 'billing' ? { ...o, migrations: o.migrations.filter((m) => m.id < 3) } : o));
  await migrateSchema(db, before, silentLog);
  await db.query(`INSERT INTO billing_usage (row_id, at, request_id, org_id, key_id, model_requested, model_served, attempts, status,
      prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, estimated, cost_micros, latency_ms)
    SELECT gen_random_uuid(), timestamptz '2026-11-01T12:00:00Z' + (i || ' hours')::interval, 'old-' || i, 'acme', 'k' || (i % 2), 'm', 'm', 1, 200,
      10, 5, 0, 0, false, CASE WHEN i % 10 = 0 THEN NULL ELSE 100 END, 20
    FROM generate_series(0, 59) AS i`);
  const applied = await migrateSchema(db, PLUGIN_MIGRATIONS, silentLog);
  t.same(applied.filter((m) => m.id <= 3), [{ owner: 'billing', id: 3 }], 'only the new migrations run (3, and any after it)');
  t.ok(applied.every((m) => m.owner === 'billing' && m.id >= 3), 'none of the applied ones again');
  const parts = await db.query<{ name: string; n: string }>(
    `SELECT tableoid::regclass::text AS name, count(*) AS n FROM billing_usage GROUP BY 1 ORDER BY 1`,
  );
  t.same(parts.rows.map((r) => [r.name, Number(r.n)]), [['billing_usage_p20261101', 12], ['billing_usage_p20261102', 24], ['billing_usage_p20261103', 24]], 'every row moved into its day\'s partition');
  const raw = await summarizeUsage(db, { start: Date.parse('2026-11-01'), end: Date.parse('2026-11-04') }, 'key');
  const daily = await summarizeDaily(db, { start: Date.parse('2026-11-01'), end: Date.parse('2026-11-04') }, 'key');
  t.same(daily, raw, 'the sums of the existing rows are made');
  t.equal(raw.totals.requests, 60);
  t.equal(raw.totals.unpriced_requests, 6);
});
