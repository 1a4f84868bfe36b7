/**
 * The Deno smoke suites' harness: the `deno` binary that the `deno` dev dependency installed (its
 * platform package ships it; nothing else is downloaded), a gateway process started through it
 * (`deno task start`, `deno task dev`, or `deno run …`) whose JSON log lines can be awaited, and
 * its exit code. Signals go to the process the test started, as an orchestrator sends them to its
 * container's first process; the teardown kills the whole process group, so a failed test leaves no
 * gateway behind `deno task`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../core/config/schema.js';

export const root = packageRoot();

/**
 * The Deno executable from node_modules: `node_modules/deno/deno` once the package's postinstall
 * linked it there, else the binary inside the platform package (`@deno/linux-x64-glibc`, …).
 */
export function denoBinary(): string {
  const exe = process.platform === 'win32' ? 'deno.exe' : 'deno';
  const linked = join(root, 'node_modules', 'deno', exe);
  if (existsSync(linked)) return linked;
  const platform = `${process.platform}-${process.arch}${process.platform === 'linux' ? '-glibc' : ''}`;
  const require = createRequire(join(root, 'package.json'));
  return join(dirname(require.resolve(`@deno/${platform}/package.json`)), exe);
}

/** The environment of a gateway under test: no SWITCHYARD_* from the caller's shell, no colours, no Deno update check. */
export function denoEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' };
  for (const name of Object.keys(env)) if (name.startsWith('SWITCHYARD_')) delete env[name];
  return { ...env, ...extra };
}

export type LogLine = Record<string, unknown> & { msg?: string };

export interface DenoGateway {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT`, from the "Switchyard listening on" line. */
  url: string;
  /** Everything the process wrote (stdout and stderr), for failure messages. */
  output(): string;
  /** The first log line whose `msg` matches, written before or after the call; rejects if the process exits first. */
  logged(msg: RegExp): Promise<LogLine>;
  /** The exit code (null when killed by a signal). */
  code: Promise<number | null>;
}

/**
 * Starts `deno <args>` in the package root and resolves once the gateway listens (rejects if it
 * exits first). `owner.teardown` kills the process group, whatever the test did.
 */
export function startDeno(owner: { teardown(fn: () => unknown): void }, args: string[], env: NodeJS.ProcessEnv): Promise<DenoGateway> {
  const child = spawn(denoBinary(), args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  owner.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  });
  let output = '';
  let pending = '';
  const lines: LogLine[] = [];
  const waiters = new Set<{ msg: RegExp; resolve(line: LogLine): void }>();
  const code = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  const exited = code.then((c) => Promise.reject(new Error(`deno ${args.join(' ')} exited (${c}):\n${output}`)));
  exited.catch(() => undefined);

  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop()!;
    for (const text of complete) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const waiter of waiters) {
        if (waiter.msg.test(line.msg ?? '')) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const logged = (msg: RegExp): Promise<LogLine> => {
    const seen = lines.find((line) => msg.test(line.msg ?? ''));
    if (seen) return Promise.resolve(seen);
    return Promise.race([new Promise<LogLine>((resolve) => waiters.add({ msg, resolve })), exited]);
  };
  return logged(/^Switchyard listening on /).then((line) => ({ child, url: String(line['url']), output: () => output, logged, code }));
}
