/**
 * What is cached and for how long, compiled once per config version: the endpoint list, the
 * `when` / `ttl` rule for an (endpoint, resolved model) pair, and the request controls read from
 * headers. The model is the request's one resolution (`ctx.model`), not a table of the cache's own.
 */
import { globToRegExp } from '../../core/config/glob.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Endpoint } from '../../core/context.js';
import { parseDuration } from '../../core/config/units.js';
import type { CacheConfig, Override, When } from '../../schemas/types/plugins/cache.js';

/** Which requests are cached: see `when` in `schemas/plugins/cache.schema.json`. */
export type CachePolicy = When;

/** `ttl` / `when` for one endpoint or model glob. */
export type CacheOverride = Override;

/** The rule a request is judged by. */
export interface CacheRule {
  when: CachePolicy;
  ttlMs: number;
}

export type { CacheConfig };

/** The request header that opts a request in, and its value. */
export const OPT_IN_HEADER = 'x-switchyard-cache';
export const OPT_IN_VALUE = 'force';

export interface RequestControls {
  /** `Cache-Control: no-store`: neither read nor write. */
  noStore: boolean;
  /** `Cache-Control: no-cache`: skip the lookup, store the fresh answer. */
  noCache: boolean;
  /** `x-switchyard-cache: force`: cache this request whatever `when` says. */
  force: boolean;
}

export function readControls(headers: IncomingHttpHeaders): RequestControls {
  const cc = headers['cache-control'];
  const directives = cc ? cc.toLowerCase() : '';
  return {
    noStore: directives.includes('no-store'),
    noCache: directives.includes('no-cache'),
    force: headers[OPT_IN_HEADER] === OPT_IN_VALUE,
  };
}

/** Whether `rule` lets this request be cached. Embeddings are deterministic by nature. */
export function isCacheable(rule: CacheRule, endpoint: Endpoint, body: Readonly<Record<string, unknown>>, force: boolean): boolean {
  if (force || rule.when === 'always') return true;
  if (rule.when === 'opt_in') return false;
  return endpoint === 'embeddings' || body['temperature'] === 0 || typeof body['seed'] === 'number';
}

/** Compiles the `ttl` / `when` rules into a lookup by (endpoint, resolved model). */
export function compileRules(config: CacheConfig): (endpoint: Endpoint, model: string) => CacheRule {
  const base: CacheRule = { when: config.when, ttlMs: parseDuration(config.ttl)! };
  const apply = (rule: CacheRule, o: CacheOverride | undefined): CacheRule =>
    o ? { when: o.when ?? rule.when, ttlMs: o.ttl !== undefined ? parseDuration(o.ttl)! : rule.ttlMs } : rule;
  const byEndpoint = new Map<Endpoint, CacheRule>(config.endpoints.map((e) => [e, apply(base, config.per_endpoint[e])]));
  const byModel = Object.entries(config.models).map(([glob, o]) => ({ pattern: globToRegExp(glob), override: o }));
  return (endpoint, model) => {
    const rule = byEndpoint.get(endpoint) ?? base;
    const match = byModel.find((m) => m.pattern.test(model));
    return match ? apply(rule, match.override) : rule;
  };
}
