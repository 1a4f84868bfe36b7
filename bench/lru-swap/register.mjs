/**
 * `node --import tsx --import ./bench/lru-swap/register.mjs dist/bin/main.js …`: installs hooks.mjs.
 * BENCH_LRU=lru-cache swaps both caches, lru-cache-kv only the memory store, lru-cache-keys only
 * auth's key cache; anything else (hand-written) loads the same hooks and changes nothing, so every
 * variant pays the same loader set-up.
 */
import { register } from 'node:module';

const root = new URL('../../', import.meta.url).href;
const SWAPS = { 'lru-cache': ['kv', 'keys'], 'lru-cache-kv': ['kv'], 'lru-cache-keys': ['keys'] };
register('./hooks.mjs', import.meta.url, {
  data: { swap: SWAPS[process.env.BENCH_LRU ?? ''] ?? [], root, fromDist: process.argv[1]?.includes('/dist/') ?? false },
});
