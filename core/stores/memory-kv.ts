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
/** Rough bookkeeping cost of one entry beyond its key and value, so that many tiny values still count. */
const ENTRY_OVERHEAD_BYTES = 64;
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
   * oldest. Text is kept as the string it was given (one heap object per value, and a text reader
   * gets it back without decoding).
   */
  private readonly table = new ValueTable<Buffer | string>();
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  private bytes = 0;
  private evictions = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: MemoryKvOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MEMORY_MAX_BYTES;
    this.log = options.log;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  async get(key: string): Promise<Buffer | undefined> {
    const value = this.read(key);
    return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  }

  async set(key: string, value: Buffer | string, ttlMs: number): Promise<void> {
    this.put(key, value, ttlMs);
  }

  /**
   * `get` as UTF-8 text, synchronously (`SyncKvStore`): the cache's fast path skips a promise,
   * and text stored as text comes back without a copy.
   */
  getTextSync(key: string): string | undefined {
    const value = this.read(key);
    return typeof value === 'string' || value === undefined ? value : value.toString('utf8');
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

  private read(key: string): Buffer | string | undefined {
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
    // Measuring a string flattens it in place (a concatenation becomes one string, which the GC
    // then keeps alone), so what stays in the store is one object per value.
    const bytes = (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength) + key.length * 2 + ENTRY_OVERHEAD_BYTES;
    const hash = hashKey(key);
    const old = this.table.find(key, hash);
    if (old !== -1) this.drop(old);
    // A value bigger than the whole store is not kept (evicting everything for it would only thrash).
    if (bytes > this.maxBytes || ttlMs <= 0) return false;
    while (this.bytes + bytes > this.maxBytes && this.table.oldest !== -1) {
      this.drop(this.table.oldest);
      this.evictions++;
    }
    this.table.insert(key, hash, value, Date.now() + ttlMs, bytes);
    this.bytes += bytes;
    return true;
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
