/**
 * The production pipeline scenario (`npm run bench`, section f; `--only=production` runs it alone):
 * what a user runs — bench/configs/production.yaml: auth (static key), ip-allowlist, rate-limit
 * (memory), cache (consulted: every request is a miss that is stored), transform (one rule), route;
 * the access log on, written to a pipe that another process drains — beside the raw Node proxy and
 * direct-to-upstream, and the same pipeline with the access log off (what the log costs).
 *
 * Every target gets the same requests: each body is unique (`temperature: 0`, a new prompt), so the
 * cache never hits; streamed requests ask for 20 chunks and the usage chunk. Each round runs every
 * load against every target in turn (non-streaming and streamed saturation, then open-loop at a
 * fixed rate), so the numbers compared are taken close together in time. Reported per target: the
 * median over rounds and the best round (highest req/s, lowest CPU per request and latencies).
 *
 * Targets (issue 10), as ratios of production to raw proxy: non-streaming throughput ≥ 60%,
 * streamed ≥ 50%, CPU per request ≤ 2×, added p99 over direct at the fixed rate ≤ 2× the raw proxy's.
 * Printed as PASS/FAIL, never asserted.
 */
import autocannon from 'autocannon';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, gatewayArgs, gatewayEntry, type Child, type Runtime } from './procs.js';
import { CHAT_PATH, median, paced, type Paced } from './load.js';
import { BENCH_KEY } from './plugins.js';

export const PRODUCTION_TARGETS = ['direct', 'raw', 'production', 'productionNoLog'] as const;
export type ProductionTarget = (typeof PRODUCTION_TARGETS)[number];
export const PRODUCTION_LABELS: Record<ProductionTarget, string> = {
  direct: 'direct',
  raw: 'raw proxy',
  production: 'production',
  productionNoLog: 'production, no access log',
};

const AUTH = { authorization: `Bearer ${BENCH_KEY}` };
let sequence = 0;
const prompt = () => [{ role: 'user', content: `Say hello to request ${++sequence} of ${process.pid}.` }];
/** A new non-streaming chat body per call. */
export const chatBody = () => JSON.stringify({ model: 'gpt-4o-mini', messages: prompt(), temperature: 0 });
/** A new streamed chat body per call: 20 chunks, then the usage chunk. */
export const streamBody = () =>
  JSON.stringify({ model: 'gpt-4o-mini', messages: prompt(), temperature: 0, stream: true, stream_options: { include_usage: true }, bench_chunks: 20 });

export interface Load {
  rps: number;
  /** CPU time of the system under test per measured 2xx response, µs. */
  cpuUsPerRequest: number;
  /** CPU time of the process draining the access log pipe per request, µs (production only). */
  consumerCpuUsPerRequest?: number;
  /** autocannon's latency histogram (whole milliseconds). */
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export interface ProductionRound {
  nonStreaming: Record<ProductionTarget, Load>;
  streaming: Record<ProductionTarget, Load>;
  paced: Record<ProductionTarget, Paced>;
}

export interface ProductionParams {
  connections: number;
  warmup: number;
  duration: number;
  pacedDuration: number;
  rate: number;
  rounds: number;
}

export interface ProductionResults {
  date: string;
  params: ProductionParams;
  rounds: ProductionRound[];
  /** Lines the access log consumer read from the production gateway's pipe (≈ requests served). */
  accessLog: { lines: number; bytes: number; requests: number };
}

/** Closed-loop load with a new body per request (`body()`), the bench key attached unless `headers` says otherwise; `path`: the endpoint. */
export async function saturate(child: Child, body: () => string, connections: number, warmupS: number, durationS: number, headers: Record<string, string> = AUTH, path = CHAT_PATH): Promise<Load> {
  const options = {
    url: `${child.url}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    requests: [{ method: 'POST', setupRequest: (req: { body?: string }) => ({ ...req, body: body() }) }],
    connections,
    pipelining: 1,
    timeout: 10,
  };
  if (warmupS > 0) await autocannon({ ...options, duration: warmupS });
  const before = child.cpuMs();
  const consumerBefore = child.logConsumer?.cpuMs();
  const r = await autocannon({ ...options, duration: durationS });
  const cpu = child.cpuMs() - before;
  const ok = r['2xx'];
  return {
    rps: ok / r.duration,
    cpuUsPerRequest: (cpu * 1000) / ok,
    ...(consumerBefore !== undefined ? { consumerCpuUsPerRequest: ((child.logConsumer!.cpuMs() - consumerBefore) * 1000) / ok } : {}),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: ok,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

/** Refuses to measure a target that answers wrongly (errors are fast and would flatter it). */
async function sanityCheck(name: string, target: ProductionTarget, base: string): Promise<void> {
  const post = (body: string, headers: Record<string, string> = AUTH) =>
    fetch(`${base}${CHAT_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const plain = await post(chatBody());
  const json = (await plain.json()) as { choices?: { message?: { content?: string } }[] };
  const streamed = await post(streamBody());
  const text = await streamed.text();
  const events = text.split('\n\n').filter((e) => e.includes('chat.completion.chunk'));
  const usage = events.some((e) => e.includes('"choices":[]') && e.includes('"usage"'));
  const gateway = target === 'production' || target === 'productionNoLog';
  const problems = [
    plain.status !== 200 || !json.choices?.[0]?.message?.content ? `non-streaming answered ${plain.status}` : '',
    streamed.status !== 200 || events.length !== 21 || !usage || !text.endsWith('data: [DONE]\n\n') ? `streaming answered ${streamed.status} with ${events.length} chunks (usage chunk: ${usage})` : '',
  ];
  if (gateway) {
    if (plain.headers.get('x-switchyard-provider') !== 'up') problems.push('response did not come through the `up` provider');
    if (plain.headers.get('x-switchyard-cache') !== 'MISS') problems.push(`cache header ${plain.headers.get('x-switchyard-cache')}, not MISS`);
    if (!plain.headers.get('x-ratelimit-limit-requests')) problems.push('no rate-limit headers');
    const anonymous = await post(chatBody(), {});
    await anonymous.arrayBuffer();
    if (anonymous.status !== 401) problems.push(`a request without a key answered ${anonymous.status}, not 401`);
  }
  const found = problems.filter(Boolean);
  if (found.length) throw new Error(`${name}: ${found.join('; ')}`);
}

export async function benchProduction(runtime: Runtime, root: string, params: ProductionParams, log: (line: string) => void): Promise<ProductionResults> {
  const upstreamPort = await freePort();
  const upstream = await startChild('upstream', `http://127.0.0.1:${upstreamPort}`, ['--import', 'tsx', 'bench/upstream.ts', String(upstreamPort)], {}, root);
  const started: Child[] = [upstream];
  try {
    const rawPort = await freePort();
    started.push(await startChild('raw-proxy', `http://127.0.0.1:${rawPort}`, ['--import', 'tsx', 'bench/raw-proxy.ts', String(rawPort), String(upstreamPort)], {}, root));
    const production = await startProductionGateway(runtime, root, upstreamPort, true);
    started.push(production);
    started.push(await startProductionGateway(runtime, root, upstreamPort, false));
    const sut = Object.fromEntries(PRODUCTION_TARGETS.map((t, i) => [t, started[i]!])) as Record<ProductionTarget, Child>;
    for (const t of PRODUCTION_TARGETS) await sanityCheck(PRODUCTION_LABELS[t], t, sut[t].url);

    const { connections, warmup, duration, pacedDuration, rate, rounds } = params;
    const show = (r: Load) =>
      `${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req, p99 ${r.p99Ms} ms${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`;
    const all: ProductionRound[] = [];
    for (let round = 0; round < rounds; round++) {
      const first = round === 0;
      const result = { nonStreaming: {}, streaming: {}, paced: {} } as ProductionRound;
      for (const t of PRODUCTION_TARGETS) {
        result.nonStreaming[t] = await saturate(sut[t], chatBody, connections, first ? warmup : 0, duration);
        log(`f) round ${round + 1} non-streaming ${PRODUCTION_LABELS[t].padEnd(26)} ${show(result.nonStreaming[t])}`);
      }
      for (const t of PRODUCTION_TARGETS) {
        result.streaming[t] = await saturate(sut[t], streamBody, connections, first ? warmup : 0, duration);
        log(`f) round ${round + 1} streamed      ${PRODUCTION_LABELS[t].padEnd(26)} ${show(result.streaming[t])}`);
      }
      for (const t of PRODUCTION_TARGETS) {
        if (first && warmup > 0) await paced(sut[t].url, chatBody, rate, warmup, AUTH);
        const p = (result.paced[t] = await paced(sut[t].url, chatBody, rate, pacedDuration, AUTH));
        log(`f) round ${round + 1} ${rate} req/s    ${PRODUCTION_LABELS[t].padEnd(26)} p50 ${p.p50Ms.toFixed(3)} ms, p99 ${p.p99Ms.toFixed(3)} ms${p.failed ? `, ${p.failed} failed` : ''}`);
      }
      all.push(result);
    }
    const served = await requestsServed(production);
    await production.stop();
    const totals = await production.logConsumer!.totals;
    return { date: new Date().toISOString(), params, rounds: all, accessLog: { ...totals, requests: served } };
  } finally {
    await Promise.all(started.map((c) => c.stop()));
  }
}

/** Requests the gateway answered, from its own metrics (to compare with the access log's lines). */
async function requestsServed(child: Child): Promise<number> {
  const text = await (await fetch(`${child.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('switchyard_requests_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * Starts the gateway on bench/configs/production.yaml (or its `access_log: false` twin). `cwd`:
 * the working directory (default `root`; the perf profiler runs it elsewhere, since V8 writes its
 * jitdump there). Always from dist/ with `cwd` elsewhere.
 */
export async function startProductionGateway(runtime: Runtime, root: string, upstreamPort: number, accessLog: boolean, nodeFlags: string[] = [], cwd = root): Promise<Child> {
  const port = await freePort();
  let config = join(root, 'bench', 'configs', 'production.yaml');
  if (!accessLog) {
    const text = readFileSync(config, 'utf8');
    if (!text.includes('access_log: true')) throw new Error('bench/configs/production.yaml no longer says `access_log: true`');
    config = join(mkdtempSync(join(tmpdir(), 'switchyard-bench-')), 'production-no-access-log.yaml');
    writeFileSync(config, text.replace('access_log: true', 'access_log: false'));
  }
  const args = cwd === root ? gatewayArgs(runtime, config, `127.0.0.1:${port}`, nodeFlags) : [...nodeFlags, join(root, gatewayEntry('dist', root)), 'start', '--config', config, '--listen', `127.0.0.1:${port}`];
  return startChild(
    accessLog ? 'production' : 'production-no-access-log',
    `http://127.0.0.1:${port}`,
    args,
    { BENCH_UPSTREAM_PORT: String(upstreamPort), BENCH_KEY },
    cwd,
    { logPipe: accessLog },
  );
}

// ---------------------------------------------------------------------------------------------
// Report

const num = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(3)} ms` : 'n/a');
const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : 'n/a');
const times = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a');

/** One metric across rounds: the median and the best round (`better` says which way is better). */
function across(values: number[], better: 'high' | 'low'): { median: number; best: number } {
  return { median: median(values), best: better === 'high' ? Math.max(...values) : Math.min(...values) };
}

type Spread = Record<ProductionTarget, { median: number; best: number }>;
type MetricName = 'nsRps' | 'nsCpu' | 'nsP50' | 'nsP99' | 'sRps' | 'sCpu' | 'sP50' | 'sP99' | 'pP50' | 'pP99' | 'pAddedP99' | 'consumerCpu';

export interface ProductionSummary {
  metric: Record<MetricName, Spread>;
  checks: { name: string; threshold: string; median: number; best: number; pass: (v: number) => boolean; format: (v: number) => string }[];
  /** Access log on minus off, CPU µs per request: the median of the per-round differences. */
  accessLogCost: { nonStreaming: number; streaming: number; nonStreamingRounds: number[]; streamingRounds: number[] };
}

export function summariseProduction(r: ProductionResults): ProductionSummary {
  const pick = (f: (round: ProductionRound, t: ProductionTarget) => number, better: 'high' | 'low') =>
    Object.fromEntries(PRODUCTION_TARGETS.map((t) => [t, across(r.rounds.map((round) => f(round, t)), better)])) as Spread;
  const metric: Record<MetricName, Spread> = {
    nsRps: pick((x, t) => x.nonStreaming[t].rps, 'high'),
    nsCpu: pick((x, t) => x.nonStreaming[t].cpuUsPerRequest, 'low'),
    nsP50: pick((x, t) => x.nonStreaming[t].p50Ms, 'low'),
    nsP99: pick((x, t) => x.nonStreaming[t].p99Ms, 'low'),
    sRps: pick((x, t) => x.streaming[t].rps, 'high'),
    sCpu: pick((x, t) => x.streaming[t].cpuUsPerRequest, 'low'),
    sP50: pick((x, t) => x.streaming[t].p50Ms, 'low'),
    sP99: pick((x, t) => x.streaming[t].p99Ms, 'low'),
    pP50: pick((x, t) => x.paced[t].p50Ms, 'low'),
    pP99: pick((x, t) => x.paced[t].p99Ms, 'low'),
    pAddedP99: {} as Spread,
    consumerCpu: pick((x, t) => x.nonStreaming[t].consumerCpuUsPerRequest ?? NaN, 'low'),
  };
  // Added latency: the target's median (best) p99 minus direct's median (best) p99. A difference per
  // round would be the difference of two noisy numbers, often negative on a busy machine.
  for (const t of PRODUCTION_TARGETS) {
    metric.pAddedP99[t] = { median: metric.pP99[t].median - metric.pP99.direct.median, best: metric.pP99[t].best - metric.pP99.direct.best };
  }
  const ratio = (m: MetricName, a: ProductionTarget, b: ProductionTarget) => ({
    median: metric[m][a].median / metric[m][b].median,
    best: metric[m][a].best / metric[m][b].best,
  });
  const checks = [
    { name: 'non-streaming throughput, production / raw proxy', threshold: '≥ 60%', ...ratio('nsRps', 'production', 'raw'), pass: (v: number) => v >= 0.6, format: pct },
    { name: 'streamed throughput, production / raw proxy', threshold: '≥ 50%', ...ratio('sRps', 'production', 'raw'), pass: (v: number) => v >= 0.5, format: pct },
    { name: 'CPU per request (non-streaming), production / raw proxy', threshold: '≤ 2×', ...ratio('nsCpu', 'production', 'raw'), pass: (v: number) => v <= 2, format: times },
    { name: 'CPU per request (streamed), production / raw proxy', threshold: '≤ 2×', ...ratio('sCpu', 'production', 'raw'), pass: (v: number) => v <= 2, format: times },
    { name: `added p99 over direct @ ${r.params.rate} req/s, production / raw proxy`, threshold: '≤ 2×', ...ratio('pAddedP99', 'production', 'raw'), pass: (v: number) => v <= 2, format: times },
  ];
  const diff = (s: 'nonStreaming' | 'streaming') => r.rounds.map((x) => x[s].production.cpuUsPerRequest - x[s].productionNoLog.cpuUsPerRequest);
  const nsDiff = diff('nonStreaming');
  const sDiff = diff('streaming');
  return { metric, checks, accessLogCost: { nonStreaming: median(nsDiff), streaming: median(sDiff), nonStreamingRounds: nsDiff, streamingRounds: sDiff } };
}

export function renderProductionMarkdown(r: ProductionResults): string {
  const s = summariseProduction(r);
  const p = r.params;
  const lines: string[] = [
    `## f) production pipeline`,
    '',
    `${r.date} · ${p.rounds} rounds; in each, every target in turn: ${p.connections} connections × ${p.duration} s non-streaming, the same streamed (20 chunks + usage chunk), ` +
      `then open-loop ${p.rate} req/s × ${p.pacedDuration} s (latency to the last byte); ${p.warmup} s warm-up before each target's first load. ` +
      `Every request has a new prompt and \`temperature: 0\`: the cache computes the key, misses and stores. ` +
      `Pipeline: bench/configs/production.yaml (auth static key, ip-allowlist, rate-limit memory, cache, transform, route); ` +
      `the access log goes to a pipe drained by another process. CPU is the system under test's own (for direct, the mock upstream's).`,
    '',
    'Each cell: median over rounds / best round.',
    '',
    `| metric | ${PRODUCTION_TARGETS.map((t) => PRODUCTION_LABELS[t]).join(' | ')} |`,
    `| --- | ${PRODUCTION_TARGETS.map(() => '---:').join(' | ')} |`,
  ];
  const row = (name: string, m: Spread, fmt: (v: number) => string) =>
    lines.push(`| ${name} | ${PRODUCTION_TARGETS.map((t) => (Number.isFinite(m[t].median) ? `${fmt(m[t].median)} / ${fmt(m[t].best)}` : '')).join(' | ')} |`);
  const m = s.metric;
  row('non-streaming req/s', m.nsRps, num);
  row('non-streaming CPU µs/request', m.nsCpu, num);
  row('non-streaming p50 ms (autocannon: whole ms)', m.nsP50, num);
  row('non-streaming p99 ms', m.nsP99, num);
  row('streamed req/s', m.sRps, num);
  row('streamed CPU µs/request', m.sCpu, num);
  row('streamed p50 ms', m.sP50, num);
  row('streamed p99 ms', m.sP99, num);
  row(`p50 @ ${p.rate} req/s`, m.pP50, ms);
  row(`p99 @ ${p.rate} req/s`, m.pP99, ms);
  row(`added p99 over direct @ ${p.rate} req/s`, m.pAddedP99, ms);
  row('access log consumer (wc) CPU µs/request', m.consumerCpu, (v) => v.toFixed(1));
  lines.push('', '| target | threshold | from medians | result | from best rounds | result |', '| --- | --- | ---: | --- | ---: | --- |');
  for (const c of s.checks) lines.push(`| ${c.name} | ${c.threshold} | ${c.format(c.median)} | ${c.pass(c.median) ? 'PASS' : '**FAIL**'} | ${c.format(c.best)} | ${c.pass(c.best) ? 'PASS' : '**FAIL**'} |`);
  const rounds = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  const a = s.accessLogCost;
  lines.push(
    '',
    `Access log (written to the pipe) costs ${a.nonStreaming.toFixed(0)} µs CPU per non-streaming request and ${a.streaming.toFixed(0)} µs per streamed one ` +
      `(production minus production without access log, median of the per-round differences; rounds: ${rounds(a.nonStreamingRounds)} and ${rounds(a.streamingRounds)}). ` +
      `The consumer read ${r.accessLog.lines.toLocaleString('en-US')} lines (${(r.accessLog.bytes / Math.max(1, r.accessLog.lines)).toFixed(0)} bytes each) for ${r.accessLog.requests.toLocaleString('en-US')} requests counted by the gateway's metrics.`,
  );
  const problems = r.rounds.flatMap((x, i) =>
    PRODUCTION_TARGETS.flatMap((t) => {
      const out: string[] = [];
      for (const [label, l] of [['non-streaming', x.nonStreaming[t]], ['streamed', x.streaming[t]]] as const) if (l.non2xx || l.errors) out.push(`round ${i + 1} ${label} ${PRODUCTION_LABELS[t]}: ${l.non2xx} non-2xx, ${l.errors} errors`);
      if (x.paced[t].failed) out.push(`round ${i + 1} paced ${PRODUCTION_LABELS[t]}: ${x.paced[t].failed} failed`);
      return out;
    }),
  );
  if (problems.length) lines.push('', `Failures during the run (these make the numbers suspect): ${problems.join('; ')}.`);
  lines.push('');
  return lines.join('\n');
}
