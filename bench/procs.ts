/**
 * Child processes for the benchmark: the mock upstream, the raw proxy and the gateway each run in
 * their own process (on a 2-core machine, sharing the load generator's event loop would measure the
 * load generator). Also decides whether the gateway runs from `dist/` or through tsx.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get } from 'node:http';
import type { Writable } from 'node:stream';

export interface Child {
  name: string;
  url: string;
  proc: ChildProcess;
  /** With `logPipe`: the process reading the child's stdout. */
  logConsumer?: LogConsumer;
  /** CPU time (user + system) the process has used so far, in ms. */
  cpuMs(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const children = new Set<ChildProcess>();
const killAll = () => {
  for (const c of children) c.kill('SIGKILL');
};
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** A port that was free a moment ago (the child binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function healthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(`${url}/health`, { timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * The reader at the other end of a child's stdout pipe, as a process supervisor (systemd, a
 * container runtime) would be: `wc -lc`, so that the lines the child wrote can be counted. The
 * "pipe" is what Node's stdio `pipe` is on Linux, a Unix stream socket pair (systemd's journal
 * stream is one too; container runtimes use FIFOs): each write is a kernel copy and wakes the reader.
 */
export interface LogConsumer {
  /** CPU time (user + system) the consumer has used so far, in ms. */
  cpuMs(): number;
  /** Lines and bytes read; resolves once the child has exited and the pipe is drained. */
  totals: Promise<{ lines: number; bytes: number }>;
}

function startLogConsumer(): { consumer: LogConsumer; input: Writable } {
  const wc = spawn('wc', ['-lc'], { stdio: ['pipe', 'pipe', 'ignore'] });
  children.add(wc);
  let out = '';
  wc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const totals = new Promise<{ lines: number; bytes: number }>((resolve) =>
    wc.once('close', () => {
      children.delete(wc);
      const [lines, bytes] = out.trim().split(/\s+/).map(Number);
      resolve({ lines: lines ?? NaN, bytes: bytes ?? NaN });
    }),
  );
  return { consumer: { cpuMs: () => cpuMs(wc.pid!), totals }, input: wc.stdin! };
}

export interface ChildOptions {
  /**
   * Send the child's stdout (where the gateway's log lines go) into a pipe read by another process
   * (`logConsumer`) instead of /dev/null. A write to /dev/null costs the kernel nothing; a pipe
   * costs a copy and wakes the reader, as in production under a supervisor.
   */
  logPipe?: boolean;
}

/**
 * Spawns `node ...args` and waits until `GET url/health` answers 200. stdout goes to /dev/null
 * (that is where the gateway's log lines go) unless `logPipe`; stderr is kept for the error
 * message if it dies.
 */
export async function startChild(name: string, url: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd(), options: ChildOptions = {}): Promise<Child> {
  const pipe = options.logPipe ? startLogConsumer() : undefined;
  const proc = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', pipe ? pipe.input : 'ignore', 'pipe'] });
  // Only the child and the consumer hold the pipe now: the consumer sees EOF when the child exits.
  pipe?.input.destroy();
  children.add(proc);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => (children.delete(proc), resolve())));
  const deadline = Date.now() + 30_000;
  while (!(await healthy(url))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name} did not start (exit ${proc.exitCode}):\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name,
    url,
    proc,
    ...(pipe ? { logConsumer: pipe.consumer } : {}),
    cpuMs: () => cpuMs(proc.pid!),
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

let ticksPerSecond: number | undefined;

/**
 * User + system CPU time of a process from /proc (10 ms resolution). Unlike throughput, CPU per
 * request hardly depends on what else the machine is running.
 */
export function cpuMs(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

export type Runtime = 'dist' | 'tsx';

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Source files under core/, plugins/ and bin/ whose compiled `dist/` file is missing or older. */
export function staleDist(root: string): string[] {
  const stale: string[] = [];
  const bin = existsSync(join(root, 'bin')) ? tsFiles(join(root, 'bin')) : [];
  for (const file of [...tsFiles(join(root, 'core')), ...tsFiles(join(root, 'plugins')), ...bin]) {
    const rel = relative(root, file);
    const js = join(root, 'dist', rel.replace(/\.ts$/, '.js'));
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(file).mtimeMs) stale.push(rel);
  }
  return stale;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The gateway's CLI entry, relative to the checkout: bin/main.ts (compiled to dist/bin/main.js), or
 * core/cli.ts in checkouts from before it moved (the bench can measure an older commit's worktree).
 */
export function gatewayEntry(runtime: Runtime, root = ROOT): string {
  const source = existsSync(join(root, 'bin', 'main.ts')) ? 'bin/main.ts' : 'core/cli.ts';
  return runtime === 'dist' ? `dist/${source.replace(/\.ts$/, '.js')}` : source;
}

/** Node arguments that start the gateway CLI from `dist/` or from source through tsx (paths relative to the checkout). */
export function gatewayArgs(runtime: Runtime, configFile: string, listen: string, nodeFlags: string[] = []): string[] {
  const entry = runtime === 'dist' ? [gatewayEntry(runtime)] : ['--import', 'tsx', gatewayEntry(runtime)];
  return [...nodeFlags, ...entry, 'start', '--config', configFile, '--listen', listen];
}
