/**
 * What resilient routing costs (`npm run bench -- --only=routing`, section g): a model with three
 * weighted targets, one of them a fallback chain (bench/configs/routing-weighted.yaml), against the
 * same model with one target (routing-single.yaml), both healthy, on the same mock upstream, in the
 * same run — targets alternate within each round and the least disturbed round counts. Target: the
 * weighted model keeps ≥ 95% of the single target's throughput. CPU is the gateway process's own.
 */
import { join } from 'node:path';
import { freePort, startChild, gatewayArgs, type Child, type Runtime } from './procs.js';
import { load, SAME_BODY, type PluginLoad } from './plugins.js';
import { CHAT_PATH } from './load.js';

export interface RoutingBenchResults {
  date: string;
  params: { connections: number; warmup: number; duration: number; rounds: number };
  single: PluginLoad;
  weighted: PluginLoad;
}

function best(all: PluginLoad[]): PluginLoad {
  const top = all.reduce((a, b) => (b.rps > a.rps ? b : a));
  return { ...top, cpuUsPerRequest: Math.min(...all.map((r) => r.cpuUsPerRequest)), non2xx: all.reduce((n, r) => n + r.non2xx, 0), errors: all.reduce((n, r) => n + r.errors, 0) };
}

export async function benchRouting(runtime: Runtime, root: string, upstreamPort: number, params: RoutingBenchResults['params'], log: (line: string) => void): Promise<RoutingBenchResults> {
  const start = async (config: string) => {
    const port = await freePort();
    return startChild(config, `http://127.0.0.1:${port}`, gatewayArgs(runtime, join('bench', 'configs', config), `127.0.0.1:${port}`), { BENCH_UPSTREAM_PORT: String(upstreamPort) }, root);
  };
  const single = await start('routing-single.yaml');
  const weighted = await start('routing-weighted.yaml');
  try {
    const pairs: [string, Child][] = [
      ['single target', single],
      ['3 weighted + fallback chain', weighted],
    ];
    for (const [name, child] of pairs) {
      const res = await fetch(`${child.url}${CHAT_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SAME_BODY });
      if (res.status !== 200) throw new Error(`${name}: sanity request answered ${res.status}: ${await res.text()}`);
    }
    const all = pairs.map(() => [] as PluginLoad[]);
    for (let round = 0; round < params.rounds; round++) {
      // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const [name, child] = pairs[i]!;
        const r = await load(child, SAME_BODY, false, params.connections, round < 2 ? params.warmup : 0, params.duration);
        all[i]!.push(r);
        log(`g) round ${round + 1} ${name.padEnd(28)} ${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`);
      }
    }
    return { date: new Date().toISOString(), params, single: best(all[0]!), weighted: best(all[1]!) };
  } finally {
    await Promise.all([single.stop(), weighted.stop()]);
  }
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const num = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');

export function renderRoutingMarkdown(r: RoutingBenchResults): string {
  const throughput = r.weighted.rps / r.single.rps;
  const cpu = r.weighted.cpuUsPerRequest / r.single.cpuUsPerRequest;
  const failures = [r.single, r.weighted].some((x) => x.non2xx || x.errors);
  return [
    '## g) routing: 3 weighted targets with a fallback chain vs. a single target',
    '',
    `${r.date} · ${r.params.connections} connections, ${r.params.warmup} s warm-up, best of ${r.params.rounds} × ${r.params.duration} s per target (targets alternate within a round). CPU is the gateway process's own.`,
    '',
    '| measure | single target | 3 weighted + chain | ratio | target | result |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    `| req/s | ${num(r.single.rps)} | ${num(r.weighted.rps)} | ${pct(throughput)} | ≥ 95% | ${throughput >= 0.95 ? 'PASS' : '**FAIL**'} |`,
    `| CPU µs/req | ${num(r.single.cpuUsPerRequest)} | ${num(r.weighted.cpuUsPerRequest)} | ${pct(cpu)} |  |  |`,
    ...(failures ? ['', 'Some requests failed during the run; the numbers are suspect.'] : []),
    '',
  ].join('\n');
}
