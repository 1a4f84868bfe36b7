/**
 * Credit leases (`credits.leases`): the way reservations scale. Reserving and settling each request
 * in SQL costs two statements per request, and on one organization every one of them updates the
 * same account row, so they serialise on its lock (PostgreSQL) or on the one WASM thread (PGlite).
 *
 * Instead, while an organization (with the key, budgets and UTC day and month: a *scope*) has more
 * than one request in flight in this process, the process reserves a share of what the scope has
 * free — ONE reservation row, taken by `billing_lease` under the same row locks as any reservation —
 * and admits requests against it in memory. What they cost is charged in one statement every
 * flush, which also grows the lease when it runs low. Why nothing is overspent:
 *
 * - SQL never lets the leases and reservations of all replicas exceed what is free (the same
 *   atomic check as one request's reservation);
 * - a process admits a request only when the lease's room — held, less the worst cases of the
 *   requests admitted and not settled, less the costs settled and not yet charged — covers its
 *   worst case (JavaScript runs one callback at a time: the check and the admission are one step);
 * - a lease takes at most `fraction` of what is free, and only when that covers 4 worst cases, so
 *   near the limit leases are refused and requests reserve one by one, exactly as without leases;
 * - a lease whose expiry could not be moved for half its life admits nothing more (its row may be
 *   released by the reconciler once it expires, and the requests it admitted end before then).
 *
 * A lease is returned (the rest released, the last costs charged) 50 ms after its scope's last
 * request settled, at once when SQL refused to grow it.
 * A process that crashes loses the costs not yet charged (at most one flush interval's requests go
 * uncharged), and its lease is released at its expiry like any reservation.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import type { BudgetUse } from './credits.js';

/** Who a lease's credit and budgets belong to; every field is part of the scope's identity. */
export interface LeaseScope {
  org: string;
  keyId: string | undefined;
  /** Holds and charges the balance (credits), besides counting against budgets. */
  credit: boolean;
  budgets: boolean;
  day: string;
  month: string;
  keyDaily: bigint | undefined;
  keyMonthly: bigint | undefined;
}

export interface LeaseSettings {
  /** The most of what is free one lease may take (0–1]. */
  fraction: number;
  flushMs: number;
  /** A lease row's life past its last statement (the reservation TTL). */
  ttlMs: number;
  /** How long a scope must have no request in flight before its lease is returned (default LEASE_IDLE_MS; 0: at once). */
  idleMs?: number;
}

/** A lease worth opening covers this many worst cases of the request that asks for it. */
const MIN_CASES = 4n;
/** A lease asks for this many worst cases (or twice what is in flight on it, if more). */
const WANT_CASES = 64n;
/** After a scope's lease was refused, its requests reserve one by one for this long before a lease is tried again. */
const REFUSED_MS = 1000;
/**
 * A lease is returned once its scope has had no request in flight for this long. Not at once: under
 * load a process settles a burst of responses in one turn of the event loop, and the scope's count
 * touches 0 between that burst and the next requests many times a second.
 */
export const LEASE_IDLE_MS = 50;

export class Lease {
  readonly id = randomUUID();
  /** The row's hold, as of the last statement. */
  held = 0n;
  /** Worst cases of the requests admitted and not settled, and how many. */
  inFlight = 0n;
  requests = 0;
  /**
   * What the requests settled on it cost since it opened, and how many; and how much of that SQL
   * acknowledged charging. Statements send the total, so one repeated after a lost reply charges
   * nothing twice (the row keeps what it charged).
   */
  settled = 0n;
  settledRequests = 0;
  acked = 0n;
  ackedRequests = 0;
  /** Budget use as SQL reported it at the last statement (the whole hold counted as reserved). */
  uses: BudgetUse[] = [];
  /** When a statement last succeeded (ms); a lease never refreshed admits nothing. */
  refreshedAt = 0;
  /** SQL refused to grow it: it admits what still fits, then is returned. */
  exhausted = false;
  /** Its row may exist (a statement granted it something, or found it). */
  opened = false;
  closed = false;
  /** The statement under way: one at a time per lease. */
  private chain: Promise<unknown> = Promise.resolve();
  /** A growth under way, for the requests that wait on it. */
  growing: Promise<void> | undefined;
  /** An idle check is scheduled (LEASE_IDLE_MS). */
  idleCheck = false;

  constructor(readonly key: string, readonly scope: LeaseScope) {}

  /** Costs settled and not yet charged in SQL. */
  get unflushed(): bigint {
    return this.settled - this.acked;
  }

  get room(): bigint {
    return this.held - this.inFlight - this.unflushed;
  }

  /** Runs `work` after the statement under way (statements on a lease never overlap). */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Budget use for a request admitted now: SQL's figure, less the part of the hold no request uses. */
  usesNow(): BudgetUse[] {
    const idle = this.room > 0n ? this.room : 0n;
    return this.uses.map((u) => ({ ...u, used: u.used - idle }));
  }
}

export interface LeaseCounters {
  /** Statements that failed (retried at the next flush; logged). */
  failed(): void;
}

/**
 * The leases of one process, by scope. `admit` answers with a lease the request was admitted on,
 * or undefined: reserve this request on its own.
 */
export class LeaseBook {
  private readonly leases = new Map<string, Lease>();
  /** Requests in flight per scope, on a lease or not: a second one at once opens a lease. */
  private readonly active = new Map<string, number>();
  /** Scopes whose lease SQL refused, until when (ms). */
  private readonly refused = new Map<string, number>();
  /** Leases whose return failed, tried again at each flush. */
  private readonly unreturned = new Set<Lease>();
  private settings: LeaseSettings = { fraction: 1 / 16, flushMs: 1000, ttlMs: 600_000 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sql: () => Promise<SqlExecutor>,
    private readonly log: Logger,
    private readonly counters: LeaseCounters,
    private readonly now: () => number = Date.now,
  ) {}

  configure(settings: LeaseSettings): void {
    const restart = settings.flushMs !== this.settings.flushMs;
    this.settings = settings;
    if (restart && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.timer ??= setInterval(() => void this.flushAll(), settings.flushMs).unref();
  }

  /** Open leases (for tests and metrics). */
  get size(): number {
    return this.leases.size;
  }

  /** A request of `scope` is about to reserve; `done` with the key this returns must follow, whatever became of it. */
  enter(scope: LeaseScope): string {
    const key = scopeKey(scope);
    this.active.set(key, (this.active.get(key) ?? 0) + 1);
    return key;
  }

  /**
   * A request of scope `key` is done: when it was admitted on `lease`, its worst case `amount` is
   * freed and its `cost` owed. The scope's lease is returned once the scope has had no request in
   * flight for `idleMs` (at once when none is left on it and SQL refused to grow it).
   */
  async done(key: string, lease?: Lease, amount = 0n, cost = 0n): Promise<void> {
    const n = (this.active.get(key) ?? 1) - 1;
    if (n <= 0) this.active.delete(key);
    else this.active.set(key, n);
    if (lease !== undefined) {
      lease.inFlight -= amount;
      lease.requests--;
      lease.settled += cost;
      lease.settledRequests++;
    }
    const current = this.leases.get(key);
    if (lease !== undefined && lease !== current && lease.requests === 0) await this.return(lease);
    if (current === undefined || current.requests > 0 || current.growing !== undefined) return;
    // Refused more: give the rest back now, so the scope's requests reserving one by one can use it.
    if (current.exhausted) return this.return(current);
    if (n > 0) return;
    if (this.settings.idleMs === 0) return this.return(current);
    if (!current.idleCheck) {
      current.idleCheck = true;
      setTimeout(() => {
        current.idleCheck = false;
        if (this.leases.get(key) === current && current.requests === 0 && current.growing === undefined && !this.active.has(key)) void this.return(current);
      }, this.settings.idleMs ?? LEASE_IDLE_MS).unref();
    }
  }

  /** Admits the request on its scope's lease (opening or growing it as needed), or resolves undefined. */
  async admit(key: string, scope: LeaseScope, amount: bigint): Promise<Lease | undefined> {
    if (amount <= 0n) return undefined;
    let lease = this.leases.get(key);
    if (lease === undefined) {
      // Alone in its scope (nothing to batch), or refused a moment ago: reserve on its own.
      if ((this.active.get(key) ?? 0) < 2) return undefined;
      const until = this.refused.get(key);
      if (until !== undefined) {
        if (until > this.now()) return undefined;
        this.refused.delete(key);
      }
      lease = new Lease(key, scope);
      this.leases.set(key, lease);
    }
    for (;;) {
      if (lease.closed) return undefined;
      const fresh = lease.refreshedAt > 0 && this.now() - lease.refreshedAt < this.settings.ttlMs / 2;
      if (fresh && lease.room >= amount) {
        lease.inFlight += amount;
        lease.requests++;
        return lease;
      }
      if (lease.exhausted) {
        if (lease.requests === 0 && lease.growing === undefined) void this.return(lease);
        return undefined;
      }
      if (lease.growing === undefined) {
        const growth = this.grow(lease, amount);
        lease.growing = growth;
        const settled = () => {
          if (lease.growing === growth) lease.growing = undefined;
        };
        growth.then(settled, settled);
      }
      try {
        await lease.growing;
      } catch {
        return undefined;
      }
    }
  }

  /** Charges what every lease owes and refreshes its expiry; grows the ones running low. Never throws. */
  async flushAll(): Promise<void> {
    const work: Promise<unknown>[] = [];
    for (const lease of this.leases.values()) {
      if (lease.closed || lease.growing !== undefined) continue;
      const low = !lease.exhausted && lease.room * 4n < lease.held;
      if (lease.unflushed === 0n && !low && this.now() - lease.refreshedAt < this.settings.ttlMs / 4) continue;
      work.push(this.statement(lease, low ? lease.inFlight / BigInt(Math.max(lease.requests, 1)) : 0n).catch(() => undefined));
    }
    for (const lease of this.unreturned) work.push(this.return(lease));
    await Promise.all(work);
  }

  /** Resolves once no lease is held (each returned after its scope went idle), or after `timeoutMs`; says which. */
  async drained(timeoutMs = 5000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while ((this.leases.size > 0 || this.unreturned.size > 0) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    return this.leases.size === 0 && this.unreturned.size === 0;
  }

  /** Returns every lease (shutdown): their costs charged, the rest released. */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.leases.values(), ...this.unreturned].map((lease) => this.return(lease)));
    // A return that failed (the database away at shutdown) is tried twice more before giving up: the
    // lease is then released at its expiry and the costs not charged are logged with it.
    for (let attempt = 0; attempt < 2 && this.unreturned.size > 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
      await Promise.all([...this.unreturned].map((lease) => this.return(lease)));
    }
  }

  private async grow(lease: Lease, amount: bigint): Promise<void> {
    await this.statement(lease, amount);
  }

  /**
   * One `billing_lease` statement: charges what is unflushed and, when `amount` > 0, grows the lease
   * for requests of about that worst case (refused: the lease is exhausted and the scope reserves
   * request by request for a while).
   */
  private statement(lease: Lease, amount: bigint): Promise<void> {
    return lease.serial(async () => {
      if (lease.closed) return;
      const total = lease.settled;
      const requests = lease.settledRequests;
      const grow = amount > 0n && !lease.exhausted;
      const want = grow ? max(amount * WANT_CASES, 2n * (lease.inFlight + amount)) : 0n;
      const min = grow ? (lease.held === 0n ? amount * MIN_CASES : amount) : 0n;
      try {
        const result = await this.run(lease, total, requests, false, want, min);
        lease.acked = total;
        lease.ackedRequests = requests;
        lease.held = result.held;
        lease.uses = result.uses;
        lease.refreshedAt = this.now();
        const wasOpened = lease.opened;
        if (result.held > 0n || result.existed) lease.opened = true;
        if (!result.existed && wasOpened) {
          this.log.warn({ org: lease.scope.org, lease_id: lease.id }, 'billing: a credit lease had expired and been released before this process could renew it; renewed');
        }
        if (grow && result.granted === 0n) {
          lease.exhausted = true;
          this.refused.set(lease.key, this.now() + REFUSED_MS);
          if (this.refused.size > 10_000) this.refused.clear();
        }
      } catch (err) {
        this.counters.failed();
        this.log.error({ err: (err as Error).message, org: lease.scope.org, lease_id: lease.id }, 'billing: a credit lease statement failed; its costs are charged at the next flush');
        throw err;
      }
    });
  }

  /** Charges what `lease` owes, releases the rest and forgets it; a failure leaves it to the next flush. Never throws. */
  private async return(lease: Lease): Promise<void> {
    if (this.leases.get(lease.key) === lease) this.leases.delete(lease.key);
    lease.closed = true;
    await lease.serial(async () => {
      // Nothing reserved and nothing owed: nothing to write.
      if (lease.requests > 0 || (!lease.opened && lease.unflushed === 0n)) return;
      const total = lease.settled;
      const requests = lease.settledRequests;
      const charge = lease.unflushed;
      try {
        await this.run(lease, total, requests, true, 0n, 0n);
        lease.acked = total;
        lease.ackedRequests = requests;
        lease.held = 0n;
        lease.opened = false;
        this.unreturned.delete(lease);
      } catch (err) {
        this.counters.failed();
        this.unreturned.add(lease);
        this.log.error({ err: (err as Error).message, org: lease.scope.org, lease_id: lease.id, uncharged_micros: charge.toString() }, 'billing: returning a credit lease failed; tried again at the next flush');
      }
    });
  }

  /** `total`: what the lease's settled requests cost since it opened (`requests` of them); SQL charges what it has not yet. */
  private async run(lease: Lease, total: bigint, requests: number, close: boolean, want: bigint, min: bigint): Promise<{ held: bigint; granted: bigint; existed: boolean; uses: BudgetUse[] }> {
    const s = lease.scope;
    const { rows } = await (await this.sql()).query<{ held: string; granted: string; existed: boolean; budget: string | null; used: string | null; limit_micros: string | null }>(
      'SELECT * FROM billing_lease($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)',
      [
        lease.id, s.org, s.keyId ?? null, total.toString(), lease.acked.toString(), requests - lease.ackedRequests, close, want.toString(), min.toString(), this.settings.fraction, s.credit, s.budgets, s.day, s.month,
        s.keyDaily?.toString() ?? null, s.keyMonthly?.toString() ?? null, new Date(this.now() + this.settings.ttlMs).toISOString(),
      ],
    );
    const first = rows[0]!;
    const uses = rows.filter((r) => r.budget !== null).map((r) => ({ budget: r.budget!, used: BigInt(r.used!), limit: BigInt(r.limit_micros!) }));
    return { held: BigInt(first.held), granted: BigInt(first.granted), existed: first.existed, uses };
  }
}

function scopeKey(s: LeaseScope): string {
  return `${s.org}\u0000${s.keyId ?? ''}\u0000${s.credit ? 1 : 0}${s.budgets ? 1 : 0}\u0000${s.day}\u0000${s.month}\u0000${s.keyDaily ?? ''}\u0000${s.keyMonthly ?? ''}`;
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);
