/**
 * The service-backed suites need real PostgreSQL and Redis. This file fails loudly — it never
 * skips — when either is unreachable, so a CI run without them is red, not silently green.
 */
import t from 'tap';
import pg from 'pg';
import { Redis } from 'ioredis';

const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

t.test('PostgreSQL answers a query', async (t) => {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  const res = await client.query<{ n: number }>('select 40 + 2 as n');
  t.equal(res.rows[0]?.n, 42);
  await client.end();
});

t.test('Redis answers a round trip', async (t) => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1, retryStrategy: () => null });
  await redis.connect();
  const key = `switchyard:ci:${process.pid}`;
  await redis.set(key, 'ok', 'EX', 10);
  t.equal(await redis.get(key), 'ok');
  await redis.del(key);
  redis.disconnect();
});
