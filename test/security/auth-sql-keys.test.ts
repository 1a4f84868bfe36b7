/**
 * SQL keys (created through `IdentityStore`, as the admin API does) against a real gateway on an
 * in-memory PGlite database: lookups, refusals that look the same from outside, revocation within
 * a second, batched `last_used_at`, and how much SQL a flood of bad keys costs.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { IdentityStore } from '../../plugins/auth/identity-store.js';
import { publishIdentityChange } from '../../plugins/auth/events.js';
import { SqlKeys } from '../../plugins/auth/sql-keys.js';
import { createLogger } from '../../core/log.js';
import { Writable } from 'node:stream';

const yaml = (auth = '') => `version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
  other: { targets: [{ provider: demo }] }
pipeline:
  - auth: { keys: [sql]${auth} }
  - route
`;

let gw: TestGateway;
let store: IdentityStore;
let secret: Buffer;

t.before(async () => {
  gw = await startGateway(yaml(', last_used_interval: 200ms'));
  store = new IdentityStore(await gw.gateway.stores.sql());
  secret = await gw.gateway.stores.serverSecret();
  await store.createPlan({ name: 'starter', allowed_models: ['demo'], limits: { rpm: 100, tpm: 5000 } });
  await store.createOrg({ slug: 'acme', name: 'Acme', plan_id: 'starter' });
});
t.teardown(() => gw.close());

async function chat(key: string | undefined, model = 'demo') {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const json = (await res.json()) as Record<string, any>;
  return { status: res.status, json, headers: res.headers };
}

const until = async (deadlineMs: number, done: () => Promise<boolean>): Promise<number> => {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (await done()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 20));
  }
  return Infinity;
};

t.test('a key created in SQL works, with its plan\'s models applied', async (t) => {
  const { secret: key } = await store.createKey(secret, 'acme', { name: 'ci' });
  t.equal((await chat(key)).status, 200);
  const other = await chat(key, 'other');
  t.equal(other.status, 403, 'the plan allows only demo');
  t.equal(other.json.error.code, 'model_not_allowed');
});

t.test('"no such key" and "wrong key" get the same status, headers and body', async (t) => {
  const { secret: key } = await store.createKey(secret, 'acme');
  const wrong = `${key.slice(0, -4)}${key.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
  const unknown = `sk-sy-live-${'Q'.repeat(43)}`;
  const a = await chat(wrong);
  const b = await chat(unknown);
  const c = await chat('sk-not-even-a-gateway-key');
  for (const r of [a, b, c]) delete r.json.error.request_id;
  t.equal(a.status, 401);
  t.same(a.json, b.json);
  t.same(a.json, c.json);
  t.same(a.json, { error: { message: 'Incorrect API key provided.', type: 'authentication_error', param: null, code: 'invalid_api_key' } });
  t.equal(a.headers.get('www-authenticate'), b.headers.get('www-authenticate'));
});

t.test('a revoked key is rejected within one second, with the same answer as an unknown key', async (t) => {
  const { secret: key, record } = await store.createKey(secret, 'acme');
  t.equal((await chat(key)).status, 200, 'works, and is now cached');
  await store.revokeKey(record.id);
  await publishIdentityChange(gw.gateway.stores.kv, { keyId: record.id });
  const took = await until(1000, async () => (await chat(key)).status === 401);
  t.ok(took < 1000, `rejected after ${took} ms`);
  const refused = await chat(key);
  t.equal(refused.json.error.code, 'invalid_api_key');
  t.equal(refused.json.error.message, 'Incorrect API key provided.');
  const line = gw.logs.find((l) => l['key_id'] === record.id && l['reason'] === 'revoked');
  t.ok(line, 'the reason is logged by key id');
});

t.test('disabling the org refuses its keys once the change is published', async (t) => {
  await store.createOrg({ slug: 'beta', name: 'Beta' });
  const { secret: key, record } = await store.createKey(secret, 'beta');
  t.equal((await chat(key)).status, 200);
  await store.updateOrg('beta', { disabled: true });
  await publishIdentityChange(gw.gateway.stores.kv, { orgId: record.org_id });
  t.equal((await chat(key)).status, 401);
  t.ok(gw.logs.some((l) => l['key_id'] === record.id && l['reason'] === 'org_disabled'));
});

t.test("the key's and its org's allowed_ips each bind, and an org change applies at once", async (t) => {
  await store.createOrg({ slug: 'fenced', name: 'Fenced' });
  const office = await store.createKey(secret, 'fenced', { allowed_ips: ['10.1.0.0/16'] });
  const local = await store.createKey(secret, 'fenced', { allowed_ips: ['127.0.0.0/8'] });
  const refused = await chat(office.secret);
  t.equal(refused.status, 403, 'a key limited to 10.1.0.0/16 is refused from 127.0.0.1');
  t.equal(refused.json.error.code, 'ip_not_allowed');
  t.equal((await chat(local.secret)).status, 200);
  const org = await store.updateOrg('fenced', { allowed_ips: ['192.0.2.0/24'] });
  await publishIdentityChange(gw.gateway.stores.kv, { orgId: org.id });
  const ms = await until(1000, async () => (await chat(local.secret)).status === 403);
  t.ok(ms < 1000, `the org's list binds the key too, within ${ms} ms`);
});

t.test('an expired key is refused even while cached', async (t) => {
  const { secret: key, record } = await store.createKey(secret, 'acme', { expires_at: new Date(Date.now() + 600).toISOString() });
  t.equal((await chat(key)).status, 200);
  await new Promise((r) => setTimeout(r, 700));
  t.equal((await chat(key)).status, 401, 'no event was published: the cached expiry itself refuses it');
  t.ok(gw.logs.some((l) => l['key_id'] === record.id && l['reason'] === 'expired'));
});

t.test('a rotated key keeps working during its grace period, then stops', async (t) => {
  const { secret: oldKey, record } = await store.createKey(secret, 'acme');
  t.equal((await chat(oldKey)).status, 200);
  const rotated = await store.rotateKey(secret, record.id, 1);
  await publishIdentityChange(gw.gateway.stores.kv, { keyId: record.id });
  t.equal((await chat(rotated.secret)).status, 200, 'the new key works');
  t.equal((await chat(oldKey)).status, 200, 'the old key still works in its grace period');
  await new Promise((r) => setTimeout(r, 1100));
  t.equal((await chat(oldKey)).status, 401, 'then it expires');
});

t.test('last_used_at is written in batches, not per request', async (t) => {
  const { secret: key, record } = await store.createKey(secret, 'acme');
  t.equal((await store.getKey(record.id))!.last_used_at, null);
  for (let i = 0; i < 3; i++) await chat(key);
  const took = await until(2000, async () => (await store.getKey(record.id))!.last_used_at !== null);
  t.ok(took < 2000, 'recorded by the batch flush');
});

t.test('unknown keys are cached briefly and lookups of one key share a query', async (t) => {
  const sql = await gw.gateway.stores.sql();
  const real = new IdentityStore(sql);
  let queries = 0;
  const counting = { findByHash: (h: string) => (queries++, real.findByHash(h)), touchLastUsed: (ids: readonly string[]) => real.touchLastUsed(ids) };
  const log = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const keys = new SqlKeys(counting, secret, { cacheTtlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 100, lastUsedFlushMs: 60_000 }, log);
  t.teardown(() => keys.close());
  const unknown = `sk-sy-live-${'Z'.repeat(43)}`;
  await Promise.all(Array.from({ length: 20 }, () => keys.find(unknown)));
  t.equal(queries, 1, '20 concurrent lookups, one query');
  for (let i = 0; i < 20; i++) t.equal(await keys.find(unknown), undefined);
  t.equal(queries, 1, 'repeats are answered from the negative cache');
  await keys.find('not-a-gateway-key');
  t.equal(queries, 1, 'a value that is not shaped like a gateway key costs no query');
  const { secret: key } = await store.createKey(secret, 'acme');
  t.ok(await keys.find(key));
  t.ok(await keys.find(key));
  t.equal(queries, 2, 'a known key is served from memory');
  for (let i = 0; i < 150; i++) await keys.find(`sk-sy-live-${String(i).padStart(43, 'x')}`);
  t.ok(await keys.find(key));
  t.equal(queries, 152, 'a flood of unknown keys does not push a known key out of the cache');
});
