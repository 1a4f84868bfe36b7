/**
 * The cache key of a request: a SHA-256 of a canonical JSON of what decides the answer. Two requests
 * that differ only in key order, in fields that cannot change the answer (`user`, `stream`, …) or
 * in the alias they used for a model share a key; anything else makes a different key.
 */
import { createHash } from 'node:crypto';

/**
 * Top-level request fields that never change the answer: delivery (`stream`, `stream_options`),
 * bookkeeping (`user`, `metadata`, `store`, `safety_identifier`), provider-side caching and
 * scheduling hints. Everything else — messages, tools, sampling parameters and fields this list does
 * not know — is part of the key, so an unknown field errs towards a miss, never a wrong hit.
 */
const IGNORED_FIELDS: ReadonlySet<string> = new Set(['model', 'stream', 'stream_options', 'user', 'metadata', 'store', 'safety_identifier', 'prompt_cache_key', 'service_tier']);

/** JSON with object keys sorted at every level; `undefined` members are left out, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * The hash of a request body for `endpoint`, with `model` standing for the resolved model. A
 * top-level `null` counts as absent (OpenAI treats them alike).
 */
export function requestHash(endpoint: string, model: string, body: Readonly<Record<string, unknown>>): string {
  const kept: Record<string, unknown> = {};
  for (const key of Object.keys(body)) {
    const value = body[key];
    if (value !== null && !IGNORED_FIELDS.has(key)) kept[key] = value;
  }
  return createHash('sha256').update(endpoint).update('\n').update(model).update('\n').update(canonicalJson(kept)).digest('base64url');
}

/** Namespace of one organization's entries (`cache:<org>:`); `_` when the request has no identity. */
export function orgPrefix(orgId: string | undefined): string {
  return `cache:${encodeURIComponent(orgId ?? '_')}:`;
}

/** Namespace of one organization's entries for one `models:` key. */
export function modelPrefix(orgId: string | undefined, modelKey: string): string {
  return `${orgPrefix(orgId)}${encodeURIComponent(modelKey)}:`;
}

/** Every cache entry starts with this. */
export const CACHE_PREFIX = 'cache:';

/**
 * `cache:<org>:<modelKey>:<hash>`. Org and model key are percent-encoded, so neither can contain
 * the `:` separator and a purge prefix never reaches into another tenant's or model's entries.
 */
export function cacheKey(orgId: string | undefined, modelKey: string, hash: string): string {
  return `${modelPrefix(orgId, modelKey)}${hash}`;
}
