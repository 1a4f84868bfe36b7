/**
 * The in-process `KvStore` (the default, `stores.kv: memory`): values with TTLs in a byte-bounded
 * LRU, in-process pub/sub and the in-process `LimitStore`. Exact for one process; with several
 * replicas each one keeps its own state (use Redis to share it).
 */
import type { Logger } from '../log.js';
import type { KvStats, KvStore } from './kv.js';
import { MemoryLimitStore } from './memory-limits.js';
import { RecencyList, type RecencyLinks } from './recency-list.js';

/** Default `max_bytes`: 256 MiB of values (keys and bookkeeping included). */
export const DEFAULT_MEMORY_MAX_BYTES = 256 * 1024 * 1024;
/** Rough bookkeeping cost of one entry beyond its key and value, so that many tiny values still count. */
const ENTRY_OVERHEAD_BYTES = 64;
/** How often expired values and limit counters are swept (reads also drop expired values on sight). */
const SWEEP_INTERVAL_MS = 10_000;

interface Entry extends RecencyLinks<Entry> {
  key: string;
  /**
   * Text is kept as the string it was given: one heap object per value (a Buffer is a typed-array
   * object plus a share of a pooled ArrayBuffer), and a text reader gets it back without decoding.
   */
  value: Buffer | string;
  expiresAt: number;
  bytes: number;
}

export interface MemoryKvOptions {
  /** Upper bound on stored values in bytes; least recently used values are evicted past it. */
  maxBytes?: number;
  log?: Logger;
}

export class MemoryKvStore implements KvStore {
  readonly kind = 'memory' as const;
  readonly limits = new MemoryLimitStore();
  private readonly maxBytes: number;
  private readonly log: Logger | undefined;
  private readonly entries = new Map<string, Entry>();
  /** A read moves an entry to the newest end; eviction takes the oldest. */
  private readonly recency = new RecencyList<Entry>();
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
   * `get` as UTF-8 text, synchronously: callers that know they hold the memory store (the cache's
   * fast path) skip a promise, and text stored as text comes back without a copy.
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
    const entry = this.live(key, Date.now());
    this.remove(key);
    return entry !== undefined;
  }

  async deletePrefix(prefix: string, infix?: string): Promise<number> {
    const now = Date.now();
    let deleted = 0;
    for (const [key, entry] of this.entries) {
      if (!key.startsWith(prefix) || (infix !== undefined && key.indexOf(infix, prefix.length) === -1)) continue;
      if (entry.expiresAt > now) deleted++;
      this.remove(key);
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
    return { entries: this.entries.size, bytes: this.bytes, evictions: this.evictions };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
    this.recency.clear();
    this.channels.clear();
    this.bytes = 0;
  }

  /** Drops expired values and expired limit counters. */
  sweep(now = Date.now()): void {
    for (let entry = this.recency.oldest; entry; ) {
      const newer = entry.newer;
      if (entry.expiresAt <= now) this.drop(entry);
      entry = newer;
    }
    this.limits.sweep(now);
  }

  private read(key: string): Buffer | string | undefined {
    const entry = this.live(key, Date.now());
    if (!entry) return undefined;
    this.recency.touch(entry);
    return entry.value;
  }

  private put(key: string, value: Buffer | string, ttlMs: number): boolean {
    // Measuring a string flattens it in place (a concatenation becomes one string, which the GC
    // then keeps alone), so what stays in the store is one object per value.
    const bytes = (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength) + key.length * 2 + ENTRY_OVERHEAD_BYTES;
    const old = this.entries.get(key);
    if (old) this.drop(old);
    // A value bigger than the whole store is not kept (evicting everything for it would only thrash).
    if (bytes > this.maxBytes || ttlMs <= 0) return false;
    while (this.bytes + bytes > this.maxBytes) {
      const oldest = this.recency.oldest;
      if (oldest === undefined) break;
      this.drop(oldest);
      this.evictions++;
    }
    const entry: Entry = { key, value, expiresAt: Date.now() + ttlMs, bytes, older: undefined, newer: undefined };
    this.entries.set(key, entry);
    this.recency.append(entry);
    this.bytes += bytes;
    return true;
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > now) return entry;
    this.drop(entry);
    return undefined;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry) this.drop(entry);
  }

  private drop(entry: Entry): void {
    this.entries.delete(entry.key);
    this.recency.remove(entry);
    this.bytes -= entry.bytes;
  }
}
