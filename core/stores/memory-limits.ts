/**
 * In-process `LimitStore`: sliding-window counters and concurrency slots for one process. Counters
 * live apart from the memory store's LRU values, so cache pressure never evicts a limit; expired
 * counters are swept by `sweep()` (the memory store calls it on a timer), so many distinct keys do
 * not grow the process without bound. JavaScript runs one call at a time, so every call is atomic.
 */
import type { LimitCheck, LimitDecision, LimitState, LimitStore, SyncLimitStore } from './kv.js';
import { oldestCountedSlot, slotLeavesAt, slotWidth, waitForRoom } from './sliding-window.js';

interface WindowCounter {
  windowMs: number;
  slotMs: number;
  /** Slot indices, ascending; `counts[i]` units were taken in slot `indices[i]`. */
  indices: number[];
  counts: number[];
}

/**
 * Besides the async `LimitStore` methods, each operation has a synchronous twin (`consumeSync`, …;
 * `SyncLimitStore`, offered as `sync`) with the same effect: rate-limit's fast path skips a promise
 * and a microtask hop per call.
 */
export class MemoryLimitStore implements LimitStore, SyncLimitStore {
  readonly sync: SyncLimitStore = this;
  private readonly counters = new Map<string, WindowCounter>();
  /** Concurrency slots: the expiry time of each slot in use. */
  private readonly slots = new Map<string, number[]>();

  async consume(checks: readonly LimitCheck[]): Promise<LimitDecision> {
    return this.consumeNow(checks, Date.now());
  }

  consumeSync(checks: readonly LimitCheck[]): LimitDecision {
    return this.consumeNow(checks, Date.now());
  }

  private consumeNow(checks: readonly LimitCheck[], now: number): LimitDecision {
    // Calls never interleave (they are synchronous), so one pair of scratch arrays serves them all.
    const counters = scratchCounters;
    const used = scratchUsed;
    let allowed = true;
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i]!;
      const counter = this.counterFor(check.key, check.windowMs);
      prune(counter, now);
      let sum = 0;
      for (const c of counter.counts) sum += c;
      counters[i] = counter;
      used[i] = sum;
      if (sum + check.cost > check.limit) allowed = false;
    }
    const states: LimitState[] = new Array<LimitState>(checks.length);
    let retryAfterMs = 0;
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i]!;
      const counter = counters[i]!;
      counters[i] = undefined;
      let usage = used[i]!;
      if (allowed && check.cost !== 0) {
        addToSlot(counter, Math.floor(now / counter.slotMs), check.cost);
        usage += check.cost;
      }
      if (!allowed) {
        const wait = waitForRoom(counter.indices, counter.counts, usage, check.cost, check.limit, now, counter.windowMs, counter.slotMs);
        retryAfterMs = Math.max(retryAfterMs, wait);
      }
      states[i] = { limit: check.limit, remaining: Math.max(0, check.limit - usage), resetMs: resetAfter(counter, usage, now) };
    }
    return { allowed, states, retryAfterMs };
  }

  async adjust(key: string, windowMs: number, delta: number): Promise<void> {
    this.adjustNow(key, windowMs, delta, Date.now());
  }

  adjustSync(key: string, windowMs: number, delta: number): void {
    this.adjustNow(key, windowMs, delta, Date.now());
  }

  private adjustNow(key: string, windowMs: number, delta: number, now: number): void {
    if (delta === 0) return;
    const counter = this.counterFor(key, windowMs);
    prune(counter, now);
    if (delta > 0) {
      addToSlot(counter, Math.floor(now / counter.slotMs), delta);
      return;
    }
    // Give back oldest first, never below zero in a slot: a negative slot would outlive the
    // reservation it cancels and later let a window hold more than its limit.
    let owed = -delta;
    for (let i = 0; i < counter.counts.length && owed > 0; i++) {
      const take = Math.min(counter.counts[i]!, owed);
      counter.counts[i]! -= take;
      owed -= take;
    }
  }

  async acquire(key: string, max: number, ttlMs: number): Promise<{ acquired: boolean; inUse: number }> {
    return this.acquireSync(key, max, ttlMs);
  }

  acquireSync(key: string, max: number, ttlMs: number): { acquired: boolean; inUse: number } {
    const now = Date.now();
    let expiries = this.slots.get(key);
    if (!expiries) this.slots.set(key, (expiries = []));
    dropExpired(expiries, now);
    if (expiries.length >= max) return { acquired: false, inUse: expiries.length };
    expiries.push(now + ttlMs);
    return { acquired: true, inUse: expiries.length };
  }

  async release(key: string): Promise<void> {
    this.releaseSync(key);
  }

  releaseSync(key: string): void {
    const expiries = this.slots.get(key);
    if (!expiries?.length) return;
    // Slots are anonymous: give back the one closest to expiring (the same choice Redis makes).
    let oldest = 0;
    for (let i = 1; i < expiries.length; i++) if (expiries[i]! < expiries[oldest]!) oldest = i;
    // Swap-remove (order does not matter). An emptied key stays for `sweep()` to drop: deleting and
    // re-adding a key on every request churns the Map.
    expiries[oldest] = expiries[expiries.length - 1]!;
    expiries.pop();
  }

  /** Drops counters whose usage has left their window and concurrency keys with no live slot. */
  sweep(now = Date.now()): void {
    for (const [key, counter] of this.counters) {
      const last = counter.indices[counter.indices.length - 1];
      if (last === undefined || slotLeavesAt(last, counter.windowMs, counter.slotMs) <= now) this.counters.delete(key);
    }
    for (const [key, expiries] of this.slots) {
      dropExpired(expiries, now);
      if (!expiries.length) this.slots.delete(key);
    }
  }

  /** Counters and concurrency keys held (for tests of the sweep). */
  get size(): number {
    return this.counters.size + this.slots.size;
  }

  private counterFor(key: string, windowMs: number): WindowCounter {
    let counter = this.counters.get(key);
    // A key reused with another window (a reloaded config) starts over rather than mixing slot widths.
    if (!counter || counter.windowMs !== windowMs) {
      counter = { windowMs, slotMs: slotWidth(windowMs), indices: [], counts: [] };
      this.counters.set(key, counter);
    }
    return counter;
  }
}

/** `consumeNow`'s per-check counters and usage (emptied after each call, so no counter is kept alive). */
const scratchCounters: (WindowCounter | undefined)[] = [];
const scratchUsed: number[] = [];

function prune(counter: WindowCounter, now: number): void {
  const oldest = oldestCountedSlot(now, counter.windowMs, counter.slotMs);
  let drop = 0;
  while (drop < counter.indices.length && counter.indices[drop]! < oldest) drop++;
  if (drop) {
    counter.indices.splice(0, drop);
    counter.counts.splice(0, drop);
  }
}

function addToSlot(counter: WindowCounter, index: number, units: number): void {
  const last = counter.indices.length - 1;
  if (last >= 0 && counter.indices[last] === index) counter.counts[last]! += units;
  else {
    counter.indices.push(index);
    counter.counts.push(units);
  }
}

function resetAfter(counter: WindowCounter, usage: number, now: number): number {
  if (usage <= 0) return 0;
  for (let i = counter.indices.length - 1; i >= 0; i--) {
    if (counter.counts[i]! > 0) return Math.max(0, slotLeavesAt(counter.indices[i]!, counter.windowMs, counter.slotMs) - now);
  }
  return 0;
}

function dropExpired(expiries: number[], now: number): void {
  for (let i = expiries.length - 1; i >= 0; i--) if (expiries[i]! <= now) expiries.splice(i, 1);
}
