/**
 * One run of the cache microbenchmark (bench/caches.ts starts it, one process per run, so that one
 * implementation's JIT state never colours another's): one structure, one implementation, one
 * capacity; prints a JSON line with ns per operation for each operation and the heap per entry.
 *
 *   node --expose-gc --import tsx bench/caches-worker.ts STRUCTURE IMPL CAPACITY OPS
 *
 * STRUCTURE `kv`: the memory store as `cache` uses it (`getTextSync` / `setSync`, ~500-byte values,
 * `cache:<org>:<model>:` + 64 hex keys), IMPL `hand-written` (core/stores/memory-kv.ts over
 * value-table.ts), `lru-cache` (bench/lru-stores.ts, `maxSize` only) or `lru-cache-max` (`max` too).
 * STRUCTURE `keys`: auth's SQL key cache (`get` / `set` with a TTL, ~50-character API keys), IMPL
 * `hand-written` (plugins/auth/key-cache.ts `ExpiringLru`, since replaced by a wrapper over lru-cache) or `lru-cache`.
 *
 * Every operation builds its key by concatenation, as the gateway does (the cache key is a prefix
 * plus a digest; the API key is a fresh string from the request's headers), so no implementation
 * gets a string whose hash V8 has already computed. Operations, on a structure filled to capacity:
 * get-hit (uniformly random live keys), get-miss, set-evict (a new key, evicting the least recently
 * used), get-expired (every entry past its TTL: the read drops it); and key-only, the floor every
 * implementation pays: building the key and one lookup in an empty `Map` (which hashes it).
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { MemoryKvStore } from '../core/stores/memory-kv.js';
import { ExpiringLru } from '../plugins/auth/key-cache.js';
import { LruExpiringLru, LruMemoryKvStore } from './lru-stores.js';

export const OPERATIONS = ['get-hit', 'get-miss', 'set-evict', 'get-expired', 'key-only'] as const;
export type Operation = (typeof OPERATIONS)[number];

interface Subject {
  get(key: string): unknown;
  set(key: string, ttlMs: number): void;
}

// bench/caches.ts imports OPERATIONS from here; the rest runs only as a worker process.
const main = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
const [structure, impl, capacityArg, opsArg] = main ? process.argv.slice(2) : [];
const capacity = Number(capacityArg);
const ops = Number(opsArg);
if (main && (!['kv', 'keys'].includes(structure!) || !impl || !capacity || !ops)) throw new Error('usage: caches-worker.ts kv|keys IMPL CAPACITY OPS');

const gc = (globalThis as { gc?: () => void }).gc;
if (main && !gc) throw new Error('run with --expose-gc');

// ~500 bytes of JSON, as a stored chat completion.
const VALUE = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today? '.repeat(8) }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 },
});
const KV_PREFIX = 'cache:org_bench:gpt-4o-mini:';
const KEY_PREFIX = 'sk-sy-live-';
/** Bytes the memory store charges per entry (memory-kv.ts): value + key as UTF-16 + 64. */
const KV_ENTRY_BYTES = Buffer.byteLength(VALUE) + (KV_PREFIX.length + 64) * 2 + 64;

function suffixes(count: number, salt: string): string[] {
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const digest = createHash('sha256').update(`${salt}${i}`).digest();
    // 64 hex characters for cache keys; 40 base64url characters (an API key of ~51) for auth.
    out[i] = structure === 'kv' ? digest.toString('hex') : digest.toString('base64url').slice(0, 40);
  }
  return out;
}

function subject(size: number): Subject {
  if (structure === 'kv') {
    const maxBytes = size * KV_ENTRY_BYTES;
    const store =
      impl === 'hand-written'
        ? new MemoryKvStore({ maxBytes })
        : impl === 'lru-cache'
          ? new LruMemoryKvStore({ maxBytes })
          : impl === 'lru-cache-max'
            ? new LruMemoryKvStore({ maxBytes, maxEntries: size })
            : undefined;
    if (!store) throw new Error(`unknown kv implementation '${impl}'`);
    return { get: (key) => store.getTextSync(key), set: (key, ttlMs) => void store.setSync(key, VALUE, ttlMs) };
  }
  const identity = { keyId: 'k_bench', orgId: 'org_bench' };
  const lru = impl === 'hand-written' ? new ExpiringLru<object>(size) : impl === 'lru-cache' ? new LruExpiringLru<object>(size) : undefined;
  if (!lru) throw new Error(`unknown keys implementation '${impl}'`);
  // Like sql-keys.ts: the caller reads the clock once per lookup.
  return { get: (key) => lru.get(key, Date.now()), set: (key, ttlMs) => lru.set(key, identity, ttlMs, Date.now()) };
}

const prefix = structure === 'kv' ? KV_PREFIX : KEY_PREFIX;
const LONG_TTL = 600_000;

function fill(s: Subject, keys: string[], count: number, ttlMs: number): void {
  for (let i = 0; i < count; i++) s.set(prefix + keys[i]!, ttlMs);
}

function getAll(s: Subject, keys: string[], order: Uint32Array): number {
  let found = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < order.length; i++) if (s.get(prefix + keys[order[i]!]!) !== undefined) found++;
  const ns = Number(process.hrtime.bigint() - t0);
  if (found < 0) throw new Error('unreachable');
  return ns / order.length;
}

function keyOnly(keys: string[], order: Uint32Array): number {
  const empty = new Map<string, number>();
  let found = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < order.length; i++) if (empty.get(prefix + keys[order[i]!]!) !== undefined) found++;
  const ns = Number(process.hrtime.bigint() - t0);
  if (found !== 0) throw new Error('unreachable');
  return ns / order.length;
}

function setAll(s: Subject, keys: string[], from: number, count: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = from; i < from + count; i++) s.set(prefix + keys[i]!, LONG_TTL);
  return Number(process.hrtime.bigint() - t0) / count;
}

function randomOrder(count: number, range: number, offset: number): Uint32Array {
  const order = new Uint32Array(count);
  let x = 0x9e3779b9;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    order[i] = offset + ((x >>> 0) % range);
  }
  return order;
}

function sequential(count: number, offset: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = offset + i;
  return order;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One pass of every operation on a structure of `size` entries; returns ns/op per operation and heap bytes per entry. */
async function pass(size: number, n: number): Promise<{ ns: Record<Operation, number>; heapBytesPerEntry: number; found: number }> {
  const missPool = Math.min(n, 65_536);
  const keys = suffixes(size + n + missPool, `${size}:`);
  gc!();
  const heapBefore = process.memoryUsage().heapUsed;
  const s = subject(size);
  fill(s, keys, size, LONG_TTL);
  gc!();
  const heapBytesPerEntry = (process.memoryUsage().heapUsed - heapBefore) / size;
  let found = 0;
  for (let i = 0; i < Math.min(size, 1000); i++) if (s.get(prefix + keys[i]!) !== undefined) found++;
  const ns = {} as Record<Operation, number>;
  ns['key-only'] = keyOnly(keys, randomOrder(n, size, 0));
  ns['get-hit'] = getAll(s, keys, randomOrder(n, size, 0));
  ns['get-miss'] = getAll(s, keys, randomOrder(n, missPool, size + n));
  ns['set-evict'] = setAll(s, keys, size, n);
  // A new structure whose entries all expire: each read finds one and drops it.
  const expiring = subject(size);
  fill(expiring, keys, size, 1);
  await sleep(20);
  ns['get-expired'] = getAll(expiring, keys, sequential(size, 0));
  return { ns, heapBytesPerEntry, found };
}

if (main) {
  // Warm-up on a small structure (the JIT compiles every path), then the measured pass.
  await pass(Math.min(capacity, 2_000), 50_000);
  const result = await pass(capacity, ops);
  if (result.found !== Math.min(capacity, 1000)) throw new Error(`${structure}/${impl}: filled structure lost entries (${result.found} of ${Math.min(capacity, 1000)} found)`);
  process.stdout.write(`${JSON.stringify({ structure, impl, capacity, ops, ns: result.ns, heapBytesPerEntry: result.heapBytesPerEntry })}\n`);
  process.exit(0);
}
