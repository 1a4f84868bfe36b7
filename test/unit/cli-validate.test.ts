/**
 * The CLI as a user runs it: a child process `node --import tsx bin/main.ts ...`, judged by its exit
 * code and output.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../core/config/schema.js';

const root = packageRoot();
const bundled = join(root, 'config', 'gateway.yaml');
const dir = await mkdtemp(join(tmpdir(), 'switchyard-cli-'));
const valid = join(dir, 'valid.yaml');
const invalid = join(dir, 'invalid.yaml');
const compileError = join(dir, 'compile-error.yaml');
await writeFile(valid, 'version: 1\nserver: { drain_delay: 0s }\nproviders:\n  demo: { adapter: mock }\nmodels:\n  demo: { targets: [{ provider: demo }] }\n');
await writeFile(invalid, 'version: 1\nserver:\n  listen: 127.0.0.1:0\n  body_limit: lots\n');
await writeFile(compileError, 'version: 1\nmodels:\n  demo: { targets: [{ provider: nowhere }] }\n');
t.teardown(() => rm(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onStdout` sees output as it arrives (to find the listening address). */
function cli(args: string[], onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, SWITCHYARD_LOG_LEVEL: 'info' };
    delete env['SWITCHYARD_CONFIG'];
    delete env['SWITCHYARD_LISTEN'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/main.ts', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { code: null, signal: null, stdout: '', stderr: '' };
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      run.stdout += chunk.toString();
      onStdout?.(run.stdout, (signal) => child.kill(signal));
    });
    child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ ...run, code, signal });
    });
  });
}

// Each child spends about a second starting tsx, so the ones that need no interaction run side by side.
const validRun = cli(['validate', valid, bundled]);
const invalidRun = cli(['validate', invalid, compileError, valid]);
const usageRun = cli(['validate']);
const badStartRun = cli(['start', '--config', invalid, '--listen', '127.0.0.1:0']);
const startRun = (async () => {
  let url: string | undefined;
  let health: Promise<number> | undefined;
  const run = await cli(['start', '--config', valid, '--listen', '127.0.0.1:0'], (text, kill) => {
    const m = /Switchyard listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
    if (!m || url) return;
    url = m[1];
    health = fetch(`${url}/health`).then(
      (res) => res.status,
      () => 0,
    );
    void health.finally(() => kill('SIGTERM'));
  });
  return { run, url, health };
})();

t.test('validate prints ok and exits 0 for valid files, the bundled default included', async (t) => {
  const run = await validRun;
  t.equal(run.code, 0, run.stderr);
  t.same(run.stdout.trim().split('\n'), [`${valid}: ok`, `${bundled}: ok`]);
});

t.test('validate exits 1 and prints file:line:col for every problem', async (t) => {
  const run = await invalidRun;
  t.equal(run.code, 1);
  t.match(run.stdout.trim().split('\n'), [
    `${invalid}:4:3: server.body_limit: must be a size`,
    `${compileError}:3:23: models.demo.targets[0].provider: unknown provider 'nowhere'`,
    `${valid}: ok`,
  ]);
});

t.test('validate without files prints usage and exits 2', async (t) => {
  const run = await usageRun;
  t.equal(run.code, 2);
  t.match(run.stderr, 'Usage:');
});

t.test('start with an invalid config exits 1 naming file:line', async (t) => {
  const run = await badStartRun;
  t.equal(run.code, 1);
  t.match(run.stderr, `${invalid}:4:3: server.body_limit`);
});

t.test('start serves on --listen and exits 0 on SIGTERM', async (t) => {
  const { run, url, health } = await startRun;
  t.ok(url, 'printed its address');
  t.equal(await health, 200, '/health answered');
  t.equal(run.code, 0, run.stderr);
  t.equal(run.signal, null);
  t.match(run.stdout, '"msg":"stopped"');
});
