/** Opens the configured key-value store (`stores.kv`): in-process memory, or Redis. */
import type { Logger } from '../log.js';
import { parseBytes } from '../config/units.js';
import type { KvConfig, KvStore } from './kv.js';
import { MemoryKvStore } from './memory-kv.js';
import { RedisKvStore } from './redis-kv.js';

export function openKvStore(config: KvConfig, log: Logger): KvStore {
  if (config === 'memory') return new MemoryKvStore({ log });
  if ('memory' in config) {
    const raw = config.memory.max_bytes;
    const maxBytes = raw === undefined ? undefined : parseBytes(raw);
    if (maxBytes === undefined && raw !== undefined) throw new Error(`stores.kv.memory.max_bytes: not a size: ${String(raw)}`);
    return new MemoryKvStore({ maxBytes, log });
  }
  const redis = config.redis;
  return typeof redis === 'string' ? new RedisKvStore({ url: redis, log }) : new RedisKvStore({ url: redis.url, prefix: redis.prefix, log });
}
