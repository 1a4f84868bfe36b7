/** Stands in for plugins/auth/key-cache.ts when bench/lru-swap/hooks.mjs swaps it: the lru-cache key cache. */
export { LruExpiringLru as ExpiringLru } from '../lru-stores.js';
