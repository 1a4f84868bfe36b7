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

export function shortUrl(url: string, root: string): string {
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

/** Packages that only the logger uses: time under them is the log's. */
const LOG_PACKAGES = new Set(['pino', 'sonic-boom', 'fast-redact', '@pinojs/redact', 'quick-format-unescaped', 'safe-stable-stringify', 'pino-std-serializers', 'atomic-sleep', 'on-exit-leak-free', 'thread-stream']);
const PACKAGE_COMPONENTS: Record<string, string> = {
  undici: 'undici (upstream HTTP client)',
  'prom-client': 'metrics (prom-client)',
  'secure-json-parse': 'JSON parse (secure-json-parse)',
  ajv: 'ajv (request validation)',
};

/**
 * What a project or package frame belongs to, for the component table: the logger, a plugin, a core
 * file, a package. Undefined for Node's own code and natives (those are charged to their caller).
 */
export function componentOfFrame(short: string): string | undefined {
  if (!short || short.startsWith('node:') || short.startsWith('wasm:')) return undefined;
  if (isProject(short)) {
    const path = short.replace(/^dist\//, '').replace(/\.[jt]s$/, '');
    if (path === 'core/log') return 'access log (pino, sonic-boom, redaction)';
    const plugin = /^plugins\/([^/]+)\//.exec(path);
    if (plugin) return `plugin ${plugin[1]}`;
    return path;
  }
  if (short.startsWith('bench/')) return short.replace(/\.[jt]s$/, '');
  const pkg = category('', short);
  if (LOG_PACKAGES.has(pkg)) return 'access log (pino, sonic-boom, redaction)';
  return PACKAGE_COMPONENTS[pkg] ?? `package ${pkg}`;
}

/** The Node module a sample with no project or package frame on its stack was in. */
export function nodeComponent(leafShort: string): string {
  if (/^node:_http_/.test(leafShort)) return 'Node http (parser, server, agent) outside project code';
  if (/^node:(net|internal\/stream|internal\/streams)/.test(leafShort)) return 'Node sockets and streams outside project code';
  if (!leafShort) return 'natives outside project code (socket I/O, microtask runner)';
  return 'Node event loop (timers, task queues) outside project code';
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
  /** Component → [own JS, Node internals and natives it called]. */
  const components = new Map<string, [number, number]>();
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
    // The component: the nearest project or package frame on the stack (itself included).
    let component: string | undefined;
    let own = true;
    if (fn === '(garbage collector)') component = 'garbage collector';
    else if (fn === '(program)') component = '(program): V8 and native work outside JS';
    else {
      for (let at: ProfileNode | undefined = n; at && !component; at = byId.get(parent.get(at.id) ?? -1)) {
        component = componentOfFrame(info(at).short);
        if (!component) own = false;
      }
      component ??= nodeComponent(short);
    }
    const split = components.get(component) ?? [0, 0];
    split[own ? 0 : 1] += ms;
    components.set(component, split);
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
  const us = (v: number) => (requests ? ((v * 1000) / requests).toFixed(1) : 'n/a');
  const componentRows = [...components.entries()].sort((a, b) => b[1][0] + b[1][1] - (a[1][0] + a[1][1]));
  return [
    `## CPU profile: ${title}`,
    '',
    `Sampled ${(total / 1000).toFixed(1)} s, busy (not idle) ${(busy / 1000).toFixed(1)} s${requests ? ` over ${requests} requests (${((busy * 1000) / requests).toFixed(0)} µs busy per request)` : ''}. Shares are of busy time.`,
    '',
    '### By component',
    'Each sample goes to the nearest project file or package on its stack: Node internals and natives (socket writes, `JSON.parse`, ' +
      '`JSON.stringify` — V8 does not sample these builtins apart from their caller) count for the code that called them. ' +
      '"own JS" is time in the component\'s own functions, "called" the Node internals and natives under them.',
    '',
    `| component | ms | share of busy |${requests ? ' µs/req | own JS µs/req | called µs/req |' : ''}`,
    `| --- | ---: | ---: |${requests ? ' ---: | ---: | ---: |' : ''}`,
    ...componentRows.map(([k, [own, called]]) => `| ${k} | ${(own + called).toFixed(0)} | ${share(own + called)} |${requests ? ` ${us(own + called)} | ${us(own)} | ${us(called)} |` : ''}`),
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
