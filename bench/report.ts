/**
 * Turns one benchmark run into the markdown report (absolute numbers, ratios, the performance
 * targets with PASS/FAIL) and the JSON record kept under bench/results/.
 */
import { percentile, type ChunkDelays, type Paced, type Saturation } from './load.js';

export const TARGETS = ['direct', 'raw', 'gateway', 'gatewayLog'] as const;
export type TargetName = (typeof TARGETS)[number];
export const LABELS: Record<TargetName, string> = { direct: 'direct', raw: 'raw proxy', gateway: 'gateway', gatewayLog: 'gateway + access log' };

export interface ChunkSummary {
  n: number;
  failed: number;
  firstP50Ms: number;
  firstP99Ms: number;
  secondP50Ms: number;
  secondP99Ms: number;
}

export function summariseChunks(d: ChunkDelays): ChunkSummary {
  return {
    n: d.first.length,
    failed: d.failed,
    firstP50Ms: percentile(d.first, 50),
    firstP99Ms: percentile(d.first, 99),
    secondP50Ms: percentile(d.second, 50),
    secondP99Ms: percentile(d.second, 99),
  };
}

export interface BenchResults {
  meta: {
    date: string;
    quick: boolean;
    node: string;
    cpu: string;
    cores: number;
    loadavgBefore: number[];
    loadavgAfter: number[];
    gatewayRuntime: string;
    commit: string;
    params: Record<string, number>;
  };
  nonStreaming: Record<TargetName, Saturation>;
  streaming: Record<TargetName, Saturation>;
  paced: Record<TargetName, Paced>;
  chunks: Record<TargetName, ChunkSummary>;
}

interface Check {
  name: string;
  threshold: string;
  value(r: BenchResults, gw: 'gateway' | 'gatewayLog'): number;
  pass(v: number): boolean;
  format(v: number): string;
}

const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(3)} ms` : 'n/a');
const num = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');

/** The performance targets. */
export const CHECKS: Check[] = [
  { name: 'non-streaming throughput vs raw proxy', threshold: '≥ 60%', value: (r, g) => r.nonStreaming[g].rps / r.nonStreaming.raw.rps, pass: (v) => v >= 0.6, format: pct },
  { name: 'streaming throughput vs raw proxy', threshold: '≥ 50%', value: (r, g) => r.streaming[g].rps / r.streaming.raw.rps, pass: (v) => v >= 0.5, format: pct },
  { name: 'added p50 latency over direct @ fixed rate', threshold: '≤ 0.3 ms', value: (r, g) => r.paced[g].p50Ms - r.paced.direct.p50Ms, pass: (v) => v <= 0.3, format: ms },
  { name: 'added p99 latency over direct @ fixed rate', threshold: '≤ 1.5 ms', value: (r, g) => r.paced[g].p99Ms - r.paced.direct.p99Ms, pass: (v) => v <= 1.5, format: ms },
  { name: 'first chunk forwarded (upstream write → client, median)', threshold: '≤ 1 ms', value: (r, g) => r.chunks[g].firstP50Ms, pass: (v) => v <= 1, format: ms },
];

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

export function renderMarkdown(r: BenchResults): string {
  const m = r.meta;
  const p = m.params;
  const lines: string[] = [];
  lines.push(`# Switchyard benchmark${m.quick ? ' (quick smoke run — numbers are indicative only)' : ''}`);
  lines.push('');
  lines.push(`${m.date} · Node ${m.node} · ${m.cores} × ${m.cpu} · gateway from \`${m.gatewayRuntime}\` · commit ${m.commit}`);
  lines.push(`Load average before/after: ${m.loadavgBefore.map((l) => l.toFixed(2)).join(' ')} / ${m.loadavgAfter.map((l) => l.toFixed(2)).join(' ')} (other work on the machine adds noise).`);
  lines.push('');
  lines.push(
    `a) non-streaming chat, ${p['connections']} connections, ${p['warmup']} s warm-up, then ${p['rounds']} × ${p['duration']} s · b) the same with \`stream: true\`, 20 chunks per response · ` +
      `c) open-loop ${p['rate']} req/s, ${p['warmup']} s warm-up, then ${p['rounds']} × ${p['pacedDuration']} s, latency to the last byte · ` +
      `d) ${p['streams']} two-chunk streams (50 ms between chunks), ${p['streamConcurrency']} at a time, delay from the upstream writing a chunk to the client receiving it.`,
  );
  if (p['rounds']! > 1) lines.push('', `a)–c) show the least disturbed of ${p['rounds']} rounds (targets alternate within a round); the JSON keeps only these.`);
  lines.push('');
  const cols = [...TARGETS.map((t) => LABELS[t]), 'gateway/raw', 'gateway/direct', 'gw+log/raw'];
  lines.push(row(['metric', ...cols]));
  lines.push(row(['---', ...cols.map(() => '---:')]));
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : 'n/a');
  const add = (name: string, pick: (t: TargetName) => number, fmt: (v: number) => string, ratios = true) => {
    const v = Object.fromEntries(TARGETS.map((t) => [t, pick(t)])) as Record<TargetName, number>;
    const rs = ratios ? [ratio(v.gateway, v.raw), ratio(v.gateway, v.direct), ratio(v.gatewayLog, v.raw)] : ['', '', ''];
    lines.push(row([name, ...TARGETS.map((t) => fmt(v[t])), ...rs]));
  };
  add('a) non-streaming req/s', (t) => r.nonStreaming[t].rps, num);
  add('a) CPU µs per request (system under test)', (t) => r.nonStreaming[t].cpuUsPerRequest, num);
  add('b) streaming req/s (20 chunks)', (t) => r.streaming[t].rps, num);
  add('b) CPU µs per request (system under test)', (t) => r.streaming[t].cpuUsPerRequest, num);
  add(`c) p50 latency @ ${p['rate']} req/s`, (t) => r.paced[t].p50Ms, ms);
  add(`c) p99 latency @ ${p['rate']} req/s`, (t) => r.paced[t].p99Ms, ms);
  add('c) added p50 over direct', (t) => r.paced[t].p50Ms - r.paced.direct.p50Ms, ms, false);
  add('c) added p99 over direct', (t) => r.paced[t].p99Ms - r.paced.direct.p99Ms, ms, false);
  add('d) chunk 1 delay, median', (t) => r.chunks[t].firstP50Ms, ms);
  add('d) chunk 1 delay, p99', (t) => r.chunks[t].firstP99Ms, ms);
  add('d) chunk 2 delay, median', (t) => r.chunks[t].secondP50Ms, ms);
  add('d) chunk 2 delay, p99', (t) => r.chunks[t].secondP99Ms, ms);
  lines.push('');
  lines.push(row(['target', 'threshold', 'gateway', 'result', 'gateway + access log', 'result']));
  lines.push(row(['---', '---', '---:', '---', '---:', '---']));
  for (const c of CHECKS) {
    const [g, gl] = [c.value(r, 'gateway'), c.value(r, 'gatewayLog')];
    lines.push(row([c.name, c.threshold, c.format(g), c.pass(g) ? 'PASS' : '**FAIL**', c.format(gl), c.pass(gl) ? 'PASS' : '**FAIL**']));
  }
  const cpuRatio = (s: 'nonStreaming' | 'streaming', g: 'gateway' | 'gatewayLog') => pct(r[s].raw.cpuUsPerRequest / r[s][g].cpuUsPerRequest);
  lines.push(
    '',
    `CPU per request depends less than throughput on what else the machine runs: were both CPU-bound, the gateway would reach ` +
      `${cpuRatio('nonStreaming', 'gateway')} of the raw proxy's non-streaming throughput and ${cpuRatio('streaming', 'gateway')} of its streaming throughput ` +
      `(with access log: ${cpuRatio('nonStreaming', 'gatewayLog')} and ${cpuRatio('streaming', 'gatewayLog')}). For \`direct\` the CPU is the mock upstream's own.`,
  );
  const problems = TARGETS.flatMap((t) => {
    const out: string[] = [];
    for (const [label, s] of [['a', r.nonStreaming[t]], ['b', r.streaming[t]]] as const) {
      if (s.non2xx || s.errors) out.push(`${label}) ${LABELS[t]}: ${s.non2xx} non-2xx, ${s.errors} errors`);
    }
    if (r.paced[t].failed) out.push(`c) ${LABELS[t]}: ${r.paced[t].failed} failed requests`);
    if (r.chunks[t].failed) out.push(`d) ${LABELS[t]}: ${r.chunks[t].failed} failed streams`);
    return out;
  });
  if (problems.length) lines.push('', `Failures during the run (these make the numbers suspect): ${problems.join('; ')}.`);
  return `${lines.join('\n')}\n`;
}

/** True when every target passes for the gateway without access log. */
export function allPass(r: BenchResults): boolean {
  return CHECKS.every((c) => c.pass(c.value(r, 'gateway')));
}
