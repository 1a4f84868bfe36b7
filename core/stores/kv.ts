/**
 * The key-value store contract: what `rate-limit`, `cache` and `auth` (revocation fan-out) need from
 * shared fast state. Two implementations sit behind it — in-process memory (the default; one
 * process) and Redis via ioredis (exact across replicas) — and one shared test suite runs against
 * both (`test/stores/kv-suite.ts`). Every operation is atomic in both stores.
 *
 * Keys are plain strings chosen by the caller, already namespaced (`rl:…`, `cache:…`); the store
 * adds its own configured prefix (`switchyard:` by default) in Redis.
 */
import type { GatewayConfig } from '../../schemas/types/gateway.js';

/** One window to check in a `consume()` call. */
export interface LimitCheck {
  /** Counter key, e.g. `rl:key:k_123:rpm`. */
  key: string;
  /** Most units allowed within any `windowMs`. */
  limit: number;
  windowMs: number;
  /** Units this request takes: 1 for requests, the reserved token estimate for tokens. */
  cost: number;
}

export interface LimitState {
  limit: number;
  /** Units left in the current window after this call (never negative). */
  remaining: number;
  /** Milliseconds until `remaining` is back to `limit` (the window has fully slid past current usage). */
  resetMs: number;
}

export interface LimitDecision {
  /** True when every check had room; then `cost` was taken from every window. Otherwise nothing was taken. */
  allowed: boolean;
  /** One state per check, in the order given. */
  states: LimitState[];
  /** When denied: milliseconds until the request could succeed (for `Retry-After`). 0 when allowed. */
  retryAfterMs: number;
}

/**
 * Rate-limit primitives. The windows are sliding (no burst at a window edge): whatever the
 * algorithm, usage within ANY interval of length `windowMs` never exceeds `limit`, so N concurrent
 * requests at a limit of L admit exactly min(N, L) — across processes too, in Redis.
 */
export interface LimitStore {
  /** All-or-nothing: checks every window and takes `cost` from each only if all have room. */
  consume(checks: readonly LimitCheck[]): Promise<LimitDecision>;
  /**
   * Adds `delta` units to a window without checking (settling a token reservation: positive when
   * the real usage was larger than reserved, negative to give back). Never fails a request.
   */
  adjust(key: string, windowMs: number, delta: number): Promise<void>;
  /** Concurrency slot: takes one of `max` slots, or returns false. A slot expires after `ttlMs` as a safety net. */
  acquire(key: string, max: number, ttlMs: number): Promise<{ acquired: boolean; inUse: number }>;
  /** Gives back a slot taken by `acquire`. */
  release(key: string): Promise<void>;
  /** Present on an in-process store (memory): the same calls answered synchronously. */
  readonly sync?: SyncLimitStore;
}

/**
 * Synchronous twins of the `LimitStore` calls, with the same effect, offered only by a store that
 * does no I/O: hot paths skip a promise and a microtask hop per call (rate-limit uses them).
 */
export interface SyncLimitStore {
  consumeSync(checks: readonly LimitCheck[]): LimitDecision;
  adjustSync(key: string, windowMs: number, delta: number): void;
  acquireSync(key: string, max: number, ttlMs: number): { acquired: boolean; inUse: number };
  releaseSync(key: string): void;
}

/** Synchronous twins of `get` (as text) and `set`, offered only by a store that does no I/O (the cache uses them). */
export interface SyncKvStore {
  getTextSync(key: string): string | undefined;
  /** Returns whether the value was kept (false: larger than the whole store, or no TTL). */
  setSync(key: string, value: Buffer | string, ttlMs: number): boolean;
}

/** Memory-store statistics (Redis reports none: its memory is Redis's own business). */
export interface KvStats {
  entries: number;
  bytes: number;
  evictions: number;
}

export interface KvStore {
  readonly kind: 'memory' | 'redis';
  /** The value stored under `key`, or undefined when absent or expired. */
  get(key: string): Promise<Buffer | undefined>;
  /** Stores `value` for `ttlMs` milliseconds. The memory store evicts least recently used values past its byte bound. */
  set(key: string, value: Buffer | string, ttlMs: number): Promise<void>;
  /** Stores `value` only if `key` is absent; returns whether it did (a lock / single-flight marker). */
  setIfAbsent(key: string, value: Buffer | string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /**
   * Deletes every value whose key starts with `prefix` and, when `infix` is given, contains it
   * after the prefix (`'cache:'`, `':gpt-4o:'` → every org's entries of one model); returns how
   * many. Both are literal text. (Redis: SCAN MATCH + UNLINK, never KEYS.)
   */
  deletePrefix(prefix: string, infix?: string): Promise<number>;
  /** Fan-out to every subscriber of `channel`, in this process and (Redis) in every replica. */
  publish(channel: string, message: string): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>;
  readonly limits: LimitStore;
  /** Present on an in-process store (memory): `get`/`set` answered synchronously. */
  readonly sync?: SyncKvStore;
  /** Memory store only. */
  stats?(): KvStats;
  /** Throws when the store is unreachable (for `/ready`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** `stores.kv` in YAML (generated from `schemas/gateway.schema.json`). */
export type KvConfig = GatewayConfig['stores']['kv'];

/** Thrown by a store when it cannot reach its server; callers with `fail_open` catch exactly this. */
export { StoreUnavailableError } from '../errors.js';
