/**
 * `billing` — what each model request costs, a usage record for each, and (when enabled) credits
 * and budgets that are never overspent.
 *
 * Per request: post-response work prices the final usage of the attempt that served (its provider
 * and model, not the alias asked for) and leaves the cost for the request's record; a non-streamed
 * answer also gets it in `x-switchyard-cost` (integer micro-units of the gateway currency). The
 * `usage` object the provider sent is not touched.
 *
 * Per process: one subscription to the request records feeds a bounded batching queue that writes
 * one `billing_usage` row per model request (core/stores/batch-queue.ts), flushed at shutdown and
 * spilled to `<data dir>/spill/usage.jsonl` when full; the table is partitioned by UTC day, with
 * daily sums and retention (retention.ts).
 *
 * Credits and budgets (`credits.enabled`, `budgets.enabled`; holds.ts): before `next()` the
 * request's worst case (worst-case.ts) is held — on its organization's lease when it is busy
 * (leases.ts), else reserved in ONE SQL statement (credits.ts: the balance and every budget with a
 * limit, or a 402); post-response work settles it to the actual cost — success, upstream error,
 * client abort and timeout alike, since post-response work runs for every request that got this
 * far. Reservations expire; expired ones are released at start and every minute.
 *
 * Raw proxy routes (`routes:`) are priced in `routes` (proxy-routes.ts) and billed by a `billing`
 * entry in the route's own pipeline, which runs with this entry's settings: flat + per byte of
 * response, reserved before forwarding and settled to the bytes sent. Cache hits cost
 * `cache_hit_rate` × what their usage would have cost. Plans in `plans` grant monthly credit on an
 * organization's first priced request of the month (once, by the ledger's idempotency key).
 */
import { definePlugin } from '../../core/plugin.js';
import { ConfigError, readSchema } from '../../core/config/schema.js';
import { parseDuration } from '../../core/config/units.js';
import type { Attempt, Context, Endpoint, ModelTarget, Usage } from '../../core/context.js';
import type { GatewayEnv } from '../../core/env.js';
import type { RequestRecord } from '../../core/record.js';
import type { BillingConfig } from '../../schemas/types/plugins/billing.js';
import { BILLING_MIGRATIONS } from './migrations.js';
import { millionths, Pricer } from './prices.js';
import { RoutePrices, routeCost, routeWorstCase, type RoutePrice } from './proxy-routes.js';
import type { PluginInstance } from '../../core/plugin.js';
import { BatchQueue, spillDirectory, type BatchQueueSettings } from '../../core/stores/batch-queue.js';
import { decodeUsageRow, encodeUsageRow, RECORDED_ROUTES, usageRow, type UsageRow } from './usage-rows.js';
import { retentionDays, UsageTable } from './retention.js';
import usageAdmin from './admin.js';
import { billingCommands } from './cli.js';
import { Periods } from './credits.js';
import { LeaseBook } from './leases.js';
import { budgetWarning, Holds, type Held, type HoldsProcess } from './holds.js';
import { answerUsageQuery, keyRpmOf, USAGE_ENDPOINTS, type UsageQueryDeps } from './queries.js';

export type { BillingConfig };

/** The response header with a non-streamed answer's cost. */
export const COST_HEADER = 'x-switchyard-cost';
/** The response header set when a request brings a budget to its soft limit or beyond. */
export const BUDGET_WARNING_HEADER = 'x-switchyard-budget-warning';


/** The endpoints that spend tokens (not the model list). */
const PRICED_ENDPOINTS: ReadonlySet<Endpoint | undefined> = new Set<Endpoint>(['chat.completions', 'completions', 'embeddings', 'images.generations']);

/** What outlives config versions: the record subscription, the queue, and the costs waiting for their records. */
interface BillingProcess extends HoldsProcess {
  queue: BatchQueue<UsageRow>;
  /** Writes batches into the day-partitioned table; partitions ahead and retention (retention.ts). */
  usage: UsageTable;
  unsubscribe: () => void;
  /**
   * Cost of a request, by its attempts array (the record carries `ctx.attempts` itself): set by the
   * post-response work, read when the request's record arrives (for the usage row when `row`, and
   * for the cost metrics always). Weak, so nothing lingers.
   */
  costs: WeakMap<readonly Attempt[], { cost: bigint | null; row: boolean; route?: boolean }>;
  /** Live instances that record (a config without `billing`, or with `records.enabled: false`, records nothing). */
  recording: number;
  metrics: BillingMetrics;
  /**
   * The model pipeline's instance of each config version (by its config object): a `billing` entry
   * in a raw proxy route's pipeline, created after it, runs as that instance.
   */
  instances: WeakMap<object, PluginInstance>;
}

export interface BillingMetrics {
  reservations: ReturnType<GatewayEnv['metrics']['counter']>;
  overruns: ReturnType<GatewayEnv['metrics']['counter']>;
  settleFailures: ReturnType<GatewayEnv['metrics']['counter']>;
  expired: ReturnType<GatewayEnv['metrics']['counter']>;
  cost: ReturnType<GatewayEnv['metrics']['counter']>;
  unpriced: ReturnType<GatewayEnv['metrics']['counter']>;
}



function queueSettings(config: BillingConfig): BatchQueueSettings {
  return { intervalMs: parseDuration(config.records.flush_interval) ?? 1000, batchRows: config.records.batch_rows, maxQueued: config.records.max_queued };
}

/** The attempt that answered: the last one, when it got a response (as the core's record names it). */
function servedBy(attempts: readonly Attempt[]): ModelTarget | undefined {
  const last = attempts[attempts.length - 1];
  return last !== undefined && last.status !== undefined && last.status < 400 ? last : undefined;
}

/** Images a generation request asks for (`n`, default 1). */
function imagesAsked(ctx: Context): number {
  const n = ctx.endpoint === 'images.generations' ? ctx.body?.['n'] : undefined;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 1;
}

function openProcess(env: GatewayEnv): BillingProcess {
  const rows = env.metrics.counter('switchyard_usage_records_total', 'Usage records by what became of them: written to SQL, or dropped (queue full, or unwritten at shutdown).', ['result']);
  const failures = env.metrics.counter('switchyard_usage_record_write_failures_total', 'Failed usage-record batch writes (each is retried).');
  const usage = new UsageTable(env);
  const write = (batch: UsageRow[]) => usage.write(batch);
  const spillDir = spillDirectory(env.config, env.configDir, env.processEnv);
  const queue = new BatchQueue<UsageRow>({
    name: 'usage',
    label: 'billing: usage records',
    metrics: env.metrics,
    spill: spillDir === undefined ? undefined : { dir: spillDir, encode: encodeUsageRow, decode: decodeUsageRow },
    write,
    log: env.log,
    counters: { written: (n) => rows.inc({ result: 'written' }, n), dropped: (n) => rows.inc({ result: 'dropped' }, n), failedWrite: () => failures.inc() },
    settings: { intervalMs: 1000, batchRows: 500, maxQueued: 50_000 },
  });
  env.metrics.gauge('switchyard_usage_records_queued', 'Usage records waiting to be written.', [], function () {
    this.set(queue.length);
  });
  const metrics: BillingMetrics = {
    reservations: env.metrics.counter('switchyard_billing_reservations_total', 'Credit and budget reservations by result: reserved, insufficient_quota, budget_exceeded, unbounded.', ['result']),
    overruns: env.metrics.counter('switchyard_billing_overruns_total', 'Requests that cost more than their reservation (charged in full; the balance may dip below zero by the difference).'),
    settleFailures: env.metrics.counter('switchyard_billing_settle_failures_total', 'Settlements that failed (the reservation is released at its expiry, the cost not charged).'),
    expired: env.metrics.counter('switchyard_billing_expired_reservations_total', 'Reservations released because they expired (a gateway stopped between reserve and settle).'),
    cost: env.metrics.counter(
      'switchyard_cost_micros_total',
      'Cost of served model requests, in integer micro-units of the gateway currency (billing `currency`; 1000000 = 1 unit), by models: key and serving provider. Unpriced requests are not counted here. Per-organization cost: GET /admin/usage.',
      ['model', 'provider'],
    ),
    unpriced: env.metrics.counter('switchyard_cost_unpriced_requests_total', 'Model requests served that no price covered (their cost is unknown and not in switchyard_cost_micros_total), by models: key.', ['model']),
  };
  const leases = new LeaseBook(() => env.sql(), env.log, { failed: () => metrics.settleFailures.inc() });
  env.metrics.gauge('switchyard_billing_leases_open', 'Credit leases this process holds (credits.leases: a busy scope\'s share of credit, admitted against in memory).', [], function () {
    this.set(leases.size);
  });
  const state: BillingProcess = { queue, usage, costs: new WeakMap(), recording: 0, unsubscribe: () => {}, now: Date.now, reconciler: undefined, metrics, granted: new Set(), instances: new WeakMap(), leases, periods: new Periods() };
  state.unsubscribe = env.records.subscribe((record: RequestRecord) => {
    const seen = state.costs.get(record.attempts);
    // A raw proxy route's request gets a row when billing priced it (the route is its "model").
    if (seen?.route === true) {
      if (seen.row) queue.push({ ...usageRow(record, seen.cost), modelRequested: record.route });
      return;
    }
    if (!RECORDED_ROUTES.has(record.route)) return;
    if (seen !== undefined) countCost(state.metrics, record, seen.cost);
    // A request billing did not see (refused earlier in the pipeline) spent nothing — unless it has usage.
    if (seen?.row === true || state.recording > 0) queue.push(usageRow(record, seen !== undefined ? seen.cost : record.usage ? null : 0n));
  });
  return state;
}

export default definePlugin<BillingConfig, BillingProcess>({
  name: 'billing',
  schema: readSchema('plugins/billing'),
  // Records name the key and organization: with `auth` in the pipeline, it runs first.
  after: ['auth'],
  kinds: ['model', 'proxy'],
  migrations: BILLING_MIGRATIONS,
  admin: usageAdmin,
  endpoints: USAGE_ENDPOINTS,
  commands: billingCommands,
  process: {
    create: openProcess,
    async close(state) {
      state.unsubscribe();
      await state.leases.close();
      await state.reconciler?.close();
      await state.queue.close();
      await state.usage.close();
    },
  },
  create(config, env, state) {
    // A `billing` entry in a raw proxy route's pipeline: the model pipeline's, created just before.
    const main = state.instances.get(env.config);
    if (main) return { handle: main.handle };
    const pricer = new Pricer(config, env.catalog, env.config.providers);
    const records = config.records.enabled;
    const credits = config.credits.enabled;
    const budgets = config.budgets.enabled;
    const enforcing = credits || budgets;
    const routePrices = new RoutePrices(config, env.config.routes, enforcing, credits);
    const hitRate = millionths(config.cache_hit_rate);
    if (hitRate > 0n) {
      const names = env.config.pipeline.map((entry) => (typeof entry === 'string' ? entry : Object.keys(entry)[0]));
      if (names.includes('cache') && names.indexOf('cache') < names.indexOf('billing')) {
        throw ConfigError.at(['cache_hit_rate'], 'cache hits are charged only when `billing` comes before `cache` in the pipeline (a hit answered before billing never reaches it): move `billing` up');
      }
    }
    if (Object.keys(config.plans).length > 0 && !credits) throw ConfigError.at(['plans'], 'plan credit grants need `credits.enabled: true`');
    // Credits and budgets: holds before `next()`, settled after the final usage (holds.ts).
    const holds = enforcing ? new Holds(config, env, state, pricer) : undefined;
    const softPercent = BigInt(Math.round(config.budgets.soft_limit_percent * 100));
    if (records) {
      state.queue.configure(queueSettings(config));
      state.usage.configure({ rawDays: retentionDays(config.records.retention), aggregateDays: retentionDays(config.records.aggregate_retention) });
      state.recording++;
    }

    /** A model request's cost: a cache hit (or coalesced request) at `cache_hit_rate`, else its usage at the served target's price. */
    function costOf(ctx: Context, served: ModelTarget | undefined, usage: Usage | undefined): bigint | null {
      const cache = ctx.report.cache;
      if (served === undefined && usage === undefined && (cache === 'HIT' || cache === 'COALESCED')) {
        return pricer.hitCostOf(ctx.endpoint, ctx.model?.targets[0], ctx.cache?.cachedUsage, imagesAsked(ctx), hitRate);
      }
      return pricer.costOf(ctx.endpoint, served, usage, imagesAsked(ctx));
    }

    /** A raw proxy route's request: reserve the route's worst case, forward, settle to the bytes sent. */
    async function handleProxy(ctx: Context, next: () => Promise<void>): Promise<void> {
      const price: RoutePrice | undefined = routePrices.of(ctx.path);
      if (price === undefined) return next();
      const attempts = ctx.attempts;
      let held: Held | undefined;
      if (holds && !price.free) {
        const worst = routeWorstCase(price);
        // Refused at load with credits; budgets alone count what it cost after the fact.
        held = await holds.holdAmount(ctx, holds.orgOf(ctx), worst ?? 0n, worst === undefined);
      }
      let forwarded = false;
      ctx.afterResponse(async (outcome) => {
        // Nothing forwarded (refused after billing, or the upstream never answered) costs nothing.
        const cost = forwarded && outcome.error === undefined ? routeCost(price, outcome.bytesOut ?? 0) : 0n;
        state.costs.set(attempts, { cost, row: records, route: true });
        ctx.report.costMicros = Number(cost);
        if (held) await holds!.settle(ctx, held.hold, cost);
      });
      await next();
      forwarded = ctx.response !== undefined;
    }

    const queries: UsageQueryDeps = { sql: () => env.sql(), currency: config.currency, now: () => state.now(), budgets, credits, keyRpm: keyRpmOf(env.config) };
    const instance: PluginInstance = {
      async handle(ctx, next) {
        if (ctx.kind === 'proxy') return handleProxy(ctx, next);
        // billing's client endpoints (queries.ts): answered here, after `auth` named the caller.
        if (ctx.endpoint === 'plugin') return ctx.pluginRoute?.plugin === 'billing' ? answerUsageQuery(ctx, queries) : next();
        const attempts = ctx.attempts;
        const held = holds && PRICED_ENDPOINTS.has(ctx.endpoint) ? await holds.hold(ctx) : undefined;
        // Always: the cost metrics count every request billing saw, with or without usage rows.
        ctx.afterResponse(async (outcome) => {
          const served = outcome.attempt ?? (outcome.usage ? attempts[attempts.length - 1] : undefined);
          const cost = costOf(ctx, served, outcome.usage);
          state.costs.set(attempts, { cost, row: records });
          if (cost !== null) ctx.report.costMicros = Number(cost);
          if (held) await holds!.settle(ctx, held.hold, cost);
        });
        await next();
        const response = ctx.response;
        if (!response) return;
        if (held) {
          const warning = budgetWarning(held.uses, softPercent);
          if (warning) response.headers[BUDGET_WARNING_HEADER] = warning;
        }
        if (!config.cost_header || response.stream !== undefined || response.status >= 400 || !PRICED_ENDPOINTS.has(ctx.endpoint)) return;
        const cost = costOf(ctx, servedBy(attempts), ctx.usage);
        if (cost !== null) response.headers[COST_HEADER] = cost.toString();
      },
      close() {
        if (records) state.recording--;
      },
    };
    state.instances.set(env.config, instance);
    return instance;
  },
});

/**
 * Counts a request's final cost once, when its record arrives: by `models:` key (bounded, never the
 * client's string) and the provider that served. Nothing served (a refusal, every attempt failed)
 * counts nothing; an unknown cost counts as unpriced.
 */
function countCost(metrics: BillingMetrics, record: RequestRecord, cost: bigint | null): void {
  if (record.provider === undefined) return;
  const model = record.modelKey ?? 'none';
  if (cost === null) metrics.unpriced.inc({ model });
  else metrics.cost.inc({ model, provider: record.provider }, Number(cost));
}
