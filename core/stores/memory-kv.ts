/**
 * The in-process `KvStore` (the default, `stores.kv: memory`): values with TTLs in a byte-bounded
 * LRU, in-process pub/sub and the in-process `LimitStore`. Exact for one process; with several
 * replicas each one keeps its own state (use Redis to share it).
 */
import type { Logger } from '../log.js';
import type { KvStats, KvStore, SyncKvStore } from './kv.js';
import { MemoryLimitStore } from './memory-limits.js';
import { hashKey, ValueTable } from './value-table.js';

/** Default `max_bytes`: 256 MiB of values (keys and bookkeeping included). */
export const DEFAULT_MEMORY_MAX_BYTES = 256 * 1024 * 1024;
/**
 * What an entry costs beyond its value's bytes and its key's: the value's `Buffer` view and the
 * entry's slots, ~100 bytes live on V8's heap, which V8 lets grow to 1.5–2× what is live before it
 * collects (bin/switchyard.js), and its row and index slot outside the heap (~90 bytes, with the
 * table's spare capacity). Measured in test/stores/kv-memory.test.ts and docs/footprint.md. So
 * `max_bytes` bounds what the store adds to resident memory, not only its payload.
 */
export const ENTRY_OVERHEAD_BYTES = 300;
/** A key is a string on the heap (up to 2 bytes a character, and the heap's growth on top). */
const KEY_BYTES_PER_CHAR = 4;
/**
 * Values up to `SLAB_VALUE_MAX` bytes are copied into the store's own slabs of `SLAB_BYTES`, one
 * after the other; larger ones get an allocation of their own. Not Node's shared Buffer pool:
 * there a cached value shared its 8 KiB slab with short-lived buffers of the request, and kept
 * them resident (measured: 970 bytes outside the heap per ~580-byte value). The store evicts in
 * about the order it inserts, so a slab is released once its values are gone; a value kept hot
 * pins its slab until its TTL ends.
 */
const SLAB_BYTES = 16 * 1024;
const SLAB_VALUE_MAX = 2 * 1024;
/** How often expired values and limit counters are swept (reads also drop expired values on sight). */
const SWEEP_INTERVAL_MS = 10_000;

export interface MemoryKvOptions {
  /** Upper bound on stored values in bytes; least recently used values are evicted past it. */
  maxBytes?: number;
  log?: Logger;
}

export class MemoryKvStore implements KvStore, SyncKvStore {
  readonly sync: SyncKvStore = this;
  readonly kind = 'memory' as const;
  readonly limits = new MemoryLimitStore();
  private readonly maxBytes: number;
  private readonly log: Logger | undefined;
  /**
   * Values by key in LRU order: a read moves an entry to the newest end, eviction takes the
   * oldest. Every value is kept as bytes outside V8's heap (text is encoded once, on `set`): a
   * string would be a long-lived heap object, and V8 sizes its heap at a multiple of what is
   * live, so a cache of strings cost 2–3× its size in resident memory; a `Buffer` leaves only a
   * small view on the heap (docs/footprint.md). Text readers decode on read, which costs less than
   * the JSON parse that follows it.
   */
  private readonly table = new ValueTable<Buffer>();
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  private bytes = 0;
  private evictions = 0;
  private slab = Buffer.allocUnsafeSlow(0);
  private slabUsed = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: MemoryKvOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MEMORY_MAX_BYTES;
    this.log = options.log;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.read(key);
  }

  async set(key: string, value: Buffer | string, ttlMs: number): Promise<void> {
    this.put(key, value, ttlMs);
  }

  /** `get` as UTF-8 text, synchronously (`SyncKvStore`): the cache's fast path skips a promise. */
  getTextSync(key: string): string | undefined {
    return this.read(key)?.toString('utf8');
  }

  /** `set`, synchronously; returns whether the value was kept (false: larger than the store, or no TTL). */
  setSync(key: string, value: Buffer | string, ttlMs: number): boolean {
    return this.put(key, value, ttlMs);
  }

  async setIfAbsent(key: string, value: Buffer | string, ttlMs: number): Promise<boolean> {
    if (this.live(key, Date.now())) return false;
    return this.put(key, value, ttlMs);
  }

  async delete(key: string): Promise<boolean> {
    const entry = this.table.find(key, hashKey(key));
    if (entry === -1) return false;
    const live = this.table.expiresAt(entry) > Date.now();
    this.drop(entry);
    return live;
  }

  async deletePrefix(prefix: string, infix?: string): Promise<number> {
    const now = Date.now();
    let deleted = 0;
    for (let entry = this.table.oldest; entry !== -1; ) {
      const newer = this.table.newer(entry);
      const key = this.table.key(entry);
      if (key.startsWith(prefix) && (infix === undefined || key.indexOf(infix, prefix.length) !== -1)) {
        if (this.table.expiresAt(entry) > now) deleted++;
        this.drop(entry);
      }
      entry = newer;
    }
    return deleted;
  }

  async publish(channel: string, message: string): Promise<void> {
    const listeners = this.channels.get(channel);
    if (!listeners) return;
    // Delivered after the publisher continues, as with Redis; one failing listener never stops the others.
    for (const listener of [...listeners]) {
      queueMicrotask(() => {
        try {
          listener(message);
        } catch (err) {
          this.log?.error({ err, channel }, 'kv subscriber failed');
        }
      });
    }
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    let listeners = this.channels.get(channel);
    if (!listeners) this.channels.set(channel, (listeners = new Set()));
    // Wrapped so that subscribing the same function twice yields two independent subscriptions.
    const listener = (message: string): void => onMessage(message);
    listeners.add(listener);
    return async () => {
      listeners.delete(listener);
      if (!listeners.size && this.channels.get(channel) === listeners) this.channels.delete(channel);
    };
  }

  stats(): KvStats {
    return { entries: this.table.size, bytes: this.bytes, evictions: this.evictions };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.table.clear();
    this.channels.clear();
    this.bytes = 0;
  }

  /** Drops expired values and expired limit counters. */
  sweep(now = Date.now()): void {
    for (let entry = this.table.oldest; entry !== -1; ) {
      const newer = this.table.newer(entry);
      if (this.table.expiresAt(entry) <= now) this.drop(entry);
      entry = newer;
    }
    this.limits.sweep(now);
  }

  private read(key: string): Buffer | undefined {
    const entry = this.table.find(key, hashKey(key));
    if (entry === -1) return undefined;
    if (this.table.expiresAt(entry) <= Date.now()) {
      this.drop(entry);
      return undefined;
    }
    this.table.touch(entry);
    return this.table.value(entry);
  }

  private put(key: string, value: Buffer | string, ttlMs: number): boolean {
    const length = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
    const bytes = entryBytes(key, length);
    const hash = hashKey(key);
    const old = this.table.find(key, hash);
    if (old !== -1) this.drop(old);
    // A value bigger than the whole store is not kept (evicting everything for it would only thrash).
    if (bytes > this.maxBytes || ttlMs <= 0) return false;
    while (this.bytes + bytes > this.maxBytes && this.table.oldest !== -1) {
      this.drop(this.table.oldest);
      this.evictions++;
    }
    this.table.insert(key, hash, this.copy(value, length), Date.now() + ttlMs, bytes);
    this.bytes += bytes;
    return true;
  }

  /** The value's bytes in memory the store owns (a caller's buffer is copied, so a view never pins a larger one). */
  private copy(value: Buffer | string, length: number): Buffer {
    let target: Buffer;
    if (length > SLAB_VALUE_MAX) target = Buffer.allocUnsafeSlow(length);
    else {
      if (this.slabUsed + length > this.slab.length) {
        this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        this.slabUsed = 0;
      }
      target = this.slab.subarray(this.slabUsed, this.slabUsed + length);
      this.slabUsed += length;
    }
    if (typeof value === 'string') target.write(value, 0, length, 'utf8');
    else value.copy(target);
    return target;
  }

  private live(key: string, now: number): boolean {
    const entry = this.table.find(key, hashKey(key));
    if (entry === -1) return false;
    if (this.table.expiresAt(entry) > now) return true;
    this.drop(entry);
    return false;
  }

  private drop(entry: number): void {
    this.bytes -= this.table.bytes(entry);
    this.table.remove(entry);
  }
}

/** What one entry counts against `max_bytes`: an estimate of the resident memory it holds (see `ENTRY_OVERHEAD_BYTES`). */
export function entryBytes(key: string, valueBytes: number): number {
  return valueBytes + key.length * KEY_BYTES_PER_CHAR + ENTRY_OVERHEAD_BYTES;
}
