/**
 * The CLI's manners, as a user meets them: `--help` and `--version` anywhere, and one clear line
 * with a fitting exit code for each mistake — never a Node stack trace. Each case is a child process
 * `node --import tsx bin/main.ts ...`; they run side by side.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../core/config/schema.js';

const root = packageRoot();
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const dir = await mkdtemp(join(tmpdir(), 'switchyard-cli-'));
const config = join(dir, 'gateway.yaml');
await writeFile(config, 'version: 1\nproviders:\n  demo: { adapter: mock }\nmodels:\n  demo: { targets: [{ provider: demo }] }\n');

// A port that is taken for as long as the tests run.
const squatter = createServer();
await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
const busyPort = (squatter.address() as { port: number }).port;
t.teardown(async () => {
  await new Promise((resolve) => squatter.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['SWITCHYARD_CONFIG'];
    delete env['SWITCHYARD_LISTEN'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/main.ts', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { code: null, stdout: '', stderr: '' };
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk: Buffer) => (run.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ...run, code });
    });
  });
}

const runs = {
  busyPort: cli(['start', '--config', config, '--listen', `127.0.0.1:${busyPort}`]),
  unknownStartFlag: cli(['start', '--bogus']),
  unknownValidateFlag: cli(['validate', '--bogus', config]),
  unknownCommand: cli(['strat']),
  help: cli(['-h']),
  startHelp: cli(['start', '--help']),
  validateHelp: cli(['validate', '--help']),
  version: cli(['--version']),
};

/** Exactly one line, and no stack frame in it. */
function oneLine(t: Test, text: string): void {
  t.equal(text.split('\n').length, 2, `one line: ${JSON.stringify(text)}`);
  t.notMatch(text, /\n\s+at /, 'no stack trace');
}

t.test('a busy port is one line that says what to do, exit 1', async (t) => {
  const r = await runs.busyPort;
  t.equal(r.code, 1);
  t.equal(r.stderr, `switchyard: cannot listen on 127.0.0.1:${busyPort}: address already in use (is another gateway running? use --listen)\n`);
});

t.test('an unknown flag or command is one line pointing at --help, exit 2', async (t) => {
  for (const [run, line] of [
    [runs.unknownStartFlag, "switchyard start: unknown option '--bogus' (see `switchyard start --help`)"],
    [runs.unknownValidateFlag, "switchyard validate: unknown option '--bogus' (see `switchyard validate --help`)"],
    [runs.unknownCommand, "switchyard: unknown command 'strat' (see `switchyard --help`)"],
  ] as const) {
    const r = await run;
    t.equal(r.code, 2);
    t.equal(r.stderr, `${line}\n`);
    oneLine(t, r.stderr);
  }
});

t.test('-h and --help print usage on stdout and exit 0, for the CLI and each command', async (t) => {
  for (const [run, start] of [
    [runs.help, 'Usage:\n  switchyard start'],
    [runs.startHelp, 'Usage: switchyard start [--config FILE] [--listen HOST:PORT]'],
    [runs.validateHelp, 'Usage: switchyard validate FILE...'],
  ] as const) {
    const r = await run;
    t.equal(r.code, 0, r.stderr);
    t.ok(r.stdout.startsWith(start), `starts with ${JSON.stringify(start)}`);
    t.equal(r.stderr, '');
  }
});

t.test('--version prints the package version', async (t) => {
  const r = await runs.version;
  t.equal(r.code, 0);
  t.equal(r.stdout, `switchyard ${version}\n`);
});
