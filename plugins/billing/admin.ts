/**
 * billing's admin API. Credits (tag `credits`, credits-admin.ts): balances, top-ups, adjustments,
 * the ledger, organization budgets. The usage admin API (tag `usage`): `GET /admin/usage` sums the usage records of any organization
 * or key over a time range, in total and by day (UTC), model or key. Rows reach SQL through the
 * batching queue, so the last second or so of requests may not be counted yet.
 */
import { defineAdminModule, type AdminRoute, type AdminServices } from '../../core/admin/contract.js';
import { errors } from '../../core/errors.js';
import type { GatewayConfig } from '../../core/config/types.js';
import { summarizeDaily, summarizeUsage, wholeDays, type GroupBy } from './usage-rows.js';
import { creditRoutes, resolveOrg } from './credits-admin.js';
import { usageCsv } from './csv.js';
import { openAiUsageAdminRoutes } from './queries-openai.js';
import { timeParam } from './queries-usage.js';

const DAY_MS = 86_400_000;
const DEFAULT_RANGE_DAYS = 30;
const GROUPS: readonly GroupBy[] = ['day', 'model', 'key'];

const totalsSchema = {
  type: 'object',
  required: ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens', 'cost_micros', 'unpriced_requests'],
  properties: {
    requests: { type: 'integer' },
    errors: { type: 'integer', description: 'Requests answered with a status of 400 or more (499: the client left).' },
    prompt_tokens: { type: 'integer' },
    completion_tokens: { type: 'integer' },
    cached_tokens: { type: 'integer', description: 'Prompt tokens read from the provider cache (a part of prompt_tokens).' },
    reasoning_tokens: { type: 'integer', description: 'A part of completion_tokens.' },
    cost_micros: { type: 'integer', description: 'Sum of the known costs, in micro-units of `currency` (1 USD = 1000000).' },
    unpriced_requests: { type: 'integer', description: 'Requests served by a model with no price: not in cost_micros.' },
  },
};

const summarySchema = {
  type: 'object',
  required: ['object', 'currency', 'start', 'end', 'group_by', 'totals', 'data'],
  properties: {
    object: { const: 'usage.summary' },
    currency: { type: 'string' },
    start: { type: 'string', format: 'date-time' },
    end: { type: 'string', format: 'date-time' },
    org: { type: 'string' },
    key: { type: 'string' },
    group_by: { enum: GROUPS },
    totals: totalsSchema,
    data: {
      type: 'array',
      items: {
        ...totalsSchema,
        properties: { ...totalsSchema.properties, day: { type: 'string' }, model: { type: ['string', 'null'] }, key: { type: ['string', 'null'] } },
      },
    },
  },
};

/** The `currency` of the serving config's `billing` entry (USD when it has none). */
function currencyOf(config: GatewayConfig): string {
  for (const entry of config.pipeline) {
    if (typeof entry !== 'object' || entry === null || !('billing' in entry)) continue;
    const currency = (entry['billing'] as { currency?: unknown } | null)?.currency;
    if (typeof currency === 'string') return currency;
  }
  return 'USD';
}

/** The serving config's `billing` entries: whether one enforces budgets, and whether `auth` reads SQL keys. */
function pipelineFacts(config: GatewayConfig): { budgets: boolean; sqlKeys: boolean } {
  let budgets = false;
  let sqlKeys = false;
  for (const entry of config.pipeline) {
    if (typeof entry !== 'object' || entry === null) continue;
    const billing = (entry as { billing?: { budgets?: { enabled?: unknown } } | null }).billing;
    if (billing?.budgets?.enabled === true) budgets = true;
    const auth = (entry as { auth?: { keys?: unknown } | null }).auth;
    if (Array.isArray(auth?.keys) && auth.keys.includes('sql')) sqlKeys = true;
  }
  return { budgets, sqlKeys };
}

/**
 * Logs an error when keys, plans or organizations carry budgets that no pipeline enforces. Only
 * when the config reads SQL keys anyway (a gateway that does not use SQL is not made to open it).
 */
async function warnUnenforcedBudgets(services: AdminServices): Promise<void> {
  const facts = pipelineFacts(services.config());
  if (facts.budgets || !facts.sqlKeys) return;
  const sql = await services.sql();
  const budget = `(limits ? 'monthly_budget_micros' OR limits ? 'daily_budget_micros')`;
  const { rows } = await sql.query<{ keys: string; plans: string; orgs: string }>(
    `SELECT (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL AND ${budget})::text AS keys,
            (SELECT count(*) FROM plans WHERE ${budget})::text AS plans,
            (SELECT count(*) FROM billing_accounts WHERE daily_budget_micros IS NOT NULL OR monthly_budget_micros IS NOT NULL)::text AS orgs`,
  );
  const found = rows[0]!;
  if (found.keys !== '0' || found.plans !== '0' || found.orgs !== '0') {
    services.log.error(
      { keys: Number(found.keys), plans: Number(found.plans), organizations: Number(found.orgs) },
      'billing: budgets are set on keys, plans or organizations but NOTHING ENFORCES THEM: add `billing: { budgets: { enabled: true } }` to the pipeline',
    );
  }
}

export default defineAdminModule({
  name: 'usage',
  create(services) {
    const summary: AdminRoute = {
      method: 'GET',
      path: '/admin/usage',
      tag: 'usage',
      summary: 'Usage and cost of any organization or key over a time range, in total and by day (UTC), model or key.',
      queryParams: [
        { name: 'org', description: 'Organization id; default every organization.', schema: { type: 'string' } },
        { name: 'key', description: 'API key id; default every key.', schema: { type: 'string' } },
        { name: 'start', description: 'Start of the range, inclusive: an ISO date (midnight UTC) or date-time. Default 30 days before `end`. A range of whole UTC days (both ends dates) is answered from the daily sums, which outlive `records.retention`.', schema: { type: 'string' } },
        { name: 'end', description: 'End of the range, exclusive. Default now.', schema: { type: 'string' } },
        { name: 'group_by', description: '`day` (UTC, the default), `model` (the model that served, else the one asked for) or `key`.', schema: { enum: GROUPS } },
        { name: 'format', description: '`json` (the default) or `csv`: `text/csv`, a header line and one line per group (no totals line).', schema: { enum: ['json', 'csv'] } },
      ],
      responseSchema: summarySchema,
      async handle(req) {
        const groupBy = (req.query.get('group_by') || 'day') as GroupBy;
        const format = req.query.get('format') || 'json';
        if (format !== 'json' && format !== 'csv') throw errors.badRequest('invalid_format', 'format must be json or csv.', 'format');
        if (!GROUPS.includes(groupBy)) throw errors.badRequest('invalid_group_by', `group_by must be one of ${GROUPS.join(', ')}.`, 'group_by');
        const end = timeParam(req.query, 'end') ?? Date.now();
        const start = timeParam(req.query, 'start') ?? end - DEFAULT_RANGE_DAYS * DAY_MS;
        if (start >= end) throw errors.badRequest('invalid_time', 'start must be before end.', 'start');
        const orgGiven = req.query.get('org') || undefined;
        const org = orgGiven === undefined ? undefined : await resolveOrg(await services.sql(), orgGiven);
        const key = req.query.get('key') || undefined;
        const filter = { org, keyId: key, start, end };
        // Whole UTC days: the daily sums (one row per day, org, key and model) give the same answer, faster, and outlive raw retention.
        const { totals, groups } = await (wholeDays(filter) ? summarizeDaily : summarizeUsage)(await services.sql(), filter, groupBy);
        if (format === 'csv') return { status: 200, contentType: 'text/csv; charset=utf-8', body: usageCsv(groupBy, groups.map(({ bucket, ...sums }) => ({ [groupBy]: bucket, ...sums }))) };
        return {
          status: 200,
          body: {
            object: 'usage.summary',
            currency: currencyOf(services.config()),
            start: new Date(start).toISOString(),
            end: new Date(end).toISOString(),
            ...(org !== undefined && { org }),
            ...(key !== undefined && { key }),
            group_by: groupBy,
            totals,
            data: groups.map(({ bucket, ...sums }) => ({ [groupBy]: bucket, ...sums })),
          },
        };
      },
    };
    // Budgets set where nothing enforces them must not pass for enforced: say so at start and at every reload.
    const check = () => void warnUnenforcedBudgets(services).catch((err: unknown) => services.log.debug({ err: (err as Error).message }, 'billing: could not check for unenforced budgets'));
    check();
    const unsubscribe = services.events?.subscribe((event) => {
      if (event.type === 'config.reload' && event.ok) check();
    });
    // The budget clock of billing's process state (tests set it), else the wall clock.
    const now = () => (services.processState('billing') as { now?: () => number } | undefined)?.now?.() ?? Date.now();
    const currency = () => currencyOf(services.config());
    return { routes: [summary, ...openAiUsageAdminRoutes(services, currency), ...creditRoutes(services, currency, now)], close: () => unsubscribe?.() };
  },
});
