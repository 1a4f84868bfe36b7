/** Stands in for core/stores/memory-kv.ts when bench/lru-swap/hooks.mjs swaps it: the lru-cache store. */
export { LruMemoryKvStore as MemoryKvStore, DEFAULT_MEMORY_MAX_BYTES } from '../lru-stores.js';
