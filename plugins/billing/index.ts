/**
 * `billing` — what each model request costs, and a usage record for each.
 *
 * Per request: post-response work prices the final usage of the attempt that served (its provider
 * and model, not the alias asked for) and leaves the cost for the request's record; a non-streamed
 * answer also gets it in `x-switchyard-cost` (integer micro-units of the gateway currency). The
 * `usage` object the provider sent is not touched.
 *
 * Per process: one subscription to the request records feeds a bounded batching queue that writes
 * one `billing_usage` row per model request (usage-queue.ts), flushed at shutdown.
 */
import { definePlugin } from '../../core/plugin.js';
import { readSchema } from '../../core/config/schema.js';
import { parseDuration } from '../../core/config/units.js';
import type { Attempt, Context, Endpoint, ModelTarget } from '../../core/context.js';
import type { GatewayEnv } from '../../core/env.js';
import type { RequestRecord } from '../../core/record.js';
import type { BillingConfig } from '../../schemas/types/plugins/billing.js';
import { BILLING_MIGRATIONS } from './migrations.js';
import { Pricer } from './prices.js';
import { UsageQueue, type QueueSettings } from './usage-queue.js';
import { insertUsageRows, RECORDED_ROUTES, usageRow } from './usage-rows.js';
import usageAdmin from './admin.js';

export type { BillingConfig };

/** The response header with a non-streamed answer's cost. */
export const COST_HEADER = 'x-switchyard-cost';

/** The endpoints that spend tokens (not the model list). */
const PRICED_ENDPOINTS: ReadonlySet<Endpoint | undefined> = new Set<Endpoint>(['chat.completions', 'completions', 'embeddings', 'images.generations']);

/** What outlives config versions: the record subscription, the queue, and the costs waiting for their records. */
interface BillingProcess {
  queue: UsageQueue;
  unsubscribe: () => void;
  /**
   * Cost of a request, by its attempts array (the record carries `ctx.attempts` itself): set by the
   * post-response work, read when the request's record arrives. Weak, so nothing lingers.
   */
  costs: WeakMap<readonly Attempt[], bigint | null>;
  /** Live instances that record (a config without `billing`, or with `records.enabled: false`, records nothing). */
  recording: number;
}

function queueSettings(config: BillingConfig): QueueSettings {
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
  const write = async (batch: Parameters<typeof insertUsageRows>[1]) => insertUsageRows(await env.sql(), batch);
  const queue = new UsageQueue(
    write,
    env.log,
    { written: (n) => rows.inc({ result: 'written' }, n), dropped: (n) => rows.inc({ result: 'dropped' }, n), failedWrite: () => failures.inc() },
    { intervalMs: 1000, batchRows: 500, maxQueued: 50_000 },
  );
  env.metrics.gauge('switchyard_usage_records_queued', 'Usage records waiting to be written.', [], function () {
    this.set(queue.length);
  });
  const state: BillingProcess = { queue, costs: new WeakMap(), recording: 0, unsubscribe: () => {} };
  state.unsubscribe = env.records.subscribe((record: RequestRecord) => {
    if (!RECORDED_ROUTES.has(record.route)) return;
    const cost = state.costs.get(record.attempts);
    // A request billing did not see (refused earlier in the pipeline) spent nothing — unless it has usage.
    if (cost !== undefined || state.recording > 0) queue.push(usageRow(record, cost !== undefined ? cost : record.usage ? null : 0n));
  });
  return state;
}

export default definePlugin<BillingConfig, BillingProcess>({
  name: 'billing',
  schema: readSchema('plugins/billing'),
  // Records name the key and organization: with `auth` in the pipeline, it runs first.
  after: ['auth'],
  kinds: ['model'],
  migrations: BILLING_MIGRATIONS,
  admin: usageAdmin,
  process: {
    create: openProcess,
    async close(state) {
      state.unsubscribe();
      await state.queue.close();
    },
  },
  create(config, env, state) {
    const pricer = new Pricer(config, env.catalog, env.config.providers);
    const records = config.records.enabled;
    if (records) {
      state.queue.configure(queueSettings(config));
      state.recording++;
    }
    return {
      async handle(ctx, next) {
        const attempts = ctx.attempts;
        if (records) {
          ctx.afterResponse((outcome) => {
            const served = outcome.attempt ?? (outcome.usage ? attempts[attempts.length - 1] : undefined);
            state.costs.set(attempts, pricer.costOf(ctx.endpoint, served, outcome.usage, imagesAsked(ctx)));
          });
        }
        await next();
        const response = ctx.response;
        if (!config.cost_header || !response || response.stream !== undefined || response.status >= 400 || !PRICED_ENDPOINTS.has(ctx.endpoint)) return;
        const cost = pricer.costOf(ctx.endpoint, servedBy(attempts), ctx.usage, imagesAsked(ctx));
        if (cost !== null) response.headers[COST_HEADER] = cost.toString();
      },
      close() {
        if (records) state.recording--;
      },
    };
  },
});
