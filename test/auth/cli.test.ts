/**
 * `switchyard keys|orgs|plans`, run as a real child process against a real gateway: what it prints,
 * where the secret goes, and how it fails.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startGateway, openaiConfig } from '../helpers/gateway.js';
import { runIdentityCli, type CliIo } from '../../plugins/auth/cli.js';

const ADMIN_KEY = 'sy-admin-cli-test-0123456789abcdef';
const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string | undefined> = { SWITCHYARD_ADMIN_KEY: ADMIN_KEY }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'bin/main.ts', ...args], { cwd: root, env: { PATH: process.env['PATH'], ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

t.test('identity CLI against a running gateway', async (t) => {
  const gw = await startGateway(openaiConfig('http://127.0.0.1:9/v1', 'stores: { kv: memory, sql: { pglite: memory } }\n'), {
    env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY },
  });
  t.teardown(() => gw.close());
  const url = ['--url', gw.url];

  t.test('creates a plan and an organization on it, printing JSON records', async (t) => {
    const plan = await cli(['plans', 'create', '--name', 'pro', '--models', 'gpt-4o*,demo', '--rpm', '60', ...url]);
    t.equal(plan.code, 0, plan.stderr);
    const planJson = JSON.parse(plan.stdout);
    t.equal(planJson.object, 'plan');
    t.same(planJson.allowed_models, ['gpt-4o*', 'demo']);
    t.same(planJson.limits, { rpm: 60 });

    const org = await cli(['orgs', 'create', '--slug', 'acme', '--name', 'Acme Inc', '--plan', 'pro', ...url]);
    t.equal(org.code, 0, org.stderr);
    t.equal(JSON.parse(org.stdout).plan_id, planJson.id);
  });

  t.test('keys create prints the secret once on stdout and warns on stderr', async (t) => {
    const created = await cli(['keys', 'create', '--org', 'acme', '--scopes', 'write', '--name', 'ci', '--env', 'test', '--expires-in', '30d', ...url]);
    t.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout);
    t.match(key.key, /^sk-sy-test-/);
    t.same(key.scopes, ['write']);
    t.match(created.stderr, /shown only this once/);
    t.notMatch(created.stderr, key.key, 'the warning does not repeat the secret');

    const listed = await cli(['keys', 'list', '--org', 'acme', ...url]);
    t.equal(listed.code, 0);
    const list = JSON.parse(listed.stdout);
    t.equal(list.object, 'list');
    t.same(list.data.map((k: { id: string }) => k.id), [key.id]);
    t.notMatch(listed.stdout, key.key);

    const rotated = await cli(['keys', 'rotate', key.id, '--grace', '1h', ...url]);
    t.equal(rotated.code, 0, rotated.stderr);
    t.equal(JSON.parse(rotated.stdout).rotated_from.id, key.id);
    t.match(rotated.stderr, /shown only this once/);

    const revoked = await cli(['keys', 'revoke', key.id, ...url]);
    t.equal(revoked.code, 0);
    t.ok(JSON.parse(revoked.stdout).revoked_at);
  });

  t.test('--table prints a compact table', async (t) => {
    const table = await cli(['orgs', 'list', '--table', ...url]);
    t.equal(table.code, 0);
    const lines = table.stdout.trim().split('\n');
    t.match(lines[0], /^id\s+slug\s+name\s+plan_id\s+disabled$/);
    t.match(lines[1], /^org_\S+\s+acme\s+Acme Inc\s+plan_\S+\s+false$/);
  });

  t.test('reads the gateway URL from SWITCHYARD_URL and the credential from --admin-key', async (t) => {
    const r = await cli(['plans', 'list', '--admin-key', ADMIN_KEY], { SWITCHYARD_URL: gw.url });
    t.equal(r.code, 0, r.stderr);
    t.equal(JSON.parse(r.stdout).data[0].name, 'pro');
  });

  t.test('exits 1 with the error envelope message when the gateway refuses', async (t) => {
    const dup = await cli(['orgs', 'create', '--slug', 'acme', '--name', 'Again', ...url]);
    t.equal(dup.code, 1);
    t.match(dup.stderr, /already exists/);
    t.equal(dup.stdout, '');
    const missing = await cli(['keys', 'get', 'key_nope', ...url]);
    t.equal(missing.code, 1);
    t.match(missing.stderr, /No key 'key_nope' exists/);
    const wrongCredential = await cli(['orgs', 'list', ...url], { SWITCHYARD_ADMIN_KEY: 'not-the-admin-key-at-all' });
    t.equal(wrongCredential.code, 1);
    t.match(wrongCredential.stderr, /Incorrect API key provided/);
  });

  t.test('exits 2 with one line and a pointer to --help on a malformed command, before calling anything', async (t) => {
    const malformed = [['keys', 'create'], ['keys', 'explode'], ['orgs', 'create', '--slug', 'x'], ['plans', 'create', '--name', 'p', '--rpm', 'lots'], ['keys', 'list', '--bogus']];
    const runs = await Promise.all(malformed.map((args) => cli([...args, ...url])));
    runs.forEach((r, i) => {
      t.equal(r.code, 2, malformed[i]!.join(' '));
      t.match(r.stderr, new RegExp(`^switchyard ${malformed[i]![0]}: [^\\n]+ \\(see \`switchyard ${malformed[i]![0]} --help\`\\)\\n$`));
    });
    t.match(runs[4]!.stderr, "unknown option '--bogus'");
    const noKey = await cli(['orgs', 'list', ...url], {});
    t.equal(noKey.code, 2);
    t.match(noKey.stderr, /SWITCHYARD_ADMIN_KEY/);
  });

  t.test('exits 1 naming the URL when no gateway answers', async (t) => {
    const r = await cli(['orgs', 'list', '--url', 'http://127.0.0.1:1']);
    t.equal(r.code, 1);
    t.match(r.stderr, /cannot reach the gateway at http:\/\/127\.0\.0\.1:1/);
  });
});

/** A loopback port nothing listens on (taken from the OS, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** In-process runs, with stderr lines delivered as they are written. */
function capture(onErr: (line: string) => void = () => {}): CliIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    env: {},
    out: (text) => void (out += text),
    err: (text) => {
      err += text;
      onErr(text);
    },
    stdout: () => out,
    stderr: () => err,
  };
}

t.test('--help and -h print the usage and exit 0, on the command and on an action', async (t) => {
  for (const [command, ...args] of [['keys', '--help'], ['plans', 'create', '-h'], ['orgs', 'list', '--help']] as const) {
    const io = capture();
    t.equal(await runIdentityCli(command, [...args], io), 0);
    t.match(io.stdout(), /^Usage:\n\s+switchyard keys create/);
    t.equal(io.stderr(), '');
  }
});

t.test('a bad --budget-micros and a bad --wait are usage errors', async (t) => {
  const budget = capture();
  t.equal(await runIdentityCli('plans', ['create', '--name', 'budgeted', '--budget-micros', '5e6', '--admin-key', ADMIN_KEY, '--url', 'http://127.0.0.1:9'], budget), 2);
  t.equal(budget.stderr(), 'switchyard plans: --budget-micros must be a whole number (see `switchyard plans --help`)\n');
  const wait = capture();
  t.equal(await runIdentityCli('orgs', ['list', '--wait', 'forever'], wait), 2);
  t.match(wait.stderr(), /^switchyard orgs: --wait must be a duration/);
});

t.test('a command waits for a gateway that is still starting, and says so once', async (t) => {
  const port = await freePort();
  let sawWaiting!: () => void;
  const waiting = new Promise<void>((resolve) => (sawWaiting = resolve));
  const io = capture((text) => text.includes('waiting for the gateway') && sawWaiting());
  const run = runIdentityCli('orgs', ['list', '--url', `http://127.0.0.1:${port}`, '--admin-key', ADMIN_KEY], io);
  const first = await Promise.race([waiting.then(() => 'waiting'), run.then(() => 'gave up')]);
  t.equal(first, 'waiting', `it waits rather than failing at once: ${io.stderr()}`);
  if (first !== 'waiting') return;
  const gw = await startGateway(openaiConfig('http://127.0.0.1:9/v1', 'stores: { kv: memory, sql: { pglite: memory } }\n'), {
    listen: `127.0.0.1:${port}`,
    env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY },
  });
  t.teardown(() => gw.close());
  t.equal(await run, 0, io.stderr());
  t.equal(JSON.parse(io.stdout()).object, 'list');
  t.equal(io.stderr(), `switchyard orgs: waiting for the gateway at http://127.0.0.1:${port} …\n`, 'one line, and nothing else');
});

t.test('a command stops waiting after --wait and says the gateway refused', async (t) => {
  const port = await freePort();
  const io = capture();
  const started = Date.now();
  t.equal(await runIdentityCli('orgs', ['list', '--url', `http://127.0.0.1:${port}`, '--admin-key', ADMIN_KEY, '--wait', '600ms'], io), 1);
  t.ok(Date.now() - started >= 300, 'it waited');
  t.equal(
    io.stderr(),
    `switchyard orgs: waiting for the gateway at http://127.0.0.1:${port} …\nswitchyard orgs: cannot reach the gateway at http://127.0.0.1:${port}: connection refused (waited 600ms; is it running?)\n`,
  );
  const now = capture();
  t.equal(await runIdentityCli('orgs', ['list', '--url', `http://127.0.0.1:${port}`, '--admin-key', ADMIN_KEY, '--wait', '0'], now), 1);
  t.notMatch(now.stderr(), 'waiting', '--wait 0 does not wait');
});

t.test('a gateway without SWITCHYARD_ADMIN_KEY: the command says the secret is not set there', async (t) => {
  const gw = await startGateway(openaiConfig('http://127.0.0.1:9/v1'), { env: { ...process.env, SWITCHYARD_ADMIN_KEY: undefined } });
  t.teardown(() => gw.close());
  const io = capture();
  t.equal(await runIdentityCli('orgs', ['list', '--url', gw.url, '--admin-key', ADMIN_KEY], io), 1);
  t.match(io.stderr(), /^switchyard orgs: The admin API secret is not set on this gateway: start it with SWITCHYARD_ADMIN_KEY/);
  t.notMatch(io.stderr(), 'Incorrect API key');
});
