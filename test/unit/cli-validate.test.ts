/**
 * The CLI as a user runs it: a child process `node --import tsx bin/main.ts ...`, judged by its exit
 * code and output.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { readdirSync } from 'node:fs';
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
function cli(args: string[], onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void, extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, SWITCHYARD_LOG_LEVEL: 'info', ...extraEnv };
    delete env['SWITCHYARD_CONFIG'];
    delete env['SWITCHYARD_LISTEN'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/main.ts', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { code: null, signal: null, stdout: '', stderr: '' };
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
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
// `switchyard validate examples/*.yaml` as a shell expands it, plus the ops kit's other YAML files,
// with stand-ins for the credentials the example configs read.
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml')).sort().map((f) => join('examples', f));
const opsKit = ['examples/prometheus.yml', 'examples/grafana/provisioning/datasources/prometheus.yaml', 'examples/grafana/provisioning/dashboards/switchyard.yaml'];
const exampleEnv = Object.fromEntries(
  ['OPENAI_API_KEY', 'REDIS_URL', 'DATABASE_URL', 'AZURE_OPENAI_API_KEY', 'OPENROUTER_API_KEY', 'MISTRAL_API_KEY', 'GROQ_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'COHERE_API_KEY', 'GIGACHAT_CREDENTIALS', 'YANDEX_FOLDER_ID', 'YANDEX_API_KEY'].map((v) => [v, `test-${v.toLowerCase()}`]),
);
exampleEnv['AZURE_OPENAI_ENDPOINT'] = 'https://example-resource.openai.azure.com';
exampleEnv['REDIS_URL'] = 'redis://127.0.0.1:1';
exampleEnv['DATABASE_URL'] = 'postgres://nobody@127.0.0.1:1/none';
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
// Compiling every example takes a few seconds of CPU: these two start once the others are done.
const examplesRun = Promise.allSettled([validRun, invalidRun, usageRun, badStartRun, startRun]).then(() => cli(['validate', ...examples, ...opsKit], undefined, exampleEnv));
const mixedRun = examplesRun.then(() => cli(['validate', 'examples/docker-compose.yaml', invalid, 'examples/kubernetes.yaml']));

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

t.test('validate examples/*.yaml checks every gateway config and skips the compose file, the manifests and the ops kit with a note', async (t) => {
  const run = await examplesRun;
  t.equal(run.code, 0, run.stdout + run.stderr);
  const lines = run.stdout.trim().split('\n');
  t.equal(lines.length, examples.length + opsKit.length, 'one line per file');
  const skipped = Object.fromEntries(lines.filter((l) => l.includes(': skipped (')).map((l) => [l.slice(0, l.indexOf(': skipped')), l.slice(l.indexOf('(') + 1, -1)]));
  t.same(skipped, {
    'examples/docker-compose.yaml': 'a Docker Compose file, not a gateway config',
    'examples/kubernetes-scaled.yaml': 'Kubernetes manifests, not a gateway config',
    'examples/kubernetes.yaml': 'Kubernetes manifests, not a gateway config',
    'examples/prometheus.yml': 'a Prometheus config, not a gateway config',
    'examples/grafana/provisioning/datasources/prometheus.yaml': 'a Grafana provisioning file, not a gateway config',
    'examples/grafana/provisioning/dashboards/switchyard.yaml': 'a Grafana provisioning file, not a gateway config',
  });
  const checked = examples.filter((f) => !(f in skipped));
  t.ok(checked.length >= 10, `${checked.length} gateway configs checked`);
  t.same(lines.filter((l) => !l.includes(': skipped (')), checked.map((f) => `${f}: ok`), 'the others are validated, in order');
});

t.test('a skipped file never hides an invalid config: still exit 1', async (t) => {
  const run = await mixedRun;
  t.equal(run.code, 1);
  t.match(run.stdout.trim().split('\n'), [/^examples\/docker-compose\.yaml: skipped/, `${invalid}:4:3: server.body_limit: must be a size`, /^examples\/kubernetes\.yaml: skipped/]);
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
