/**
 * The sliding-window arithmetic both limit stores share (the Redis Lua script in
 * `redis-scripts.ts` mirrors it line for line).
 *
 * A window of `windowMs` is cut into `SLOTS_PER_WINDOW` slots of `slotMs`; slot `i` holds the units
 * taken during `[i·slotMs, (i+1)·slotMs)`. A check at time `t` counts every slot that overlaps
 * `(t − windowMs, t]`. That count includes everything taken in the last `windowMs` (plus up to one
 * slot more), so when each admission keeps it within the limit, no interval of `windowMs` — aligned
 * or not — ever holds more than `limit` units: no burst at a window edge, and N concurrent requests
 * at a limit of L admit exactly min(N, L). The price of being conservative: usage leaves the count
 * up to one slot (1/30 of the window) later than an exact log would let it.
 */

/** Slots per window: 2 s resolution for a one-minute window. */
export const SLOTS_PER_WINDOW = 30;

/** Width of one slot for a window (at least 1 ms). */
export function slotWidth(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / SLOTS_PER_WINDOW));
}

/** Index of the oldest slot still counted at `now`. */
export function oldestCountedSlot(now: number, windowMs: number, slotMs: number): number {
  return Math.floor((now - windowMs) / slotMs);
}

/** The moment slot `index` stops being counted. */
export function slotLeavesAt(index: number, windowMs: number, slotMs: number): number {
  return (index + 1) * slotMs + windowMs;
}

/**
 * Milliseconds until `cost` more units fit under `limit`, given the counted slots oldest first
 * (`indices` ascending, `counts` beside them) and their total `used`. Slots leave the count oldest
 * first, so the answer is the moment enough of them have left.
 */
export function waitForRoom(indices: readonly number[], counts: readonly number[], used: number, cost: number, limit: number, now: number, windowMs: number, slotMs: number): number {
  if (used + cost <= limit) return 0;
  let left = used;
  for (let i = 0; i < indices.length; i++) {
    left -= counts[i]!;
    if (left + cost <= limit) return Math.max(0, slotLeavesAt(indices[i]!, windowMs, slotMs) - now);
  }
  // More than the whole limit: it fits once everything has left (the caller decides whether it ever can).
  const last = indices.length ? indices[indices.length - 1]! : Math.floor(now / slotMs);
  return Math.max(0, slotLeavesAt(last, windowMs, slotMs) - now);
}
