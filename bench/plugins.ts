/**
 * What the security and traffic plugins cost (`npm run bench`, section e; `--only=plugins` runs it
 * alone). Each system under test runs in its own process, against the same mock upstream, with
 * the access log off; targets alternate within each round and the least disturbed round counts.
 *
 * - e1) `auth` (static key, from the in-memory key cache) + `ip-allowlist` vs. the same pipeline
 *       without them: CPU per request of the gateway process — target ≤ +5%.
 * - e2) `rate-limit` (memory store) + `cache` on the miss path (every request body unique, so every
 *       lookup misses and every answer is stored) vs. the pipeline without them: throughput — target ≥ 90%.
 * - e3) a cache hit (one body, answered from the cache) vs. the raw Node proxy in front of the
 *       upstream: throughput — target ≥ 80%.
 */
import autocannon from 'autocannon';
import { join } from 'node:path';
import { freePort, startChild, gatewayArgs, type Child, type Runtime } from './procs.js';
import { CHAT_PATH } from './load.js';

/** The dev key style credential the bench configs accept (static key in bench/configs/plugins-*.yaml). */
export const BENCH_KEY = 'sk-bench-0123456789abcdef0123456789abcdef';
/** Marks a body whose every request must differ (each gets its own counter value). */
export const UNIQUE_BODY = 'unique';
export const SAME_BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] });

export interface PluginLoad {
  rps: number;
  cpuUsPerRequest: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export interface PluginBenchResults {
  date: string;
  params: { connections: number; warmup: number; duration: number; rounds: number };
  e1: { base: PluginLoad; auth: PluginLoad };
  e2: { base: PluginLoad; limitsCache: PluginLoad };
  e3: { raw: PluginLoad; cacheHit: PluginLoad };
}

let sequence = 0;

function uniqueBody(): string {
  return JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Say hello to request ${++sequence}.` }] });
}

/** One closed-loop load against `child`: `unique` sends a different body per request (`body` is then ignored). */
export async function load(child: Child, body: string, unique: boolean, connections: number, warmupS: number, durationS: number): Promise<PluginLoad> {
  const options = {
    url: `${child.url}${CHAT_PATH}`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
    ...(unique ? { requests: [{ method: 'POST', setupRequest: (req: { body?: string }) => ({ ...req, body: uniqueBody() }) }] } : { body }),
    connections,
    pipelining: 1,
    timeout: 10,
  };
  if (warmupS > 0) await autocannon({ ...options, duration: warmupS });
  const before = child.cpuMs();
  const r = await autocannon({ ...options, duration: durationS });
  const cpu = child.cpuMs() - before;
  return { rps: r['2xx'] / r.duration, cpuUsPerRequest: (cpu * 1000) / r['2xx'], requests: r['2xx'], non2xx: r.non2xx, errors: r.errors };
}

function best(all: PluginLoad[]): PluginLoad {
  const top = all.reduce((a, b) => (b.rps > a.rps ? b : a));
  return { ...top, cpuUsPerRequest: Math.min(...all.map((r) => r.cpuUsPerRequest)), non2xx: all.reduce((n, r) => n + r.non2xx, 0), errors: all.reduce((n, r) => n + r.errors, 0) };
}

export async function benchPlugins(
  runtime: Runtime,
  root: string,
  upstreamPort: number,
  params: PluginBenchResults['params'],
  log: (line: string) => void,
): Promise<PluginBenchResults> {
  const start = async (config: string) => {
    const port = await freePort();
    const args = gatewayArgs(runtime, join('bench', 'configs', config), `127.0.0.1:${port}`);
    return startChild(config, `http://127.0.0.1:${port}`, args, { BENCH_UPSTREAM_PORT: String(upstreamPort), BENCH_KEY }, root);
  };
  const rawPort = await freePort();
  const raw = await startChild('raw-proxy', `http://127.0.0.1:${rawPort}`, ['--import', 'tsx', 'bench/raw-proxy.ts', String(rawPort), String(upstreamPort)], {}, root);
  const base = await start('gateway.yaml');
  const auth = await start('plugins-auth.yaml');
  const limitsCache = await start('plugins-limits-cache.yaml');
  try {
    for (const [name, child] of [['base', base], ['auth', auth], ['limits+cache', limitsCache]] as const) {
      const res = await fetch(`${child.url}${CHAT_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` }, body: SAME_BODY });
      if (res.status !== 200) throw new Error(`${name}: sanity request answered ${res.status}: ${await res.text()}`);
    }
    const { connections, warmup, duration, rounds } = params;
    const runs = async (label: string, pairs: [string, Child, string, boolean][]) => {
      const all = pairs.map(() => [] as PluginLoad[]);
      for (let round = 0; round < rounds; round++) {
        for (const [i, [name, child, body, unique]] of pairs.entries()) {
          const r = await load(child, body, unique, connections, round === 0 ? warmup : 0, duration);
          all[i]!.push(r);
          log(`${label} round ${round + 1} ${name.padEnd(24)} ${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`);
        }
      }
      return all.map(best);
    };
    const [e1base, e1auth] = await runs('e1)', [['without auth', base, SAME_BODY, false], ['auth + ip-allowlist', auth, SAME_BODY, false]]);
    const [e2base, e2lc] = await runs('e2)', [['without limits/cache', base, UNIQUE_BODY, true], ['rate-limit + cache miss', limitsCache, UNIQUE_BODY, true]]);
    const [e3raw, e3hit] = await runs('e3)', [['raw proxy', raw, SAME_BODY, false], ['cache hit', limitsCache, SAME_BODY, false]]);
    return { date: new Date().toISOString(), params, e1: { base: e1base!, auth: e1auth! }, e2: { base: e2base!, limitsCache: e2lc! }, e3: { raw: e3raw!, cacheHit: e3hit! } };
  } finally {
    await Promise.all([raw.stop(), base.stop(), auth.stop(), limitsCache.stop()]);
  }
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const num = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');

export function renderPluginMarkdown(r: PluginBenchResults): string {
  const e1 = r.e1.auth.cpuUsPerRequest / r.e1.base.cpuUsPerRequest - 1;
  const e2 = r.e2.limitsCache.rps / r.e2.base.rps;
  const e3 = r.e3.cacheHit.rps / r.e3.raw.rps;
  const failures = [r.e1.base, r.e1.auth, r.e2.base, r.e2.limitsCache, r.e3.raw, r.e3.cacheHit].some((x) => x.non2xx || x.errors);
  return [
    `## e) plugin overhead`,
    '',
    `${r.date} · ${r.params.connections} connections, ${r.params.warmup} s warm-up, best of ${r.params.rounds} × ${r.params.duration} s per target (targets alternate within a round). CPU is the gateway process's own.`,
    '',
    '| scenario | without | with | ratio | target | result |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    `| e1) CPU µs/req: auth + ip-allowlist (static key, cached) | ${num(r.e1.base.cpuUsPerRequest)} | ${num(r.e1.auth.cpuUsPerRequest)} | +${pct(e1)} | ≤ +5% | ${e1 <= 0.05 ? 'PASS' : '**FAIL**'} |`,
    `| e1) req/s | ${num(r.e1.base.rps)} | ${num(r.e1.auth.rps)} | ${pct(r.e1.auth.rps / r.e1.base.rps)} |  |  |`,
    `| e2) req/s: rate-limit (memory) + cache, every request a miss | ${num(r.e2.base.rps)} | ${num(r.e2.limitsCache.rps)} | ${pct(e2)} | ≥ 90% | ${e2 >= 0.9 ? 'PASS' : '**FAIL**'} |`,
    `| e2) CPU µs/req | ${num(r.e2.base.cpuUsPerRequest)} | ${num(r.e2.limitsCache.cpuUsPerRequest)} | ${pct(r.e2.limitsCache.cpuUsPerRequest / r.e2.base.cpuUsPerRequest)} |  |  |`,
    `| e3) req/s: cache hit vs. raw Node proxy | ${num(r.e3.raw.rps)} (raw) | ${num(r.e3.cacheHit.rps)} | ${pct(e3)} | ≥ 80% | ${e3 >= 0.8 ? 'PASS' : '**FAIL**'} |`,
    ...(failures ? ['', 'Some requests failed during the run; the numbers are suspect.'] : []),
    '',
  ].join('\n');
}
