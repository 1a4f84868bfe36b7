/**
 * What a caller may ask about its own spending — billing's client endpoints (`USAGE_ENDPOINTS`),
 * answered in billing's `handle` after `auth` named the caller. Every answer is about the caller's
 * organization (and key) only: another organization's data is never read, and a request id of
 * another organization is a 404 like an unknown one.
 *
 * - `GET /v1/usage` — the key's and the organization's usage today and this month (UTC), a range
 *   on request (`start`, `end`, `group_by=day|model`), the balance and every budget with a limit.
 * - `GET /v1/key` — OpenRouter's key info (`/api/v1/key`), amounts in units of the gateway currency.
 * - `GET /v1/generation?id=` — OpenRouter's per-request stats (`/api/v1/generation`), from the usage row.
 * - `GET /v1/user` — the caller's account, IndoxRouter-style (`/api/v1/user`).
 * - `GET /v1/organization/usage/completions`, `GET /v1/organization/costs` — OpenAI's usage API
 *   (queries-openai.ts): the caller's key acts as an admin key for its own organization.
 *
 * Usage rows reach SQL through the batching queue, so the last second or so of requests may not
 * be counted yet; balances and budget spend are read live.
 */
import type { GatewayConfig } from '../../core/config/types.js';
import type { Context } from '../../core/context.js';
import { errors, GatewayError, UNAUTHORIZED } from '../../core/errors.js';
import type { PluginEndpoint } from '../../core/plugin.js';
import { generationBody, keyBody, userBody } from './queries-compat.js';
import { openAiUsagePage, parseOpenAiUsageQuery } from './queries-openai.js';
import { usageBody, type Caller, type UsageQueryDeps } from './queries-usage.js';

export type { UsageQueryDeps };

/** The client endpoints billing serves (also under `/api/v1/...`). */
export const USAGE_ENDPOINTS: readonly PluginEndpoint[] = [
  { method: 'GET', path: '/v1/usage', name: 'usage' },
  { method: 'GET', path: '/v1/key', name: 'key' },
  { method: 'GET', path: '/v1/generation', name: 'generation' },
  { method: 'GET', path: '/v1/user', name: 'user' },
  { method: 'GET', path: '/v1/organization/usage/completions', name: 'organization.usage.completions' },
  { method: 'GET', path: '/v1/organization/costs', name: 'organization.costs' },
];

/** The requests per minute of the pipeline's `rate-limit` entry `per: key` (what `GET /v1/key` shows as `rate_limit`). */
export function keyRpmOf(config: GatewayConfig): number | undefined {
  for (const entry of config.pipeline) {
    if (typeof entry !== 'object' || entry === null || !('rate-limit' in entry)) continue;
    const limits = (entry['rate-limit'] as { limits?: { per?: unknown; rpm?: unknown }[] } | null)?.limits ?? [];
    const perKey = limits.find((l) => l.per === 'key' && typeof l.rpm === 'number');
    if (perKey) return perKey.rpm as number;
  }
  return undefined;
}

/** The organization and key `auth` named; a 401 when nothing named one. */
function callerOf(ctx: Context): Caller {
  const org = ctx.auth?.orgId ?? ctx.report.org;
  if (org === undefined) {
    throw new GatewayError(401, 'authentication_error', 'missing_identity', `${ctx.path} answers with the caller's own usage, and this request names no organization: send an API key (\`auth\` must come before \`billing\` in the pipeline).`, null, UNAUTHORIZED);
  }
  return { org, keyId: ctx.auth?.keyId ?? ctx.report.keyId, limits: (ctx.auth?.limits ?? {}) as Caller['limits'] };
}

/** Answers one of `USAGE_ENDPOINTS` (sets `ctx.response`). */
export async function answerUsageQuery(ctx: Context, deps: UsageQueryDeps): Promise<void> {
  const caller = callerOf(ctx);
  const query = new URLSearchParams(ctx.search);
  const sql = await deps.sql();
  let body: Record<string, unknown>;
  switch (ctx.pluginRoute?.name) {
    case 'usage':
      body = await usageBody(sql, caller, query, deps);
      break;
    case 'key':
      body = await keyBody(sql, caller, deps);
      break;
    case 'generation':
      body = await generationBody(sql, caller, query, deps);
      break;
    case 'user':
      body = await userBody(sql, caller, deps);
      break;
    case 'organization.usage.completions':
      body = await openAiUsagePage(sql, parseOpenAiUsageQuery('completions', query, deps.now()), caller.org, deps.currency);
      break;
    case 'organization.costs':
      body = await openAiUsagePage(sql, parseOpenAiUsageQuery('costs', query, deps.now()), caller.org, deps.currency);
      break;
    default:
      throw errors.notFound('unknown_url', `Unknown request URL: ${ctx.method} ${ctx.path}.`);
  }
  ctx.response = { status: 200, headers: { 'cache-control': 'no-store' }, body };
}

