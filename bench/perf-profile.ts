/**
 * Where a process's CPU time goes, from Linux `perf` (`perf record -e cpu-clock -g`) rather than
 * V8's `--cpu-prof`. V8's profiler samples wall time on the main thread only: on a busy 2-core
 * machine the time the gateway sits preempted (typically right after a socket write woke its peer)
 * is charged to `writev`, and GC helper threads and the libuv threadpool are not seen at all.
 * `cpu-clock` samples only a thread that is running, on every thread of the process, through the
 * kernel and V8's natives; `node --perf-prof --interpreted-frames-native-stack` and
 * `perf inject --jit` name the JavaScript frames (with their file), so each sample is charged like
 * in bench/profile.ts.
 *
 * Usage: `tsx bench/perf-profile.ts PERF.DATA PID REQUESTS [--root DIR]` on a `perf inject --jit`
 * output (`run.ts --profile --only=production` records and summarises in one go). Needs `perf`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { componentOfFrame, nodeComponent, shortUrl } from './profile.js';

interface Frame {
  sym: string;
  dso: string;
}

/** What the CPU was doing in a sample, judged from its innermost frames. */
const KINDS = ['JS', 'JSON', 'kernel', 'GC', 'V8 runtime', 'native'] as const;
type Kind = (typeof KINDS)[number];
const KIND_NOTES: Record<Kind, string> = {
  JS: 'JavaScript and V8 builtins (not JSON)',
  JSON: '`JSON.parse` / `JSON.stringify` (V8 natives)',
  kernel: 'system calls: socket reads and writes (loopback TCP runs the receiver side too), epoll, pipe writes',
  GC: 'garbage collection on the main thread (scavenges, mark-compact finalisation)',
  'V8 runtime': 'V8 runtime calls: inline-cache misses, allocation slow paths, the compiler',
  native: "Node's and libuv's C++ (http parser, stream glue, timers), libc",
};

const GC = /v8::internal::(Heap::|Scavenger|ScavengerCollector|MarkCompactCollector|MinorMarkCompact|MinorMarkSweep|ConcurrentMarking|IncrementalMarking|Sweeper|GCTracer|MemoryAllocator|MarkingVisitor|MainMarkingVisitor|FullEvacuator|Evacuat)/;
const JSON_SYM = /Json(Parse|Stringif)|JsonParser|JsonStringifier/;
const RUNTIME = /^(v8::internal::|Builtins?[_:]CEntry)/;
/** A V8 builtin: `Builtins_X` from the node binary, `Builtin:X` from a jitdump. */
const BUILTIN = /^Builtins?[_:]/;

function kindOf(frames: Frame[]): Kind {
  const leaf = frames[0];
  if (!leaf) return 'native';
  // Up to the innermost JavaScript frame: what that JS frame had called.
  const below: Frame[] = [];
  for (const f of frames) {
    if (f.sym.startsWith('JS:')) break;
    below.push(f);
  }
  if (below.some((f) => GC.test(f.sym))) return 'GC';
  if (below.some((f) => JSON_SYM.test(f.sym))) return 'JSON';
  if (leaf.dso.includes('kernel')) return 'kernel';
  if (leaf.sym.startsWith('JS:') || (BUILTIN.test(leaf.sym) && !RUNTIME.test(leaf.sym))) return 'JS';
  if (below.some((f) => RUNTIME.test(f.sym))) return 'V8 runtime';
  return 'native';
}

/** The file (URL, path of a CommonJS module, or node:module) inside a perf-basic-prof JS symbol: `JS:*name file:///x.js:12:3`. */
function jsUrl(sym: string): string | undefined {
  const m = / ((?:file:\/\/|node:|\/)\S+?)(?::\d+)*$/.exec(sym);
  return m?.[1];
}

/** `name file:line` with the file shortened as in bench/profile.ts. */
function jsLabel(sym: string, root: string): string {
  const url = jsUrl(sym);
  const name = sym.slice(3).split(' ')[0]!.replace(/^[*^~]/, '') || '(anonymous)';
  if (!url) return name;
  const line = /:(\d+)(?::\d+)?$/.exec(sym)?.[1];
  return `${name} ${shortUrl(url, root)}${line ? `:${line}` : ''}`;
}

/** What a helper thread (V8 platform worker) was doing, from its stack. */
function helperRole(frames: Frame[]): string {
  if (frames.some((f) => GC.test(f.sym))) return 'V8 helper threads: GC (parallel scavenges, concurrent marking, sweeping)';
  if (frames.some((f) => /Compil|Maglev|Turbofan|compiler::/.test(f.sym))) return 'V8 helper threads: optimising compiler';
  return 'V8 helper threads: other';
}

/** libuv's threadpool threads run `worker`; their stacks are often cut short, so they are told apart by thread. */
const LIBUV_ROLE = 'libuv threadpool: file writes (the access log to stdout) and other fs work';

export interface PerfSummaryOptions {
  /** Samples per second given to `perf record -F`. */
  frequency: number;
}

export async function summarisePerf(dataFile: string, pid: number, root: string, title: string, requests: number, options: PerfSummaryOptions): Promise<string> {
  const usPerSample = 1e6 / options.frequency;
  const script = spawn('perf', ['script', '-i', dataFile, '-F', 'tid,ip,sym,dso'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = createInterface({ input: script.stdout });
  const byComponent = new Map<string, Map<Kind, number>>();
  const byKind = new Map<Kind, number>();
  const helpers = new Map<string, number>();
  const leaves = new Map<string, number>();
  const projectFunctions = new Map<string, number>();
  let mainSamples = 0;
  let helperSamples = 0;
  const libuvThreads = new Set<number>();
  const helperByThread = new Map<number, Map<string, number>>();
  const bump = <K>(m: Map<K, number>, k: K, v = 1) => m.set(k, (m.get(k) ?? 0) + v);

  let tid = -1;
  let frames: Frame[] = [];
  const flush = () => {
    if (tid === -1) return;
    if (tid !== pid) {
      helperSamples++;
      if (frames.some((f) => f.sym === 'worker' || f.sym.startsWith('uv__fs_') || f.sym.startsWith('uv__work'))) libuvThreads.add(tid);
      let roles = helperByThread.get(tid);
      if (!roles) helperByThread.set(tid, (roles = new Map()));
      bump(roles, helperRole(frames));
    } else {
      mainSamples++;
      const kind = kindOf(frames);
      bump(byKind, kind);
      let component: string | undefined;
      let firstNode: string | undefined;
      let projectFn: string | undefined;
      for (const f of frames) {
        if (!f.sym.startsWith('JS:')) continue;
        const url = jsUrl(f.sym);
        if (!url) continue;
        const short = shortUrl(url, root);
        if (short.startsWith('node:')) {
          firstNode ??= short;
          continue;
        }
        component = componentOfFrame(short);
        if (component) {
          if (/^(dist\/)?(core|plugins)\//.test(short)) projectFn = jsLabel(f.sym, root);
          break;
        }
      }
      if (!component) {
        if (kind === 'GC') component = 'garbage collector (outside JS: idle-time and allocation-triggered)';
        else if (firstNode) component = nodeComponent(firstNode);
        else component = 'event loop and natives outside JavaScript (epoll, libuv, Node C++)';
      }
      let kinds = byComponent.get(component);
      if (!kinds) byComponent.set(component, (kinds = new Map()));
      bump(kinds, kind);
      if (projectFn) bump(projectFunctions, projectFn);
      const leaf = frames[0];
      if (leaf) bump(leaves, leaf.sym.startsWith('JS:') ? jsLabel(leaf.sym, root) : `${leaf.sym}${leaf.dso.includes('kernel') ? ' [kernel]' : ''}`);
    }
    tid = -1;
    frames = [];
  };
  for await (const line of lines) {
    if (line === '') {
      flush();
      continue;
    }
    if (!line.startsWith('\t') && !line.startsWith(' ')) {
      flush();
      tid = Number(line.trim().split(/\s+/)[0]);
      continue;
    }
    const m = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/.exec(line);
    if (m) frames.push({ sym: m[1]!.replace(/\+0x[0-9a-f]+$/, ''), dso: m[2]! });
  }
  flush();
  await new Promise((resolve) => (script.exitCode !== null ? resolve(undefined) : script.once('exit', resolve)));
  for (const [thread, roles] of helperByThread) {
    for (const [role, n] of roles) bump(helpers, libuvThreads.has(thread) ? LIBUV_ROLE : role, n);
  }

  const total = mainSamples + helperSamples;
  const us = (samples: number) => ((samples * usPerSample) / requests).toFixed(1);
  const share = (samples: number) => `${((samples / total) * 100).toFixed(1)}%`;
  const sorted = <K>(m: Map<K, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  const componentRows = [...byComponent.entries()]
    .map(([c, kinds]) => [c, kinds, [...kinds.values()].reduce((a, b) => a + b, 0)] as const)
    .sort((a, b) => b[2] - a[2]);
  return [
    `## CPU profile (perf): ${title}`,
    '',
    `${total} samples of CPU time (\`perf record -e cpu-clock -F ${options.frequency} -g\`, ${usPerSample.toFixed(0)} µs each) over ${requests.toLocaleString('en-US')} requests: ` +
      `**${us(total)} µs CPU per request**, of which the main thread ${us(mainSamples)} and helper threads ${us(helperSamples)}. Shares are of all samples.`,
    '',
    '### Main thread, by component',
    'Each sample is charged to the nearest project file or package on its stack (Node internals, V8 and the kernel below it count for it); ' +
      'the columns say what the CPU was doing: ' +
      KINDS.map((k) => `**${k}** — ${KIND_NOTES[k]}`).join('; ') +
      '. All figures are µs per request.',
    '',
    `| component | µs/req | share | ${KINDS.join(' | ')} |`,
    `| --- | ---: | ---: | ${KINDS.map(() => '---:').join(' | ')} |`,
    ...componentRows.map(([c, kinds, n]) => `| ${c} | ${us(n)} | ${share(n)} | ${KINDS.map((k) => (kinds.get(k) ? us(kinds.get(k)!) : '')).join(' | ')} |`),
    `| **main thread** | **${us(mainSamples)}** | ${share(mainSamples)} | ${KINDS.map((k) => us(byKind.get(k) ?? 0)).join(' | ')} |`,
    '',
    '### Helper threads',
    '| thread work | µs/req | share |',
    '| --- | ---: | ---: |',
    ...sorted(helpers).map(([h, n]) => `| ${h} | ${us(n)} | ${share(n)} |`),
    '',
    '### Project functions (main thread), charged with everything below them up to the next project or package frame',
    '| function | µs/req | share |',
    '| --- | ---: | ---: |',
    ...sorted(projectFunctions)
      .slice(0, 25)
      .map(([f, n]) => `| \`${f}\` | ${us(n)} | ${share(n)} |`),
    '',
    '### Hottest leaf symbols (main thread, self time)',
    '| symbol | µs/req | share |',
    '| --- | ---: | ---: |',
    ...sorted(leaves)
      .slice(0, 30)
      .map(([s, n]) => `| \`${s.replace(/\|/g, '\\|').slice(0, 140)}\` | ${us(n)} | ${share(n)} |`),
    '',
  ].join('\n');
}

/** Whether `perf record` can run here (the binary exists and may sample this user's processes). */
export function perfAvailable(): boolean {
  try {
    execFileSync('perf', ['record', '-e', 'cpu-clock', '-o', '/dev/null', '--', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Node flags for a process to be profiled with `perfRecord`: V8 writes a jitdump (jit-PID.dump, in
 * the working directory) naming every piece of code it generates, with timestamps, so that
 * `perf inject --jit` attributes each sample to the code that was at that address at that moment
 * (the plainer --perf-basic-prof map goes stale as V8 frees code and reuses its addresses).
 */
export const PERF_NODE_FLAGS = ['--perf-prof', '--interpreted-frames-native-stack'];

/**
 * Samples process `pid` (all its threads) while `during` runs; then resolves its JIT code from the
 * jitdump in `dir` (call after the process exited, so the dump is complete) — see `finish`.
 */
export async function perfRecord<T>(pid: number, dir: string, frequency: number, during: () => Promise<T>): Promise<{ result: T; finish: () => string }> {
  const raw = join(dir, `perf-${pid}.data`);
  const perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', String(frequency), '-g', '-k', 'mono', '-p', String(pid), '-o', raw], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  perf.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => perf.once('exit', resolve));
  // perf attaches within a few ms; give it a moment before the measured load.
  await new Promise((r) => setTimeout(r, 300));
  let result: T;
  try {
    result = await during();
  } finally {
    perf.kill('SIGINT');
  }
  const code = await exited;
  // perf stops on SIGINT (exit code null, or 0 once it has handled the signal).
  if ((code !== 0 && code !== null) || !existsSync(raw)) throw new Error(`perf record failed (${code}): ${stderr.slice(-500)}`);
  return {
    result,
    finish: () => {
      const injected = join(dir, `perf-${pid}.jit.data`);
      execFileSync('perf', ['inject', '--jit', '-i', raw, '-o', injected], { cwd: dir, stdio: 'ignore' });
      return injected;
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { root: { type: 'string', default: process.cwd() }, frequency: { type: 'string', default: '1999' } } });
  const [file, pid, requests] = positionals;
  if (!file || !pid || !requests) {
    process.stderr.write('usage: tsx bench/perf-profile.ts PERF.DATA PID REQUESTS [--root DIR] [--frequency HZ]\n');
    process.exit(2);
  }
  process.stdout.write(await summarisePerf(file, Number(pid), values.root!, file, Number(requests), { frequency: Number(values.frequency) }));
}
