/**
 * Other gateways' caller endpoints, for clients written against them: OpenRouter's `/api/v1/key`
 * and `/api/v1/generation`, IndoxRouter's `/api/v1/user` (see queries.ts). Amounts are units of
 * the gateway currency (micro-units / 1,000,000).
 */
import { errors } from '../../core/errors.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import { account, periodsOf, spendOf } from './credits.js';
import { balanceOf, periodStarts, periodTotals, type Caller, type UsageQueryDeps } from './queries-usage.js';

const units = (micros: bigint | number | string): number => Number(micros) / 1_000_000;

/** The key's name (SQL keys), else its id (a static key's id is its name). */
async function keyLabel(sql: SqlExecutor, keyId: string): Promise<string> {
  try {
    const { rows } = await sql.query<{ name: string }>('SELECT name FROM api_keys WHERE id = $1', [keyId]);
    return rows[0]?.name || keyId;
  } catch {
    return keyId;
  }
}

/**
 * `GET /v1/key`, OpenRouter's shape (https://openrouter.ai/docs/api-reference/limits): `usage*`
 * are the key's spend (all time, UTC day, ISO week, month); `limit` is the key's monthly budget
 * (else its daily one; `limit_reset` says which), `limit_remaining` what the key may still spend:
 * the budget's remainder and, when credits are enforced, no more than the organization's available
 * balance (null when neither bounds it). `is_free_tier`: the organization was never credited.
 */
export async function keyBody(sql: SqlExecutor, caller: Caller, deps: UsageQueryDeps): Promise<Record<string, unknown>> {
  const now = deps.now();
  const starts = periodStarts(now);
  const keyId = caller.keyId;
  const [spent, a, paid, label] = await Promise.all([
    keyId === undefined
      ? undefined
      : sql.query<{ total: string; day: string; week: string; month: string }>(
          `SELECT coalesce(sum(cost_micros), 0)::text AS total,
             coalesce(sum(cost_micros) FILTER (WHERE at >= $3), 0)::text AS day,
             coalesce(sum(cost_micros) FILTER (WHERE at >= $4), 0)::text AS week,
             coalesce(sum(cost_micros) FILTER (WHERE at >= $5), 0)::text AS month
           FROM billing_usage WHERE org_id = $1 AND key_id = $2`,
          [caller.org, keyId, new Date(starts.day).toISOString(), new Date(starts.week).toISOString(), new Date(starts.month).toISOString()],
        ),
    account(sql, caller.org),
    sql.query<{ paid: boolean }>(`SELECT EXISTS (SELECT 1 FROM billing_ledger WHERE org_id = $1 AND kind IN ('top_up', 'grant')) AS paid`, [caller.org]),
    keyId === undefined ? caller.org : keyLabel(sql, keyId),
  ]);
  const used = spent?.rows[0] ?? { total: '0', day: '0', week: '0', month: '0' };
  const monthly = caller.limits.monthly_budget_micros;
  const daily = caller.limits.daily_budget_micros;
  const limit = keyId === undefined ? undefined : monthly !== undefined ? { micros: BigInt(monthly), reset: 'monthly', period: 'month' as const } : daily !== undefined ? { micros: BigInt(daily), reset: 'daily', period: 'day' as const } : undefined;
  let remaining: bigint | undefined;
  if (limit) {
    let periodSpend = BigInt(limit.period === 'month' ? used.month : used.day);
    if (deps.budgets) {
      const { day, month } = periodsOf(now);
      const s = (await spendOf(sql, 'key', keyId!, day, month))[limit.period];
      periodSpend = BigInt(s.spent) + BigInt(s.reserved);
    }
    remaining = limit.micros - periodSpend;
  }
  if (deps.credits) {
    const available = BigInt(balanceOf(a).available_micros);
    remaining = remaining === undefined || available < remaining ? available : remaining;
  }
  if (remaining !== undefined && remaining < 0n) remaining = 0n;
  const rpm = caller.limits.rpm ?? deps.keyRpm;
  return {
    data: {
      label,
      limit: limit ? units(limit.micros) : null,
      limit_reset: limit ? limit.reset : null,
      limit_remaining: remaining === undefined ? null : units(remaining),
      include_byok_in_limit: false,
      usage: units(used.total),
      usage_daily: units(used.day),
      usage_weekly: units(used.week),
      usage_monthly: units(used.month),
      byok_usage: 0,
      byok_usage_daily: 0,
      byok_usage_weekly: 0,
      byok_usage_monthly: 0,
      is_free_tier: paid.rows[0]?.paid !== true,
      rate_limit: rpm === undefined ? null : { requests: rpm, interval: '60s' },
      currency: deps.currency,
    },
  };
}

interface GenerationRow {
  request_id: string;
  at: string | Date;
  key_id: string | null;
  model_requested: string | null;
  model_served: string | null;
  provider: string | null;
  attempts: number;
  status: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  estimated: boolean;
  cost_micros: string | null;
  cache: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  error_code: string | null;
}

/**
 * `GET /v1/generation?id=<request id>`, OpenRouter's field names where they map
 * (https://openrouter.ai/docs/api-reference/get-a-generation): costs in units of the gateway
 * currency, plus Switchyard's own fields (`cost_micros`, `status`, `attempts`, …).
 */
export async function generationBody(sql: SqlExecutor, caller: Caller, query: URLSearchParams, deps: UsageQueryDeps): Promise<Record<string, unknown>> {
  const id = query.get('id');
  if (!id) throw errors.badRequest('missing_required_parameter', "Missing required parameter: 'id' (the request id: the `x-request-id` response header).", 'id');
  if (id.length > 200) throw errors.badRequest('invalid_id', 'id is too long.', 'id');
  const { rows } = await sql.query<GenerationRow>(
    `SELECT request_id, at, key_id, model_requested, model_served, provider, attempts, status, prompt_tokens, completion_tokens,
       cached_tokens, reasoning_tokens, estimated, cost_micros::text AS cost_micros, cache, latency_ms, ttft_ms, error_code
     FROM billing_usage WHERE request_id = $1 AND org_id = $2 ORDER BY at LIMIT 1`,
    [id, caller.org],
  );
  const row = rows[0];
  if (!row) throw errors.notFound('generation_not_found', `No request '${id.slice(0, 200)}' of this organization is recorded (records are written about a second after a request ends).`, 'id');
  const cost = row.cost_micros === null ? null : units(row.cost_micros);
  return {
    data: {
      id: row.request_id,
      created_at: new Date(row.at).toISOString(),
      model: row.model_served ?? row.model_requested,
      provider_name: row.provider,
      total_cost: cost,
      usage: cost,
      cache_discount: null,
      latency: row.latency_ms,
      streamed: row.ttft_ms !== null,
      cancelled: row.status === 499,
      tokens_prompt: row.prompt_tokens,
      tokens_completion: row.completion_tokens,
      native_tokens_prompt: row.prompt_tokens,
      native_tokens_completion: row.completion_tokens,
      native_tokens_reasoning: row.reasoning_tokens,
      native_tokens_cached: row.cached_tokens,
      is_byok: false,
      api_type: 'completions',
      // Switchyard's own.
      currency: deps.currency,
      cost_micros: row.cost_micros,
      model_requested: row.model_requested,
      key_id: row.key_id,
      status: row.status,
      attempts: row.attempts,
      cache: row.cache,
      estimated: row.estimated,
      ttft_ms: row.ttft_ms,
      error_code: row.error_code,
    },
  };
}

/** The organization's slug and name, when `auth`'s SQL identities know it. */
async function orgRecord(sql: SqlExecutor, org: string): Promise<{ slug: string | null; name: string | null }> {
  try {
    const { rows } = await sql.query<{ slug: string; name: string }>('SELECT slug, name FROM organizations WHERE id = $1', [org]);
    return { slug: rows[0]?.slug ?? null, name: rows[0]?.name ?? null };
  } catch {
    return { slug: null, name: null };
  }
}

/**
 * `GET /v1/user`, for IndoxRouter-style clients. IndoxRouter publishes no schema for it, so this
 * is Switchyard's own: the organization, the key, `credits` (the available balance in units of the
 * gateway currency) and the usage totals of today and this month.
 */
export async function userBody(sql: SqlExecutor, caller: Caller, deps: UsageQueryDeps): Promise<Record<string, unknown>> {
  const [periods, a, org, label] = await Promise.all([
    periodTotals(sql, caller, deps.now()),
    account(sql, caller.org),
    orgRecord(sql, caller.org),
    caller.keyId === undefined ? undefined : keyLabel(sql, caller.keyId),
  ]);
  const balance = balanceOf(a);
  return {
    object: 'user',
    id: caller.org,
    organization: { id: caller.org, ...org },
    key: caller.keyId === undefined ? null : { id: caller.keyId, name: label },
    currency: deps.currency,
    credits: units(balance.available_micros),
    balance,
    usage: { today: periods.org.today, this_month: periods.org.this_month, key: caller.keyId === undefined ? null : periods.key },
  };
}
