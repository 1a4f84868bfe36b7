/**
 * Shutdown as orchestrators drive it, on a real `switchyard start` process: SIGTERM first keeps
 * serving with `/ready` failing for `server.drain_delay`, then refuses new connections, then ends
 * what still runs at `server.shutdown_timeout` with a `server_shutting_down` event; Ctrl-C (SIGINT)
 * skips the delay. Both processes start side by side (each spends about a second starting tsx).
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../../core/config/schema.js';

const root = packageRoot();

function config(server: string): string {
  return `version: 1
server: { ${server} }
providers:
  demo: { adapter: mock }
  stuck: { adapter: mock, chunk_delay: 30s }
models:
  demo: { targets: [{ provider: demo }] }
  stuck: { targets: [{ provider: stuck }] }
`;
}

interface Started {
  child: ChildProcess;
  url: string;
  port: number;
  output: () => string;
  code: Promise<number | null>;
}

async function start(name: string, server: string): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-${name}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'gateway.yaml');
  await writeFile(file, config(server));
  const env: NodeJS.ProcessEnv = { ...process.env, SWITCHYARD_DATA_DIR: dir, SWITCHYARD_LOG_LEVEL: 'info' };
  for (const n of ['SWITCHYARD_CONFIG', 'SWITCHYARD_LISTEN']) delete env[n];
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/main.ts', 'start', '--config', file, '--listen', '127.0.0.1:0'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void code.then(() => clearTimeout(timer));
  t.teardown(() => void child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Switchyard listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    void code.then(() => reject(new Error(`gateway exited before listening:\n${output}`)));
  });
  return { child, url, port: Number(new URL(url).port), output: () => output, code };
}

/** A streaming request written by hand, to read exactly what arrives before the connection ends. */
function stream(port: number, model: string): { text: () => string; ended: Promise<void> } {
  const socket: Socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => undefined);
  const ended = Promise.race([new Promise<void>((r) => socket.once('close', () => r())), sleep(10_000).then(() => void socket.destroy())]);
  const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'first second' }] });
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  return { text: () => text, ended };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** Polls `probe` every 20 ms for up to `ms`; returns the milliseconds it took, or -1. */
async function within(ms: number, probe: () => Promise<boolean> | boolean): Promise<number> {
  const since = performance.now();
  while (performance.now() - since < ms) {
    if (await probe()) return performance.now() - since;
    await sleep(20);
  }
  return -1;
}

const ready = async (url: string) => {
  const res = await fetch(`${url}/ready`);
  return { status: res.status, body: (await res.json()) as { status: string } };
};

const termed = start('sigterm', 'drain_delay: 1s, shutdown_timeout: 300ms');
const interrupted = start('sigint', 'shutdown_timeout: 300ms');

t.test('SIGTERM: /ready 503 while still serving, then connections refused, then a running stream gets server_shutting_down', async (t) => {
  const gw = await termed;
  t.equal((await ready(gw.url)).status, 200, 'ready before the signal');
  const s = stream(gw.port, 'stuck');
  t.ok((await within(5000, () => s.text().includes('"content":"first "'))) >= 0, 'stream started');

  gw.child.kill('SIGTERM');
  t.ok((await within(2000, async () => (await ready(gw.url)).status === 503)) >= 0, '/ready turns 503');
  t.equal((await ready(gw.url)).body.status, 'draining');
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'still here' }] }),
  });
  t.equal(res.status, 200, 'a new request is still served during the drain delay');
  t.match(await res.json(), { choices: [{ message: { content: 'still here' } }] });
  t.equal(s.text().includes('server_shutting_down'), false, 'the stream is still running');

  t.ok((await within(3000, () => refused(gw.port))) >= 0, 'new connections are refused after the delay');
  await s.ended;
  const events = [...s.text().matchAll(/^data: (.*)$/gm)].map((m) => m[1]!);
  t.notOk(events.includes('[DONE]'), 'no [DONE]');
  t.match(JSON.parse(events.at(-1)!), { error: { code: 'server_shutting_down' } }, 'the stream ends with the error event');
  t.equal(await gw.code, 0, 'exits 0');
  t.match(gw.output(), /"drain_delay_ms":1000.*draining/);
});

t.test('SIGINT (Ctrl-C) skips the drain delay: the listener closes at once', async (t) => {
  const gw = await interrupted;
  const s = stream(gw.port, 'stuck');
  t.ok((await within(5000, () => s.text().includes('"content":"first "'))) >= 0, 'stream started');
  gw.child.kill('SIGINT');
  const ms = await within(3000, () => refused(gw.port));
  t.ok(ms >= 0 && ms < 3000, `refused within ${Math.round(ms)} ms, well before the default 5 s drain delay`);
  await s.ended;
  t.match(s.text(), /"code":"server_shutting_down"/);
  t.equal(await gw.code, 0, 'exits 0');
  t.notMatch(gw.output(), /drain_delay_ms/);
});
