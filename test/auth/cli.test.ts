/**
 * `switchyard keys|orgs|plans`, run as a real child process against a real gateway: what it prints,
 * where the secret goes, and how it fails.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startGateway, openaiConfig } from '../helpers/gateway.js';

const ADMIN_KEY = 'sy-admin-cli-test-0123456789abcdef';
const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string | undefined> = { SWITCHYARD_ADMIN_KEY: ADMIN_KEY }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'core/cli.ts', ...args], { cwd: root, env: { PATH: process.env['PATH'], ...env } }, (err, stdout, stderr) => {
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
    const plan = await cli(['plans', 'create', '--name', 'pro', '--models', 'gpt-4o*,demo', '--rpm', '60', '--budget-micros', '5000000', ...url]);
    t.equal(plan.code, 0, plan.stderr);
    const planJson = JSON.parse(plan.stdout);
    t.equal(planJson.object, 'plan');
    t.same(planJson.allowed_models, ['gpt-4o*', 'demo']);
    t.same(planJson.limits, { rpm: 60, monthly_budget_micros: 5000000 });

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

  t.test('exits 2 with usage on a malformed command, before calling anything', async (t) => {
    const malformed = [['keys', 'create'], ['keys', 'explode'], ['orgs', 'create', '--slug', 'x'], ['plans', 'create', '--name', 'p', '--rpm', 'lots'], ['keys', 'list', '--bogus']];
    const runs = await Promise.all(malformed.map((args) => cli([...args, ...url])));
    runs.forEach((r, i) => {
      t.equal(r.code, 2, malformed[i]!.join(' '));
      t.match(r.stderr, /Usage:/);
    });
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
