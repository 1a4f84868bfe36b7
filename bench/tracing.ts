/**
 * What tracing costs (`npm run bench -- --only=tracing`): the bench pipeline (bench/configs/gateway.yaml:
 * `transform` + `route` to the mock upstream) with no `tracing:` block, with `tracing: { enabled: false }`,
 * and with tracing on (every request sampled, spans batched to an OTLP/HTTP sink on loopback that
 * reads and drops them). Each gateway runs in its own process; the targets alternate within each
 * round and the least disturbed round counts. Reported per load (JSON answers, 20-chunk streams):
 * req/s and the gateway process's CPU µs per request, and each as a ratio to no config.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, startChild, gatewayArgs, type Child, type Runtime } from './procs.js';
import { CHAT_BODY, STREAM_BODY } from './load.js';
import { load, type PluginLoad } from './plugins.js';

const TARGETS = { none: 'gateway.yaml', off: 'tracing-off.yaml', on: 'tracing-on.yaml' } as const;
type Target = keyof typeof TARGETS;
const LOADS = { json: CHAT_BODY, stream: STREAM_BODY } as const;
type LoadName = keyof typeof LOADS;

export interface TracingBenchResults {
  date: string;
  params: { connections: number; warmup: number; duration: number; rounds: number };
  /** Best round per load and target. */
  loads: Record<LoadName, Record<Target, PluginLoad>>;
  /** Spans the sink received while tracing was on. */
  spansExported: number;
}

/** An OTLP/HTTP sink: counts the spans of each JSON export, answers 200. */
async function startSink(): Promise<{ server: Server; port: number; spans: () => number }> {
  let spans = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      spans += (Buffer.concat(chunks).toString('utf8').match(/"spanId"/g) ?? []).length;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port, spans: () => spans };
}

function best(all: PluginLoad[]): PluginLoad {
  const top = all.reduce((a, b) => (b.rps > a.rps ? b : a));
  return { ...top, cpuUsPerRequest: Math.min(...all.map((r) => r.cpuUsPerRequest)), non2xx: all.reduce((n, r) => n + r.non2xx, 0), errors: all.reduce((n, r) => n + r.errors, 0) };
}

export async function benchTracing(runtime: Runtime, root: string, upstreamPort: number, params: TracingBenchResults['params'], log: (line: string) => void): Promise<TracingBenchResults> {
  const sink = await startSink();
  const children: Partial<Record<Target, Child>> = {};
  try {
    for (const [target, config] of Object.entries(TARGETS) as [Target, string][]) {
      const port = await freePort();
      const args = gatewayArgs(runtime, join('bench', 'configs', config), `127.0.0.1:${port}`);
      children[target] = await startChild(config, `http://127.0.0.1:${port}`, args, { BENCH_UPSTREAM_PORT: String(upstreamPort), BENCH_OTLP_PORT: String(sink.port) }, root);
    }
    const runs: Record<LoadName, Record<Target, PluginLoad[]>> = { json: { none: [], off: [], on: [] }, stream: { none: [], off: [], on: [] } };
    for (let round = 0; round < params.rounds; round++) {
      for (const [name, body] of Object.entries(LOADS) as [LoadName, string][]) {
        for (const target of Object.keys(TARGETS) as Target[]) {
          const r = await load(children[target]!, body, false, params.connections, round === 0 ? params.warmup : 0, params.duration);
          log(`tracing ${name} ${target} round ${round + 1}: ${r.rps.toFixed(0)} req/s, ${r.cpuUsPerRequest.toFixed(0)} µs CPU/request${r.non2xx || r.errors ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : ''}`);
          runs[name][target].push(r);
        }
      }
    }
    const pick = (name: LoadName) => ({ none: best(runs[name].none), off: best(runs[name].off), on: best(runs[name].on) });
    // The spans of the last requests leave with the next batch or at shutdown.
    await children.on?.stop();
    return { date: new Date().toISOString(), params, loads: { json: pick('json'), stream: pick('stream') }, spansExported: sink.spans() };
  } finally {
    await Promise.all(Object.values(children).map((c) => c.stop()));
    await new Promise<void>((r) => sink.server.close(() => r()));
  }
}

export function renderTracingMarkdown(r: TracingBenchResults): string {
  const rows: string[] = [];
  for (const [name, label] of [['json', 'JSON answer'], ['stream', '20-chunk stream']] as [LoadName, string][]) {
    const base = r.loads[name].none;
    for (const [target, what] of [['none', 'no `tracing:` block'], ['off', '`tracing: { enabled: false }`'], ['on', 'tracing on, every request sampled']] as [Target, string][]) {
      const x = r.loads[name][target];
      rows.push(`| ${label} | ${what} | ${x.rps.toFixed(0)} | ${(x.rps / base.rps).toFixed(3)} | ${x.cpuUsPerRequest.toFixed(0)} | ${(x.cpuUsPerRequest / base.cpuUsPerRequest).toFixed(3)} | ${x.non2xx + x.errors} |`);
    }
  }
  return `## Tracing overhead

${r.params.connections} connections, ${r.params.rounds} round(s) of ${r.params.duration} s per target and load (best round counts); the OTLP sink received ${r.spansExported} spans.

| load | gateway | req/s | × no config | CPU µs / request | × no config | failed |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}
`;
}
