/**
 * `rate-limit` — requests and tokens per sliding window, and concurrent requests, per key, org,
 * model, IP, route or globally (or combinations), with per-key overrides from `ctx.auth.limits`.
 *
 * Per request: concurrency slots are taken first, then ONE `consume()` checks every window
 * all-or-nothing; tokens are reserved up front and settled with the request's final usage once the
 * response is over (post-response work: after the last streamed byte, with the tokens delivered so
 * far for a stream that was cut), when slots are released too. With the memory store limits hold
 * per process; with Redis they hold across every replica.
 */
import { definePlugin } from '../../core/plugin.js';
import { readSchema } from '../../core/config/schema.js';
import { parseDuration } from '../../core/config/units.js';
import type { Outcome } from '../../core/context.js';
import type { GatewayEnv } from '../../core/env.js';
import { StoreUnavailableError, type LimitCheck, type LimitDecision, type LimitStore, type SyncLimitStore } from '../../core/stores/kv.js';
import { MemoryLimitStore } from '../../core/stores/memory-limits.js';
import { compileRules, RequestPlanner, routeMatcher, type RequestPlan } from './rules.js';
import type { RateLimitConfig } from '../../schemas/types/plugins/rate-limit.js';
import { reserveTokens } from './tokens.js';
import { concurrencyExceeded, deniedCheck, limiterUnavailable, rateLimitHeaders, windowExceeded } from './response.js';

export type { RateLimitConfig };

/** Log at most one store failure line per this interval: an outage must not flood the log. */
const STORE_ERROR_LOG_INTERVAL_MS = 10_000;
const BACKSTOP_SWEEP_MS = 10_000;

/** What outlives config versions: the per-process limits used while the shared store is unreachable (fail-open). */
interface RateLimitProcess {
  backstop: MemoryLimitStore;
  sweep: NodeJS.Timeout;
}

export default definePlugin<RateLimitConfig, RateLimitProcess>({
  name: 'rate-limit',
  schema: readSchema('plugins/rate-limit'),
  // Counting per key needs the key: with `auth` in the pipeline, it runs first.
  after: ['auth'],
  process: {
    create() {
      const backstop = new MemoryLimitStore();
      return { backstop, sweep: setInterval(() => backstop.sweep(), BACKSTOP_SWEEP_MS).unref() };
    },
    close(state) {
      clearInterval(state.sweep);
    },
  },
  create(config, env, state) {
    const rules = compileRules(config.limits);
    const planner = new RequestPlanner(rules, routeMatcher(env.config.routes.map((r) => r.path)));
    const countsTokens = rules.some((r) => r.windows.some((w) => w.unit === 'tokens'));
    // A safety net for a slot whose release never comes (a crashed replica): past any request's life.
    const slotTtlMs = 2 * (parseDuration(env.config.upstream.total_timeout) ?? 600_000) + 60_000;
    const limited = env.metrics.counter('switchyard_rate_limited_total', 'Requests refused by rate-limit, by the limit they hit.', ['dimension', 'limit']);
    const storeErrors = env.metrics.counter('switchyard_rate_limit_store_errors_total', 'Rate-limit store calls that failed because the store was unreachable.', ['outcome']);
    const guard = new StoreGuard(env, config.fail_open, state.backstop, (outcome) => storeErrors.inc({ outcome }));
    const onConcurrencyLimited = (dimension: string) => limited.inc({ dimension, limit: 'concurrency' });
    // The memory store is answered synchronously: no promise or microtask hop per call. It cannot
    // be unreachable, so it needs no guard.
    const memory = env.kv.limits.sync ? (env.kv.limits as LimitStore & { sync: SyncLimitStore }) : undefined;

    return {
      async handle(ctx, next) {
        const plan = planner.plan(ctx, countsTokens ? reserveTokens(ctx, config.completion_allowance) : 0);
        if (!plan.checks.length && !plan.slots.length) return next();

        const held = memory ? takeSlotsNow(plan, memory, slotTtlMs, onConcurrencyLimited) : await takeSlots(plan, guard, slotTtlMs, onConcurrencyLimited);
        let decision: LimitDecision | undefined;
        let limits: LimitStore | undefined;
        if (plan.checks.length) {
          try {
            if (memory) {
              decision = memory.sync.consumeSync(plan.checks);
              limits = memory;
            } else {
              ({ decision, store: limits } = await guard.consume(plan.checks));
            }
          } catch (err) {
            releaseSlots(held);
            throw err;
          }
          if (!decision.allowed) {
            releaseSlots(held);
            const i = deniedCheck(decision, plan.checks, plan.info);
            limited.inc({ dimension: plan.info[i]!.rule.label, limit: plan.info[i]!.unit });
            const headers: Record<string, string> = {};
            if (config.headers) rateLimitHeaders(decision, plan.info, headers);
            throw windowExceeded(plan.info[i]!, decision.states[i]!, plan.checks[i]!.cost, decision.retryAfterMs, headers);
          }
        }

        if (held.length || (limits && countsTokens)) {
          const settleWith = limits;
          ctx.afterResponse((outcome) => {
            releaseSlots(held);
            if (settleWith) settleTokens(outcome, plan, settleWith);
          });
        }
        await next();
        if (decision && config.headers && ctx.response) rateLimitHeaders(decision, plan.info, ctx.response.headers);
      },
    };
  },
});

interface HeldSlot {
  key: string;
  store: LimitStore;
}

/** Takes every concurrency slot of the plan, or none (and throws the 429). */
async function takeSlots(plan: RequestPlan, guard: StoreGuard, ttlMs: number, onLimited: (dimension: string) => void): Promise<HeldSlot[]> {
  const held: HeldSlot[] = [];
  for (const slot of plan.slots) {
    let taken;
    try {
      taken = await guard.acquire(slot.key, slot.max, ttlMs);
    } catch (err) {
      releaseSlots(held);
      throw err;
    }
    if (!taken.acquired) {
      releaseSlots(held);
      onLimited(slot.rule.label);
      throw concurrencyExceeded(slot.rule, slot.max, taken.inUse, {});
    }
    held.push({ key: slot.key, store: taken.store });
  }
  return held;
}

/** `takeSlots` for the memory store, synchronously. */
function takeSlotsNow(plan: RequestPlan, store: LimitStore & { sync: SyncLimitStore }, ttlMs: number, onLimited: (dimension: string) => void): HeldSlot[] {
  const held: HeldSlot[] = [];
  for (const slot of plan.slots) {
    const taken = store.sync.acquireSync(slot.key, slot.max, ttlMs);
    if (!taken.acquired) {
      releaseSlots(held);
      onLimited(slot.rule.label);
      throw concurrencyExceeded(slot.rule, slot.max, taken.inUse, {});
    }
    held.push({ key: slot.key, store });
  }
  return held;
}

const ignore = (): void => {};

function releaseSlots(held: readonly HeldSlot[]): void {
  // A release that fails leaves the slot to expire by its TTL; it never fails a request.
  for (const slot of held) {
    if (slot.store.sync) slot.store.sync.releaseSync(slot.key);
    else slot.store.release(slot.key).catch(ignore);
  }
}

/**
 * Replaces each token reservation with the request's final usage (for a stream cut short: the
 * tokens delivered so far). Without any usage — refused, failed before a model answered, a cache
 * hit — the reservation is given back.
 */
function settleTokens(outcome: Outcome, plan: RequestPlan, limits: LimitStore): void {
  const used = outcome.usage?.total_tokens ?? 0;
  for (let i = 0; i < plan.checks.length; i++) {
    if (plan.info[i]!.unit !== 'tokens') continue;
    const check = plan.checks[i]!;
    const delta = used - check.cost;
    if (delta === 0) continue;
    if (limits.sync) limits.sync.adjustSync(check.key, check.windowMs, delta);
    else limits.adjust(check.key, check.windowMs, delta).catch(ignore);
  }
}

/**
 * Calls the shared store; when it is unreachable, counts and logs it (rate-limited) and either
 * falls back to the per-process backstop (`fail_open`) or refuses the request with a 503.
 */
class StoreGuard {
  private lastLogged = 0;

  constructor(
    private readonly env: GatewayEnv,
    private readonly failOpen: boolean,
    private readonly backstop: MemoryLimitStore,
    private readonly count: (outcome: 'allowed_by_backstop' | 'refused') => void,
  ) {}

  async consume(checks: LimitCheck[]): Promise<{ decision: LimitDecision; store: LimitStore }> {
    const store = this.env.kv.limits;
    try {
      return { decision: await store.consume(checks), store };
    } catch (err) {
      const fallback = this.unavailable(err);
      return { decision: await fallback.consume(checks), store: fallback };
    }
  }

  async acquire(key: string, max: number, ttlMs: number): Promise<{ acquired: boolean; inUse: number; store: LimitStore }> {
    const store = this.env.kv.limits;
    try {
      return { ...(await store.acquire(key, max, ttlMs)), store };
    } catch (err) {
      const fallback = this.unavailable(err);
      return { ...(await fallback.acquire(key, max, ttlMs)), store: fallback };
    }
  }

  /** The store to use instead, or throws (the 503, or the error itself when it is not an outage). */
  private unavailable(err: unknown): LimitStore {
    if (!(err instanceof StoreUnavailableError)) throw err;
    this.count(this.failOpen ? 'allowed_by_backstop' : 'refused');
    const now = Date.now();
    if (now - this.lastLogged >= STORE_ERROR_LOG_INTERVAL_MS) {
      this.lastLogged = now;
      this.env.log.warn({ err: err.detail, fail_open: this.failOpen }, this.failOpen ? 'rate-limit store unreachable: enforcing per-process limits' : 'rate-limit store unreachable: refusing requests');
    }
    if (!this.failOpen) throw limiterUnavailable();
    return this.backstop;
  }
}
