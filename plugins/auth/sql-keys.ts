/**
 * Keys managed through the admin API, looked up in the SQL store by their HMAC. The hot path never
 * waits on SQL for a known key: results are cached by the presented key (so a hit skips even the
 * HMAC — the map lives in memory only, like the secret itself), misses are cached briefly and
 * bounded, concurrent lookups of one key share a query, and at most a few queries run at once so a
 * flood of made-up keys cannot hammer the database. Identity-change events drop cached entries.
 *
 * A store outage is not a refusal. While the store cannot be reached, a key keeps the answer it got
 * when last read (valid, or why it is refused) for `staleTtlMs` past its cache TTL, unless an
 * identity-change event dropped it; a key with no such answer gets `StoreUnavailableError` (503),
 * never a 401 it may not deserve.
 */
import type { Logger } from '../../core/log.js';
import { StoreUnavailableError } from '../../core/errors.js';
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
  /** Until when (epoch ms) the entry answers without asking the store; it is kept `staleTtlMs` longer for outages. */
  freshUntilMs: number;
}

export type SqlKeyResult = { identity: Identity } | { refused: InactiveReason; keyId: string } | undefined;

export interface SqlKeyOptions {
  cacheTtlMs: number;
  negativeTtlMs: number;
  maxEntries: number;
  lastUsedFlushMs: number;
  /** How long past `cacheTtlMs` an entry still answers while the store cannot be reached; default 0 (not at all). */
  staleTtlMs?: number;
}

/** Gateway keys look like `sk-sy-live-…`; anything else cannot be an SQL key and costs no lookup. */
const SQL_KEY_FORMAT = /^sk-sy-[a-z]+-[A-Za-z0-9_-]{16,128}$/;
/** SQL lookups in flight at once; more wait their turn. */
const MAX_CONCURRENT_LOOKUPS = 16;

/** Whether `presented` is shaped like a gateway key (so worth a lookup). */
export function looksLikeSqlKey(presented: string): boolean {
  return SQL_KEY_FORMAT.test(presented);
}

export class SqlKeys {
  private readonly known: ExpiringLru<KnownKey>;
  private readonly unknown: ExpiringLru<true>;
  private readonly inFlight = new Map<string, Promise<KnownKey | undefined>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly usedSinceFlush = new Set<string>();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly staleTtlMs: number;

  constructor(
    private readonly store: IdentityLookup,
    private readonly secret: Buffer,
    private readonly options: SqlKeyOptions,
    private readonly log: Logger,
  ) {
    this.known = new ExpiringLru(options.maxEntries);
    this.unknown = new ExpiringLru(options.maxEntries);
    this.staleTtlMs = options.staleTtlMs ?? 0;
    this.flushTimer = setInterval(() => void this.flushLastUsed(), options.lastUsedFlushMs);
    this.flushTimer.unref();
  }

  /** The identity for `presented`, why it is refused, or undefined when no such key exists. */
  async find(presented: string): Promise<SqlKeyResult> {
    if (!SQL_KEY_FORMAT.test(presented)) return undefined;
    const now = Date.now();
    let entry = this.known.get(presented, now);
    if (entry === undefined || entry.freshUntilMs <= now) {
      if (entry === undefined && this.unknown.get(presented, now)) return undefined;
      entry = await this.reload(presented, entry);
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

  /** Reads the key again; while the store cannot be reached, the last answer stands unless it was dropped meanwhile. */
  private async reload(presented: string, last: KnownKey | undefined): Promise<KnownKey | undefined> {
    try {
      return await this.load(presented);
    } catch (err) {
      if (err instanceof StoreUnavailableError && last !== undefined && this.known.get(presented, Date.now()) === last) return last;
      throw err;
    }
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
      this.known.delete(presented);
      this.unknown.set(presented, true, this.options.negativeTtlMs, now);
      return undefined;
    }
    const entry = toKnownKey(found.key, found.org, found.plan ?? null, now + this.options.cacheTtlMs);
    this.known.set(presented, entry, this.options.cacheTtlMs + this.staleTtlMs, now);
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
      // In an outage (which the store logs) the ids wait for the next flush; there is one per key used.
      if (err instanceof StoreUnavailableError) for (const id of ids) this.usedSinceFlush.add(id);
      else this.log.warn({ err: (err as Error).message, keys: ids.length }, 'auth: could not record last_used_at');
    }
  }
}

/**
 * SQL keys that may be created before their store can be reached, so that a database outage at
 * start-up or at a reload fails neither: the keys open on a later lookup, and lookups meanwhile get
 * `StoreUnavailableError` (503). Any other failure to open (a configuration error) `start()` throws.
 */
export class DeferredSqlKeys {
  private keys: SqlKeys | undefined;
  private opening: Promise<SqlKeys> | undefined;

  constructor(private readonly open: () => Promise<SqlKeys>) {}

  /** Opens the keys now; resolves as well when the store cannot be reached. */
  async start(): Promise<void> {
    await this.ready().catch((err: unknown) => {
      if (!(err instanceof StoreUnavailableError)) throw err;
    });
  }

  find(presented: string): Promise<SqlKeyResult> {
    if (this.keys) return this.keys.find(presented);
    if (!looksLikeSqlKey(presented)) return Promise.resolve(undefined);
    return this.ready().then((keys) => keys.find(presented));
  }

  invalidate(change: IdentityChange): void {
    this.keys?.invalidate(change);
  }

  async close(): Promise<void> {
    const keys = this.keys ?? (await this.opening?.catch(() => undefined));
    await keys?.close();
  }

  private ready(): Promise<SqlKeys> {
    this.opening ??= this.open().then((keys) => (this.keys = keys));
    this.opening.catch(() => (this.opening = undefined));
    return this.opening;
  }
}

function toKnownKey(key: KeyRecord, org: OrgRecord, plan: PlanRecord | null, freshUntilMs: number): KnownKey {
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
    freshUntilMs,
  };
}

/** Epoch ms of an ISO time (or a Date, as drivers may return); Infinity for null. An unparsable time counts as now: refuse rather than accept. */
function epochMs(time: string | Date | null): number {
  if (time === null) return Infinity;
  const ms = time instanceof Date ? time.getTime() : Date.parse(time);
  return Number.isNaN(ms) ? 0 : ms;
}
