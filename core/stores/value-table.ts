/**
 * The memory store's values: a hash table over typed arrays with least-recently-used order, built
 * for a store holding hundreds of thousands of entries that churn (a response cache under a flood
 * of unique requests).
 *
 * Why not a `Map` of entry objects with a linked list? Each entry was then three more heap objects
 * (the entry, its boxed expiry time, the map's slot churn), every one of them promoted to the old
 * generation and traced by each GC, and a lookup that misses walked a bucket chain whose every
 * link is a cache miss (the entry, then the key string's hash). Here an entry is a row in
 * preallocated arrays: a lookup that misses reads one cache line of the index, the only heap
 * objects per entry are its key and its value, and nothing is rehashed while the table churns at a
 * steady size (deletion shifts the probe run back; no tombstones).
 */

/** Fields of an entry's row in `rows` (stride `ROW`). */
const EXPIRES = 0;
const BYTES = 1;
const HASH = 2;
const OLDER = 3;
const NEWER = 4;
const ROW = 5;

const NONE = -1;
const INITIAL_CAPACITY = 256;

/** A 32-bit FNV-1a of the key's code units, mixed so that the low bits (the home slot) spread. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}

export class ValueTable<V> {
  /** Entries the rows can hold before they grow. */
  private capacity = INITIAL_CAPACITY;
  /** Per entry: expiry, bytes, hash, older and newer entry (NONE at the ends). */
  private rows = new Float64Array(INITIAL_CAPACITY * ROW);
  private keys: (string | undefined)[] = new Array<string | undefined>(INITIAL_CAPACITY).fill(undefined);
  private values: (V | undefined)[] = new Array<V | undefined>(INITIAL_CAPACITY).fill(undefined);
  /** Linear-probing index, at most half full: (hash, entry + 1) pairs; an entry of 0 marks a free slot. */
  private index = new Int32Array(INITIAL_CAPACITY * 4);
  private mask = INITIAL_CAPACITY * 2 - 1;
  /** Rows given back, chained through NEWER; `unused` is the first row never handed out. */
  private freeRows = NONE;
  private unused = 0;
  /** Least recently used: the next to evict. */
  oldest = NONE;
  newest = NONE;
  size = 0;

  /** The entry stored under `key` (of hash `hash`), or NONE. */
  find(key: string, hash: number): number {
    const index = this.index;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = index[slot * 2 + 1]! - 1;
      if (entry === NONE) return NONE;
      if (index[slot * 2] === hash && this.keys[entry] === key) return entry;
    }
  }

  /** Adds an entry for a key that has none, as the most recently used. */
  insert(key: string, hash: number, value: V, expiresAt: number, bytes: number): void {
    if (this.size === this.capacity) this.grow();
    let entry = this.freeRows;
    if (entry !== NONE) this.freeRows = this.rows[entry * ROW + NEWER]!;
    else entry = this.unused++;
    const row = entry * ROW;
    this.rows[row + EXPIRES] = expiresAt;
    this.rows[row + BYTES] = bytes;
    this.rows[row + HASH] = hash;
    this.keys[entry] = key;
    this.values[entry] = value;
    this.link(entry);
    this.place(hash, entry);
    this.size++;
  }

  /** Takes an entry out; its row is reused by a later insert. */
  remove(entry: number): void {
    this.unlink(entry);
    this.unplace(this.rows[entry * ROW + HASH]!, entry);
    this.keys[entry] = undefined;
    this.values[entry] = undefined;
    this.rows[entry * ROW + NEWER] = this.freeRows;
    this.freeRows = entry;
    this.size--;
  }

  /** Marks an entry as the most recently used. */
  touch(entry: number): void {
    if (entry === this.newest) return;
    this.unlink(entry);
    this.link(entry);
  }

  key(entry: number): string {
    return this.keys[entry]!;
  }

  value(entry: number): V {
    return this.values[entry]!;
  }

  expiresAt(entry: number): number {
    return this.rows[entry * ROW + EXPIRES]!;
  }

  bytes(entry: number): number {
    return this.rows[entry * ROW + BYTES]!;
  }

  /** The next more recently used entry, or NONE: walk from `oldest` to visit every entry. */
  newer(entry: number): number {
    return this.rows[entry * ROW + NEWER]!;
  }

  clear(): void {
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.index.fill(0);
    this.freeRows = this.oldest = this.newest = NONE;
    this.unused = this.size = 0;
  }

  private link(entry: number): void {
    const row = entry * ROW;
    this.rows[row + OLDER] = this.newest;
    this.rows[row + NEWER] = NONE;
    if (this.newest !== NONE) this.rows[this.newest * ROW + NEWER] = entry;
    else this.oldest = entry;
    this.newest = entry;
  }

  private unlink(entry: number): void {
    const row = entry * ROW;
    const older = this.rows[row + OLDER]!;
    const newer = this.rows[row + NEWER]!;
    if (older !== NONE) this.rows[older * ROW + NEWER] = newer;
    else this.oldest = newer;
    if (newer !== NONE) this.rows[newer * ROW + OLDER] = older;
    else this.newest = older;
  }

  private place(hash: number, entry: number): void {
    let slot = hash & this.mask;
    while (this.index[slot * 2 + 1] !== 0) slot = (slot + 1) & this.mask;
    this.index[slot * 2] = hash;
    this.index[slot * 2 + 1] = entry + 1;
  }

  /** Frees the index slot of `entry`, shifting later members of its probe run back into the gap. */
  private unplace(hash: number, entry: number): void {
    const index = this.index;
    const mask = this.mask;
    let hole = hash & mask;
    while (index[hole * 2 + 1] !== entry + 1) hole = (hole + 1) & mask;
    for (let slot = (hole + 1) & mask; index[slot * 2 + 1] !== 0; slot = (slot + 1) & mask) {
      const home = index[slot * 2]! & mask;
      // A member may move back to the hole unless its home lies after the hole (within the run).
      if (((slot - home) & mask) >= ((slot - hole) & mask)) {
        index[hole * 2] = index[slot * 2]!;
        index[hole * 2 + 1] = index[slot * 2 + 1]!;
        hole = slot;
      }
    }
    index[hole * 2] = 0;
    index[hole * 2 + 1] = 0;
  }

  /** Doubles the rows and rebuilds the index at twice their number of slots. */
  private grow(): void {
    const capacity = this.capacity * 2;
    const rows = new Float64Array(capacity * ROW);
    rows.set(this.rows);
    this.rows = rows;
    for (let i = this.capacity; i < capacity; i++) {
      this.keys.push(undefined);
      this.values.push(undefined);
    }
    this.capacity = capacity;
    this.index = new Int32Array(capacity * 4);
    this.mask = capacity * 2 - 1;
    for (let entry = this.oldest; entry !== NONE; entry = this.newer(entry)) this.place(this.rows[entry * ROW + HASH]!, entry);
  }
}
