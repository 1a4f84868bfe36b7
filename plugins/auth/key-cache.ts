/**
 * A bounded least-recently-used map whose entries expire. `auth` keeps two: known keys (long TTL,
 * dropped at once by identity-change events) and unknown ones (short TTL, bounded on their own so
 * a flood of made-up keys can neither grow memory nor push real keys out). Recency and the bound
 * are `lru-cache`'s (measured against the hand-written list it replaced: no faster or slower beyond
 * the run-to-run noise, a third less memory per entry; docs/benchmarks.md). Expiry is judged
 * against the `now` the caller passes, so one request sees one clock and tests need no timers.
 */
import { LRUCache } from 'lru-cache';

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class ExpiringLru<V> {
  private readonly entries: LRUCache<string, Entry<V>>;

  constructor(
    /** Most entries kept; the least recently used goes first. */
    maxEntries: number,
  ) {
    this.entries = new LRUCache({ max: maxEntries });
  }

  get(key: string, now: number): V | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (hit.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: V, ttlMs: number, now: number): void {
    this.entries.set(key, { value, expiresAt: now + ttlMs });
  }

  /** Drops the entry for `key`; returns whether there was one. */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** Drops every entry whose value matches; returns how many. */
  deleteWhere(matches: (value: V) => boolean): number {
    const dropped: string[] = [];
    for (const [key, entry] of this.entries.entries()) if (matches(entry.value)) dropped.push(key);
    for (const key of dropped) this.entries.delete(key);
    return dropped.length;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
