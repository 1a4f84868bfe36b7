/**
 * OpenAI's usage API shapes over `billing_usage`, for tools that already read them
 * (https://platform.openai.com/docs/api-reference/usage): `GET /v1/organization/usage/completions`
 * and `GET /v1/organization/costs` — time buckets (`start_time` / `end_time` in unix seconds,
 * `bucket_width` `1d`, `1h` or `1m` for completions, `1d` for costs), each with one result per
 * `group_by` group, `limit` buckets a page and a `page` cursor.
 *
 * Served to callers as plugin endpoints (their own organization only) and to admins for any
 * organization (`/admin/usage/openai/*`). Differences from OpenAI, said in the README: every model
 * request counts (chat, completions, embeddings, images: the rows do not tell them apart), failed
 * ones included, so the buckets add up to `GET /admin/usage`'s totals; costs are in the gateway
 * currency (`amount.currency`, lower case like OpenAI's `usd`); `line_item` is the model.
 */
import type { AdminRoute, AdminServices } from '../../core/admin/contract.js';
import { errors } from '../../core/errors.js';
import { resolveOrg } from './credits-admin.js';
import type { SqlExecutor } from '../../core/stores/sql.js';

export type OpenAiUsageKind = 'completions' | 'costs';
type Group = 'model' | 'api_key_id';

const WIDTHS: Record<OpenAiUsageKind, Record<string, { seconds: number; defaultLimit: number; maxLimit: number }>> = {
  completions: {
    '1d': { seconds: 86_400, defaultLimit: 7, maxLimit: 31 },
    '1h': { seconds: 3_600, defaultLimit: 24, maxLimit: 168 },
    '1m': { seconds: 60, defaultLimit: 60, maxLimit: 1440 },
  },
  costs: { '1d': { seconds: 86_400, defaultLimit: 7, maxLimit: 180 } },
};

/** `group_by` values by kind; `line_item` (OpenAI's costs grouping) is the model here. */
const GROUPS: Record<OpenAiUsageKind, Record<string, Group>> = {
  completions: { model: 'model', api_key_id: 'api_key_id' },
  costs: { line_item: 'model', model: 'model', api_key_id: 'api_key_id' },
};

/** One page's question, parsed from the query string. */
export interface OpenAiUsageQuery {
  kind: OpenAiUsageKind;
  /** Unix seconds: the first bucket of this page starts here. */
  pageStart: number;
  /** Unix seconds, exclusive: where the whole range ends. */
  end: number;
  /** The range's start, which buckets are aligned to. */
  start: number;
  width: number;
  limit: number;
  groups: Group[];
  models: string[];
  apiKeyIds: string[];
}

/** `name=a&name=b`, `name[]=a` and `name=a,b` alike. */
function listParam(query: URLSearchParams, name: string): string[] {
  return [...query.getAll(name), ...query.getAll(`${name}[]`)].flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function unixParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  if (!/^\d{1,12}$/.test(text)) throw errors.badRequest('invalid_time', `${name} must be a unix time in seconds, not '${text.slice(0, 40)}'.`, name);
  return Number(text);
}

/** Parses and checks the query string of a usage or costs call; `nowMs` is the default end. */
export function parseOpenAiUsageQuery(kind: OpenAiUsageKind, query: URLSearchParams, nowMs: number): OpenAiUsageQuery {
  const start = unixParam(query, 'start_time');
  if (start === undefined) throw errors.badRequest('missing_required_parameter', "Missing required parameter: 'start_time' (unix seconds).", 'start_time');
  const end = unixParam(query, 'end_time') ?? Math.ceil(nowMs / 1000);
  if (end <= start) throw errors.badRequest('invalid_time', 'end_time must be after start_time.', 'end_time');
  const widthName = query.get('bucket_width') || '1d';
  const width = WIDTHS[kind][widthName];
  if (!width) throw errors.badRequest('invalid_bucket_width', `bucket_width must be one of ${Object.keys(WIDTHS[kind]).join(', ')}.`, 'bucket_width');
  const limitText = query.get('limit');
  const limit = limitText === null || limitText === '' ? width.defaultLimit : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > width.maxLimit) throw errors.badRequest('invalid_limit', `limit must be a whole number from 1 to ${width.maxLimit} for bucket_width ${widthName}.`, 'limit');
  const groups: Group[] = [];
  for (const name of listParam(query, 'group_by')) {
    const group = GROUPS[kind][name];
    if (!group) throw errors.badRequest('invalid_group_by', `group_by may be ${Object.keys(GROUPS[kind]).join(', ')} here (the gateway has no projects, users or batches).`, 'group_by');
    if (!groups.includes(group)) groups.push(group);
  }
  let pageStart = start;
  const page = query.get('page');
  if (page !== null && page !== '') {
    const at = /^[A-Za-z0-9_-]{1,40}$/.test(page) ? Number(Buffer.from(page, 'base64url').toString('latin1').replace(/^b:/, '')) : NaN;
    if (!Number.isInteger(at) || at < start || at >= end || (at - start) % width.seconds !== 0) throw errors.badRequest('invalid_page', 'page must be a next_page value of this same query.', 'page');
    pageStart = at;
  }
  return { kind, start, end, pageStart, width: width.seconds, limit, groups, models: listParam(query, 'models'), apiKeyIds: listParam(query, 'api_key_ids') };
}

interface BucketRow {
  bucket: number | string;
  model?: string | null;
  api_key_id?: string | null;
  requests: string | number;
  input_tokens: string | number;
  output_tokens: string | number;
  cached_tokens: string | number;
  cost_micros: string | number;
}

const pageToken = (at: number): string => Buffer.from(`b:${at}`, 'latin1').toString('base64url');

/**
 * One page of buckets for `org` (every organization when undefined). Buckets with no requests are
 * listed with empty `results`, as OpenAI does.
 */
export async function openAiUsagePage(sql: SqlExecutor, q: OpenAiUsageQuery, org: string | undefined, currency: string): Promise<Record<string, unknown>> {
  const pageEnd = Math.min(q.pageStart + q.limit * q.width, q.end);
  const params: unknown[] = [String(q.start), String(q.width), new Date(q.pageStart * 1000).toISOString(), new Date(pageEnd * 1000).toISOString()];
  let where = 'at >= $3 AND at < $4';
  if (org !== undefined) where += ` AND org_id = $${params.push(org)}`;
  if (q.models.length > 0) where += ` AND coalesce(model_served, model_requested) = ANY($${params.push(q.models)}::text[])`;
  if (q.apiKeyIds.length > 0) where += ` AND key_id = ANY($${params.push(q.apiKeyIds)}::text[])`;
  const columns = q.groups.map((g) => (g === 'model' ? ', coalesce(model_served, model_requested) AS model' : ', key_id AS api_key_id')).join('');
  const groupBy = q.groups.map((_, i) => `, ${i + 2}`).join('');
  const { rows } = await sql.query<BucketRow>(
    `SELECT floor((extract(epoch FROM at) - $1::numeric) / $2::numeric)::integer AS bucket${columns},
       count(*) AS requests, coalesce(sum(prompt_tokens), 0) AS input_tokens, coalesce(sum(completion_tokens), 0) AS output_tokens,
       coalesce(sum(cached_tokens), 0) AS cached_tokens, coalesce(sum(cost_micros), 0) AS cost_micros
     FROM billing_usage WHERE ${where} GROUP BY 1${groupBy} ORDER BY 1${groupBy} NULLS LAST`,
    params,
  );
  const byBucket = new Map<number, BucketRow[]>();
  for (const row of rows) {
    const index = Number(row.bucket);
    const list = byBucket.get(index);
    if (list) list.push(row);
    else byBucket.set(index, [row]);
  }
  const data: Record<string, unknown>[] = [];
  for (let at = q.pageStart; at < pageEnd; at += q.width) {
    const index = (at - q.start) / q.width;
    const results = (byBucket.get(index) ?? []).map((row) => (q.kind === 'completions' ? completionsResult(row, q.groups) : costsResult(row, q.groups, currency)));
    data.push({ object: 'bucket', start_time: at, end_time: Math.min(at + q.width, q.end), results });
  }
  const more = pageEnd < q.end;
  return { object: 'page', data, has_more: more, next_page: more ? pageToken(pageEnd) : null };
}

function completionsResult(row: BucketRow, groups: readonly Group[]): Record<string, unknown> {
  return {
    object: 'organization.usage.completions.result',
    input_tokens: Number(row.input_tokens),
    output_tokens: Number(row.output_tokens),
    input_cached_tokens: Number(row.cached_tokens),
    input_audio_tokens: 0,
    output_audio_tokens: 0,
    num_model_requests: Number(row.requests),
    project_id: null,
    user_id: null,
    api_key_id: groups.includes('api_key_id') ? (row.api_key_id ?? null) : null,
    model: groups.includes('model') ? (row.model ?? null) : null,
    batch: null,
  };
}

function costsResult(row: BucketRow, groups: readonly Group[], currency: string): Record<string, unknown> {
  return {
    object: 'organization.costs.result',
    amount: { value: Number(row.cost_micros) / 1_000_000, currency: currency.toLowerCase() },
    line_item: groups.includes('model') ? (row.model ?? null) : null,
    project_id: null,
    ...(groups.includes('api_key_id') && { api_key_id: row.api_key_id ?? null }),
  };
}

const resultSchemas: Record<OpenAiUsageKind, object> = {
  completions: {
    type: 'object',
    required: ['object', 'input_tokens', 'output_tokens', 'num_model_requests'],
    properties: {
      object: { const: 'organization.usage.completions.result' },
      input_tokens: { type: 'integer' },
      output_tokens: { type: 'integer' },
      input_cached_tokens: { type: 'integer' },
      num_model_requests: { type: 'integer' },
      api_key_id: { type: ['string', 'null'] },
      model: { type: ['string', 'null'] },
    },
  },
  costs: {
    type: 'object',
    required: ['object', 'amount'],
    properties: {
      object: { const: 'organization.costs.result' },
      amount: { type: 'object', properties: { value: { type: 'number' }, currency: { type: 'string' } } },
      line_item: { type: ['string', 'null'], description: 'The model, with `group_by=line_item` (or `model`).' },
      api_key_id: { type: ['string', 'null'] },
    },
  },
};

const pageSchema = (kind: OpenAiUsageKind) => ({
  type: 'object',
  required: ['object', 'data', 'has_more', 'next_page'],
  properties: {
    object: { const: 'page' },
    data: {
      type: 'array',
      items: {
        type: 'object',
        required: ['object', 'start_time', 'end_time', 'results'],
        properties: { object: { const: 'bucket' }, start_time: { type: 'integer' }, end_time: { type: 'integer' }, results: { type: 'array', items: resultSchemas[kind] } },
      },
    },
    has_more: { type: 'boolean' },
    next_page: { type: ['string', 'null'] },
  },
});

/** `/admin/usage/openai/completions` and `/admin/usage/openai/costs`: the same pages for any organization (`org`), or all. */
export function openAiUsageAdminRoutes(services: AdminServices, currency: () => string): AdminRoute[] {
  const route = (kind: OpenAiUsageKind): AdminRoute => ({
    method: 'GET',
    path: `/admin/usage/openai/${kind}`,
    tag: 'usage',
    summary: `OpenAI's ${kind === 'completions' ? 'completions usage' : 'costs'} API shape (buckets) for any organization, or every one.`,
    queryParams: [
      { name: 'org', description: 'Organization id or slug; default every organization.', schema: { type: 'string' } },
      { name: 'start_time', description: 'Unix seconds, inclusive (required).', schema: { type: 'integer' } },
      { name: 'end_time', description: 'Unix seconds, exclusive; default now.', schema: { type: 'integer' } },
      { name: 'bucket_width', description: kind === 'completions' ? '`1d` (default), `1h` or `1m`.' : '`1d`.', schema: { type: 'string' } },
      { name: 'group_by', description: kind === 'completions' ? '`model` and/or `api_key_id`.' : '`line_item` (the model) and/or `api_key_id`.', schema: { type: 'string' } },
      { name: 'limit', description: 'Buckets per page.', schema: { type: 'integer' } },
      { name: 'page', description: '`next_page` of the previous page.', schema: { type: 'string' } },
    ],
    responseSchema: pageSchema(kind),
    async handle(req) {
      const q = parseOpenAiUsageQuery(kind, req.query, Date.now());
      const sql = await services.sql();
      const given = req.query.get('org') || undefined;
      const org = given === undefined ? undefined : await resolveOrg(sql, given);
      return { status: 200, body: await openAiUsagePage(sql, q, org, currency()) };
    },
  });
  return [route('completions'), route('costs')];
}
