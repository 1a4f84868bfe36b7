/**
 * Usage records under load, on real `switchyard start` processes (so the RSS measured is the
 * gateway's own) with PostgreSQL behind the fault proxy (test/helpers/fault-proxy.ts), 32 clients
 * at a time sending requests without pause:
 * - the database cut for 10 s: the queue (`max_queued: 500`) spills to `<data dir>/spill`, its
 *   depth in memory (read every 250 ms) never passes the bound, the process's resident memory
 *   stays within RSS_GROWTH_BOUND of its level before the outage, and once the database is back
 *   every request that got a 2xx has exactly one usage row;
 * - `kill -TERM` in the middle of the load, with the database up and then with it down: every 2xx
 *   has exactly one row after the process exits (database down: after a restart on the same data
 *   directory replays the spill file).
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../../core/config/schema.js';
import { openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlDriver } from '../../core/stores/migrate.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';
import { PLUGIN_MIGRATIONS, silentLog } from '../stores/sql-suite.js';

const root = packageRoot();
const CONCURRENCY = 32;
const MAX_QUEUED = 500;
const OUTAGE_MS = 10_000;
const MB = 1024 * 1024;
/**
 * How much the gateway's RSS may grow while the database is down. What the queue may hold by design:
 * `max_queued` rows, a failed batch (`batch_rows`), rows on their way into the spill file (at most
 * 10,000 while the disk lags: SPILL_BACKLOG in batch-queue.ts) and one 2,000-row chunk being encoded
 * — about 12,750 rows at ~1 KB (a row is ~750 bytes of heap, plus its JSON line) ≈ 13 MB of heap,
 * ×1.5 with `--heap-growing-percent=50` ≈ 20 MB; plus the ±10 MB seen between runs of the same load
 * on a shared machine (docs/footprint.md). A queue without a bound grows with the outage instead
 * — but at the ~1,000 requests/s a shared 2-vCPU machine manages, 10 s of rows (~8 MB) fit under
 * this bound too: the RSS check catches growth beyond the queue's design (a leak per request or per
 * failed write), and the bound of the queue itself is checked on its depth gauge.
 */
const RSS_GROWTH_BOUND = 32 * MB;

let schema: ScratchSchema;
let direct: SqlDriver;
let dir: string;
t.before(async () => {
  schema = await createScratchSchema('usageload');
  // Migrated here, so the gateways start on a ready schema.
  direct = await openSqlStore({ postgres: schema.url }, process.cwd(), silentLog, PLUGIN_MIGRATIONS);
  dir = await mkdtemp(join(tmpdir(), 'switchyard-usage-load-'));
});
t.teardown(async () => {
  await direct?.close();
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  output: () => string;
  /** Exit code once the process has exited. */
  code: Promise<number | null>;
}

/** `switchyard start` on PostgreSQL through `proxy`, spilling to `<dataDir>/spill`. */
async function startProcess(name: string, proxy: FaultProxy, dataDir: string): Promise<GatewayProcess> {
  const db = new URL(schema.url);
  db.host = `127.0.0.1:${proxy.port}`;
  const file = join(dir, `${name}.yaml`);
  await writeFile(
    file,
    `version: 1
server: { drain_delay: 300ms, shutdown_timeout: 3s }
stores: { kv: memory, sql: { postgres: { url: "${db.toString()}", connect_timeout: 300ms, query_timeout: 1s } } }
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline:
  - billing: { models: { demo: { input_per_1m: 1, output_per_1m: 1 } }, records: { flush_interval: 100ms, batch_rows: 250, max_queued: ${MAX_QUEUED} } }
  - route
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_LOG_LEVEL: 'info' };
  for (const n of ['SWITCHYARD_CONFIG', 'SWITCHYARD_LISTEN']) delete env[n];
  // The V8 flags of production (bin/switchyard.js, `npm start`, the Dockerfile), so that the RSS is
  // what a deployed gateway's would be: tsx runs bin/main.ts, not the compiled bin/switchyard.js.
  const child = spawn(process.execPath, ['--max-semi-space-size=8', '--heap-growing-percent=50', '--import', 'tsx', 'bin/main.ts', 'start', '--config', file, '--listen', '127.0.0.1:0'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.teardown(() => void child.kill('SIGKILL'));
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
  return { child, pid: child.pid!, url, output: () => output, code };
}

interface Load {
  /** Request ids (`x-request-id` of the response) of every 2xx, in the order they arrived. */
  ok: string[];
  /** Responses other than 2xx. */
  statuses: number[];
  /** Requests that got no response (connection refused or reset). */
  failed: number;
  /** Resolves once `n` requests have had a 2xx. */
  reached(n: number): Promise<void>;
  /** Stops sending; resolves when every client has its last answer. */
  stop(): Promise<void>;
  /** Resolves when every client has stopped (after stop(), or on its own with `untilRefused`). */
  done: Promise<void>;
}

/** One chat completion over `agent`'s kept-alive connections: the status and the response's `x-request-id`. */
function complete(agent: Agent, url: URL, id: string): Promise<{ status: number; requestId: string }> {
  const body = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: `hello ${id}` }] });
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': id } },
      (res) => {
        res.resume();
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode!, requestId: String(res.headers['x-request-id']) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * `CONCURRENCY` clients (node:http on kept-alive connections: lighter than fetch, so the gateway,
 * not the client, sets the pace), each sending its next request as soon as the last one is answered.
 * With `untilRefused`, a client stops at its first request that gets no response (the listener closed).
 */
function startLoad(url: string, label: string, untilRefused = false): Load {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(url);
  let stopped = false;
  let sent = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const load = { ok: [] as string[], statuses: [] as number[], failed: 0 } as Load;
  const client = async () => {
    while (!stopped) {
      try {
        const res = await complete(agent, target, `${label}-${sent++}`);
        if (res.status >= 200 && res.status < 300) load.ok.push(res.requestId);
        else load.statuses.push(res.status);
      } catch {
        load.failed++;
        if (untilRefused) return;
        await sleep(10);
      }
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (load.ok.length >= waiters[i]!.n) waiters.splice(i, 1)[0]!.resolve();
      }
    }
  };
  load.done = Promise.all(Array.from({ length: CONCURRENCY }, client)).then(() => agent.destroy());
  load.reached = (n) => (load.ok.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })));
  load.stop = () => {
    stopped = true;
    return load.done;
  };
  return load;
}

/** The resident set of `pid` (VmRSS), sampled every 250 ms, each sample tagged with the phase it fell in. */
function sampleRss(pid: number) {
  const samples: { phase: string; bytes: number }[] = [];
  let phase = 'warm-up';
  const read = async () => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (m) samples.push({ phase, bytes: Number(m[1]) * 1024 });
  };
  const timer = setInterval(() => void read(), 250);
  return {
    samples,
    /** Takes a sample now, then tags the next ones `next`. */
    async enter(next: string) {
      await read();
      phase = next;
    },
    last: () => samples.at(-1)!.bytes,
    peak: (p: string) => Math.max(...samples.filter((s) => s.phase === p).map((s) => s.bytes)),
    stop: () => clearInterval(timer),
  };
}

async function scrape(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Resolves once `check` is true (checked every 100 ms), or fails after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The fault proxy in front of PostgreSQL. */
async function databaseProxy(t: Test): Promise<FaultProxy> {
  const u = new URL(schema.url);
  const proxy = await startFaultProxy({ host: u.hostname, port: Number(u.port) });
  t.teardown(() => proxy.close());
  return proxy;
}

/** Usage rows per request id, for the ids starting with `label-`. */
async function rowsPerRequest(label: string): Promise<Map<string, number>> {
  const { rows } = await direct.query<{ request_id: string; n: string }>(
    'SELECT request_id, count(*) AS n FROM billing_usage WHERE request_id LIKE $1 GROUP BY request_id',
    [`${label}-%`],
  );
  return new Map(rows.map((r) => [r.request_id, Number(r.n)]));
}

/** Every 2xx has exactly one row, and no request has two. */
function checkOneRowEach(t: Test, ok: readonly string[], rows: Map<string, number>): void {
  const missing = ok.filter((id) => !rows.has(id));
  const twice = [...rows].filter(([, n]) => n !== 1).map(([id]) => id);
  t.same(missing, [], `each of the ${ok.length} requests answered 2xx has its usage row`);
  t.same(twice, [], 'no request has two rows');
  t.equal(new Set(ok).size, ok.length, 'the request ids are distinct');
}

t.test('PostgreSQL down for 10 s under load: resident memory stays bounded while the queue spills, and every 2xx has exactly one row after recovery', async (t) => {
  const proxy = await databaseProxy(t);
  const dataDir = join(dir, 'outage');
  const gw = await startProcess('outage', proxy, dataDir);
  const rss = sampleRss(gw.pid);
  t.teardown(() => rss.stop());
  const load = startLoad(gw.url, 'outage');
  t.teardown(() => load.stop());

  // Warm up (JIT, heap sizing, connection pools) before the baseline is taken.
  await load.reached(1500);
  await rss.enter('before');
  await load.reached(load.ok.length + 1000);
  const servedBefore = load.ok.length;
  await rss.enter('outage');
  const before = rss.peak('before');
  proxy.setMode('refuse');
  // The outage lasts OUTAGE_MS while the load runs on; the queue's depth is read every 250 ms.
  const cut = Date.now();
  let deepest = 0;
  let during = '';
  // Requests answered when `during` was asked for: its spill count is compared with these, not with a later count.
  let servedAtScrape = servedBefore;
  while (Date.now() - cut < OUTAGE_MS) {
    servedAtScrape = load.ok.length;
    during = await scrape(gw.url);
    deepest = Math.max(deepest, metric(during, 'switchyard_records_queued{queue="usage",where="memory"}'));
    await sleep(250);
  }
  await rss.enter('recovery');
  proxy.setMode('forward');
  const rowsInOutage = load.ok.length - servedBefore;
  const peak = rss.peak('outage');

  t.ok(metric(during, 'switchyard_usage_record_write_failures_total') > 0, 'writes failed during the outage');
  const spilled = metric(during, 'switchyard_records_spilled_total{queue="usage"}');
  t.ok(spilled >= servedAtScrape - servedBefore - 2 * MAX_QUEUED, `the rows past the bound went to the spill file (${spilled} spilled of ${servedAtScrape - servedBefore} rows made by then)`);
  t.ok(deepest <= MAX_QUEUED + 250, `memory held at most max_queued plus a failed batch throughout (${deepest})`);

  await load.reached(load.ok.length + 200);
  await load.stop();
  t.same(load.statuses, [], 'the outage fails no request');
  t.equal(load.failed, 0, 'and drops no connection');
  await until('the spill file replayed', async () => {
    const m = await scrape(gw.url);
    return metric(m, 'switchyard_records_queued{queue="usage",where="spill"}') === 0 && metric(m, 'switchyard_records_queued{queue="usage",where="memory"}') === 0;
  });
  await rss.enter('after');
  const after = rss.last();
  checkOneRowEach(t, load.ok, await rowsPerRequest('outage'));
  const final = await scrape(gw.url);
  t.equal(metric(final, 'switchyard_records_dropped_total{queue="usage"}'), 0, 'nothing dropped');

  const growth = peak - before;
  t.comment(
    `RSS: ${(before / MB).toFixed(1)} MB before the outage, peak ${(peak / MB).toFixed(1)} MB during it (+${(growth / MB).toFixed(1)} MB), ` +
      `${(after / MB).toFixed(1)} MB after the replay; ${rowsInOutage} requests (${Math.round(rowsInOutage / (OUTAGE_MS / 1000))}/s) during the 10 s outage, ` +
      `whose rows a queue without a bound would all hold`,
  );
  t.ok(growth < RSS_GROWTH_BOUND, `resident memory grew by ${(growth / MB).toFixed(1)} MB during the outage (bound ${RSS_GROWTH_BOUND / MB} MB)`);
  gw.child.kill('SIGTERM');
  t.equal(await gw.code, 0, 'a clean exit');
});

t.test('kill -TERM under load, PostgreSQL up and then down: every 2xx has exactly one usage row, the spilled ones after a restart on the same data directory', async (t) => {
  const proxy = await databaseProxy(t);
  const dataDir = join(dir, 'sigterm');
  const spillLines = async () => (await readFile(join(dataDir, 'spill', 'usage.jsonl'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').length;

  // Database up: the shutdown writes what is queued. Each client stops at its first refused connection.
  const first = await startProcess('sigterm-up', proxy, dataDir);
  const up = startLoad(first.url, 'term-up', true);
  await up.reached(1000);
  const upAtSignal = up.ok.length;
  first.child.kill('SIGTERM');
  t.equal(await first.code, 0, 'database up: a clean exit');
  await up.done;
  t.ok(up.ok.length > upAtSignal, `the signal came mid-load: ${up.ok.length - upAtSignal} requests answered during the drain delay`);
  checkOneRowEach(t, up.ok, await rowsPerRequest('term-up'));
  t.equal(await spillLines(), 0, 'nothing was spilled');

  // Database down: the queue spills while running, and at the shutdown what is left goes to the file too.
  const second = await startProcess('sigterm-down', proxy, dataDir);
  const down = startLoad(second.url, 'term-down', true);
  await down.reached(500);
  proxy.setMode('refuse');
  await down.reached(down.ok.length + 3 * MAX_QUEUED);
  const downAtSignal = down.ok.length;
  second.child.kill('SIGTERM');
  t.equal(await second.code, 0, 'database down: a clean exit');
  await down.done;
  t.ok(down.ok.length > downAtSignal, `the signal came mid-load: ${down.ok.length - downAtSignal} requests answered during the drain delay`);
  t.match(second.output(), /write failed; retrying/, 'writes failed while the database was down');
  const inDatabase = (await rowsPerRequest('term-down')).size;
  const inFile = await spillLines();
  t.ok(inFile >= 2 * MAX_QUEUED, `the rows made during the outage are in the spill file (${inFile})`);
  t.ok(inDatabase + inFile >= down.ok.length, `every 2xx is in the database (${inDatabase}) or the file (${inFile})`);

  // The next start on the same data directory replays the file.
  proxy.setMode('forward');
  const third = await startProcess('sigterm-after', proxy, dataDir);
  const answered = new Set(down.ok);
  await until('the spill file replayed', async () => [...(await rowsPerRequest('term-down')).keys()].filter((id) => answered.has(id)).length === answered.size);
  checkOneRowEach(t, down.ok, await rowsPerRequest('term-down'));
  t.equal(await spillLines(), 0, 'the replayed file is emptied');
  const after = await scrape(third.url);
  t.equal(metric(after, 'switchyard_records_dropped_total{queue="usage"}'), 0, 'nothing dropped');
  third.child.kill('SIGTERM');
  t.equal(await third.code, 0);
  t.comment(`database up: ${up.ok.length} requests answered 2xx before the listener closed; database down: ${down.ok.length}, ${inFile} of them replayed from the spill file`);
});
