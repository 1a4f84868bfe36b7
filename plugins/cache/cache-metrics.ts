/**
 * The cache's metrics, defined in one place so the plugin (every config version) and the admin
 * module (`GET /admin/cache/stats`) get the same get-or-create series. Labels are bounded.
 */
import type { Counter } from 'prom-client';
import type { GatewayMetrics } from '../../core/metrics.js';
import type { KvStore } from '../../core/stores/kv.js';

/** What the cache did with a request. */
export type CacheResult = 'hit' | 'miss' | 'bypass' | 'coalesced';

export const CACHE_RESULTS: readonly CacheResult[] = ['hit', 'miss', 'bypass', 'coalesced'];

/** Requests by result since start, counted in plain numbers on the hot path (no label hashing per request). */
export type CacheTally = Record<CacheResult, number>;

/** One tally per gateway: config versions come and go, the counts and the metric stay. */
const tallies = new WeakMap<GatewayMetrics, CacheTally>();

/**
 * The gateway's tally, whose counts `switchyard_cache_requests_total` reports at scrape time (every
 * result has a series, from 0).
 */
export function cacheRequestTally(metrics: GatewayMetrics): CacheTally {
  let tally = tallies.get(metrics);
  if (tally) return tally;
  const counts: CacheTally = (tally = { hit: 0, miss: 0, bypass: 0, coalesced: 0 });
  const reported: CacheTally = { hit: 0, miss: 0, bypass: 0, coalesced: 0 };
  tallies.set(metrics, counts);
  metrics.counter('switchyard_cache_requests_total', 'Requests to cached endpoints, by what the cache did (hit|miss|bypass|coalesced).', ['result'], function (this: Counter<'result'>) {
    for (const result of CACHE_RESULTS) {
      this.inc({ result }, counts[result] - reported[result]);
      reported[result] = counts[result];
    }
  });
  return counts;
}

/**
 * Gauges read from the memory key-value store at scrape time (the store is shared with rate-limit
 * counters, so these count its whole content). Redis reports none: its memory is its own business.
 */
export function registerStoreGauges(metrics: GatewayMetrics, kv: KvStore): void {
  if (!kv.stats) return;
  const stats = kv.stats.bind(kv);
  metrics.gauge('switchyard_cache_bytes', 'Bytes held by the in-memory key-value store (cache entries and counters).', [], function () {
    this.set(stats().bytes);
  });
  metrics.gauge('switchyard_cache_entries', 'Entries held by the in-memory key-value store.', [], function () {
    this.set(stats().entries);
  });
  metrics.gauge('switchyard_cache_evictions', 'Entries the in-memory key-value store evicted to stay within `stores.kv.memory.max_bytes`, since start.', [], function () {
    this.set(stats().evictions);
  });
}

/** Current value of each result counter. */
export function cacheRequestCounts(metrics: GatewayMetrics): Record<CacheResult, number> {
  return { ...cacheRequestTally(metrics) };
}
