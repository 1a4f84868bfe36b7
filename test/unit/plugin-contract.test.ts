/**
 * A feature is one folder: a plugin definition owns its SQL migrations, admin routes and CLI
 * commands, and `core/` holds none of them. A fixture plugin (`guestbook-plugin.ts`) registered
 * beside the built-ins gets its table, its `/admin` route and its command without the core naming it.
 */
import t from 'tap';
import { PLUGIN_MIGRATIONS } from '../stores/sql-suite.js';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { packageRoot } from '../../core/config/schema.js';
import type { PluginDefinition, PluginRegistry } from '../../core/plugin.js';
import { builtinPlugins } from '../../plugins/index.js';
import { startGateway } from '../helpers/gateway.js';
import guestbook from './guestbook-plugin.js';

const root = packageRoot();
const ADMIN_KEY = 'sk-admin-contract-0123456789abcdef';

t.test('core/ creates no table but its own settings and the migrations record', async (t) => {
  const dir = new URL('../../core/', import.meta.url);
  const tables = new Set<string>();
  for (const file of (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.ts'))) {
    for (const m of (await readFile(new URL(file, dir), 'utf8')).matchAll(/CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?(\w+)/gi)) tables.add(m[1]!);
  }
  t.same([...tables].sort(), ['gateway_settings', 'schema_migrations']);
});

t.test("a registered plugin's migration runs and its admin route is served", async (t) => {
  const plugins: PluginRegistry = new Map([...builtinPlugins, [guestbook.name, guestbook as PluginDefinition<never, unknown>]]);
  const yaml = 'version: 1\nstores: { kv: memory, sql: { pglite: memory } }\nproviders: { demo: { adapter: mock } }\nmodels: { demo: { targets: [{ provider: demo }] } }\n';
  const gw = await startGateway(yaml, { plugins, env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
  t.teardown(() => gw.close());
  const call = (method: string, body?: unknown, key: string | null = ADMIN_KEY) =>
    fetch(`${gw.url}/admin/guestbook`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  t.equal((await call('GET', undefined, null)).status, 401, 'the route needs the admin credential like every admin route');
  t.equal((await call('POST', { name: 'Ada' })).status, 201);
  t.same(await (await call('GET')).json(), { object: 'list', data: ['Ada'] }, 'the row went into the table its migration created');
  const sql = await gw.gateway.stores.sql();
  const { rows } = await sql.query<{ owner: string }>(`SELECT owner FROM schema_migrations WHERE id = 1`);
  t.ok(rows.some((r) => r.owner === 'guestbook'), 'recorded under its own name');
  t.same(rows.map((r) => r.owner).sort(), ['core', 'guestbook', ...PLUGIN_MIGRATIONS.map((o) => o.owner)].sort(), 'beside the core and the built-in plugins, each under its own');
  const doc = (await (await fetch(`${gw.url}/admin/openapi.json`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { paths: Record<string, object> };
  t.ok(doc.paths['/admin/guestbook'], 'and documented in the OpenAPI document');
});

interface Run {
  code: number | null;
  stdout: string;
}

/** `node --import tsx …` from the package root. */
function node(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

t.test("a registered plugin's command is listed by --help and dispatched; the built-in ones still are", async (t) => {
  const fixtureCli = `
    const { runCli } = await import(${JSON.stringify(new URL('../../core/cli.ts', import.meta.url).href)});
    const { default: guestbook } = await import(${JSON.stringify(new URL('./guestbook-plugin.ts', import.meta.url).href)});
    await runCli(process.argv.slice(1), { plugins: new Map([[guestbook.name, guestbook]]) });`;
  // `--` keeps node from reading the CLI's own flags; the script sees them from argv[1] on.
  const fixture = (...args: string[]) => node(['--input-type=module', '-e', fixtureCli, '--', ...args]);
  const [help, signed, builtinHelp] = await Promise.all([fixture('--help'), fixture('guestbook', 'sign', 'Ada'), node(['bin/main.ts', '--help'])]);
  t.equal(help.code, 0);
  t.match(help.stdout, /^ {2}switchyard guestbook sign NAME +sign the guestbook$/m);
  t.same(signed, { code: 0, stdout: 'guestbook: signed by Ada\n' }, 'the command ran with its arguments and its exit code');
  t.equal(builtinHelp.code, 0);
  t.match(builtinHelp.stdout, /^ {2}switchyard keys create --org ORG/m, "auth's commands, from its definition");
  t.match(builtinHelp.stdout, /^ {2}switchyard plans create --name NAME/m);
});
