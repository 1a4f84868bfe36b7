/**
 * The Redis store against the real Redis on 127.0.0.1:6379 (REDIS_URL): the shared suite, plus
 * what only Redis promises — keys that expire by themselves, scripts reloaded after a SCRIPT FLUSH,
 * and a fast `StoreUnavailableError` when the server cannot be reached. Fails (never skips) when
 * Redis is down. Every run uses its own key prefix and deletes its keys afterwards.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createScratchRedis, REDIS_URL } from './scratch-redis.js';
import { RedisKvStore } from '../../core/stores/redis-kv.js';
import { StoreUnavailableError } from '../../core/stores/kv.js';
import { openKvStore } from '../../core/stores/open-kv.js';
import { createLogger } from '../../core/log.js';
import { runKvSuite } from '../stores/kv-suite.js';

const scratch = createScratchRedis('kv');
const { prefix, raw } = scratch;
const log = createLogger({ level: 'silent' });

t.before(async () => {
  t.equal(await scratch.check(), 'PONG', `Redis answers at ${REDIS_URL}`);
});

t.teardown(async () => {
  await scratch.drop();
});

const open = (): RedisKvStore => new RedisKvStore({ url: REDIS_URL, prefix, log });

t.test('redis store: shared suite', async (t) => {
  runKvSuite(t, { open, shared: true });
});

t.test('keys carry the prefix and expire by themselves', async (t) => {
  const store = open();
  t.teardown(() => store.close());
  await store.set('plain', 'x', 5_000);
  await store.limits.consume([{ key: 'rl:expiry', limit: 10, windowMs: 2_000, cost: 1 }]);
  await store.limits.acquire('conc:expiry', 2, 3_000);
  const counter = await raw.pttl(`${prefix}rl:expiry`);
  const slots = await raw.pttl(`${prefix}conc:expiry`);
  t.ok((await raw.pttl(`${prefix}plain`)) > 4_000);
  t.ok(counter > 0 && counter <= 2_000 + 100, `counter pttl ${counter}`);
  t.ok(slots > 0 && slots <= 3_000, `slot set pttl ${slots}`);
});

t.test('limits keep working after the server forgets its scripts (NOSCRIPT → EVAL)', async (t) => {
  const store = open();
  t.teardown(() => store.close());
  const key = `rl:noscript:${randomBytes(4).toString('hex')}`;
  t.equal((await store.limits.consume([{ key, limit: 2, windowMs: 60_000, cost: 1 }])).allowed, true);
  await raw.script('FLUSH');
  const second = await store.limits.consume([{ key, limit: 2, windowMs: 60_000, cost: 1 }]);
  t.equal(second.allowed, true);
  t.equal(second.states[0]!.remaining, 0);
});

t.test('an unreachable Redis fails fast with StoreUnavailableError', async (t) => {
  const store = openKvStore({ redis: { url: 'redis://127.0.0.1:1', prefix } }, log);
  t.teardown(() => store.close());
  const started = Date.now();
  await t.rejects(store.limits.consume([{ key: 'rl:down', limit: 1, windowMs: 1_000, cost: 1 }]), StoreUnavailableError);
  await t.rejects(store.get('down'), StoreUnavailableError);
  await t.rejects(store.ping(), StoreUnavailableError);
  t.ok(Date.now() - started < 3_000, `failed within ${Date.now() - started} ms`);
  const again = Date.now();
  await t.rejects(store.set('down', 'x', 1_000), StoreUnavailableError);
  t.ok(Date.now() - again < 100, 'once known down, a call fails at once');
});

t.test('openKvStore accepts a bare Redis URL', async (t) => {
  const store = openKvStore({ redis: REDIS_URL }, log);
  t.teardown(() => store.close());
  t.equal(store.kind, 'redis');
  await store.ping();
  t.pass('ping answered');
});

t.test('subscribing with Redis down neither hangs nor fails: the subscription waits for Redis', async (t) => {
  const store = openKvStore({ redis: { url: 'redis://127.0.0.1:1', prefix } }, log);
  t.teardown(() => store.close());
  const started = Date.now();
  const off = await store.subscribe('identity', () => {});
  t.ok(Date.now() - started < 3_000, `returned within ${Date.now() - started} ms`);
  await off();
});
