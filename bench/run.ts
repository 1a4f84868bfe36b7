/**
 * `npm run bench` — how much the gateway costs compared with calling the upstream directly and
 * with a minimal Node pass-through proxy (bench/raw-proxy.ts). A benchmark, not a test: it prints a
 * markdown table with PASS/FAIL against the performance targets but always exits 0 when it ran.
 *
 *   npm run bench [-- FLAGS]
 *
 *   --quick              smoke run (~45 s): one short round, 40 streams; prints only, unless --write
 *   --write              write results in --quick mode too
 *   --dry-run            print only, write nothing
 *   --rounds=N           rounds of scenarios a)–c) (default 2; quick 1); each round runs every target
 *                        once, and the least disturbed round counts (highest req/s, lowest CPU per
 *                        request, lowest latency percentiles) — other work on a shared machine only
 *                        ever makes a round worse
 *   --duration=S         measured seconds per saturation round (default 4; quick 2)
 *   --warmup=S           discarded warm-up seconds before a target's first round (default 2; quick 0.5)
 *   --paced-duration=S   measured seconds per fixed-rate round (default 4; quick 2)
 *   --connections=N      autocannon connections for the saturation runs (default 50)
 *   --rate=N             requests per second of the fixed-rate run (default 500)
 *   --streams=N          streams for the chunk-delay measurement (default 200; quick 40)
 *   --runtime=R          how the gateway runs. auto (default): `node dist/bin/main.js`, as in
 *                        production, after `npm run build` if any core/, plugins/ or bin/ source is
 *                        newer than its compiled file (~10 s). dist: dist/ as it is. tsx: `node --import
 *                        tsx bin/main.ts` — the same code, but start-up compiles it and tsx's source maps
 *                        make every stack trace a Node error formats dearer. (In a checkout from before
 *                        bin/main.ts, core/cli.ts.)
 *   --only=SECTION       run one section: core (the comparison a–d), plugins (plugin overhead e;
 *                        bench/plugins.ts), production (the production pipeline f, with the access log
 *                        on a pipe; bench/production.ts; rounds default 3) or caches (the LRU caches
 *                        against the lru-cache package, in-process; bench/caches.ts), or tracing
 *                        (no tracing config vs `enabled: false` vs on; bench/tracing.ts; only when named),
 *                        or routing (3 weighted targets with a fallback chain vs one target, g;
 *                        bench/routing.ts; rounds default 3)
 *                        or inbound (/v1/chat/completions vs /v1/messages vs /v1/responses through the
 *                        production pipeline, h; bench/inbound.ts; rounds default 3; only when named;
 *                        with --profile: V8 profiles per endpoint and mode, profile-inbound-latest.md)
 *                        or billing (the production pipeline without billing vs + records vs + credits,
 *                        on PGlite and PostgreSQL, i; bench/billing.ts; rounds default 3; with --profile:
 *                        the credits-on PGlite gateway, or --target=<name>, under --cpu-prof)
 *                        or footprint (resident memory of the quickstart config: first start, idle, after
 *                        load, restart, PostgreSQL; bench/footprint.ts)
 *   --profile            instead of the comparison: run the gateway and the raw proxy under
 *                        `node --cpu-prof` through the non-streaming and the streaming saturation
 *                        loads, print where their time goes (per request too), write
 *                        bench/results/profile-latest.md. With --only=production: the production
 *                        pipeline (access log on a pipe) with its unique bodies instead, under Linux
 *                        `perf` where it works (CPU time on every thread, through V8 and the kernel;
 *                        bench/perf-profile.ts), else V8's profiler; writes
 *                        bench/results/profile-production-latest.md
 *   --profiler=perf|v8   choose the profiler of --profile (perf only with --only=production)
 *   --part=micro|gateway with --only=caches: only the microbenchmark, or only the in-gateway runs
 *                        (rounds default 5)
 *
 * Every system under test and the mock upstream (bench/upstream.ts) run in their own child
 * process; autocannon and the other clients run here. The gateway is started through its real CLI
 * with bench/configs/gateway.yaml (access log off) and gateway-access-log.yaml (on; stdout, where
 * the log goes, is /dev/null). Scenarios run one after the other, each against every target in
 * turn, so compared numbers are taken close together in time.
 *
 * Writes bench/results/latest.md and bench/results/<ISO date>.json; the plugin overhead section
 * writes bench/results/plugins-latest.md and bench/results/plugins-<ISO date>.json, the production
 * pipeline production-latest.md and production-<ISO date>.json, the caches caches-latest.md and
 * caches-<ISO date>.json.
 */
import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, writeFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startChild, staleDist, gatewayArgs, gatewayEntry, type Child, type Runtime } from './procs.js';
import { saturate, paced, chunkDelays, bestSaturation, bestPaced, CHAT_BODY, STREAM_BODY, CHAT_PATH, type Saturation } from './load.js';
import { TARGETS, LABELS, renderMarkdown, summariseChunks, type BenchResults, type TargetName } from './report.js';
import { summariseProfile } from './profile.js';
import { PERF_NODE_FLAGS, perfAvailable, perfRecord, summarisePerf } from './perf-profile.js';
import { benchPlugins, renderPluginMarkdown } from './plugins.js';
import { benchProduction, renderProductionMarkdown, startProductionGateway, saturate as saturateUnique, chatBody, streamBody } from './production.js';
import { benchCaches, renderCachesMarkdown } from './caches.js';
import { benchFootprint, renderFootprintMarkdown } from './footprint.js';
import { benchTracing, renderTracingMarkdown } from './tracing.js';
import { benchRouting, renderRoutingMarkdown } from './routing.js';
import { benchInbound, profileInbound, renderInboundMarkdown } from './inbound.js';
import { benchBilling, profileBilling, renderBillingMarkdown, BILLING_TARGETS, type BillingTarget } from './billing.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const RESULTS = join(ROOT, 'bench', 'results');

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    'paced-duration': { type: 'string' },
    connections: { type: 'string', default: '50' },
    rate: { type: 'string', default: '500' },
    streams: { type: 'string' },
    runtime: { type: 'string', default: 'auto' },
    profile: { type: 'boolean', default: false },
    only: { type: 'string', default: 'all' },
    profiler: { type: 'string' },
    part: { type: 'string' },
    target: { type: 'string' },
  },
});
const quick = flags.quick!;
const params = {
  duration: Number(flags.duration ?? (quick ? 2 : 4)),
  warmup: Number(flags.warmup ?? (quick ? 0.5 : 2)),
  rounds: Number(flags.rounds ?? (quick ? 1 : 2)),
  pacedDuration: Number(flags['paced-duration'] ?? (quick ? 2 : 4)),
  connections: Number(flags.connections),
  rate: Number(flags.rate),
  streams: Number(flags.streams ?? (quick ? 40 : 200)),
  streamConcurrency: 4,
};
const log = (line: string) => process.stderr.write(`${line}\n`);

function runtimeLabel(runtime: Runtime): string {
  return runtime === 'dist' ? `node ${gatewayEntry(runtime)}` : `node --import tsx ${gatewayEntry(runtime)}`;
}

function chooseRuntime(): Runtime {
  const wanted = flags.runtime;
  if (wanted !== 'auto' && wanted !== 'dist' && wanted !== 'tsx') throw new Error(`--runtime must be auto, dist or tsx, not '${wanted}'`);
  if (wanted === 'tsx') return 'tsx';
  const stale = staleDist(ROOT);
  if (stale.length && wanted === 'dist') log(`warning: dist/ is older than ${stale.length} sources (${stale.slice(0, 3).join(', ')}…); measuring old code`);
  if (stale.length && wanted === 'auto') {
    log(`dist/ is older than ${stale.length} sources; npm run build…`);
    try {
      execSync('npm run build --silent', { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      // tsc emits even when another file has a type error; the gateway still runs.
      log('npm run build reported type errors; dist/ was written anyway');
    }
  }
  return 'dist';
}

async function startGateway(runtime: Runtime, config: string, upstreamPort: number, nodeFlags: string[] = []): Promise<Child> {
  const port = await freePort();
  const args = gatewayArgs(runtime, join('bench', 'configs', config), `127.0.0.1:${port}`, nodeFlags);
  return startChild(config, `http://127.0.0.1:${port}`, args, { BENCH_UPSTREAM_PORT: String(upstreamPort) }, ROOT);
}

async function startUpstream(): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  return { child: await startChild('upstream', `http://127.0.0.1:${port}`, ['--import', 'tsx', 'bench/upstream.ts', String(port)], {}, ROOT), port };
}

/** Refuses to benchmark a target that answers wrongly: errors are fast and would flatter it. */
async function sanityCheck(name: string, base: string, viaGateway: boolean): Promise<void> {
  const post = (body: string) => fetch(`${base}${CHAT_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const plain = await post(CHAT_BODY);
  const json = (await plain.json()) as { choices?: { message?: { content?: string } }[] };
  const streamed = await post(STREAM_BODY);
  const text = await streamed.text();
  const chunks = text.split('\n\n').filter((e) => e.includes('chat.completion.chunk')).length;
  const problems = [
    plain.status !== 200 || !json.choices?.[0]?.message?.content ? `non-streaming answered ${plain.status}` : '',
    streamed.status !== 200 || chunks !== 20 || !text.endsWith('data: [DONE]\n\n') ? `streaming answered ${streamed.status} with ${chunks} chunks` : '',
    viaGateway && plain.headers.get('x-switchyard-provider') !== 'up' ? 'response did not come through the `up` provider' : '',
  ].filter(Boolean);
  if (problems.length) throw new Error(`${name}: ${problems.join('; ')}`);
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function compare(runtime: Runtime): Promise<void> {
  const loadavgBefore = loadavg();
  const upstream = await startUpstream();
  const rawPort = await freePort();
  const raw = await startChild('raw-proxy', `http://127.0.0.1:${rawPort}`, ['--import', 'tsx', 'bench/raw-proxy.ts', String(rawPort), String(upstream.port)], {}, ROOT);
  const gateway = await startGateway(runtime, 'gateway.yaml', upstream.port);
  const gatewayLog = await startGateway(runtime, 'gateway-access-log.yaml', upstream.port);
  // For `direct` the system under test is the upstream itself.
  const sut: Record<TargetName, Child> = { direct: upstream.child, raw, gateway, gatewayLog };
  try {
    for (const t of TARGETS) await sanityCheck(LABELS[t], sut[t].url, t.startsWith('gateway'));
    const each = async <T>(scenario: string, runs: number, run: (child: Child, first: boolean) => Promise<T>, best: (all: T[]) => T, show: (r: T) => string) => {
      const all = Object.fromEntries(TARGETS.map((t) => [t, [] as T[]])) as Record<TargetName, T[]>;
      for (let round = 0; round < runs; round++) {
        for (const t of TARGETS) {
          const r = await run(sut[t], round === 0);
          all[t].push(r);
          log(`${scenario} ${runs > 1 ? `round ${round + 1} ` : ''}${LABELS[t].padEnd(22)} ${show(r)}`);
        }
      }
      return Object.fromEntries(TARGETS.map((t) => [t, best(all[t])])) as Record<TargetName, T>;
    };
    const { duration, warmup, rounds, connections, rate, pacedDuration, streams, streamConcurrency } = params;
    const rps = (r: Saturation) =>
      `${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`;
    const saturation = (body: string) => (c: Child, first: boolean) => saturate(c.url, body, connections, first ? warmup : 0, duration, c.cpuMs);
    const nonStreaming = await each('a) non-streaming', rounds, saturation(CHAT_BODY), bestSaturation, rps);
    const streaming = await each('b) streaming     ', rounds, saturation(STREAM_BODY), bestSaturation, rps);
    const pacedResults = await each(
      `c) ${rate} req/s     `,
      rounds,
      async ({ url }, first) => {
        if (first && warmup > 0) await paced(url, CHAT_BODY, rate, warmup);
        return paced(url, CHAT_BODY, rate, pacedDuration);
      },
      bestPaced,
      (r) => `p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms, ${Math.round(r.rps)} req/s${r.failed ? `, ${r.failed} failed` : ''}`,
    );
    const chunks = await each(
      'd) chunk delay    ',
      1,
      async ({ url }) => summariseChunks(await chunkDelays(url, streams, streamConcurrency)),
      (all) => all[0]!,
      (c) => `chunk 1 median ${c.firstP50Ms.toFixed(3)} ms, chunk 2 median ${c.secondP50Ms.toFixed(3)} ms${c.failed ? `, ${c.failed} failed` : ''}`,
    );
    const results: BenchResults = {
      meta: {
        date: new Date().toISOString(),
        quick,
        node: process.version,
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        loadavgBefore,
        loadavgAfter: loadavg(),
        gatewayRuntime: runtimeLabel(runtime),
        commit: commit(),
        params,
      },
      nonStreaming,
      streaming,
      paced: pacedResults,
      chunks,
    };
    const markdown = renderMarkdown(results);
    process.stdout.write(`\n${markdown}`);
    if (!flags['dry-run'] && (!quick || flags.write)) {
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(join(RESULTS, 'latest.md'), markdown);
      const file = join(RESULTS, `${results.meta.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      log(`\nwrote bench/results/latest.md and ${file.slice(ROOT.length + 1)}`);
    }
  } finally {
    await Promise.all([gateway.stop(), gatewayLog.stop(), raw.stop(), upstream.child.stop()]);
  }
}

/**
 * Runs the gateway and, for comparison, the raw proxy under `node --cpu-prof` through each
 * saturation load, one process per profile, and summarises where the time went. `production`:
 * the production pipeline (access log on a pipe) with a new body per request, instead of
 * gateway.yaml with one body.
 */
async function profile(runtime: Runtime, production: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-profile-'));
  const upstream = await startUpstream();
  const { connections, warmup, duration } = params;
  const sections: string[] = [
    `# Switchyard CPU profiles${production ? ': production pipeline' : ''}\n\n${new Date().toISOString()} · commit ${commit()} · gateway from ${runtime} · ${connections} connections, ${warmup} s warm-up + ${duration} s per load · ` +
      (production
        ? 'bench/configs/production.yaml (auth, ip-allowlist, rate-limit, cache miss + store, transform, route), access log on, stdout a pipe drained by `wc`, a new body per request'
        : 'access log off') +
      ` · raw profiles in ${dir}\n\nThe profiler samples wall time on the main thread: time the process sat preempted inside a syscall ` +
      `(\`writev\`, \`writeUtf8String\`) counts as that syscall, which inflates them on a busy machine. Only the samples of the measured ` +
      `load count (start-up and warm-up excluded). The profiler itself adds CPU: compare the shares, not the absolute µs, with an unprofiled run.\n`,
  ];
  const systems: [string, (flags: string[]) => Promise<Child>][] = [
    [
      production ? 'production gateway' : 'gateway',
      (f) => (production ? startProductionGateway(runtime, ROOT, upstream.port, true, f) : startGateway(runtime, 'gateway.yaml', upstream.port, f)),
    ],
    [
      'raw proxy',
      async (f) => {
        const port = await freePort();
        return startChild('raw-proxy', `http://127.0.0.1:${port}`, [...f, '--import', 'tsx', 'bench/raw-proxy.ts', String(port), String(upstream.port)], {}, ROOT);
      },
    ],
  ];
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  const loads = production
    ? ([['non-streaming', chatBody], ['streaming', streamBody]] as const)
    : ([['non-streaming', () => CHAT_BODY], ['streaming', () => STREAM_BODY]] as const);
  try {
    for (const [scenario, body] of loads) {
      for (const [system, start] of systems) {
        const name = `${system.replace(/ /g, '-')}-${scenario}.cpuprofile`;
        const child = await start(['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
        let served = 0;
        let cpu = NaN;
        let window: [number, number] = [0, 0];
        try {
          if (!production) await sanityCheck(system, child.url, system === 'gateway');
          if (warmup > 0) await saturateUnique(child, body, connections, 0, warmup);
          const from = nowUs();
          const r = production ? await saturateUnique(child, body, connections, 0, duration) : await saturate(child.url, body(), connections, 0, duration, child.cpuMs);
          window = [from, nowUs()];
          served = r.requests;
          cpu = r.cpuUsPerRequest;
          log(`profile ${system} ${scenario}: ${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req under the profiler`);
        } finally {
          await child.stop(15_000);
        }
        if (!readdirSync(dir).includes(name)) throw new Error(`no profile written for ${system} ${scenario}`);
        sections.push(summariseProfile(join(dir, name), ROOT, `${system}, ${scenario} chat at saturation (${Math.round(cpu)} µs CPU per request under the profiler)`, served, window));
      }
    }
  } finally {
    await upstream.child.stop();
  }
  const markdown = sections.join('\n');
  process.stdout.write(markdown);
  if (!flags['dry-run']) {
    mkdirSync(RESULTS, { recursive: true });
    const file = production ? 'profile-production-latest.md' : 'profile-latest.md';
    writeFileSync(join(RESULTS, file), markdown);
    log(`\nwrote bench/results/${file}`);
  }
}

/**
 * `--profile --only=production` where `perf` works: the production gateway and the raw proxy under
 * `perf record` (CPU time on every thread; bench/perf-profile.ts) through each saturation load,
 * after a warm-up; writes bench/results/profile-production-latest.md.
 */
async function profileWithPerf(runtime: Runtime): Promise<void> {
  if (runtime !== 'dist') throw new Error('the perf profile runs the gateway from dist/ (--runtime=dist or auto)');
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-perf-'));
  const upstream = await startUpstream();
  const { connections, warmup, duration } = params;
  const frequency = 1999;
  const tsx = import.meta.resolve('tsx');
  const sections: string[] = [
    `# Switchyard CPU profiles: production pipeline\n\n${new Date().toISOString()} · commit ${commit()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'} · ` +
      `${connections} connections, ${warmup} s warm-up, then ${duration} s under \`perf record\` per load · bench/configs/production.yaml (auth, ip-allowlist, rate-limit, ` +
      `cache miss + store, transform, route), access log on, stdout a pipe drained by \`wc\`, a new body per request · raw data in ${dir}\n\n` +
      `CPU time, not wall time: a thread is sampled only while it runs, so time spent preempted is not charged to anything. ` +
      `perf and the jitdump cost some CPU themselves (compare the µs per request with an unprofiled run of the same load).\n`,
  ];
  const systems: [string, (cwd: string) => Promise<Child>][] = [
    ['production gateway', (cwd) => startProductionGateway(runtime, ROOT, upstream.port, true, PERF_NODE_FLAGS, cwd)],
    [
      'raw proxy',
      async (cwd) => {
        const port = await freePort();
        return startChild('raw-proxy', `http://127.0.0.1:${port}`, [...PERF_NODE_FLAGS, '--import', tsx, join(ROOT, 'bench', 'raw-proxy.ts'), String(port), String(upstream.port)], {}, cwd);
      },
    ],
  ];
  try {
    for (const [scenario, body] of [['non-streaming', chatBody], ['streamed (20 chunks + usage)', streamBody]] as const) {
      for (const [system, start] of systems) {
        const cwd = mkdtempSync(join(dir, `${system.replace(/ /g, '-')}-${scenario.split(' ')[0]}-`));
        const child = await start(cwd);
        const pid = child.proc.pid!;
        let recording: Awaited<ReturnType<typeof perfRecord<Awaited<ReturnType<typeof saturateUnique>>>>>;
        try {
          if (warmup > 0) await saturateUnique(child, body, connections, 0, warmup);
          recording = await perfRecord(pid, cwd, frequency, () => saturateUnique(child, body, connections, 0, duration));
        } finally {
          await child.stop(15_000);
        }
        const r = recording.result;
        log(`perf profile ${system} ${scenario}: ${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req under perf${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`);
        const data = recording.finish();
        sections.push(
          await summarisePerf(data, pid, ROOT, `${system}, ${scenario} at saturation (${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU per request from /proc under perf)`, r.requests, { frequency }),
        );
      }
    }
  } finally {
    await upstream.child.stop();
  }
  const markdown = sections.join('\n');
  process.stdout.write(markdown);
  if (!flags['dry-run']) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'profile-production-latest.md'), markdown);
    log('\nwrote bench/results/profile-production-latest.md');
  }
}

async function plugins(runtime: Runtime): Promise<void> {
  const upstream = await startUpstream();
  try {
    const { connections, warmup, duration, rounds } = params;
    const results = await benchPlugins(runtime, ROOT, upstream.port, { connections, warmup, duration, rounds: Math.max(rounds, quick ? 1 : 3) }, log);
    const markdown = `# Switchyard benchmark: plugin overhead${quick ? ' (quick smoke run — indicative only)' : ''}\n\nCommit ${commit()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'} · gateway from \`${runtimeLabel(runtime)}\`\n\n${renderPluginMarkdown(results)}`;
    process.stdout.write(`\n${markdown}`);
    if (!flags['dry-run'] && (!quick || flags.write)) {
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(join(RESULTS, 'plugins-latest.md'), markdown);
      writeFileSync(join(RESULTS, `plugins-${results.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`), `${JSON.stringify(results, null, 2)}\n`);
      log('\nwrote bench/results/plugins-latest.md');
    }
  } finally {
    await upstream.child.stop();
  }
}

async function production(runtime: Runtime): Promise<void> {
  const { connections, warmup, duration, pacedDuration, rate } = params;
  const rounds = Number(flags.rounds ?? (quick ? 1 : 3));
  const results = await benchProduction(runtime, ROOT, { connections, warmup, duration, pacedDuration, rate, rounds }, log);
  const markdown = `# Switchyard benchmark: production pipeline${quick ? ' (quick smoke run — indicative only)' : ''}\n\nCommit ${commit()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'} · gateway from \`${runtimeLabel(runtime)}\` · load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n${renderProductionMarkdown(results)}`;
  process.stdout.write(`\n${markdown}`);
  if (!flags['dry-run'] && (!quick || flags.write)) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'production-latest.md'), markdown);
    writeFileSync(join(RESULTS, `production-${results.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`), `${JSON.stringify({ commit: commit(), ...results }, null, 2)}\n`);
    log('\nwrote bench/results/production-latest.md');
  }
}

async function caches(runtime: Runtime): Promise<void> {
  const { connections, warmup, duration } = params;
  const rounds = Number(flags.rounds ?? (quick ? 2 : 5));
  const part = flags.part ?? 'all';
  if (!['all', 'micro', 'gateway'].includes(part)) throw new Error(`--part must be micro or gateway, not '${part}'`);
  const results = await benchCaches(
    { quick, root: ROOT, microbench: part !== 'gateway', ...(part !== 'micro' ? { gateway: { runtime, connections, warmup, duration, rounds } } : {}) },
    log,
  );
  const markdown = renderCachesMarkdown(results, commit());
  process.stdout.write(`\n${markdown}`);
  if (!flags['dry-run'] && (!quick || flags.write)) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'caches-latest.md'), markdown);
    writeFileSync(join(RESULTS, `caches-${results.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`), `${JSON.stringify(results, null, 2)}\n`);
    log('\nwrote bench/results/caches-latest.md');
  }
}

/** `--only=tracing` (bench/tracing.ts): no tracing config vs tracing off vs on; writes tracing-latest.md. Not part of `all`. */
async function tracing(runtime: Runtime): Promise<void> {
  const upstream = await startUpstream();
  try {
    const { connections, warmup, duration, rounds } = params;
    const results = await benchTracing(runtime, ROOT, upstream.port, { connections, warmup, duration, rounds }, log);
    const markdown = `# Switchyard benchmark: tracing${quick ? ' (quick smoke run — indicative only)' : ''}\n\nCommit ${commit()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'} · gateway from \`${runtimeLabel(runtime)}\` · load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n${renderTracingMarkdown(results)}`;
    process.stdout.write(`\n${markdown}`);
    if (!flags['dry-run'] && (!quick || flags.write)) {
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(join(RESULTS, 'tracing-latest.md'), markdown);
      log('\nwrote bench/results/tracing-latest.md');
    }
  } finally {
    await upstream.child.stop();
  }
}

/** `--only=routing` (bench/routing.ts): 3 weighted targets with a fallback chain vs one target; writes routing-latest.md. */
async function routing(runtime: Runtime): Promise<void> {
  const upstream = await startUpstream();
  try {
    const { connections, warmup, duration } = params;
    const rounds = Number(flags.rounds ?? (quick ? 1 : 3));
    const results = await benchRouting(runtime, ROOT, upstream.port, { connections, warmup, duration, rounds }, log);
    const markdown = `# Switchyard benchmark: routing${quick ? ' (quick smoke run — indicative only)' : ''}\n\nCommit ${commit()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'} · gateway from \`${runtimeLabel(runtime)}\` · load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n${renderRoutingMarkdown(results)}`;
    process.stdout.write(`\n${markdown}`);
    if (!flags['dry-run'] && (!quick || flags.write)) {
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(join(RESULTS, 'routing-latest.md'), markdown);
      log('\nwrote bench/results/routing-latest.md');
    }
  } finally {
    await upstream.child.stop();
  }
}

/** `--only=footprint` (bench/footprint.ts): resident memory of the quickstart config, first start, idle, after load; writes footprint-latest.md. */
async function footprint(): Promise<void> {
  const results = await benchFootprint({ requests: quick ? 10_000 : 50_000, connections: params.connections, log });
  const markdown = `# Switchyard benchmark: memory footprint${quick ? ' (quick smoke run — indicative only)' : ''}\n\nCommit ${commit()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'} · \`node bin/switchyard.js start\` (dist/)\n\n${renderFootprintMarkdown(results)}`;
  process.stdout.write(`\n${markdown}`);
  if (!flags['dry-run'] && (!quick || flags.write)) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'footprint-latest.md'), markdown);
    log('\nwrote bench/results/footprint-latest.md');
  }
}

/** `--only=inbound` (bench/inbound.ts): the production pipeline through each inbound API; writes inbound-latest.md. Not part of `all`. */
async function inbound(runtime: Runtime): Promise<void> {
  const { connections, warmup, duration } = params;
  if (flags.profile) {
    const sections = await profileInbound(runtime, ROOT, { connections, warmup, duration }, log);
    const markdown = [
      `# Switchyard CPU profiles: inbound dialects\n\n${new Date().toISOString()} · commit ${commit()} · gateway from \`${runtimeLabel(runtime)}\` · ${connections} connections, ${warmup} s warm-up + ${duration} s per load · ` +
        `bench/configs/production.yaml, access log on a pipe · load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n` +
        'V8 samples wall time on the main thread: time preempted inside a syscall counts as that syscall, which inflates it on a busy machine. Compare shares, not absolute µs.\n',
      ...sections,
    ].join('\n');
    process.stdout.write(markdown);
    if (!flags['dry-run']) {
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(join(RESULTS, 'profile-inbound-latest.md'), markdown);
      log('\nwrote bench/results/profile-inbound-latest.md');
    }
    return;
  }
  const rounds = Number(flags.rounds ?? (quick ? 1 : 3));
  const results = await benchInbound(runtime, ROOT, { connections, warmup, duration, rounds }, log, loadavg);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const markdown = `# Switchyard benchmark: inbound dialects${quick ? ' (quick smoke run — indicative only)' : ''}\n\nCommit ${commit()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'} · gateway from \`${runtimeLabel(runtime)}\` · \`${command}\`\n\n${renderInboundMarkdown(results)}`;
  process.stdout.write(`\n${markdown}`);
  if (!flags['dry-run'] && (!quick || flags.write)) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'inbound-latest.md'), markdown);
    log('\nwrote bench/results/inbound-latest.md');
  }
}

/** `--only=billing` (bench/billing.ts): production vs + billing vs + credits, PGlite and PostgreSQL; writes billing-latest.md. */
async function billing(runtime: Runtime): Promise<void> {
  const { connections, warmup, duration } = params;
  const rounds = Number(flags.rounds ?? (quick ? 1 : 3));
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const header = `Commit ${commit()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'} · gateway from \`${runtimeLabel(runtime)}\` · \`${command}\``;
  if (flags.profile) {
    const target = (flags.target ?? 'pgliteCredits') as BillingTarget;
    if (!BILLING_TARGETS.includes(target)) throw new Error(`--target must be one of ${BILLING_TARGETS.join(', ')}, not '${target}'`);
    const markdown = `# Switchyard CPU profile: billing (${target})\n\n${header}\n\n${await profileBilling(target, runtime, ROOT, { connections, warmup, duration, rounds }, log)}`;
    process.stdout.write(`\n${markdown}`);
    if (!flags['dry-run']) {
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(join(RESULTS, `profile-billing-${target}-latest.md`), markdown);
      log(`\nwrote bench/results/profile-billing-${target}-latest.md`);
    }
    return;
  }
  const results = await benchBilling(runtime, ROOT, { connections, warmup, duration, rounds }, log, loadavg);
  const markdown = `# Switchyard benchmark: billing${quick ? ' (quick smoke run — indicative only)' : ''}\n\n${header}\n\n${renderBillingMarkdown(results)}`;
  process.stdout.write(`\n${markdown}`);
  if (!flags['dry-run'] && (!quick || flags.write)) {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'billing-latest.md'), markdown);
    log('\nwrote bench/results/billing-latest.md');
  }
}

const SECTIONS = ['all', 'core', 'plugins', 'production', 'caches', 'tracing', 'routing', 'footprint', 'inbound', 'billing'];
if (!SECTIONS.includes(flags.only!)) throw new Error(`--only must be one of ${SECTIONS.slice(1).join(', ')}, not '${flags.only}'`);
const only = (section: string) => flags.only === 'all' || flags.only === section;
if (flags.profile && !['all', 'core', 'production', 'billing', 'inbound'].includes(flags.only!)) throw new Error('--profile runs with --only=core (the default), --only=production, --only=billing or --only=inbound');
const runtime = chooseRuntime();
log(`gateway runtime: ${runtime}; ${JSON.stringify(params)}`);
if (flags.profile && flags.only === 'billing') await billing(runtime);
else if (flags.profile && flags.only === 'inbound') await inbound(runtime);
else if (flags.profile) {
  const profiler = flags.profiler ?? (flags.only === 'production' && perfAvailable() ? 'perf' : 'v8');
  if (profiler !== 'perf' && profiler !== 'v8') throw new Error(`--profiler must be perf or v8, not '${profiler}'`);
  if (profiler === 'perf') await profileWithPerf(runtime);
  else await profile(runtime, flags.only === 'production');
}
else {
  if (only('core')) await compare(runtime);
  if (only('production')) await production(runtime);
  if (only('plugins')) await plugins(runtime);
  if (only('caches')) await caches(runtime);
  if (flags.only === 'tracing') await tracing(runtime);
  if (flags.only === 'inbound') await inbound(runtime);
  if (only('routing')) await routing(runtime);
  if (only('billing')) await billing(runtime);
  if (only('footprint')) await footprint();
}
