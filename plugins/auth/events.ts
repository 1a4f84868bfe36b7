/**
 * Identity changes fan out on one key-value channel, so every `auth` instance in every replica
 * drops what it cached about the changed key, org or plan at once (in-process with the memory
 * store, across replicas through Redis pub/sub). The admin API publishes; `auth` subscribes.
 */
import type { KvStore } from '../../core/stores/kv.js';

export const IDENTITY_CHANNEL = 'auth:identity-changed';

/** What changed; a subscriber drops every cached entry that matches any given field. `all` drops everything. */
export interface IdentityChange {
  keyId?: string;
  orgId?: string;
  planId?: string;
  all?: true;
}

export function publishIdentityChange(kv: KvStore, change: IdentityChange): Promise<void> {
  return kv.publish(IDENTITY_CHANNEL, JSON.stringify(change));
}

export function parseIdentityChange(message: string): IdentityChange {
  try {
    const v = JSON.parse(message) as IdentityChange;
    return typeof v === 'object' && v !== null ? v : { all: true };
  } catch {
    return { all: true };
  }
}
