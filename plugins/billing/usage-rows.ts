/**
 * Rows of `billing_usage`: one per model request, made from its `RequestRecord`, written many at a
 * time with one `INSERT … SELECT FROM unnest(…)` (20 array parameters whatever the batch size), and
 * summed for the usage queries.
 */
import { newId } from '../../core/ids.js';
import type { RequestRecord } from '../../core/record.js';
import type { SqlExecutor } from '../../core/stores/sql.js';

/** The routes whose requests get a usage row: the model endpoints that name a model and generate (the other APIs' `/v1/messages` and `/v1/responses` included). */
export const RECORDED_ROUTES: ReadonlySet<string> = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/images/generations', '/v1/messages', '/v1/responses']);

export interface UsageRow {
  readonly rowId: string;
  /** Arrival time, epoch milliseconds. */
  readonly at: number;
  readonly requestId: string;
  readonly org: string | null;
  readonly keyId: string | null;
  readonly modelRequested: string | null;
  readonly modelServed: string | null;
  readonly provider: string | null;
  readonly attempts: number;
  readonly status: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly reasoningTokens: number;
  readonly estimated: boolean;
  /** Micro-units of the gateway currency; null when no price covered what was served. */
  readonly costMicros: bigint | null;
  readonly cache: string | null;
  readonly latencyMs: number;
  readonly ttftMs: number | null;
  readonly errorCode: string | null;
}

const SMALLINT_MAX = 32_767;
const INT_MAX = 2_147_483_647;
const int = (n: number | undefined, max = INT_MAX): number => Math.min(Math.max(Math.round(n ?? 0), 0), max);

export function usageRow(record: RequestRecord, costMicros: bigint | null): UsageRow {
  const usage = record.usage;
  return {
    rowId: newId(),
    at: record.time,
    requestId: record.id,
    org: record.org ?? null,
    keyId: record.keyId ?? null,
    modelRequested: record.modelRequested ?? null,
    modelServed: record.modelServed ?? null,
    provider: record.provider ?? null,
    attempts: int(record.attempts.length, SMALLINT_MAX),
    status: int(record.status, SMALLINT_MAX),
    promptTokens: int(usage?.prompt_tokens),
    completionTokens: int(usage?.completion_tokens),
    cachedTokens: int(usage?.cached_tokens),
    reasoningTokens: int(usage?.reasoning_tokens),
    estimated: usage?.estimated === true,
    costMicros,
    cache: record.cache ?? null,
    latencyMs: int(record.ms),
    ttftMs: record.ttftMs === undefined ? null : int(record.ttftMs),
    errorCode: record.errorCode ?? null,
  };
}

/**
 * One statement, so atomic on both drivers: the batch's rows, then the daily sums of the rows it
 * really inserted (`RETURNING` skips a row already there), upserted in key order (replicas lock
 * the same sums in the same order).
 */
const INSERT = `WITH inserted AS (
INSERT INTO billing_usage (row_id, at, request_id, org_id, key_id, model_requested, model_served, provider,
  attempts, status, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, estimated, cost_micros, cache,
  latency_ms, ttft_ms, error_code)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
  $9::smallint[], $10::smallint[], $11::integer[], $12::integer[], $13::integer[], $14::integer[], $15::boolean[], $16::bigint[], $17::text[],
  $18::integer[], $19::integer[], $20::text[])
ON CONFLICT (row_id, at) DO NOTHING
RETURNING at, org_id, key_id, model_requested, model_served, status, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_micros)
INSERT INTO billing_usage_daily AS d (day, org_id, key_id, model, requests, errors, prompt_tokens, completion_tokens, cached_tokens,
  reasoning_tokens, cost_micros, unpriced_requests)
SELECT (at AT TIME ZONE 'UTC')::date, coalesce(org_id, ''), coalesce(key_id, ''), coalesce(model_served, model_requested, ''),
  count(*), count(*) FILTER (WHERE status >= 400), sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(reasoning_tokens),
  coalesce(sum(cost_micros), 0), count(*) FILTER (WHERE cost_micros IS NULL)
FROM inserted GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT (day, org_id, key_id, model) DO UPDATE SET
  requests = d.requests + excluded.requests, errors = d.errors + excluded.errors,
  prompt_tokens = d.prompt_tokens + excluded.prompt_tokens, completion_tokens = d.completion_tokens + excluded.completion_tokens,
  cached_tokens = d.cached_tokens + excluded.cached_tokens, reasoning_tokens = d.reasoning_tokens + excluded.reasoning_tokens,
  cost_micros = d.cost_micros + excluded.cost_micros, unpriced_requests = d.unpriced_requests + excluded.unpriced_requests`;

/** A row as a line of the spill file (JSON has no bigint: the cost travels as a string). */
export function encodeUsageRow(row: UsageRow): unknown {
  return { ...row, costMicros: row.costMicros === null ? null : row.costMicros.toString() };
}

export function decodeUsageRow(value: unknown): UsageRow {
  const v = value as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || typeof v['rowId'] !== 'string' || typeof v['at'] !== 'number' || typeof v['requestId'] !== 'string') throw new TypeError('not a usage row');
  return { ...(v as unknown as UsageRow), costMicros: typeof v['costMicros'] === 'string' ? BigInt(v['costMicros']) : null };
}

/** Writes `rows` and their daily sums in one statement; a batch written twice (a lost acknowledgement, retried) adds nothing. */
export async function insertUsageRows(sql: SqlExecutor, rows: readonly UsageRow[]): Promise<void> {
  const column = <T>(pick: (row: UsageRow) => T): T[] => rows.map(pick);
  await sql.query(INSERT, [
    column((r) => r.rowId),
    column((r) => new Date(r.at).toISOString()),
    column((r) => r.requestId),
    column((r) => r.org),
    column((r) => r.keyId),
    column((r) => r.modelRequested),
    column((r) => r.modelServed),
    column((r) => r.provider),
    column((r) => r.attempts),
    column((r) => r.status),
    column((r) => r.promptTokens),
    column((r) => r.completionTokens),
    column((r) => r.cachedTokens),
    column((r) => r.reasoningTokens),
    column((r) => r.estimated),
    // bigint travels as text: neither driver takes a JS bigint inside an array.
    column((r) => (r.costMicros === null ? null : r.costMicros.toString())),
    column((r) => r.cache),
    column((r) => r.latencyMs),
    column((r) => r.ttftMs),
    column((r) => r.errorCode),
  ]);
}

export type GroupBy = 'day' | 'model' | 'key';

export interface UsageFilter {
  org?: string;
  keyId?: string;
  /** Inclusive, epoch ms. */
  start: number;
  /** Exclusive, epoch ms. */
  end: number;
}

/** Sums over a set of rows. */
export interface UsageTotals {
  requests: number;
  /** Requests answered with status ≥ 400 (499: the client left). */
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  /** Sum of the known costs, micro-units of the gateway currency. */
  cost_micros: number;
  /** Requests that were served but had no price (their cost is not in `cost_micros`). */
  unpriced_requests: number;
}

const GROUP_COLUMN: Record<GroupBy, string> = {
  day: `to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`,
  model: 'coalesce(model_served, model_requested)',
  key: 'key_id',
};

export const SUMS = `count(*) AS requests,
  count(*) FILTER (WHERE status >= 400) AS errors,
  coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
  coalesce(sum(completion_tokens), 0) AS completion_tokens,
  coalesce(sum(cached_tokens), 0) AS cached_tokens,
  coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens,
  coalesce(sum(cost_micros), 0) AS cost_micros,
  count(*) FILTER (WHERE cost_micros IS NULL) AS unpriced_requests`;

export type SumRow = Record<keyof UsageTotals, string | number> & { bucket?: string | null };

export function totalsOf(row: SumRow): UsageTotals {
  // Counts and sums come back as strings (bigint / numeric); a bucket's sum stays exact below 2^53.
  const n = (k: keyof UsageTotals) => Number(row[k]);
  return {
    requests: n('requests'),
    errors: n('errors'),
    prompt_tokens: n('prompt_tokens'),
    completion_tokens: n('completion_tokens'),
    cached_tokens: n('cached_tokens'),
    reasoning_tokens: n('reasoning_tokens'),
    cost_micros: n('cost_micros'),
    unpriced_requests: n('unpriced_requests'),
  };
}

/** Totals over `filter`, and the same sums per `groupBy` bucket (ordered by bucket). */
export async function summarizeUsage(sql: SqlExecutor, filter: UsageFilter, groupBy: GroupBy): Promise<{ totals: UsageTotals; groups: (UsageTotals & { bucket: string | null })[] }> {
  const params: unknown[] = [new Date(filter.start).toISOString(), new Date(filter.end).toISOString()];
  let where = 'at >= $1 AND at < $2';
  if (filter.org !== undefined) where += ` AND org_id = $${params.push(filter.org)}`;
  if (filter.keyId !== undefined) where += ` AND key_id = $${params.push(filter.keyId)}`;
  const bucket = GROUP_COLUMN[groupBy];
  const [totals, groups] = await Promise.all([
    sql.query<SumRow>(`SELECT ${SUMS} FROM billing_usage WHERE ${where}`, params),
    sql.query<SumRow>(`SELECT ${bucket} AS bucket, ${SUMS} FROM billing_usage WHERE ${where} GROUP BY 1 ORDER BY 1 NULLS LAST`, params),
  ]);
  return { totals: totalsOf(totals.rows[0]!), groups: groups.rows.map((row) => ({ bucket: row.bucket ?? null, ...totalsOf(row) })) };
}

const DAY_MS = 86_400_000;

/** Whether `filter` covers whole UTC days, so that the daily sums answer it (summarizeDaily). */
export function wholeDays(filter: UsageFilter): boolean {
  return filter.start % DAY_MS === 0 && filter.end % DAY_MS === 0 && filter.start < filter.end;
}

const DAILY_GROUP_COLUMN: Record<GroupBy, string> = {
  day: `to_char(day, 'YYYY-MM-DD')`,
  model: `nullif(model, '')`,
  key: `nullif(key_id, '')`,
};

const DAILY_SUMS = `coalesce(sum(requests), 0) AS requests,
  coalesce(sum(errors), 0) AS errors,
  coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
  coalesce(sum(completion_tokens), 0) AS completion_tokens,
  coalesce(sum(cached_tokens), 0) AS cached_tokens,
  coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens,
  coalesce(sum(cost_micros), 0) AS cost_micros,
  coalesce(sum(unpriced_requests), 0) AS unpriced_requests`;

/**
 * `summarizeUsage` for whole UTC days (wholeDays()), from `billing_usage_daily`: one row per day,
 * organization, key and model instead of one per request, and still there after the raw rows'
 * retention has dropped them. Same answer as `summarizeUsage` over the same rows.
 */
export async function summarizeDaily(sql: SqlExecutor, filter: UsageFilter, groupBy: GroupBy): Promise<{ totals: UsageTotals; groups: (UsageTotals & { bucket: string | null })[] }> {
  const params: unknown[] = [new Date(filter.start).toISOString().slice(0, 10), new Date(filter.end).toISOString().slice(0, 10)];
  let where = 'day >= $1::date AND day < $2::date';
  if (filter.org !== undefined) where += ` AND org_id = $${params.push(filter.org)}`;
  if (filter.keyId !== undefined) where += ` AND key_id = $${params.push(filter.keyId)}`;
  const bucket = DAILY_GROUP_COLUMN[groupBy];
  const [totals, groups] = await Promise.all([
    sql.query<SumRow>(`SELECT ${DAILY_SUMS} FROM billing_usage_daily WHERE ${where}`, params),
    sql.query<SumRow>(`SELECT ${bucket} AS bucket, ${DAILY_SUMS} FROM billing_usage_daily WHERE ${where} GROUP BY 1 ORDER BY 1 NULLS LAST`, params),
  ]);
  return { totals: totalsOf(totals.rows[0]!), groups: groups.rows.map((row) => ({ bucket: row.bucket ?? null, ...totalsOf(row) })) };
}
