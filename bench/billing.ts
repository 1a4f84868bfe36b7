/**
 * The billing scenario (`npm run bench -- --only=billing`; issue 11): what pricing, usage records
 * and credits cost on top of the production pipeline (bench/production.ts). Five gateways, each
 * on bench/configs/production.yaml (access log on a pipe), measured in one run:
 *
 *   a) the production pipeline as it is;
 *   b) + `billing` after `rate-limit` (prices, the cost header, one usage record per request
 *      through the batching queue) on PGlite embedded (a data directory of its own);
 *   c) b + `credits.enabled`: every request reserves its worst case and settles to its cost
 *      (two SQL function calls per request);
 *   d), e) b and c on PostgreSQL (127.0.0.1:5432 db `test`, or DATABASE_URL; a scratch schema per
 *      gateway, dropped at the end). Skipped, with a note, when PostgreSQL does not answer.
 *
 * Every body is unique (the cache misses and stores). Each round runs the non-streamed then the
 * streamed saturation load against every gateway in turn, the order rotating per round. Reported:
 * req/s and the gateway process's CPU µs per request (from /proc; PGlite runs inside the gateway
 * process, PostgreSQL's own CPU is not counted), median over rounds and best round, and each as a
 * ratio of a). Target (issue 11): throughput with billing ≥ 80% of a). Printed, never asserted.
 *
 * `profileBilling` runs one of the gateways under `node --cpu-prof` (`--profile --only=billing`).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort, gatewayArgs, startChild, type Child, type Runtime } from './procs.js';
import { CHAT_PATH, median } from './load.js';
import { BENCH_KEY } from './plugins.js';
import { chatBody, saturate, streamBody, type Load } from './production.js';
import { summariseProfile } from './profile.js';

export const BILLING_TARGETS = ['production', 'pgliteRecords', 'pgliteCredits', 'postgresRecords', 'postgresCredits'] as const;
export type BillingTarget = (typeof BILLING_TARGETS)[number];
export const BILLING_LABELS: Record<BillingTarget, string> = {
  production: 'a) production',
  pgliteRecords: 'b) + billing, PGlite',
  pgliteCredits: 'c) + credits, PGlite',
  postgresRecords: 'd) + billing, PostgreSQL',
  postgresCredits: 'e) + credits, PostgreSQL',
};

const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_KEY = `bench-admin-${randomBytes(8).toString('hex')}`;
const AUTH = { authorization: `Bearer ${BENCH_KEY}` };
/** The balance given to organization `bench` (the static key's) on the credit gateways: never short. */
const BALANCE = 1_000_000_000_000_000;

export interface BillingParams {
  connections: number;
  warmup: number;
  duration: number;
  rounds: number;
}

export interface BillingRound {
  nonStreaming: Partial<Record<BillingTarget, Load>>;
  streaming: Partial<Record<BillingTarget, Load>>;
}

export interface BillingResults {
  date: string;
  params: BillingParams;
  targets: BillingTarget[];
  /** Why d) and e) did not run, when they did not. */
  skipped?: string;
  loadavgBefore: number[];
  loadavgAfter: number[];
  rounds: BillingRound[];
  /** Per billing gateway at the end: requests answered, usage records written, reservations made (its /metrics). */
  books: Partial<Record<BillingTarget, { requests: number; written: number; queued: number; reserved: number; settleFailures: number }>>;
}

/** production.yaml with `billing` after `rate-limit` on the given SQL store (`credits`: reserve and settle). */
export function billingConfig(root: string, sql: string, credits: boolean): string {
  const text = readFileSync(join(root, 'bench', 'configs', 'production.yaml'), 'utf8');
  const stores = 'stores:\n  kv: memory\n';
  const cache = '  - cache:\n';
  if (!text.includes(stores) || !text.includes(cache)) throw new Error('bench/configs/production.yaml no longer has `stores: kv: memory` and a `cache` entry');
  // The price of bench/upstream.ts's model (the catalog's for gpt-4o-mini); no max_tokens at billing
  // (transform adds it later), so a reservation is the catalog's max_output_tokens' worth.
  const billing = [
    '  - billing:',
    '      models:',
    '        up/gpt-4o-mini: { input_per_1m: 0.15, output_per_1m: 0.6 }',
    ...(credits ? ['      credits: { enabled: true }'] : []),
    '',
  ].join('\n');
  return text.replace(stores, `${stores}  sql: ${sql}\n`).replace(cache, `${billing}${cache}`);
}

async function postgresAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A throw-away schema (as test/services/scratch-schema.ts makes them); its URL sets `search_path`. */
async function scratchSchema(label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `sy_bench_${label}_${randomBytes(4).toString('hex')}`;
  await postgresAdmin((c) => c.query(`CREATE SCHEMA ${name}`));
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${name}`);
  return { url: url.toString(), drop: () => postgresAdmin((c) => c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)).then(() => undefined) };
}

interface Started {
  child: Child;
  cleanup: () => Promise<void>;
}

/** Starts the gateway of `target` (config in a temporary directory); the credit gateways get `BALANCE`. */
async function startTarget(target: BillingTarget, runtime: Runtime, root: string, upstreamPort: number, nodeFlags: string[] = []): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), `switchyard-bench-billing-${target}-`));
  let config = join(root, 'bench', 'configs', 'production.yaml');
  let cleanup = async () => {};
  if (target !== 'production') {
    const credits = target.endsWith('Credits');
    let sql: string;
    if (target.startsWith('pglite')) sql = `{ pglite: ${JSON.stringify(join(dir, 'data'))} }`;
    else {
      const schema = await scratchSchema(target.toLowerCase());
      sql = `{ postgres: ${JSON.stringify(schema.url)} }`;
      cleanup = schema.drop;
    }
    config = join(dir, 'gateway.yaml');
    writeFileSync(config, billingConfig(root, sql, credits));
  }
  const port = await freePort();
  const env = { BENCH_UPSTREAM_PORT: String(upstreamPort), BENCH_KEY, SWITCHYARD_ADMIN_KEY: ADMIN_KEY };
  let child: Child;
  try {
    child = await startChild(target, `http://127.0.0.1:${port}`, gatewayArgs(runtime, config, `127.0.0.1:${port}`, nodeFlags), env, root, { logPipe: true });
  } catch (err) {
    await cleanup();
    throw err;
  }
  if (target.endsWith('Credits')) {
    const res = await fetch(`${child.url}/admin/credits/bench/top-ups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount_micros: BALANCE, idempotency_key: 'bench-balance' }),
    });
    const text = await res.text();
    if (res.status !== 201 && res.status !== 200) {
      await child.stop();
      await cleanup();
      throw new Error(`${target}: top-up answered ${res.status}: ${text.slice(0, 300)}`);
    }
  }
  return { child, cleanup };
}

/** A reader of a gateway's /metrics: the sum of a metric over its label sets that contain `labels`. */
async function metrics(child: Child): Promise<(name: string, labels?: string) => number> {
  const text = await (await fetch(`${child.url}/metrics`)).text();
  return (name, labels = '') => {
    let total = 0;
    for (const line of text.split('\n')) {
      if ((line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  };
}

/** Refuses to measure a gateway that answers wrongly (errors are fast and would flatter it). */
async function sanityCheck(target: BillingTarget, child: Child): Promise<void> {
  const post = (body: string, headers: Record<string, string> = AUTH) =>
    fetch(`${child.url}${CHAT_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const plain = await post(chatBody());
  const json = (await plain.json()) as { choices?: { message?: { content?: string } }[] };
  const streamed = await post(streamBody());
  const text = await streamed.text();
  const problems: string[] = [];
  if (plain.status !== 200 || !json.choices?.[0]?.message?.content) problems.push(`non-streaming answered ${plain.status}: ${JSON.stringify(json).slice(0, 300)}`);
  if (streamed.status !== 200 || !text.endsWith('data: [DONE]\n\n')) problems.push(`streaming answered ${streamed.status}`);
  if (plain.headers.get('x-switchyard-cache') !== 'MISS') problems.push(`cache header ${plain.headers.get('x-switchyard-cache')}, not MISS`);
  const cost = plain.headers.get('x-switchyard-cost');
  // bench/upstream.ts reports 9 prompt and 12 completion tokens: 9 × 0.15 + 12 × 0.6 = 8.55 → 9 micro-USD.
  if (target === 'production' ? cost !== null : cost !== '9') problems.push(`cost header ${cost}`);
  const anonymous = await post(chatBody(), {});
  await anonymous.arrayBuffer();
  if (anonymous.status !== 401) problems.push(`a request without a key answered ${anonymous.status}, not 401`);
  if (target.endsWith('Credits') && (await metrics(child))('switchyard_billing_reservations_total', 'result="reserved"') < 2) problems.push('no reservations counted');
  if (problems.length) throw new Error(`${BILLING_LABELS[target]}: ${problems.join('; ')}`);
}

/** Whether PostgreSQL answers; the reason when not. */
async function postgresAbsent(): Promise<string | undefined> {
  try {
    await postgresAdmin((c) => c.query('SELECT 1'));
    return undefined;
  } catch (err) {
    return `PostgreSQL at ${new URL(DATABASE_URL).host} did not answer (${(err as Error).message}): d) and e) skipped`;
  }
}

export async function benchBilling(runtime: Runtime, root: string, params: BillingParams, log: (line: string) => void, loadavg: () => number[]): Promise<BillingResults> {
  const loadavgBefore = loadavg();
  const skipped = await postgresAbsent();
  if (skipped) log(`billing: ${skipped}`);
  const targets = BILLING_TARGETS.filter((t) => !skipped || !t.startsWith('postgres'));
  const upstreamPort = await freePort();
  const upstream = await startChild('upstream', `http://127.0.0.1:${upstreamPort}`, ['--import', 'tsx', 'bench/upstream.ts', String(upstreamPort)], {}, root);
  const started = new Map<BillingTarget, Started>();
  try {
    for (const t of targets) {
      started.set(t, await startTarget(t, runtime, root, upstreamPort));
      await sanityCheck(t, started.get(t)!.child);
    }
    const { connections, warmup, duration, rounds } = params;
    const show = (r: Load) => `${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req, p99 ${r.p99Ms} ms${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`;
    const all: BillingRound[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      const result: BillingRound = { nonStreaming: {}, streaming: {} };
      for (const stream of [false, true]) {
        for (const t of order) {
          const r = await saturate(started.get(t)!.child, stream ? streamBody : chatBody, connections, round === 0 ? warmup : 0, duration);
          (stream ? result.streaming : result.nonStreaming)[t] = r;
          log(`billing round ${round + 1} ${stream ? 'streamed    ' : 'non-streamed'} ${BILLING_LABELS[t].padEnd(26)} ${show(r)}`);
        }
      }
      all.push(result);
    }
    const books: BillingResults['books'] = {};
    for (const t of targets) {
      if (t === 'production') continue;
      const child = started.get(t)!.child;
      // The queue writes about every second: wait for it to drain before reading the books.
      let read = await metrics(child);
      for (let i = 0; i < 100 && read('switchyard_usage_records_queued') > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        read = await metrics(child);
      }
      books[t] = {
        requests: read('switchyard_requests_total', `route="${CHAT_PATH}"`),
        written: read('switchyard_usage_records_total', 'result="written"'),
        queued: read('switchyard_usage_records_queued'),
        reserved: read('switchyard_billing_reservations_total', 'result="reserved"'),
        settleFailures: read('switchyard_billing_settle_failures_total'),
      };
    }
    return { date: new Date().toISOString(), params, targets, ...(skipped ? { skipped } : {}), loadavgBefore, loadavgAfter: loadavg(), rounds: all, books };
  } finally {
    await Promise.all([...started.values()].map((s) => s.child.stop()));
    await Promise.all([...started.values()].map((s) => s.cleanup().catch(() => {})));
    await upstream.stop();
  }
}

/**
 * One gateway (`target`) under `node --cpu-prof` through the non-streamed saturation load after a
 * warm-up; resolves to the markdown summary of where its time went (bench/profile.ts).
 */
export async function profileBilling(target: BillingTarget, runtime: Runtime, root: string, params: BillingParams, log: (line: string) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-billing-prof-'));
  const name = `${target}.cpuprofile`;
  const upstreamPort = await freePort();
  const upstream = await startChild('upstream', `http://127.0.0.1:${upstreamPort}`, ['--import', 'tsx', 'bench/upstream.ts', String(upstreamPort)], {}, root);
  try {
    const s = await startTarget(target, runtime, root, upstreamPort, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
    let r: Load;
    let window: [number, number];
    const nowUs = () => Number(process.hrtime.bigint() / 1000n);
    try {
      await sanityCheck(target, s.child);
      if (params.warmup > 0) await saturate(s.child, chatBody, params.connections, 0, params.warmup);
      const from = nowUs();
      r = await saturate(s.child, chatBody, params.connections, 0, params.duration);
      window = [from, nowUs()];
      log(`profile ${BILLING_LABELS[target]}: ${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req under the profiler`);
    } finally {
      await s.child.stop(15_000);
      await s.cleanup().catch(() => {});
    }
    return summariseProfile(join(dir, name), root, `${BILLING_LABELS[target]}, non-streamed chat at saturation (${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU per request under the profiler)`, r.requests, window);
  } finally {
    await upstream.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const num = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : 'n/a');
const times = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a');

interface Spread {
  median: number;
  best: number;
}

function spread(values: number[], better: 'high' | 'low'): Spread {
  return { median: median(values), best: better === 'high' ? Math.max(...values) : Math.min(...values) };
}

export function summariseBilling(r: BillingResults): Record<'nsRps' | 'nsCpu' | 'sRps' | 'sCpu', Partial<Record<BillingTarget, Spread>>> {
  const pick = (mode: 'nonStreaming' | 'streaming', f: (l: Load) => number, better: 'high' | 'low') =>
    Object.fromEntries(r.targets.map((t) => [t, spread(r.rounds.map((round) => f(round[mode][t]!)), better)])) as Partial<Record<BillingTarget, Spread>>;
  return {
    nsRps: pick('nonStreaming', (l) => l.rps, 'high'),
    nsCpu: pick('nonStreaming', (l) => l.cpuUsPerRequest, 'low'),
    sRps: pick('streaming', (l) => l.rps, 'high'),
    sCpu: pick('streaming', (l) => l.cpuUsPerRequest, 'low'),
  };
}

export function renderBillingMarkdown(r: BillingResults): string {
  const s = summariseBilling(r);
  const { connections, warmup, duration, rounds } = r.params;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const billed = r.targets.filter((t) => t !== 'production');
  const lines = [
    '## i) billing: the production pipeline with pricing, usage records and credits',
    '',
    `${r.date} · ${connections} connections, ${warmup} s warm-up, ${rounds} rounds × ${duration} s per gateway and mode (the order rotates per round) · ` +
      `bench/configs/production.yaml (access log on a pipe), with \`billing\` after \`rate-limit\` in b)–e) · load average before ${load(r.loadavgBefore)}, after ${load(r.loadavgAfter)}`,
    '',
    'Cells: median over rounds / best round. CPU is the gateway process\'s own (user + system, /proc) per 2xx response: PGlite runs inside it, PostgreSQL\'s server processes are not counted.',
    '',
    `| measure | ${r.targets.map((t) => BILLING_LABELS[t]).join(' | ')} |`,
    `| --- | ${r.targets.map(() => '---:').join(' | ')} |`,
  ];
  const row = (name: string, m: Partial<Record<BillingTarget, Spread>>) => lines.push(`| ${name} | ${r.targets.map((t) => `${num(m[t]!.median)} / ${num(m[t]!.best)}`).join(' | ')} |`);
  const ratioRow = (name: string, m: Partial<Record<BillingTarget, Spread>>, format: (v: number) => string) =>
    lines.push(`| ${name} | ${r.targets.map((t) => (t === 'production' ? '—' : `${format(m[t]!.median / m.production!.median)} / ${format(m[t]!.best / m.production!.best)}`)).join(' | ')} |`);
  row('non-streamed req/s', s.nsRps);
  ratioRow('non-streamed req/s, ÷ a)', s.nsRps, pct);
  row('non-streamed CPU µs/request', s.nsCpu);
  ratioRow('non-streamed CPU, ÷ a)', s.nsCpu, times);
  row('streamed req/s (20 chunks + usage)', s.sRps);
  ratioRow('streamed req/s, ÷ a)', s.sRps, pct);
  row('streamed CPU µs/request', s.sCpu);
  ratioRow('streamed CPU, ÷ a)', s.sCpu, times);
  lines.push('', 'Target (issue 11): throughput with billing ≥ 80% of a) (median ratio):', '');
  for (const t of billed) {
    const ns = s.nsRps[t]!.median / s.nsRps.production!.median;
    const st = s.sRps[t]!.median / s.sRps.production!.median;
    const exact = (v: number) => `${(v * 100).toFixed(1)}%`;
    lines.push(`- ${BILLING_LABELS[t]}: non-streamed ${exact(ns)} ${ns >= 0.8 ? 'PASS' : 'FAIL'}, streamed ${exact(st)} ${st >= 0.8 ? 'PASS' : 'FAIL'}`);
  }
  if (r.skipped) lines.push('', `Not measured: ${r.skipped}.`);
  lines.push('', 'The books at the end (each gateway\'s /metrics, after its usage queue drained): every request answered has its usage record written.', '');
  lines.push('| gateway | requests answered | usage records written | still queued | reservations | failed settlements |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const t of billed) {
    const b = r.books[t];
    if (b) lines.push(`| ${BILLING_LABELS[t]} | ${num(b.requests)} | ${num(b.written)} | ${num(b.queued)} | ${t.endsWith('Credits') ? num(b.reserved) : '—'} | ${num(b.settleFailures)} |`);
  }
  const problems = r.rounds.flatMap((x, i) =>
    r.targets.flatMap((t) =>
      (
        [
          ['non-streamed', x.nonStreaming[t]],
          ['streamed', x.streaming[t]],
        ] as const
      )
        .filter(([, l]) => l && (l.non2xx || l.errors))
        .map(([label, l]) => `round ${i + 1} ${label} ${BILLING_LABELS[t]}: ${l!.non2xx} non-2xx, ${l!.errors} errors`),
    ),
  );
  if (problems.length) lines.push('', `Failures during the run (these make the numbers suspect): ${problems.join('; ')}.`);
  lines.push('');
  return lines.join('\n');
}
