/**
 * Keys managed through the admin API, looked up in the SQL store by their HMAC. The hot path never
 * waits on SQL for a known key: results are cached by the presented key (so a hit skips even the
 * HMAC — the map lives in memory only, like the secret itself), misses are cached briefly and
 * bounded, concurrent lookups of one key share a query, and at most a few queries run at once so a
 * flood of made-up keys cannot hammer the database. Identity-change events drop cached entries.
 */
import type { Logger } from '../../core/log.js';
import { buildIdentity, type Identity } from './access.js';
import type { IdentityChange } from './events.js';
import { digestsEqual, hashKey } from './keys.js';
import type { KeyRecord, OrgRecord, PlanRecord } from './types.js';
import { ExpiringLru } from './key-cache.js';

/** What `auth` needs from the SQL identity store (`IdentityStore` in `identity-store.ts`). */
export interface IdentityLookup {
  findByHash(hash: string): Promise<{ key: KeyRecord; org: OrgRecord; plan?: PlanRecord | null } | undefined>;
  touchLastUsed(keyIds: readonly string[]): Promise<void>;
}

/** Why a known key is refused; logged with the key id, never shown to the client. */
export type InactiveReason = 'revoked' | 'expired' | 'org_disabled';

/** A cached key: the identity, or why it is refused. */
interface KnownKey {
  identity: Identity;
  planId: string | null;
  /** Key expiry in epoch ms; Infinity for never. Checked per request: a key can expire while cached. */
  expiresAtMs: number;
  /** Revocation time in epoch ms (a rotated key may be revoked at the end of a grace period); Infinity for never. */
  revokedAtMs: number;
  orgDisabled: boolean;
}

export type SqlKeyResult = { identity: Identity } | { refused: InactiveReason; keyId: string } | undefined;

export interface SqlKeyOptions {
  cacheTtlMs: number;
  negativeTtlMs: number;
  maxEntries: number;
  lastUsedFlushMs: number;
}

/** Gateway keys look like `sk-sy-live-…`; anything else cannot be an SQL key and costs no lookup. */
const SQL_KEY_FORMAT = /^sk-sy-[a-z]+-[A-Za-z0-9_-]{16,128}$/;
/** SQL lookups in flight at once; more wait their turn. */
const MAX_CONCURRENT_LOOKUPS = 16;

export class SqlKeys {
  private readonly known: ExpiringLru<KnownKey>;
  private readonly unknown: ExpiringLru<true>;
  private readonly inFlight = new Map<string, Promise<KnownKey | undefined>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly usedSinceFlush = new Set<string>();
  private readonly flushTimer: NodeJS.Timeout;

  constructor(
    private readonly store: IdentityLookup,
    private readonly secret: Buffer,
    private readonly options: SqlKeyOptions,
    private readonly log: Logger,
  ) {
    this.known = new ExpiringLru(options.maxEntries);
    this.unknown = new ExpiringLru(options.maxEntries);
    this.flushTimer = setInterval(() => void this.flushLastUsed(), options.lastUsedFlushMs);
    this.flushTimer.unref();
  }

  /** The identity for `presented`, why it is refused, or undefined when no such key exists. */
  async find(presented: string): Promise<SqlKeyResult> {
    if (!SQL_KEY_FORMAT.test(presented)) return undefined;
    const now = Date.now();
    let entry = this.known.get(presented, now);
    if (entry === undefined) {
      if (this.unknown.get(presented, now)) return undefined;
      entry = await this.load(presented);
      if (entry === undefined) return undefined;
    }
    const keyId = entry.identity.state.keyId;
    if (entry.revokedAtMs <= now) return { refused: 'revoked', keyId };
    if (entry.expiresAtMs <= now) return { refused: 'expired', keyId };
    if (entry.orgDisabled) return { refused: 'org_disabled', keyId };
    this.usedSinceFlush.add(keyId);
    return { identity: entry.identity };
  }

  /** Drops cached entries an identity change touches. */
  invalidate(change: IdentityChange): void {
    if (change.all) {
      this.known.clear();
      this.unknown.clear();
      return;
    }
    this.known.deleteWhere(
      (e) =>
        (change.keyId !== undefined && e.identity.state.keyId === change.keyId) ||
        (change.orgId !== undefined && e.identity.state.orgId === change.orgId) ||
        (change.planId !== undefined && e.planId === change.planId),
    );
  }

  /** Writes pending `last_used_at` updates and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushLastUsed();
  }

  private load(presented: string): Promise<KnownKey | undefined> {
    let pending = this.inFlight.get(presented);
    if (!pending) {
      pending = this.query(presented).finally(() => this.inFlight.delete(presented));
      this.inFlight.set(presented, pending);
    }
    return pending;
  }

  private async query(presented: string): Promise<KnownKey | undefined> {
    const hash = hashKey(this.secret, presented);
    await this.slot();
    let found: Awaited<ReturnType<IdentityLookup['findByHash']>>;
    try {
      found = await this.store.findByHash(hash);
    } finally {
      this.releaseSlot();
    }
    const now = Date.now();
    // The row was found by its hash (an index lookup); when the store returns the stored hash, it is
    // compared in constant time as well.
    const stored = found && (found.key as { key_hash?: unknown }).key_hash;
    if (!found || (typeof stored === 'string' && !digestsEqual(stored, hash))) {
      this.unknown.set(presented, true, this.options.negativeTtlMs, now);
      return undefined;
    }
    const entry = toKnownKey(found.key, found.org, found.plan ?? null);
    this.known.set(presented, entry, this.options.cacheTtlMs, now);
    return entry;
  }

  private slot(): Promise<void> {
    if (this.running < MAX_CONCURRENT_LOOKUPS) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  private async flushLastUsed(): Promise<void> {
    if (this.usedSinceFlush.size === 0) return;
    const ids = [...this.usedSinceFlush];
    this.usedSinceFlush.clear();
    try {
      await this.store.touchLastUsed(ids);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, keys: ids.length }, 'auth: could not record last_used_at');
    }
  }
}

function toKnownKey(key: KeyRecord, org: OrgRecord, plan: PlanRecord | null): KnownKey {
  const allowedIps = [key.allowed_ips, org.allowed_ips].filter((list) => list.length > 0);
  const identity = buildIdentity({
    method: 'api_key',
    orgId: org.id,
    keyId: key.id,
    keyPrefix: key.prefix,
    scopes: key.scopes,
    environment: key.environment,
    ...(plan ? { plan } : {}),
    allowedModels: key.allowed_models.length ? key.allowed_models : (plan?.allowed_models ?? []),
    allowedIps,
    allowedReferrers: key.allowed_referrers,
    limits: { ...plan?.limits, ...key.limits },
    metadata: key.metadata,
  });
  return {
    identity,
    planId: plan?.id ?? org.plan_id,
    expiresAtMs: epochMs(key.expires_at),
    revokedAtMs: epochMs(key.revoked_at),
    orgDisabled: org.disabled,
  };
}

/** Epoch ms of an ISO time (or a Date, as drivers may return); Infinity for null. An unparsable time counts as now: refuse rather than accept. */
function epochMs(time: string | Date | null): number {
  if (time === null) return Infinity;
  const ms = time instanceof Date ? time.getTime() : Date.parse(time);
  return Number.isNaN(ms) ? 0 : ms;
}
