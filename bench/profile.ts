/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`) as markdown: where the time goes by
 * package/file, the hottest functions, and — most useful for a proxy whose own code is thin — the
 * project functions (core/, plugins/) charged with their own time plus everything they call outside
 * the project (Node internals, undici, pino, …).
 *
 * Usage: `tsx bench/profile.ts FILE.cpuprofile [--root DIR]` (also used by `run.ts --profile`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Only the samples taken between `fromUs` and `toUs` (the monotonic clock in µs, which
 * `process.hrtime` in any process on the machine shares with V8's profile timestamps).
 */
function sliceProfile(profile: CpuProfile, fromUs: number, toUs: number): CpuProfile {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t >= fromUs && t < toUs) {
      samples.push(id);
      timeDeltas.push(profile.timeDeltas[i] ?? 0);
    }
  });
  return { ...profile, samples, timeDeltas };
}

const SPECIAL = new Set(['(program)', '(garbage collector)', '(root)']);

function shortUrl(url: string, root: string): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) return path.slice(nm + 14);
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path;
}

function isProject(short: string): boolean {
  return /^(dist\/)?(core|plugins)\//.test(short);
}

/** Package name, `node:module`, project file, or a V8 category. */
function category(fn: string, short: string): string {
  if (SPECIAL.has(fn)) return fn;
  if (!short) return '(native / V8 builtins)';
  if (short.startsWith('node:')) return short;
  if (isProject(short)) return short;
  const parts = short.split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function top(map: Map<string, number>, n: number): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/**
 * `requests`, when known, adds a µs-per-request column. `window` ([from, to] on the monotonic clock
 * in µs) keeps only the samples of one phase of a run.
 */
export function summariseProfile(file: string, root: string, title = file, requests?: number, window?: [number, number]): string {
  const whole = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const profile = window ? sliceProfile(whole, window[0], window[1]) : whole;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));

  const info = (n: ProfileNode) => {
    const short = shortUrl(n.callFrame.url, root);
    const fn = n.callFrame.functionName || '(anonymous)';
    return { fn, short, key: short ? `${fn} ${short}:${n.callFrame.lineNumber + 1}` : fn };
  };
  let total = 0;
  let idle = 0;
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const charged = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { fn, short, key } = info(n);
    total += ms;
    if (fn === '(idle)') {
      idle += ms;
      continue;
    }
    bump(byCategory, category(fn, short), ms);
    bump(byFunction, key, ms);
    // Charge the sample to the nearest project frame on the stack (itself included).
    let cur: ProfileNode | undefined = n;
    while (cur && !isProject(info(cur).short)) cur = byId.get(parent.get(cur.id) ?? -1);
    if (cur) bump(charged, info(cur).key, ms);
  }
  const busy = total - idle;
  const share = (v: number) => `${((v / busy) * 100).toFixed(1)}%`;
  const perRequest = (v: number) => (requests ? ` ${((v * 1000) / requests).toFixed(1)} |` : '');
  const table = (head: string, rows: [string, number][]) =>
    [
      `| ${head} | ms | share of busy |${requests ? ' µs/req |' : ''}`,
      `| --- | ---: | ---: |${requests ? ' ---: |' : ''}`,
      ...rows.map(([k, v]) => `| \`${k}\` | ${v.toFixed(0)} | ${share(v)} |${perRequest(v)}`),
    ].join('\n');
  return [
    `## CPU profile: ${title}`,
    '',
    `Sampled ${(total / 1000).toFixed(1)} s, busy (not idle) ${(busy / 1000).toFixed(1)} s${requests ? ` over ${requests} requests (${((busy * 1000) / requests).toFixed(0)} µs busy per request)` : ''}. Shares are of busy time.`,
    '',
    '### Self time by package / file',
    table('where', top(byCategory, 20)),
    '',
    '### Hottest functions (self time)',
    table('function', top(byFunction, 25)),
    '',
    '### Project functions charged with their own time plus the non-project code they call',
    table('function', top(charged, 25)),
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { root: { type: 'string', default: process.cwd() } } });
  if (positionals.length === 0) {
    process.stderr.write('usage: tsx bench/profile.ts FILE.cpuprofile [--root DIR]\n');
    process.exit(2);
  }
  for (const file of positionals) process.stdout.write(`${summariseProfile(file, values.root!)}\n`);
}
