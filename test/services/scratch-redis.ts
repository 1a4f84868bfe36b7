/**
 * A throw-away Redis key prefix per test file, so suites sharing the one Redis neither see nor
 * break each other's keys, and reruns start clean. `check()` fails the test (never skips) when
 * Redis is unreachable; `drop()` deletes every key under the prefix (SCAN + UNLINK).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface ScratchRedis {
  prefix: string;
  /** A plain connection for assertions on what the gateway stored. */
  raw: Redis;
  /** Resolves to 'PONG', or rejects when Redis is unreachable. */
  check(): Promise<string>;
  drop(): Promise<void>;
}

export function createScratchRedis(label: string): ScratchRedis {
  const prefix = `switchyard-test:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`;
  const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  return {
    prefix,
    raw,
    check: () => raw.ping(),
    async drop() {
      let cursor = '0';
      do {
        const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await raw.unlink(...keys);
      } while (cursor !== '0');
      raw.disconnect();
    },
  };
}
