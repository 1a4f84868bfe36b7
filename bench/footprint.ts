/**
 * `npm run bench -- --only=footprint`: resident memory of the gateway as a user runs it — the
 * default quickstart config (config/gateway.yaml: auth with the embedded database, rate-limit,
 * cache, transform) on a new data directory (the very first start), idle, after the benchmark's
 * load, and restarted on the same directory; the same config with its SQL store on PostgreSQL
 * (when DATABASE_URL or 127.0.0.1:5432 answers); and a config that never opens a database. Under
 * Deno 2 too when the `deno` package is installed. Each runtime gets the flags a user's command
 * passes (`runtimeArgs`). The load is a fixed number of requests (`FootprintLoad`). Targets (issue 14): embedded ≤ 200 MB idle,
 * ≤ 300 MB peak on the very first start, ≤ 250 MB after load; PostgreSQL ≤ 150 MB.
 *
 * RSS is read from /proc/<pid>/status (VmRSS now, VmHWM the peak so far) of the gateway process
 * itself, sampled every 20 ms while it starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freePort } from './procs.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const DEV_KEY = 'sk-switchyard-dev';
const DENO = join(ROOT, 'node_modules', '.bin', 'deno');

export interface FootprintRow {
  runtime: 'node' | 'deno';
  scenario: string;
  /** VmHWM once the gateway answered its first request (the start's peak). */
  startPeakMb: number;
  /** VmRSS 2 s after the first request. */
  idleMb: number;
  /** VmRSS right after the load, and 3 s later. */
  afterLoadMb?: number;
  settledMb?: number;
  /** VmHWM at the end. */
  peakMb: number;
  /** Requests of the load answered 2xx, and how long the load took. */
  loadRequests?: number;
  loadSeconds?: number;
  startMs: number;
}

/**
 * The load: a fixed number of requests, each with a new prompt, at a fixed concurrency. A count,
 * not a duration: what the cache holds afterwards (and so the memory) is then the same on a fast
 * and a slow machine, and between runtimes.
 */
export interface FootprintLoad {
  requests: number;
  connections: number;
}

export interface FootprintResults {
  rows: FootprintRow[];
  load: FootprintLoad;
}

const mb = (kb: number) => Math.round(kb / 1024);

async function status(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(text)![1]), hwm: Number(/VmHWM:\s+(\d+)/.exec(text)![1]) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`)).ok;
  } catch {
    return false;
  }
}

async function chat(url: string, text: string): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEV_KEY}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: text }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

interface Running {
  proc: ChildProcess;
  url: string;
  startMs: number;
  stop(): Promise<void>;
}

const ENTRY = join(ROOT, 'bin', 'switchyard.js');

/**
 * The runtime's arguments before the entry point, as a user's command passes them: for Node the
 * flags on bin/switchyard.js's `#!` line (which `npm start` and the Dockerfile repeat), for Deno
 * those of `deno task start` (deno.json).
 */
async function runtimeArgs(runtime: 'node' | 'deno'): Promise<string[]> {
  if (runtime === 'node') return (await readFile(ENTRY, 'utf8')).split('\n', 1)[0]!.split(/\s+/).filter((word) => word.startsWith('--'));
  const task = (JSON.parse(await readFile(join(ROOT, 'deno.json'), 'utf8')) as { tasks: { start: string } }).tasks.start.split(/\s+/);
  return task.slice(task.indexOf('run'), task.indexOf('bin/switchyard.js'));
}

async function start(runtime: 'node' | 'deno', config: string, env: NodeJS.ProcessEnv): Promise<Running> {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const args = [...(await runtimeArgs(runtime)), ENTRY, 'start', '--config', config, '--listen', listen];
  const started = performance.now();
  const proc = spawn(runtime === 'node' ? process.execPath : DENO, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `http://${listen}`;
  const deadline = Date.now() + 120_000;
  while (!(await answers(url))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`the gateway (${runtime}, ${config}) did not start:\n${stderr}`);
    }
    await sleep(20);
  }
  return {
    proc,
    url,
    startMs: performance.now() - started,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

async function measure(runtime: 'node' | 'deno', scenario: string, config: string, env: NodeJS.ProcessEnv, load: FootprintLoad | undefined): Promise<FootprintRow> {
  const gw = await start(runtime, config, env);
  try {
    const first = await chat(gw.url, 'hello');
    if (first !== 200) throw new Error(`${scenario}: the first request answered ${first}`);
    // A gateway whose SQL store is unreachable still answers (static keys), but queues every usage
    // row in memory: the figures would measure that queue, not the gateway.
    const ready = await fetch(`${gw.url}/ready`);
    if (!ready.ok) throw new Error(`${scenario}: /ready answered ${ready.status}: ${await ready.text()}`);
    const startPeak = (await status(gw.proc.pid!)).hwm;
    await sleep(2000);
    const idle = (await status(gw.proc.pid!)).rss;
    const row: FootprintRow = { runtime, scenario, startPeakMb: mb(startPeak), idleMb: mb(idle), peakMb: 0, startMs: Math.round(gw.startMs) };
    if (load) {
      let n = 0;
      const r = await autocannon({
        url: `${gw.url}/v1/chat/completions`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${DEV_KEY}` },
        // A new prompt per request: every one is a cache miss, so the cache fills as it would.
        requests: [{ method: 'POST', setupRequest: (req: { body?: string }) => ({ ...req, body: JSON.stringify({ model: 'demo', temperature: 0, messages: [{ role: 'user', content: `request ${n++} ${'x'.repeat(200)}` }] }) }) }],
        connections: load.connections,
        amount: load.requests,
      });
      row.loadSeconds = Math.round(r.duration * 10) / 10;
      if (r.non2xx > r['2xx'] / 100) throw new Error(`${scenario}: ${r.non2xx} of ${r['2xx'] + r.non2xx} answers were not 2xx`);
      row.loadRequests = r['2xx'];
      row.afterLoadMb = mb((await status(gw.proc.pid!)).rss);
      await sleep(3000);
      row.settledMb = mb((await status(gw.proc.pid!)).rss);
    }
    row.peakMb = mb((await status(gw.proc.pid!)).hwm);
    return row;
  } finally {
    await gw.stop();
  }
}

/** The quickstart config with the rate limit lifted (the load would be 429s otherwise): the same plugins. */
async function quickstartConfig(dir: string, sql: 'embedded' | 'postgres' | 'none'): Promise<string> {
  let text = await readFile(join(ROOT, 'config', 'gateway.yaml'), 'utf8');
  text = text.replace(/rpm: \d+, tpm: \d+/, 'rpm: 100000000, tpm: 100000000000');
  if (sql === 'postgres') text = text.replace(/^(\s*)sql: \{ pglite: .*$/m, '$1sql: { postgres: "${DATABASE_URL}" }');
  // Keys from the config only; billing and responses still open the SQL store (for usage rows and stored responses).
  if (sql === 'none') text = text.replace('keys: [static, sql]', 'keys: [static]');
  // The catalog and the other relative paths resolve from the config's own directory.
  text = text.replace('# yaml-language-server: $schema=../schemas/gateway.schema.json', '');
  const file = join(dir, `gateway-${sql}.yaml`);
  await writeFile(file, text);
  return file;
}

function postgresAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((r) => {
    const socket = createConnection({ host: hostname, port: Number(port || 5432) });
    socket.once('connect', () => (socket.destroy(), r(true)));
    socket.once('error', () => r(false));
  });
}

export async function benchFootprint(options: FootprintLoad & { log: (line: string) => void }): Promise<FootprintResults> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-footprint-'));
  const rows: FootprintRow[] = [];
  const load: FootprintLoad = { requests: options.requests, connections: options.connections };
  try {
    const runtimes: ('node' | 'deno')[] = existsSync(DENO) ? ['node', 'deno'] : ['node'];
    for (const runtime of runtimes) {
      const data = join(dir, `data-${runtime}`);
      const embedded = await quickstartConfig(dir, 'embedded');
      options.log(`footprint: ${runtime}, quickstart, first start on a new data directory…`);
      rows.push(await measure(runtime, 'quickstart, first start (new database)', embedded, { SWITCHYARD_DATA_DIR: data }, load));
      options.log(`footprint: ${runtime}, quickstart, restart on the same data directory…`);
      rows.push(await measure(runtime, 'quickstart, restart (existing database)', embedded, { SWITCHYARD_DATA_DIR: data }, load));
      options.log(`footprint: ${runtime}, quickstart with static keys (no key lookups in SQL)…`);
      rows.push(await measure(runtime, 'static keys (no key lookups in SQL)', await quickstartConfig(dir, 'none'), { SWITCHYARD_DATA_DIR: join(dir, `data-static-${runtime}`) }, load));
      // With a user name: without one, pg takes $USER, which a container may not set.
      const databaseUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
      if (await postgresAnswers(databaseUrl)) {
        options.log(`footprint: ${runtime}, quickstart on PostgreSQL…`);
        rows.push(await measure(runtime, 'quickstart, SQL on PostgreSQL', await quickstartConfig(dir, 'postgres'), { DATABASE_URL: databaseUrl }, load));
      } else {
        options.log(`footprint: PostgreSQL at ${databaseUrl} does not answer; skipped`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { rows, load };
}

export function renderFootprintMarkdown(results: FootprintResults): string {
  const lines = [
    `Resident memory (MB) of the gateway process; load: ${results.load.requests} requests closed-loop at ${results.load.connections} connections, a new prompt per request (every one a cache miss and a new cache entry). Targets: embedded ≤ 200 MB idle, ≤ 300 MB peak on the very first start, ≤ 250 MB after load; PostgreSQL ≤ 150 MB.`,
    '',
    '| runtime | scenario | start (ms) | start peak | idle | after load | 3 s later | peak | load (s) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results.rows) {
    lines.push(`| ${r.runtime} | ${r.scenario} | ${r.startMs} | ${r.startPeakMb} | ${r.idleMb} | ${r.afterLoadMb ?? '–'} | ${r.settledMb ?? '–'} | ${r.peakMb} | ${r.loadSeconds ?? '–'} |`);
  }
  return `${lines.join('\n')}\n`;
}
