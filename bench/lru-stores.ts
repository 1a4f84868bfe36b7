/**
 * The two hand-written LRU caches rebuilt on the `lru-cache` package, for the comparison in
 * bench/caches.ts (issue 10, item 10): same public surface, same semantics, so that either can
 * stand in for the original — in-process (bench/caches-worker.ts) and inside a running gateway
 * (bench/lru-swap/, which redirects the gateway's imports to them).
 *
 * - `LruMemoryKvStore` ↔ core/stores/memory-kv.ts `MemoryKvStore` (values in `value-table.ts`):
 *   a byte-bounded LRU with per-value TTLs (`maxSize`, the size given with each `set`, `ttl` per set).
 * - `LruExpiringLru` ↔ plugins/auth/key-cache.ts `ExpiringLru` (a `Map` + `recency-list.ts`): an
 *   entry-bounded LRU with per-entry TTLs (`max`, `ttl` per set).
 */
import { LRUCache } from 'lru-cache';
import type { KvStats, KvStore, SyncKvStore } from '../core/stores/kv.js';
import { MemoryLimitStore } from '../core/stores/memory-limits.js';

/** As in memory-kv.ts. */
const DEFAULT_MEMORY_MAX_BYTES = 256 * 1024 * 1024;
const ENTRY_OVERHEAD_BYTES = 64;
const SWEEP_INTERVAL_MS = 10_000;

export interface LruKvOptions {
  maxBytes?: number;
  /**
   * Also bound the number of entries (lru-cache's `max`): it then preallocates its arrays instead
   * of growing plain arrays. A byte-bounded store does not know a useful entry bound; the
   * microbenchmark measures both.
   */
  maxEntries?: number;
}

export class LruMemoryKvStore implements KvStore, SyncKvStore {
  readonly sync: SyncKvStore = this;
  readonly kind = 'memory' as const;
  readonly limits = new MemoryLimitStore();
  private readonly maxBytes: number;
  private readonly cache: LRUCache<string, Buffer | string>;
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  private evictions = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: LruKvOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MEMORY_MAX_BYTES;
    this.cache = new LRUCache<string, Buffer | string>({
      maxSize: this.maxBytes,
      ...(options.maxEntries ? { max: options.maxEntries } : {}),
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.evictions++;
      },
    });
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  async get(key: string): Promise<Buffer | undefined> {
    const value = this.cache.get(key);
    return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  }

  async set(key: string, value: Buffer | string, ttlMs: number): Promise<void> {
    this.put(key, value, ttlMs);
  }

  getTextSync(key: string): string | undefined {
    const value = this.cache.get(key);
    return typeof value === 'string' || value === undefined ? value : value.toString('utf8');
  }

  setSync(key: string, value: Buffer | string, ttlMs: number): boolean {
    return this.put(key, value, ttlMs);
  }

  async setIfAbsent(key: string, value: Buffer | string, ttlMs: number): Promise<boolean> {
    if (this.cache.has(key)) return false;
    return this.put(key, value, ttlMs);
  }

  async delete(key: string): Promise<boolean> {
    const live = this.cache.has(key);
    this.cache.delete(key);
    return live;
  }

  async deletePrefix(prefix: string, infix?: string): Promise<number> {
    this.cache.purgeStale();
    let deleted = 0;
    for (const key of [...this.cache.keys()]) {
      if (key.startsWith(prefix) && (infix === undefined || key.indexOf(infix, prefix.length) !== -1)) {
        this.cache.delete(key);
        deleted++;
      }
    }
    return deleted;
  }

  async publish(channel: string, message: string): Promise<void> {
    const listeners = this.channels.get(channel);
    if (!listeners) return;
    for (const listener of [...listeners]) queueMicrotask(() => listener(message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    let listeners = this.channels.get(channel);
    if (!listeners) this.channels.set(channel, (listeners = new Set()));
    const listener = (message: string): void => onMessage(message);
    listeners.add(listener);
    return async () => {
      listeners.delete(listener);
      if (!listeners.size && this.channels.get(channel) === listeners) this.channels.delete(channel);
    };
  }

  stats(): KvStats {
    return { entries: this.cache.size, bytes: this.cache.calculatedSize, evictions: this.evictions };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.cache.clear();
    this.channels.clear();
  }

  sweep(now = Date.now()): void {
    this.cache.purgeStale();
    this.limits.sweep(now);
  }

  private put(key: string, value: Buffer | string, ttlMs: number): boolean {
    const bytes = (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength) + key.length * 2 + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.maxBytes || ttlMs <= 0) {
      this.cache.delete(key);
      return false;
    }
    this.cache.set(key, value, { ttl: ttlMs, size: bytes });
    return true;
  }
}

export { DEFAULT_MEMORY_MAX_BYTES };

/** `ExpiringLru` on lru-cache. `now` is accepted for the same signature; lru-cache keeps its own clock. */
export class LruExpiringLru<V extends NonNullable<unknown>> {
  private readonly cache: LRUCache<string, V>;

  constructor(maxEntries: number) {
    this.cache = new LRUCache<string, V>({ max: maxEntries });
  }

  get(key: string, _now: number): V | undefined {
    return this.cache.get(key);
  }

  set(key: string, value: V, ttlMs: number, _now: number): void {
    this.cache.set(key, value, { ttl: ttlMs });
  }

  delete(key: string): boolean {
    return this.cache.delete(key);
  }

  deleteWhere(matches: (value: V) => boolean): number {
    let dropped = 0;
    for (const [key, value] of [...this.cache.entries()]) {
      if (matches(value)) {
        this.cache.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  clear(): void {
    this.cache.clear();
  }

  get size(): number {
    return this.cache.size;
  }
}
