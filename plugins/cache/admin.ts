/**
 * Admin routes of the cache (tag `cache`): purge by organization, model, both or everything, and
 * store statistics with the hit/miss counters.
 *
 * Entries are `cache:<org>:<model>:<hash>` with org and model percent-encoded (no `:` inside), so
 * a purge naming an org is a prefix delete and one naming only a model deletes `:<model>:` under
 * `cache:` — exact on both stores, every replica's entries included (SCAN MATCH + UNLINK on Redis).
 */
import { defineAdminModule, type AdminRoute } from '../../core/admin/contract.js';
import { CACHE_PREFIX, modelInfix, modelPrefix, orgPrefix } from './request-key.js';
import { cacheRequestCounts } from './cache-metrics.js';

const purgeSchema = {
  type: 'object',
  required: ['object', 'deleted'],
  properties: { object: { const: 'cache.purge' }, deleted: { type: 'integer', minimum: 0, description: 'Entries removed.' } },
};

const countsSchema = {
  type: 'object',
  properties: { hit: { type: 'number' }, miss: { type: 'number' }, bypass: { type: 'number' }, coalesced: { type: 'number' } },
};

const statsSchema = {
  type: 'object',
  required: ['object', 'store', 'requests'],
  properties: {
    object: { const: 'cache.stats' },
    store: { enum: ['memory', 'redis'] },
    entries: { type: 'integer', description: 'Values in the memory store (cache entries and rate-limit counters). Absent for Redis.' },
    bytes: { type: 'integer', description: 'Bytes held by the memory store. Absent for Redis.' },
    evictions: { type: 'integer', description: 'Values evicted to stay within the byte bound, since start. Absent for Redis.' },
    requests: { ...countsSchema, description: 'Requests to cached endpoints by result, since start, in this process.' },
  },
};

export default defineAdminModule({
  name: 'cache',
  create(services) {
    const kv = services.kv;

    const purge: AdminRoute = {
      method: 'DELETE',
      path: '/admin/cache',
      summary: 'Purge cached answers of one organization, one model, both, or all.',
      tag: 'cache',
      queryParams: [
        { name: 'org', description: 'Organization id (`_` for requests without identity).', schema: { type: 'string' } },
        { name: 'model', description: 'A `models:` key (an exact id or a glob such as `anthropic/*`), not an alias.', schema: { type: 'string' } },
      ],
      responseSchema: purgeSchema,
      async handle(req) {
        const org = req.query.get('org') || undefined;
        const model = req.query.get('model') || undefined;
        let deleted: number;
        if (model === undefined) {
          deleted = await kv.deletePrefix(org === undefined ? CACHE_PREFIX : orgPrefix(org));
        } else if (org !== undefined) {
          deleted = await kv.deletePrefix(modelPrefix(org, model));
        } else {
          deleted = await kv.deletePrefix(CACHE_PREFIX, modelInfix(model));
        }
        req.log.info({ request_id: req.requestId, org, model, deleted }, 'cache purged');
        req.audit({ action: 'cache.purge', target: { type: 'cache', id: `${org ?? '*'}/${model ?? '*'}` }, after: { org: org ?? null, model: model ?? null, deleted } });
        return { status: 200, body: { object: 'cache.purge', deleted } };
      },
    };

    const stats: AdminRoute = {
      method: 'GET',
      path: '/admin/cache/stats',
      summary: 'Key-value store size (memory store) and cache hit/miss counters.',
      tag: 'cache',
      responseSchema: statsSchema,
      async handle() {
        const store = kv.stats?.();
        return {
          status: 200,
          body: { object: 'cache.stats', store: kv.kind, ...(store ?? {}), requests: await cacheRequestCounts(services.metrics) },
        };
      },
    };

    return { routes: [purge, stats] };
  },
});
