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

const REQUESTS_METRIC = 'switchyard_cache_requests_total';

/**
 * A new tally whose counts `switchyard_cache_requests_total` reports at scrape time (every result
 * has a series, from 0). Created once per process (the cache's process state): config versions
 * come and go, the counts and the metric stay.
 */
export function cacheRequestTally(metrics: GatewayMetrics): CacheTally {
  const counts: CacheTally = { hit: 0, miss: 0, bypass: 0, coalesced: 0 };
  const reported: CacheTally = { hit: 0, miss: 0, bypass: 0, coalesced: 0 };
  metrics.counter(REQUESTS_METRIC, 'Requests to cached endpoints, by what the cache did (hit|miss|bypass|coalesced).', ['result'], function (this: Counter<'result'>) {
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

/** Current value of each result counter (zeros before the cache first ran). */
export async function cacheRequestCounts(metrics: GatewayMetrics): Promise<Record<CacheResult, number>> {
  const counts: Record<CacheResult, number> = { hit: 0, miss: 0, bypass: 0, coalesced: 0 };
  const metric = metrics.registry.getSingleMetric(REQUESTS_METRIC);
  if (!metric) return counts;
  for (const { labels, value } of (await metric.get()).values) {
    const result = labels['result'] as CacheResult;
    if (result in counts) counts[result] = value;
  }
  return counts;
}
