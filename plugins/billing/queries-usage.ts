/**
 * `GET /v1/usage` and the sums the other caller endpoints share: the caller's organization's and
 * key's usage today and this month (UTC), its balance and its budgets (see queries.ts).
 */
import { errors } from '../../core/errors.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import { account, periodsOf, spendOf, type Account } from './credits.js';
import { SUMS, summarizeUsage, totalsOf, type SumRow, type UsageTotals } from './usage-rows.js';

/** What the answers need from billing's config version. */
export interface UsageQueryDeps {
  sql(): Promise<SqlExecutor>;
  currency: string;
  /** The budget clock (billing's process state; tests set it). */
  now(): number;
  /** Whether this version enforces budgets (`budgets.enabled`), and credits (`credits.enabled`). */
  budgets: boolean;
  credits: boolean;
  /** The pipeline's `rate-limit` per-key rpm, when it has one (a key's own `rpm` replaces it). */
  keyRpm: number | undefined;
}

/** Who asks: the organization and key `auth` named. */
export interface Caller {
  org: string;
  keyId: string | undefined;
  limits: { daily_budget_micros?: number; monthly_budget_micros?: number; rpm?: number };
}

const DAY_MS = 86_400_000;
const DEFAULT_RANGE_DAYS = 30;
const RANGE_GROUPS = ['day', 'model'] as const;
type RangeGroup = (typeof RANGE_GROUPS)[number];

/** Start of the UTC day, ISO week (Monday) and month of `ms`. */
export function periodStarts(ms: number): { day: number; week: number; month: number } {
  const d = new Date(ms);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return { day, week: day - ((d.getUTCDay() + 6) % 7) * DAY_MS, month: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) };
}

const ZERO: UsageTotals = { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, cost_micros: 0, unpriced_requests: 0 };

function add(a: UsageTotals, b: UsageTotals): UsageTotals {
  const sum = { ...a };
  for (const k of Object.keys(sum) as (keyof UsageTotals)[]) sum[k] += b[k];
  return sum;
}

/** The organization's and the key's totals today and this month (UTC), in one query. */
export async function periodTotals(sql: SqlExecutor, caller: Caller, now: number): Promise<{ org: { today: UsageTotals; this_month: UsageTotals }; key: { today: UsageTotals; this_month: UsageTotals } }> {
  const { day, month } = periodStarts(now);
  const { rows } = await sql.query<SumRow & { own_key: boolean | null; today: boolean }>(
    `SELECT key_id IS NOT DISTINCT FROM $4 AS own_key, at >= $2 AS today, ${SUMS}
     FROM billing_usage WHERE org_id = $1 AND at >= $3 GROUP BY 1, 2`,
    [caller.org, new Date(day).toISOString(), new Date(month).toISOString(), caller.keyId ?? null],
  );
  const out = { org: { today: ZERO, this_month: ZERO }, key: { today: ZERO, this_month: ZERO } };
  for (const row of rows) {
    const t = totalsOf(row);
    out.org.this_month = add(out.org.this_month, t);
    if (row.today) out.org.today = add(out.org.today, t);
    if (row.own_key === true && caller.keyId !== undefined) {
      out.key.this_month = add(out.key.this_month, t);
      if (row.today) out.key.today = add(out.key.today, t);
    }
  }
  return out;
}

/** An ISO date (`2026-12-01`, midnight UTC) or date-time; undefined when absent. */
export function timeParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw errors.badRequest('invalid_time', `${name} must be an ISO date (2026-12-01) or date-time, not '${text.slice(0, 40)}'.`, name);
  return ms;
}

export function balanceOf(a: Account | undefined): { balance_micros: string; reserved_micros: string; available_micros: string } {
  const balance = BigInt(a?.balance_micros ?? 0);
  const reserved = BigInt(a?.reserved_micros ?? 0);
  return { balance_micros: balance.toString(), reserved_micros: reserved.toString(), available_micros: (balance - reserved).toString() };
}

interface BudgetState {
  scope: 'org' | 'key';
  period: 'day' | 'month';
  limit_micros: string;
  spent_micros: string;
  reserved_micros: string;
  remaining_micros: string;
  enforced: boolean;
}

/** Every budget with a limit on the caller's organization and key, with what is left of it. */
async function budgetsOf(sql: SqlExecutor, caller: Caller, a: Account | undefined, deps: UsageQueryDeps): Promise<BudgetState[]> {
  const { day, month } = periodsOf(deps.now());
  const limits: { scope: 'org' | 'key'; period: 'day' | 'month'; limit: string | number | null | undefined }[] = [
    { scope: 'org', period: 'day', limit: a?.daily_budget_micros },
    { scope: 'org', period: 'month', limit: a?.monthly_budget_micros },
    { scope: 'key', period: 'day', limit: caller.keyId === undefined ? undefined : caller.limits.daily_budget_micros },
    { scope: 'key', period: 'month', limit: caller.keyId === undefined ? undefined : caller.limits.monthly_budget_micros },
  ];
  const set = limits.filter((l) => l.limit !== null && l.limit !== undefined);
  if (set.length === 0) return [];
  const org = set.some((l) => l.scope === 'org') ? await spendOf(sql, 'org', caller.org, day, month) : undefined;
  const key = set.some((l) => l.scope === 'key') ? await spendOf(sql, 'key', caller.keyId!, day, month) : undefined;
  return set.map((l) => {
    const spend = (l.scope === 'org' ? org! : key!)[l.period];
    const limit = BigInt(l.limit!);
    const left = limit - BigInt(spend.spent) - BigInt(spend.reserved);
    return {
      scope: l.scope,
      period: l.period,
      limit_micros: limit.toString(),
      spent_micros: spend.spent,
      reserved_micros: spend.reserved,
      remaining_micros: (left > 0n ? left : 0n).toString(),
      enforced: deps.budgets,
    };
  });
}

/** `GET /v1/usage`. */
export async function usageBody(sql: SqlExecutor, caller: Caller, query: URLSearchParams, deps: UsageQueryDeps): Promise<Record<string, unknown>> {
  const now = deps.now();
  const [periods, a] = await Promise.all([periodTotals(sql, caller, now), account(sql, caller.org)]);
  const body: Record<string, unknown> = {
    object: 'usage',
    currency: deps.currency,
    org_id: caller.org,
    key_id: caller.keyId ?? null,
    organization: periods.org,
    key: caller.keyId === undefined ? null : periods.key,
    balance: { ...balanceOf(a), enforced: deps.credits },
    budgets: await budgetsOf(sql, caller, a, deps),
  };
  if (query.has('start') || query.has('end') || query.has('group_by')) {
    const groupBy = (query.get('group_by') || 'day') as RangeGroup;
    if (!RANGE_GROUPS.includes(groupBy)) throw errors.badRequest('invalid_group_by', `group_by must be one of ${RANGE_GROUPS.join(', ')}.`, 'group_by');
    const end = timeParam(query, 'end') ?? now;
    const start = timeParam(query, 'start') ?? end - DEFAULT_RANGE_DAYS * DAY_MS;
    if (start >= end) throw errors.badRequest('invalid_time', 'start must be before end.', 'start');
    const shape = ({ totals, groups }: Awaited<ReturnType<typeof summarizeUsage>>) => ({ totals, data: groups.map(({ bucket, ...sums }) => ({ [groupBy]: bucket, ...sums })) });
    const [org, key] = await Promise.all([
      summarizeUsage(sql, { org: caller.org, start, end }, groupBy),
      caller.keyId === undefined ? undefined : summarizeUsage(sql, { org: caller.org, keyId: caller.keyId, start, end }, groupBy),
    ]);
    body['range'] = { start: new Date(start).toISOString(), end: new Date(end).toISOString(), group_by: groupBy, organization: shape(org), key: key ? shape(key) : null };
  }
  return body;
}

