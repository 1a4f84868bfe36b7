/**
 * Least-recently-used order as a doubly linked list threaded through the entries themselves:
 * `auth`'s key caches keep their entries in a `Map` for lookup and in this list for recency. (The
 * memory store, with far more entries, keeps its own rows in `value-table.ts`.)
 *
 * Why not the `Map`'s own insertion order (delete + re-set on every read, evict the first key)? In
 * V8 a deleted `Map` entry stays in the table as a hole until the table is rebuilt, which happens
 * only after about as many writes as the table holds. Re-setting one hot key piles its holes into
 * that key's hash bucket, so every later lookup walks them; evicting from the front makes every
 * `keys().next()` step over all the holes evicted before. Both grow with the number of entries —
 * over 100 µs per operation with 100,000 entries. Moving a node in this list is a few pointer writes.
 */

/** The links an entry carries; the list owns them. */
export interface RecencyLinks<T> {
  older: T | undefined;
  newer: T | undefined;
}

export class RecencyList<T extends RecencyLinks<T>> {
  /** Least recently used: the next to evict. */
  oldest: T | undefined;
  newest: T | undefined;

  /** Adds an entry that is in no list as the most recently used. */
  append(entry: T): void {
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
  }

  /** Takes an entry of this list out of it. */
  remove(entry: T): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = undefined;
  }

  /** Marks an entry of this list as the most recently used. */
  touch(entry: T): void {
    if (entry === this.newest) return;
    this.remove(entry);
    this.append(entry);
  }

  clear(): void {
    this.oldest = this.newest = undefined;
  }
}
