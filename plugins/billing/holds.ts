/**
 * Credit and budget holds of one config version: before `next()`, a request's worst case is held
 * (on its scope's lease when the scope is busy — leases.ts — else reserved alone in ONE SQL
 * statement, credits.ts), or the request is refused with a 402 / 400; after the final usage the hold
 * is settled to the actual cost, however the request ended.
 */
import { errors } from '../../core/errors.js';
import { ConfigError } from '../../core/config/schema.js';
import { parseDuration } from '../../core/config/units.js';
import type { Context } from '../../core/context.js';
import type { GatewayEnv } from '../../core/env.js';
import { newId } from '../../core/ids.js';
import type { BillingConfig } from '../../schemas/types/plugins/billing.js';
import type { Pricer } from './prices.js';
import { BillingRefusal, grantPlanCredits, planGrantKey, reserve, settle, SettlementGroups, type BudgetUse, type Periods, type SettleInput } from './credits.js';
import type { Lease, LeaseBook, LeaseScope } from './leases.js';
import { Reconciler } from './reconcile.js';
import { WorstCaseEstimator } from './worst-case.js';

/** What of billing's process state holds use (index.ts's BillingProcess has it all). */
export interface HoldsProcess {
  /** The clock budget periods (UTC day and month) are read from; tests set it. */
  now: () => number;
  /** The UTC day and month of a request, made once a day. */
  periods: Periods;
  /** Releases expired reservations (at start, then every minute) once a version enforces credits or budgets. */
  reconciler: Reconciler | undefined;
  /** Credit leases (`credits.leases`): requests of a busy scope admitted in memory (leases.ts). */
  leases: LeaseBook;
  /** Plan grants known made (`plan-grant:<org>:<YYYY-MM>`), so a month's later requests skip the SQL call. */
  granted: Set<string>;
  metrics: {
    reservations: { inc(labels: { result: string }): void };
    overruns: { inc(): void };
    settleFailures: { inc(): void };
    expired: { inc(n?: number): void };
  };
}

/** The reservation a request holds until its post-response work settles it. */
export interface Hold {
  id: string;
  org: string;
  keyId: string | undefined;
  amount: bigint;
  credit: boolean;
  budgets: boolean;
  day: string;
  month: string;
  /** The scope it counts in, when leases were considered for it (LeaseBook.done must follow). */
  scope?: string;
  /** The lease it was admitted on: settled in memory, charged with the lease's next statement. */
  lease?: Lease;
}

export interface Held {
  hold: Hold;
  /** The budgets it counts against, for the soft-limit warning. */
  uses: BudgetUse[];
}

export class Holds {
  private readonly credits: boolean;
  private readonly budgets: boolean;
  private readonly leasing: boolean;
  private readonly estimator: WorstCaseEstimator;
  private readonly ceiling: bigint | undefined;
  private readonly ttlMs: number;
  private readonly planGrants: Map<string, bigint>;
  private readonly settlements: SettlementGroups;

  constructor(
    private readonly config: BillingConfig,
    private readonly env: GatewayEnv,
    private readonly state: HoldsProcess,
    pricer: Pricer,
  ) {
    this.credits = config.credits.enabled;
    this.budgets = config.budgets.enabled;
    if (!env.config.pipeline.some((entry) => entry === 'auth' || (typeof entry === 'object' && entry !== null && ('auth' in entry || 'use' in entry)))) {
      throw ConfigError.at(this.credits ? ['credits', 'enabled'] : ['budgets', 'enabled'], 'credits and budgets are per organization and key: put `auth` (or a plugin that identifies the caller) before `billing`');
    }
    this.planGrants = new Map(Object.entries(config.plans).map(([plan, grant]) => [plan, BigInt(grant.monthly_credits_micros)]));
    this.estimator = new WorstCaseEstimator(pricer, env.catalog, env.config.providers, config.credits.prompt_chars_per_token);
    this.ceiling = config.credits.max_reserve_micros === undefined ? undefined : BigInt(config.credits.max_reserve_micros);
    const ttl = config.credits.reservation_ttl === undefined ? undefined : parseDuration(config.credits.reservation_ttl);
    this.ttlMs = ttl ?? 2 * (parseDuration(env.config.upstream.total_timeout) ?? 600_000) + 60_000;
    state.reconciler ??= new Reconciler(env, state.metrics.expired);
    this.leasing = config.credits.leases.enabled;
    if (this.leasing) {
      state.leases.configure({ fraction: config.credits.leases.fraction, flushMs: parseDuration(config.credits.leases.flush_interval) ?? 1000, ttlMs: this.ttlMs });
    }
    this.settlements = new SettlementGroups(() => env.sql());
  }

  /** The organization whose credit and budgets the request uses; a 402 when none is named. */
  orgOf(ctx: Context): string {
    const org = ctx.auth?.orgId ?? ctx.report.org;
    if (org === undefined) throw errors.paymentRequired('This request names no organization whose credit or budget it could use.');
    return org;
  }

  /** Reserves a model request's worst case, or throws the 402 / 400; undefined when there is nothing to hold. */
  async hold(ctx: Context): Promise<Held | undefined> {
    const model = ctx.model;
    if (model === undefined) return undefined;
    const org = this.orgOf(ctx);
    const worst = this.estimator.estimate(ctx, model.targets);
    if (worst.kind === 'unbounded') {
      this.state.metrics.reservations.inc({ result: 'unbounded' });
      throw errors.badRequest('cost_unbounded', `The cost of this request cannot be bounded in advance, so no credit can be reserved for it: ${worst.reason}.`);
    }
    let amount = worst.micros;
    if (this.ceiling !== undefined && amount > this.ceiling) amount = this.ceiling;
    return this.holdAmount(ctx, org, amount, worst.postPaid);
  }

  /** Reserves `amount` for the request (any route), after the month's plan grant; undefined when free. */
  async holdAmount(ctx: Context, org: string, amount: bigint, postPaid: boolean): Promise<Held | undefined> {
    // Free: nothing to hold or count.
    if (amount === 0n && !postPaid) return undefined;
    const { state, credits, budgets, config } = this;
    const keyId = ctx.auth?.keyId ?? ctx.report.keyId;
    const limits = (ctx.auth?.limits ?? {}) as { daily_budget_micros?: number; monthly_budget_micros?: number };
    const { day, month } = state.periods.of(state.now());
    const h: Hold = { id: '', org, keyId, amount, credit: credits && !postPaid, budgets, day, month };
    if (h.credit && this.planGrants.size > 0) await this.grantMonthly(ctx, org, month);
    const keyDaily = budgets && keyId !== undefined ? optionalBig(limits.daily_budget_micros) : undefined;
    const keyMonthly = budgets && keyId !== undefined ? optionalBig(limits.monthly_budget_micros) : undefined;
    if (this.leasing && !postPaid) {
      const scope: LeaseScope = { org, keyId, credit: h.credit, budgets, day, month, keyDaily, keyMonthly };
      h.scope = state.leases.enter(scope);
      const lease = await state.leases.admit(h.scope, scope, amount).catch(() => undefined);
      if (lease !== undefined) {
        h.lease = lease;
        state.metrics.reservations.inc({ result: 'reserved' });
        return { hold: h, uses: lease.usesNow() };
      }
    }
    h.id = newId();
    try {
      const uses = await reserve(await this.env.sql(), { ...h, requestId: ctx.id, keyDaily, keyMonthly, expiresAt: new Date(Date.now() + this.ttlMs) });
      state.metrics.reservations.inc({ result: 'reserved' });
      return { hold: h, uses };
    } catch (err) {
      if (h.scope !== undefined) await state.leases.done(h.scope);
      if (!(err instanceof BillingRefusal)) throw err;
      if (err.reason === 'budget') {
        state.metrics.reservations.inc({ result: 'budget_exceeded' });
        const [scope, period, , limit] = err.details;
        throw errors.paymentRequired(
          `The ${scope === 'org' ? "organization's" : "key's"} ${period === 'day' ? 'daily' : 'monthly'} budget of ${limit} micro-units of ${config.currency} is reached (calendar ${period === 'day' ? 'day' : 'month'}, UTC).`,
          'budget_exceeded',
        );
      }
      state.metrics.reservations.inc({ result: 'insufficient_quota' });
      throw errors.paymentRequired(`Insufficient credit: this request may cost up to ${amount} micro-units of ${config.currency} and the organization's available balance is less. Top up the balance.`);
    }
  }

  /** Settles a hold to what the request cost (`null`: no price at settlement — its hold is charged). */
  async settle(ctx: Context, h: Hold, cost: bigint | null): Promise<void> {
    const { state } = this;
    // A served request nothing prices (it was bounded by a price, so this is a price reload): charge the hold.
    const charged = cost ?? (h.credit ? h.amount : 0n);
    if (cost === null) ctx.log.warn({ reserved_micros: h.amount.toString() }, 'billing: a request has no price at settlement; charged its reservation');
    if (h.credit && charged > h.amount) {
      state.metrics.overruns.inc();
      ctx.log.warn({ reserved_micros: h.amount.toString(), cost_micros: charged.toString() }, 'billing: a request cost more than its reservation; charged in full');
    }
    if (h.lease !== undefined) return state.leases.done(h.scope!, h.lease, h.amount, charged);
    const input = { id: h.id, cost: charged, charge: this.credits, org: h.org, keyId: h.keyId, requestId: ctx.id, budgets: h.budgets, day: h.day, month: h.month };
    try {
      await this.settleAlone(ctx, h, input, charged);
    } finally {
      if (h.scope !== undefined) await state.leases.done(h.scope);
    }
  }

  private async settleAlone(ctx: Context, h: Hold, input: SettleInput, charged: bigint): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        // First with whatever other settlements are waiting (one statement for them all), then alone.
        if (attempt === 1) await this.settlements.settle(input);
        else await settle(await this.env.sql(), input);
        return;
      } catch (err) {
        if (attempt >= 3) {
          this.state.metrics.settleFailures.inc();
          ctx.log.error({ err: (err as Error).message, reservation_id: h.id, cost_micros: charged.toString() }, 'billing: settling a reservation failed; it is released at its expiry and this cost is NOT charged');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  /** The monthly credit of the caller's plan, granted on the organization's first priced request of the month. */
  private async grantMonthly(ctx: Context, org: string, month: string): Promise<void> {
    const plan = ctx.auth?.plan;
    if (plan === undefined) return;
    const named = this.planGrants.has(plan.name) ? plan.name : plan.id;
    const amount = this.planGrants.get(named);
    if (amount === undefined) return;
    const key = planGrantKey(org, month);
    const granted = this.state.granted;
    if (granted.has(key)) return;
    try {
      if (await grantPlanCredits(await this.env.sql(), org, named, amount, month)) {
        ctx.log.info({ org, plan: named, amount_micros: amount.toString(), month: month.slice(0, 7) }, 'billing: granted a plan\'s monthly credit');
      }
      // Bounded: a new month's keys replace the last month's.
      if (granted.size >= 100_000) granted.clear();
      granted.add(key);
    } catch (err) {
      // Tried again on the organization's next request; this one is reserved against the balance as it is.
      ctx.log.error({ err: (err as Error).message, org, plan: named }, 'billing: granting a plan\'s monthly credit failed');
    }
  }
}

/** `key:month 85% (850000 of 1000000)`, for every budget at or past the soft limit (percent × 100). */
export function budgetWarning(uses: readonly BudgetUse[], softPercentX100: bigint): string | undefined {
  const over = uses.filter((u) => u.limit > 0n && u.used * 10_000n >= u.limit * softPercentX100);
  if (over.length === 0) return undefined;
  return over.map((u) => `${u.budget} ${(u.used * 100n) / u.limit}% (${u.used} of ${u.limit})`).join(', ');
}

function optionalBig(n: number | undefined): bigint | undefined {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? BigInt(n) : undefined;
}
