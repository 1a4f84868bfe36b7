/**
 * SQL keys on the real PostgreSQL (127.0.0.1:5432), with two gateway replicas in this process:
 * a revocation published through the real Redis (127.0.0.1:6379) reaches the other replica within
 * a second; without Redis, the short default cache TTL still gets it there within about a second.
 * Fails (never skips) when a service is down.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';
import { IdentityStore } from '../../plugins/auth/identity-store.js';
import { publishIdentityChange } from '../../plugins/auth/events.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

let schema: ScratchSchema;
t.before(async () => {
  schema = await createScratchSchema('auth');
});
t.teardown(() => schema?.drop());

const yaml = (kv: string) => `version: 1
stores:
  kv: ${kv}
  sql: { postgres: "${schema.url}" }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
pipeline:
  - auth: { keys: [sql] }
  - route
`;

async function chat(gw: TestGateway, key: string): Promise<number> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.text();
  return res.status;
}

/** Milliseconds until every gateway refuses `key`, or Infinity after `deadlineMs`. */
async function untilRefused(gateways: TestGateway[], key: string, deadlineMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    const statuses = await Promise.all(gateways.map((g) => chat(g, key)));
    if (statuses.every((s) => s === 401)) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 20));
  }
  return Infinity;
}

async function replicas(kv: string): Promise<{ a: TestGateway; b: TestGateway; store: IdentityStore; secret: Buffer }> {
  const a = await startGateway(yaml(kv));
  const b = await startGateway(yaml(kv));
  const store = new IdentityStore(await a.gateway.stores.sql());
  const secret = await a.gateway.stores.serverSecret();
  t.same(await b.gateway.stores.serverSecret(), secret, 'replicas share the server secret through PostgreSQL');
  return { a, b, store, secret };
}

t.test('a key revoked on one replica is refused by both within a second (Redis pub/sub)', async (t) => {
  const prefix = `sy-auth-test-${randomBytes(4).toString('hex')}:`;
  const { a, b, store, secret } = await replicas(`{ redis: { url: "${REDIS_URL}", prefix: "${prefix}" } }`);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  t.equal(a.gateway.stores.kv.kind, 'redis');
  const slug = `acme-${randomBytes(3).toString('hex')}`;
  await store.createOrg({ slug, name: 'Acme' });
  const { secret: key, record } = await store.createKey(secret, slug);
  t.equal(await chat(a, key), 200, 'replica A accepts the key');
  t.equal(await chat(b, key), 200, 'replica B accepts it (and caches it for 60 s by default)');
  await store.revokeKey(record.id);
  await publishIdentityChange(a.gateway.stores.kv, { keyId: record.id });
  const took = await untilRefused([a, b], key, 1000);
  t.ok(took < 1000, `both replicas refuse it after ${took} ms`);
});

t.test('without Redis, replicas sharing PostgreSQL use a 1 s cache, so a revocation lands without any event', async (t) => {
  const { a, b, store, secret } = await replicas('memory');
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const slug = `beta-${randomBytes(3).toString('hex')}`;
  await store.createOrg({ slug, name: 'Beta' });
  const { secret: key, record } = await store.createKey(secret, slug);
  t.equal(await chat(a, key), 200);
  t.equal(await chat(b, key), 200);
  await store.revokeKey(record.id);
  const took = await untilRefused([a, b], key, 2000);
  t.ok(took <= 1200, `refused by both after ${took} ms (cache TTL 1 s)`);
});
