/**
 * Store outages, with a fault-injecting TCP proxy (`test/helpers/fault-proxy.ts`) between an
 * in-process gateway and the real PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379): a
 * partition (stall) and a refused server. Requests fail fast with 503 `store_unavailable` or take
 * the configured fail-open path, `/ready` names the store within its own deadline, keys seen
 * recently keep working, and everything recovers within a second of the heal. Never a 500, never
 * a stack trace in the log. Short store timeouts keep the suite to a few seconds.
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { createScratchSchema, DATABASE_URL, type ScratchSchema } from './scratch-schema.js';
import { createScratchRedis, REDIS_URL, type ScratchRedis } from './scratch-redis.js';
import { openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlDriver } from '../../core/stores/migrate.js';
import { IdentityStore } from '../../plugins/auth/identity-store.js';
import { IDENTITY_CHANNEL, publishIdentityChange } from '../../plugins/auth/events.js';
import { PLUGIN_MIGRATIONS, silentLog } from '../stores/sql-suite.js';

const SECRET = `store-outages-${randomBytes(16).toString('hex')}`;
const ADMIN_KEY = `admin-${randomBytes(12).toString('hex')}`;
const env = { ...process.env, SWITCHYARD_SECRET: SECRET, SWITCHYARD_ADMIN_KEY: ADMIN_KEY };

let schema: ScratchSchema;
let direct: SqlDriver;
let identities: IdentityStore;
let redis: ScratchRedis;
let org: string;

t.before(async () => {
  schema = await createScratchSchema('outage');
  direct = await openSqlStore({ postgres: schema.url }, process.cwd(), silentLog, PLUGIN_MIGRATIONS);
  identities = new IdentityStore(direct);
  redis = createScratchRedis('outage');
  await redis.check();
  org = `acme-${randomBytes(3).toString('hex')}`;
  await identities.createOrg({ slug: org, name: 'Acme' });
});
t.teardown(async () => {
  await direct?.close();
  await schema?.drop();
  await redis?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function targetOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/** `url` with its host and port replaced by the proxy's. */
function through(proxy: FaultProxy, url: string): string {
  const u = new URL(url);
  u.host = `127.0.0.1:${proxy.port}`;
  return u.toString();
}

async function proxyFor(t: Test, url: string): Promise<FaultProxy> {
  const proxy = await startFaultProxy(targetOf(url));
  t.teardown(() => proxy.close());
  return proxy;
}

async function gateway(t: Test, yaml: string): Promise<TestGateway> {
  const gw = await startGateway(yaml, { env });
  t.teardown(() => gw.close());
  return gw;
}

/** A gateway whose SQL store sits behind `proxy` (Redis reached directly, for revocation fan-out). */
const sqlBehind = (proxy: FaultProxy, auth: string, timeouts = 'connect_timeout: 300ms, query_timeout: 300ms') => `version: 1
stores:
  kv: { redis: { url: "${REDIS_URL}", prefix: "${redis.prefix}" } }
  sql: { postgres: { url: "${through(proxy, schema.url)}", ${timeouts} } }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
pipeline:
  - auth: { keys: [sql]${auth} }
  - route
`;

interface Answer {
  status: number;
  code: string | undefined;
  type: string | undefined;
  retryAfter: string | null;
  ms: number;
}

async function chat(gw: TestGateway, key: string): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = (await res.json()) as { error?: { code?: string; type?: string } };
  return { status: res.status, code: body.error?.code, type: body.error?.type, retryAfter: res.headers.get('retry-after'), ms: performance.now() - started };
}

async function ready(gw: TestGateway): Promise<{ status: number; problems: string[]; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${gw.url}/ready`);
  const body = (await res.json()) as { problems?: string[] };
  return { status: res.status, problems: body.problems ?? [], ms: performance.now() - started };
}

/** Milliseconds until `done()` holds, or Infinity after `deadlineMs`. */
async function until(deadlineMs: number, done: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (await done()) return Date.now() - start;
    await sleep(20);
  }
  return Infinity;
}

async function newKey(): Promise<{ key: string; id: string }> {
  const { secret, record } = await identities.createKey(Buffer.from(SECRET, 'utf8'), org);
  return { key: secret, id: record.id };
}

/** An outage is never a 500, never a stack trace or an "unhandled error" in the log, and no log line per request. */
function assertCleanLogs(t: Test, gw: TestGateway): void {
  const warnings = gw.logs.filter((l) => l['level'] === 'warn' || l['level'] === 'error');
  t.ok(warnings.length <= 3, `a few warnings for the whole outage, not one per request (${warnings.length})`);
  t.notOk(gw.logs.some((l) => l['msg'] === 'unhandled error'), 'no unhandled error logged');
  t.notMatch(gw.logText(), /"stack"/, 'no stack trace in the log');
  t.notOk(gw.logs.some((l) => l['status'] === 500), 'no 500 answered');
}

function assertStoreUnavailable(t: Test, answer: Answer, what: string): void {
  t.match(answer, { status: 503, code: 'store_unavailable', type: 'server_error', retryAfter: '1' }, `${what}: 503 store_unavailable with Retry-After`);
}

t.test('a partitioned PostgreSQL: 503 within the query timeout, /ready names sql, back within a second of the heal', async (t) => {
  const proxy = await proxyFor(t, DATABASE_URL);
  const gw = await gateway(t, sqlBehind(proxy, ', cache_ttl: 100ms, stale_ttl: 1m'));
  const seen = await newKey();
  const unseen = await newKey();
  t.equal((await chat(gw, seen.key)).status, 200);
  await sleep(150); // the cached entry is no longer fresh: the next request asks the database

  proxy.setMode('stall');
  const first = await chat(gw, unseen.key);
  assertStoreUnavailable(t, first, 'a key never seen');
  t.ok(first.ms < 800, `answered in ${Math.round(first.ms)} ms (query_timeout 300ms)`);
  const next = await chat(gw, unseen.key);
  assertStoreUnavailable(t, next, 'again');
  t.ok(next.ms < 100, `once the store is marked down, no request waits for it (${Math.round(next.ms)} ms)`);
  const stale = await chat(gw, seen.key);
  t.equal(stale.status, 200, 'a key valid a moment ago still works');
  t.ok(stale.ms < 100, `without waiting for the database (${Math.round(stale.ms)} ms)`);

  const notReady = await ready(gw);
  t.equal(notReady.status, 503);
  t.match(notReady.problems, [/^sql: postgres unreachable/]);
  t.ok(notReady.ms < 1_000, `/ready answered in ${Math.round(notReady.ms)} ms`);

  proxy.setMode('forward');
  const took = await until(3_000, async () => (await chat(gw, unseen.key)).status === 200);
  t.ok(took < 1_000, `served again ${took} ms after the heal`);
  t.equal((await ready(gw)).status, 200);
  assertCleanLogs(t, gw);
  const warnings = gw.logs.filter((l) => l['level'] === 'warn' || l['level'] === 'error');
  t.same(warnings.map((l) => l['msg']), ['postgres unreachable: calls fail at once until a probe reaches it again'], 'one warning for the outage, none per request');
});

t.test('/ready answers within its own deadline when the store timeouts are longer', async (t) => {
  const proxy = await proxyFor(t, DATABASE_URL);
  const gw = await gateway(t, sqlBehind(proxy, '', 'connect_timeout: 10s, query_timeout: 10s'));
  t.equal((await ready(gw)).status, 200);
  proxy.setMode('stall');
  const answer = await ready(gw);
  t.equal(answer.status, 503);
  t.same(answer.problems, ['sql: no answer within 1000 ms']);
  t.ok(answer.ms >= 950 && answer.ms < 1_500, `answered in ${Math.round(answer.ms)} ms`);
  proxy.setMode('forward');
});

t.test('a refused PostgreSQL: recent keys keep working, unknown keys get 503, revocations still win', async (t) => {
  const proxy = await proxyFor(t, DATABASE_URL);
  const gw = await gateway(t, sqlBehind(proxy, ', cache_ttl: 100ms, stale_ttl: 1m'));
  const seen = await newKey();
  const unseen = await newKey();
  const revoked = await newKey();
  const revokedInOutage = await newKey();
  for (const k of [seen, revoked, revokedInOutage]) t.equal((await chat(gw, k.key)).status, 200);
  await identities.revokeKey(revoked.id);
  await publishIdentityChange(gw.gateway.stores.kv, { keyId: revoked.id });
  // The revocation reaches the gateway through the store's pub/sub, asynchronously: wait for it.
  t.ok((await until(1_000, async () => (await chat(gw, revoked.key)).status === 401)) < 1_000, 'revoked before the outage');
  await sleep(150); // every cached entry is past its 100 ms TTL

  proxy.setMode('refuse');
  t.equal((await chat(gw, seen.key)).status, 200, 'a key valid when last seen still works');
  assertStoreUnavailable(t, await chat(gw, unseen.key), 'a valid key never seen');
  assertStoreUnavailable(t, await chat(gw, `sk-sy-live-${'Q'.repeat(43)}`), 'an unknown key');
  t.equal((await chat(gw, revoked.key)).status, 401, 'a key refused when last seen is still refused');
  const admin = await fetch(`${gw.url}/admin/organizations`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  t.match({ status: admin.status, retryAfter: admin.headers.get('retry-after'), body: await admin.json() }, { status: 503, retryAfter: '1', body: { error: { code: 'store_unavailable' } } }, 'the admin API answers 503 too');

  // Revoked by another replica that can reach the database; the change arrives through Redis.
  await identities.revokeKey(revokedInOutage.id);
  await publishIdentityChange(gw.gateway.stores.kv, { keyId: revokedInOutage.id });
  const afterRevocation = await until(1_000, async () => (await chat(gw, revokedInOutage.key)).status !== 200);
  t.ok(afterRevocation < 1_000, 'a revocation received during the outage drops the cached key');
  assertStoreUnavailable(t, await chat(gw, revokedInOutage.key), 'the revoked key, unconfirmable while the store is down');
  for (let i = 0; i < 20; i++) t.equal((await chat(gw, seen.key)).status, 200);

  proxy.setMode('forward');
  const took = await until(3_000, async () => (await chat(gw, unseen.key)).status === 200);
  t.ok(took < 1_000, `served again ${took} ms after the heal`);
  t.equal((await chat(gw, revokedInOutage.key)).status, 401, 'and the revocation is confirmed');
  assertCleanLogs(t, gw);
});

t.test('the stale window is bounded by stale_ttl', async (t) => {
  const proxy = await proxyFor(t, DATABASE_URL);
  const gw = await gateway(t, sqlBehind(proxy, ', cache_ttl: 100ms, stale_ttl: 300ms'));
  const seen = await newKey();
  t.equal((await chat(gw, seen.key)).status, 200);
  const readAt = Date.now();
  proxy.setMode('refuse');
  await sleep(150);
  t.equal((await chat(gw, seen.key)).status, 200, 'within cache_ttl + stale_ttl');
  await sleep(Math.max(0, readAt + 450 - Date.now()));
  assertStoreUnavailable(t, await chat(gw, seen.key), 'past cache_ttl + stale_ttl');
  proxy.setMode('forward');
});

t.test('a query slower than query_timeout is cancelled by the server with a 503 error; the store stays up', async (t) => {
  const store = await openSqlStore({ postgres: { url: schema.url, query_timeout: '200ms' } }, process.cwd(), silentLog, PLUGIN_MIGRATIONS);
  t.teardown(() => store.close());
  t.same((await store.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows, [{ statement_timeout: '200ms' }], 'the migration session left no trace');
  const started = performance.now();
  await t.rejects(store.query('SELECT pg_sleep(2)'), { name: 'StoreUnavailableError', code: 'store_unavailable', status: 503, detail: /statement timeout/ });
  t.ok(performance.now() - started < 600, `cut after ${Math.round(performance.now() - started)} ms`);
  await t.resolves(store.ping(), 'not marked down: the server answered');
  await t.rejects(store.query('SELECT * FROM no_such_table'), { code: '42P01' }, "a statement's own error passes through");
  await t.resolves(store.ping());
});

t.test('a full pool: a request that waits past connect_timeout gets a 503; the store is not marked down', async (t) => {
  const store = await openSqlStore({ postgres: { url: schema.url, pool: 1, connect_timeout: '150ms', query_timeout: '5s' } }, process.cwd(), silentLog, PLUGIN_MIGRATIONS);
  t.teardown(() => store.close());
  const busy = store.query('SELECT pg_sleep(0.6)');
  await t.rejects(store.query('SELECT 1'), { name: 'StoreUnavailableError', code: 'store_unavailable', status: 503, detail: /timeout exceeded when trying to connect/ }, 'no connection came free in time');
  await busy;
  const started = performance.now();
  await t.resolves(store.ping(), 'the server answered all along: the next query runs');
  t.ok(performance.now() - started < 500, 'at once, not after a probe');
});

t.test('start-up and a reload with PostgreSQL refused both succeed; keys work once it is back', async (t) => {
  const proxy = await proxyFor(t, DATABASE_URL);
  proxy.setMode('refuse');
  const gw = await gateway(t, sqlBehind(proxy, ''));
  const { key } = await newKey();
  assertStoreUnavailable(t, await chat(gw, key), 'before the database was ever reached');
  const notReady = await ready(gw);
  t.equal(notReady.status, 503);
  t.match(notReady.problems, [/^sql: /]);

  await gw.write(sqlBehind(proxy, ', cache_ttl: 30s'));
  const reloaded = await gw.gateway.reload();
  t.match(reloaded, { ok: true, changed: true }, 'the reload is not refused for an unreachable database');
  assertStoreUnavailable(t, await chat(gw, key), 'after the reload');

  proxy.setMode('forward');
  const took = await until(3_000, async () => (await chat(gw, key)).status === 200);
  t.ok(took < 1_000, `served ${took} ms after the database came back`);
  t.equal((await ready(gw)).status, 200);
  assertCleanLogs(t, gw);
});

/** A gateway whose Redis sits behind `proxy`; PostgreSQL is reached directly. */
const kvBehind = (proxy: FaultProxy, failOpen: boolean) => `version: 1
stores:
  kv: { redis: { url: "${through(proxy, REDIS_URL)}", prefix: "${redis.prefix}" } }
  sql: { postgres: "${schema.url}" }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
pipeline:
  - auth: { keys: [sql] }
  - rate-limit: { limits: [{ per: key, rpm: 100000 }], fail_open: ${failOpen} }
  - cache: { when: always }
  - route
`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

t.test('a partitioned Redis is waited for once, not once per request, and recovers when healed', async (t) => {
  const proxy = await proxyFor(t, REDIS_URL);
  const closed = await gateway(t, kvBehind(proxy, false));
  const open = await gateway(t, kvBehind(proxy, true));
  const { key, id } = await newKey();
  t.equal((await chat(closed, key)).status, 200);
  t.equal((await chat(open, key)).status, 200);

  proxy.setMode('stall');
  const first = await chat(closed, key);
  t.match(first, { status: 503, code: 'rate_limiter_unavailable' }, 'fail_open: false refuses');
  t.ok(first.ms >= 400, `the first request waited for the 500 ms command timeout (${Math.round(first.ms)} ms)`);
  const refused: Answer[] = [];
  for (let i = 0; i < 20; i++) refused.push(await chat(closed, key));
  t.ok(refused.every((a) => a.status === 503 && a.code === 'rate_limiter_unavailable'), 'later requests are refused too');
  t.ok(median(refused.map((a) => a.ms)) < 100, `without waiting: median ${Math.round(median(refused.map((a) => a.ms)))} ms`);

  t.equal((await chat(open, key)).status, 200, 'fail_open: true lets the first request through');
  const allowed: Answer[] = [];
  for (let i = 0; i < 20; i++) allowed.push(await chat(open, key));
  t.ok(allowed.every((a) => a.status === 200), 'and the later ones (per-process limits, cache bypassed)');
  t.ok(median(allowed.map((a) => a.ms)) < 100, `without waiting: median ${Math.round(median(allowed.map((a) => a.ms)))} ms`);

  const notReady = await ready(closed);
  t.equal(notReady.status, 503);
  t.match(notReady.problems, [/^kv \(redis\): redis unreachable/]);
  t.ok(notReady.ms < 100, `/ready answered in ${Math.round(notReady.ms)} ms`);

  proxy.setMode('forward');
  const took = await until(3_000, async () => (await chat(closed, key)).status === 200);
  t.ok(took < 1_000, `limits are checked in Redis again ${took} ms after the heal`);
  t.equal((await ready(closed)).status, 200);

  // The pub/sub connection came through the partition: a revocation still reaches both gateways.
  await identities.revokeKey(id);
  await redis.raw.publish(redis.prefix + IDENTITY_CHANNEL, JSON.stringify({ keyId: id }));
  const revokedIn = await until(2_000, async () => (await chat(closed, key)).status === 401 && (await chat(open, key)).status === 401);
  t.ok(revokedIn < 1_000, `a revocation published after the heal lands in ${revokedIn} ms`);
  assertCleanLogs(t, closed);
  assertCleanLogs(t, open);
});
