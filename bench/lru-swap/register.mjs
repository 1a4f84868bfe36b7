/**
 * `node --import tsx --import ./bench/lru-swap/register.mjs dist/core/cli.js …`: installs hooks.mjs.
 * BENCH_LRU=lru-cache swaps the caches; anything else (hand-written) loads the same hooks and
 * changes nothing, so both variants pay the same loader set-up.
 */
import { register } from 'node:module';

const root = new URL('../../', import.meta.url).href;
register('./hooks.mjs', import.meta.url, {
  data: { swap: process.env.BENCH_LRU === 'lru-cache', root, fromDist: process.argv[1]?.includes('/dist/') ?? false },
});
