/**
 * A bounded least-recently-used map whose entries expire. `auth` keeps two: known keys (long TTL,
 * dropped at once by identity-change events) and unknown ones (short TTL, bounded on their own so
 * a flood of made-up keys can neither grow memory nor push real keys out). Recency is a linked list
 * (`RecencyList`), not the Map's insertion order: see there why.
 */
import { RecencyList, type RecencyLinks } from '../../core/stores/recency-list.js';

interface Entry<V> extends RecencyLinks<Entry<V>> {
  key: string;
  value: V;
  expiresAt: number;
}

export class ExpiringLru<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly recency = new RecencyList<Entry<V>>();

  constructor(
    /** Most entries kept; the least recently used goes first. */
    private readonly maxEntries: number,
  ) {}

  get(key: string, now: number): V | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (hit.expiresAt <= now) {
      this.drop(hit);
      return undefined;
    }
    this.recency.touch(hit);
    return hit.value;
  }

  set(key: string, value: V, ttlMs: number, now: number): void {
    const old = this.entries.get(key);
    if (old) this.drop(old);
    const entry: Entry<V> = { key, value, expiresAt: now + ttlMs, older: undefined, newer: undefined };
    this.entries.set(key, entry);
    this.recency.append(entry);
    if (this.entries.size > this.maxEntries) this.drop(this.recency.oldest!);
  }

  /** Drops the entry for `key`; returns whether there was one. */
  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry) this.drop(entry);
    return entry !== undefined;
  }

  /** Drops every entry whose value matches; returns how many. */
  deleteWhere(matches: (value: V) => boolean): number {
    let dropped = 0;
    for (const entry of this.entries.values()) {
      if (matches(entry.value)) {
        this.drop(entry);
        dropped++;
      }
    }
    return dropped;
  }

  clear(): void {
    this.entries.clear();
    this.recency.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(entry: Entry<V>): void {
    this.entries.delete(entry.key);
    this.recency.remove(entry);
  }
}
