/**
 * Keys declared in YAML (`static:`), for small deployments with no admin API. A plain `key`
 * (usually `${ENV}`) is hashed with SHA-256 at `create()` and only the hash is kept; `sha256:`
 * declares the hash directly so the secret never sits in the config file.
 */
import { ConfigError } from '../../core/config/schema.js';
import { compileCidrs } from '../../core/http/client-ip.js';
import { buildIdentity, type Identity } from './access.js';
import { DEV_KEY } from './dev-key.js';
import { digestsEqual, sha256Hex } from './keys.js';
import type { StaticKey } from '../../schemas/types/plugins/auth.js';

/** One entry of `auth.static`. */
/** One `auth.static` entry as validated (defaults applied), from the schema. */
export type StaticKeyConfig = StaticKey;

export interface StaticKeys {
  /** The identity whose key hashes to `digest` (hex SHA-256 of the presented key), if any. */
  find(digest: string): Identity | undefined;
  /**
   * The identity of the presented key, if any. A key that checked out once is remembered by its
   * presented form (at most one per entry: only the declared key hashes to its digest), so a
   * known key costs a Map lookup instead of a SHA-256; an unknown or wrong key is hashed every time.
   */
  findPresented(presented: string): Identity | undefined;
  /** Index of the entry whose key is the documented development key, or -1. */
  readonly devKeyIndex: number;
}

export function compileStaticKeys(entries: readonly StaticKeyConfig[]): StaticKeys {
  const byDigest = new Map<string, { digest: string; identity: Identity }>();
  let devKeyIndex = -1;
  const devDigest = sha256Hex(DEV_KEY);
  entries.forEach((entry, i) => {
    const at = (field: string) => ['static', i, field];
    if ((entry.key === undefined) === (entry.sha256 === undefined)) throw ConfigError.at(['static', i], 'give exactly one of `key` and `sha256`');
    if (entry.key !== undefined && entry.key.trim() === '') throw ConfigError.at(at('key'), 'is empty (is its environment variable set?)');
    const digest = entry.key !== undefined ? sha256Hex(entry.key.trim()) : entry.sha256!.toLowerCase();
    if (byDigest.has(digest)) throw ConfigError.at(['static', i], `has the same key as another entry ('${byDigest.get(digest)!.identity.state.keyId}')`);
    if (digest === devDigest) devKeyIndex = i;
    try {
      compileCidrs(entry.allowed_ips);
    } catch (err) {
      throw ConfigError.at(at('allowed_ips'), (err as Error).message);
    }
    const identity = buildIdentity({
      method: 'static_key',
      orgId: entry.org,
      keyId: entry.name,
      scopes: entry.scopes,
      environment: entry.environment,
      allowedModels: entry.allowed_models,
      allowedIps: entry.allowed_ips.length ? [entry.allowed_ips] : [],
      allowedReferrers: entry.allowed_referrers,
      limits: entry.limits,
      metadata: entry.metadata,
    });
    byDigest.set(digest, { digest, identity });
  });
  const find = (digest: string): Identity | undefined => {
    const hit = byDigest.get(digest);
    return hit && digestsEqual(hit.digest, digest) ? hit.identity : undefined;
  };
  const byPresented = new Map<string, Identity>();
  return {
    devKeyIndex,
    find,
    findPresented(presented) {
      const known = byPresented.get(presented);
      if (known !== undefined) return known;
      const identity = find(sha256Hex(presented));
      if (identity !== undefined && byPresented.size < entries.length) byPresented.set(presented, identity);
      return identity;
    },
  };
}
