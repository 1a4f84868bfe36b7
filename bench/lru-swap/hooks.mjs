/**
 * Module resolution hooks (node:module `register`) that swap the gateway's two hand-written LRU
 * caches for their lru-cache twins in bench/lru-stores.ts, without touching core/ or plugins/:
 * imports of core/stores/memory-kv.js and plugins/auth/key-cache.js (from dist/ or source) resolve
 * to bench/lru-swap/memory-kv.ts and key-cache.ts. Imports of project source from bench/ files go
 * to the compiled twin in dist/ when the gateway runs from dist/, so only one copy of a module runs.
 * Plain JavaScript: it runs on the loader thread, before any TypeScript loader.
 */
let swap = [];
let root = '';
let fromDist = false;

/** `data.swap`: which caches to swap, `kv` and/or `keys`. */
export function initialize(data) {
  swap = data.swap;
  root = data.root;
  fromDist = data.fromDist;
}

const TARGETS = {
  kv: [/^(dist\/)?core\/stores\/memory-kv\.(js|ts)$/, 'bench/lru-swap/memory-kv.ts'],
  keys: [/^(dist\/)?plugins\/auth\/key-cache\.(js|ts)$/, 'bench/lru-swap/key-cache.ts'],
};

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (!resolved.url.startsWith(root)) return resolved;
  const path = resolved.url.slice(root.length);
  if (!context.parentURL?.startsWith(`${root}bench/`)) {
    for (const name of swap) {
      const [pattern, target] = TARGETS[name];
      if (pattern.test(path)) return { ...resolved, url: `${root}${target}` };
    }
  }
  if (fromDist && context.parentURL?.startsWith(`${root}bench/`) && /^(core|plugins)\/.*\.ts$/.test(path)) {
    return { ...resolved, url: `${root}dist/${path.replace(/\.ts$/, '.js')}` };
  }
  return resolved;
}
