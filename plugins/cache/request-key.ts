/**
 * The cache key of a request: a SHA-256 of a canonical JSON of what decides the answer. Two requests
 * that differ only in key order, in fields that cannot change the answer (`user`, `stream`, …) or
 * in the alias they used for a model share a key; anything else makes a different key.
 */
import { hash } from 'node:crypto';

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
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      out += (i === 0 ? '' : ',') + (item === undefined ? 'null' : canonicalJson(item));
    }
    return `${out}]`;
  }
  return canonicalObject(value as Record<string, unknown>, undefined);
}

/**
 * `{…}` with sorted keys, leaving out `undefined` members and, when `skip` is given (the top level
 * of a request), ignored fields and `null` members.
 */
function canonicalObject(record: Record<string, unknown>, skip: ReadonlySet<string> | undefined): string {
  const keys = sortedKeys(record);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const member = record[key];
    if (member === undefined || (skip !== undefined && (member === null || skip.has(key)))) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${out}}`;
}

/** Own keys in code-unit order (as `Array.prototype.sort` orders them). Request objects have a handful: an insertion sort in place, no copy. */
function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/**
 * The hash of a request body for `endpoint`, with `model` standing for the resolved model. A
 * top-level `null` counts as absent (OpenAI treats them alike).
 */
export function requestHash(endpoint: string, model: string, body: Readonly<Record<string, unknown>>): string {
  // One-shot `crypto.hash`: no Hash object per request.
  return hash('sha256', `${endpoint}\n${model}\n${canonicalObject(body, IGNORED_FIELDS)}`, 'base64url');
}

/** Namespace of one organization's entries (`cache:<org>:`); `_` when the request has no identity. */
export function orgPrefix(orgId: string | undefined): string {
  return `cache:${encodeURIComponent(orgId ?? '_')}:`;
}

/** What stands between org and hash in every key of one model: `:<model key>:`. */
export function modelInfix(modelKey: string): string {
  return `:${encodeURIComponent(modelKey)}:`;
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

/** How many (org, model) namespaces `keyPrefixes` remembers before it starts over. */
const REMEMBERED_PREFIXES = 10_000;

/**
 * `modelPrefix`, remembered per (org, model key), so that a request's key is one concatenation
 * instead of two percent-encodings and three. Bounded: past `REMEMBERED_PREFIXES` it starts over.
 */
export function keyPrefixes(): (orgId: string | undefined, modelKey: string) => string {
  const anonymous = new Map<string, string>();
  const byOrg = new Map<string, Map<string, string>>();
  let remembered = 0;
  return (orgId, modelKey) => {
    let models = orgId === undefined ? anonymous : byOrg.get(orgId);
    let prefix = models?.get(modelKey);
    if (prefix !== undefined) return prefix;
    if (remembered >= REMEMBERED_PREFIXES) {
      anonymous.clear();
      byOrg.clear();
      remembered = 0;
      models = orgId === undefined ? anonymous : undefined;
    }
    if (!models) byOrg.set(orgId!, (models = new Map()));
    prefix = modelPrefix(orgId, modelKey);
    models.set(modelKey, prefix);
    remembered++;
    return prefix;
  };
}
