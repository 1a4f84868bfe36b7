/**
 * Switchyard on Deno 2 with the scaled-out stores: the compiled gateway run by `deno run` with the
 * narrow permissions docs/deno.md lists (no --allow-all), `kv` on the real Redis and `sql` on the
 * real PostgreSQL, each in its own scratch prefix/schema. Keys created through the admin API land
 * in PostgreSQL, rate-limit counters and cached answers in Redis; /proc-based metrics, which Deno
 * keeps from such a process, are left out rather than reported as zero; SIGTERM exits 0. Fails —
 * never skips — when a service is unreachable.
 */
import t from 'tap';
import pg from 'pg';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { denoEnv, startDeno } from '../deno/deno-process.js';
import { createScratchRedis, REDIS_URL } from './scratch-redis.js';
import { createScratchSchema } from './scratch-schema.js';

const ADMIN_KEY = 'sk-admin-deno-stores-0123456789';
const redis = createScratchRedis('deno');
t.equal(await redis.check(), 'PONG', `Redis answers at ${REDIS_URL}`);
const schema = await createScratchSchema('deno');
const dir = await mkdtemp(join(tmpdir(), 'switchyard-deno-stores-'));
t.teardown(async () => {
  await redis.drop();
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

const configFile = join(dir, 'gateway.yaml');
await writeFile(
  configFile,
  `version: 1
server: { drain_delay: 0s }
stores:
  kv: { redis: { url: "${REDIS_URL}", prefix: "${redis.prefix}" } }
  sql: { postgres: "${schema.url}" }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
pipeline:
  - auth: { keys: [sql] }
  - rate-limit: { limits: [{ per: key, rpm: 600 }] }
  - cache: { ttl: 10m }
  - route
`,
);

const permissions = ['--allow-read', '--allow-write', '--allow-net', '--allow-env', '--allow-sys=hostname', '--no-prompt'];
const gw = await startDeno(t, ['run', ...permissions, 'bin/switchyard.js', 'start', '--config', configFile, '--listen', '127.0.0.1:0'], denoEnv({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY }));
let key = '';

t.test('an organization and a key created through the admin API are rows in PostgreSQL, and the key works', async (t) => {
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  t.equal((await fetch(`${gw.url}/admin/organizations`, { method: 'POST', headers: admin, body: JSON.stringify({ slug: 'acme', name: 'Acme' }) })).status, 201);
  const issued = await fetch(`${gw.url}/admin/organizations/acme/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'backend' }) });
  t.equal(issued.status, 201);
  key = ((await issued.json()) as { key: string }).key;

  const client = new pg.Client({ connectionString: schema.url });
  await client.connect();
  t.teardown(() => client.end());
  const rows = await client.query<{ slug: string; keys: string }>(
    'SELECT o.slug, count(k.*)::text AS keys FROM organizations o JOIN api_keys k ON k.org_id = o.id GROUP BY o.slug',
  );
  t.same(rows.rows, [{ slug: 'acme', keys: '1' }]);

  const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  t.equal(models.status, 200, 'the key read back from PostgreSQL is served');
});

t.test('rate-limit counters and cached answers live in Redis', async (t) => {
  const ask = () =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo', temperature: 0, messages: [{ role: 'user', content: 'cache me' }] }),
    });
  const first = await ask();
  t.equal(first.status, 200);
  t.equal(first.headers.get('x-switchyard-cache'), 'MISS');
  t.equal(first.headers.get('x-ratelimit-limit-requests'), '600');
  const second = await ask();
  t.equal(second.headers.get('x-switchyard-cache'), 'HIT');
  t.equal(((await second.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content, 'cache me');
  const [, keys] = await redis.raw.scan('0', 'MATCH', `${redis.prefix}*`, 'COUNT', 1000);
  t.ok(keys.some((k) => k.startsWith(`${redis.prefix}rl:`)), `a rate-limit counter under the prefix: ${keys.join(', ')}`);
  t.ok(keys.some((k) => k.startsWith(`${redis.prefix}cache:`)), 'a cached answer under the prefix');
});

t.test('without --allow-all, /proc-based metrics are left out, not zero; resident memory still comes from the runtime', async (t) => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(text, /^switchyard_runtime_info\{runtime="deno",version="2\.\d+\.\d+"\} 1$/m);
  t.match(text, /^switchyard_process_resident_memory_bytes [1-9]\d+$/m);
  t.notMatch(text, /^switchyard_process_(virtual_memory_bytes|heap_bytes|open_fds|max_fds) /m);
  t.notMatch(text, /^switchyard_nodejs_gc_duration_seconds/m);
});

t.test('SIGTERM closes the store connections and exits 0', async (t) => {
  gw.child.kill('SIGTERM');
  t.equal(await gw.code, 0, 'exit code 0', { output: gw.output().slice(-2000) });
  await gw.logged(/^stopped$/);
});
