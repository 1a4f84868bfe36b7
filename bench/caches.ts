/**
 * Issue 10, item 10: do the hand-written LRU caches earn their place against the `lru-cache`
 * package? (`npm run bench -- --only=caches`; writes bench/results/caches-latest.md.)
 *
 * 1. Microbenchmark (bench/caches-worker.ts, one process per run): the memory store as `cache`
 *    uses it (core/stores/memory-kv.ts over value-table.ts) and auth's SQL key cache
 *    (plugins/auth/key-cache.ts `ExpiringLru`, since replaced by a wrapper over lru-cache), each against its lru-cache twin
 *    (bench/lru-stores.ts), at 10k and 120k entries: ns per get hit, get miss, set with eviction,
 *    read of an expired entry; heap per entry. Runs alternate between implementations; each cell is
 *    the median over runs with the range (min–max) beside it.
 * 2. Inside the gateway (bench/configs/caches.yaml: auth with an SQL key, rate-limit, cache), as it
 *    is and with both caches swapped for lru-cache by module hooks (bench/lru-swap/), no change to
 *    core/ or plugins/: req/s and CPU per request on the cache miss path (unique bodies: every
 *    request looks up, misses, stores and, once the store is full, evicts) and on the hit path.
 *
 * Verdict rule: the hand-written structure stays only where it wins by more than the run-to-run
 * noise — its slowest run faster than lru-cache's fastest (the ranges do not overlap).
 */
import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OPERATIONS, type Operation } from './caches-worker.js';
import { median } from './load.js';
import { freePort, gatewayArgs, startChild, type Child, type Runtime } from './procs.js';
import { chatBody, saturate, type Load } from './production.js';
import { SAME_BODY } from './plugins.js';

const run = promisify(execFile);

export const STRUCTURES = {
  kv: { label: 'memory store (cache values)', impls: ['hand-written', 'lru-cache', 'lru-cache-max'] },
  keys: { label: 'auth SQL key cache', impls: ['hand-written', 'lru-cache'] },
} as const;
type Structure = keyof typeof STRUCTURES;
const IMPL_LABELS: Record<string, string> = {
  'hand-written': 'hand-written',
  'lru-cache': 'lru-cache',
  'lru-cache-max': 'lru-cache, `max` set too',
};
const HAND_WRITTEN_FILES: Record<Structure, string> = {
  kv: 'core/stores/memory-kv.ts + value-table.ts',
  keys: 'plugins/auth/key-cache.ts (over lru-cache since the comparison below; was a Map + a hand-written recency list)',
};

export interface WorkerRun {
  structure: Structure;
  impl: string;
  capacity: number;
  ops: number;
  ns: Record<Operation, number>;
  heapBytesPerEntry: number;
}

/** hand-written; lru-cache: both caches swapped; lru-cache-kv: only the memory store. */
export const GATEWAY_IMPLS = ['hand-written', 'lru-cache', 'lru-cache-kv'] as const;
type GatewayImpl = (typeof GATEWAY_IMPLS)[number];
const GATEWAY_LABELS: Record<GatewayImpl, string> = {
  'hand-written': 'hand-written',
  'lru-cache': 'lru-cache for both',
  'lru-cache-kv': 'lru-cache for the memory store only',
};

export interface GatewayLoadRuns {
  impl: GatewayImpl;
  load: 'miss' | 'hit';
  runs: Load[];
}

export interface CachesResults {
  date: string;
  node: string;
  cpu: string;
  runs: number;
  capacities: number[];
  ops: number;
  microbench: WorkerRun[];
  gateway?: { rounds: number; duration: number; connections: number; results: GatewayLoadRuns[] };
}

export interface CachesOptions {
  quick: boolean;
  root: string;
  /** Run the microbenchmark (default true). */
  microbench?: boolean;
  /** Also measure inside the gateway (needs a built gateway). */
  gateway?: { runtime: Runtime; connections: number; warmup: number; duration: number; rounds: number };
}

async function microbench(root: string, runs: number, capacities: number[], ops: number, log: (line: string) => void): Promise<WorkerRun[]> {
  const out: WorkerRun[] = [];
  for (let round = 0; round < runs; round++) {
    for (const capacity of capacities) {
      for (const structure of Object.keys(STRUCTURES) as Structure[]) {
        // Rotate the order so that no implementation always runs first or last in a round.
        const impls = [...STRUCTURES[structure].impls];
        for (let i = 0; i < round % impls.length; i++) impls.push(impls.shift()!);
        for (const impl of impls) {
          const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/caches-worker.ts', structure, impl, String(capacity), String(ops)], {
            cwd: root,
            maxBuffer: 1 << 20,
          });
          const r = JSON.parse(stdout.trim().split('\n').pop()!) as WorkerRun;
          out.push(r);
          log(
            `caches run ${round + 1} ${structure} ${String(capacity).padStart(6)} ${impl.padEnd(13)} ` +
              OPERATIONS.map((o) => `${o} ${r.ns[o].toFixed(0)}`).join(', ') +
              ` ns/op; ${r.heapBytesPerEntry.toFixed(0)} B/entry`,
          );
        }
      }
    }
  }
  return out;
}

/**
 * A fresh gateway per variant and round: one process settles into its own JIT state for good, and
 * two processes of the same code differ by more than these caches cost, so rounds must not share one.
 */
async function inGateway(root: string, o: NonNullable<CachesOptions['gateway']>, log: (line: string) => void): Promise<NonNullable<CachesResults['gateway']>> {
  const upstreamPort = await freePort();
  const upstream = await startChild('upstream', `http://127.0.0.1:${upstreamPort}`, ['--import', 'tsx', 'bench/upstream.ts', String(upstreamPort)], {}, root);
  const adminKey = 'bench-admin-0123456789abcdef0123456789abcdef';
  const start = async (impl: GatewayImpl) => {
    const port = await freePort();
    // Every variant loads the same hooks (and tsx): only BENCH_LRU differs.
    const args = gatewayArgs(o.runtime, join('bench', 'configs', 'caches.yaml'), `127.0.0.1:${port}`, ['--import', 'tsx', '--import', './bench/lru-swap/register.mjs']);
    const child = await startChild(`caches-${impl}`, `http://127.0.0.1:${port}`, args, { BENCH_UPSTREAM_PORT: String(upstreamPort), BENCH_LRU: impl, SWITCHYARD_ADMIN_KEY: adminKey }, root);
    try {
      const admin = async (path: string, body: unknown) => {
        const res = await fetch(`${child.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` }, body: JSON.stringify(body) });
        const json = (await res.json()) as Record<string, unknown>;
        if (res.status >= 300) throw new Error(`${impl}: POST ${path} answered ${res.status}: ${JSON.stringify(json)}`);
        return json;
      };
      await admin('/admin/organizations', { slug: 'bench', name: 'Bench' });
      const { key } = (await admin('/admin/organizations/bench/keys', { name: 'bench', scopes: ['read', 'write'] })) as { key: string };
      const headers = { authorization: `Bearer ${key}` };
      const check = await fetch(`${child.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: SAME_BODY });
      await check.arrayBuffer();
      if (check.status !== 200) throw new Error(`${impl}: sanity request answered ${check.status}`);
      return { child, headers };
    } catch (err) {
      await child.stop();
      throw err;
    }
  };
  try {
    const byImpl = Object.fromEntries(GATEWAY_IMPLS.flatMap((i) => [[`${i} miss`, [] as Load[]], [`${i} hit`, [] as Load[]]])) as Record<string, Load[]>;
    for (let round = 0; round < o.rounds; round++) {
      // Rotate the order so that no variant always runs first.
      const order = [...GATEWAY_IMPLS.slice(round % GATEWAY_IMPLS.length), ...GATEWAY_IMPLS.slice(0, round % GATEWAY_IMPLS.length)];
      for (const impl of order) {
        const { child, headers } = await start(impl);
        try {
          // The warm-up's unique bodies also fill the store, so that the measured misses evict.
          const miss = await saturate(child, chatBody, o.connections, o.warmup, o.duration, headers);
          const hit = await saturate(child, () => SAME_BODY, o.connections, 1, o.duration, headers);
          byImpl[`${impl} miss`]!.push(miss);
          byImpl[`${impl} hit`]!.push(hit);
          const show = (r: Load) => `${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`;
          log(`caches gateway round ${round + 1} ${impl.padEnd(12)} miss ${show(miss)}; hit ${show(hit)}`);
        } finally {
          await child.stop();
        }
      }
    }
    const results: GatewayLoadRuns[] = (['miss', 'hit'] as const).flatMap((load) => GATEWAY_IMPLS.map((impl) => ({ impl, load, runs: byImpl[`${impl} ${load}`]! })));
    return { rounds: o.rounds, duration: o.duration, connections: o.connections, results };
  } finally {
    await upstream.stop();
  }
}

export async function benchCaches(options: CachesOptions, log: (line: string) => void): Promise<CachesResults> {
  const runs = options.quick ? 2 : 7;
  const ops = options.quick ? 100_000 : 300_000;
  const capacities = [10_000, 120_000];
  const microbenchRuns = options.microbench === false ? [] : await microbench(options.root, runs, capacities, ops, log);
  const gateway = options.gateway ? await inGateway(options.root, options.gateway, log) : undefined;
  return { date: new Date().toISOString(), node: process.version, cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`, runs, capacities, ops, microbench: microbenchRuns, ...(gateway ? { gateway } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: median(sorted), min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

const fmt = (s: Spread, digits = 0) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;

/** Who wins beyond the noise: `lower` is better. Undefined when the ranges overlap. */
function winner(a: Spread, b: Spread): 'a' | 'b' | undefined {
  if (a.max < b.min) return 'a';
  if (b.max < a.min) return 'b';
  return undefined;
}

export function renderCachesMarkdown(r: CachesResults, commit: string): string {
  const lines: string[] = [
    '# Switchyard benchmark: hand-written LRU caches vs. lru-cache',
    '',
    `${r.date} · commit ${commit} · Node ${r.node} · ${r.cpu} · \`npm run bench -- --only=caches\` (bench/caches.ts)`,
    '',
  ];
  if (r.microbench.length) {
    lines.push(
      `## Microbenchmark`,
      '',
      `${r.runs} runs, each its own process, implementations alternating; ${r.ops.toLocaleString('en-US')} operations per measurement on a structure filled to capacity ` +
        `(a warm-up pass on a small one first). Every operation builds its key as the gateway does — \`cache:<org>:<model>:\` + 64 hex characters for the store, ` +
        `\`sk-sy-live-\` + 40 characters for API keys — and the store's values are one ~500-byte JSON text. ` +
        `"key only" is the floor every implementation pays: building the key and one lookup in an empty \`Map\`. ` +
        `Cells: median ns per operation (fastest–slowest run). Heap: bytes per entry after a full GC, keys included, values (shared) not.`,
      '',
    );
  }
  const verdicts: string[] = [];
  for (const structure of r.microbench.length ? (Object.keys(STRUCTURES) as Structure[]) : []) {
    const impls = STRUCTURES[structure].impls as readonly string[];
    lines.push(`### ${STRUCTURES[structure].label}: ${HAND_WRITTEN_FILES[structure]} vs. bench/lru-stores.ts`, '');
    lines.push(`| entries | implementation | ${OPERATIONS.map((o) => o.replace('-', ' ')).join(' | ')} | heap B/entry |`);
    lines.push(`| ---: | --- | ${OPERATIONS.map(() => '---:').join(' | ')} | ---: |`);
    const tally = { hand: [] as string[], lru: [] as string[], tie: [] as string[] };
    for (const capacity of r.capacities) {
      const cell = (impl: string) => r.microbench.filter((x) => x.structure === structure && x.impl === impl && x.capacity === capacity);
      for (const impl of impls) {
        const runs = cell(impl);
        if (!runs.length) continue;
        lines.push(
          `| ${capacity.toLocaleString('en-US')} | ${IMPL_LABELS[impl]} | ${OPERATIONS.map((o) => fmt(spread(runs.map((x) => x.ns[o])))).join(' | ')} | ${fmt(spread(runs.map((x) => x.heapBytesPerEntry)))} |`,
        );
      }
      const hand = cell('hand-written');
      for (const o of OPERATIONS.filter((x) => x !== 'key-only')) {
        const h = spread(hand.map((x) => x.ns[o]));
        // The hand-written code must beat every lru-cache configuration to stay.
        const lruBest = impls
          .filter((i) => i !== 'hand-written')
          .map((i) => spread(cell(i).map((x) => x.ns[o])))
          .reduce((a, b) => (b.median < a.median ? b : a));
        const w = winner(h, lruBest);
        const where = `${o} @ ${capacity / 1000}k`;
        (w === 'a' ? tally.hand : w === 'b' ? tally.lru : tally.tie).push(where);
      }
    }
    lines.push('');
    verdicts.push(
      `- **${STRUCTURES[structure].label}**: hand-written faster beyond the noise in ${tally.hand.length ? tally.hand.join(', ') : 'no cell'}; ` +
        `lru-cache faster beyond the noise in ${tally.lru.length ? tally.lru.join(', ') : 'no cell'}; within the noise: ${tally.tie.length ? tally.tie.join(', ') : 'none'}.`,
    );
  }
  if (verdicts.length) lines.push('Per operation and size (the ranges of the two do not overlap = beyond the noise; against the better lru-cache configuration):', '', ...verdicts, '');
  if (r.gateway) {
    const g = r.gateway;
    lines.push(
      '## Inside the gateway',
      '',
      `bench/configs/caches.yaml (auth with an SQL key from its key cache, rate-limit, cache over an 8 MB memory store, transform, route; access log off), ` +
        `${g.connections} connections, ${g.rounds} rounds; in each, every variant in a fresh process (the order rotating): a warm-up of unique bodies that fills the store, ` +
        `then ${g.duration} s of misses (a new body per request: look up, miss, store, evict), then ${g.duration} s of hits (one body). The lru-cache variants swap the caches by module hooks ` +
        `(bench/lru-swap/); every variant is started with the same loaders. Cells: median (min–max); the last column compares each round with the hand-written variant's ` +
        `in the same round (negative: lru-cache used less CPU).`,
      '',
      '| load | variant | req/s | CPU µs/request | CPU vs. hand-written, per round: median (rounds lower / rounds) |',
      '| --- | --- | ---: | ---: | ---: |',
    );
    for (const x of g.results) {
      const hand = g.results.find((y) => y.load === x.load && y.impl === 'hand-written')!;
      const diffs = x.runs.map((l, i) => l.cpuUsPerRequest - (hand.runs[i]?.cpuUsPerRequest ?? NaN));
      const paired = x.impl === 'hand-written' ? '' : `${median(diffs) >= 0 ? '+' : ''}${median(diffs).toFixed(1)} µs (${diffs.filter((d) => d < 0).length} / ${diffs.length})`;
      lines.push(`| ${x.load} | ${GATEWAY_LABELS[x.impl]} | ${fmt(spread(x.runs.map((l) => l.rps)))} | ${fmt(spread(x.runs.map((l) => l.cpuUsPerRequest)), 1)} | ${paired} |`);
    }
    const failures = g.results.flatMap((x) => x.runs.filter((l) => l.non2xx || l.errors).map((l) => `${x.load}/${x.impl}: ${l.non2xx} non-2xx, ${l.errors} errors`));
    if (failures.length) lines.push('', `Failures during the run (the numbers are suspect): ${failures.join('; ')}.`);
    lines.push('');
  }
  return lines.join('\n');
}
