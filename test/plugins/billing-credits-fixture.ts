/**
 * Shared by the credits tests (PGlite in test/plugins, PostgreSQL in test/services): a loopback
 * upstream whose answers cost exactly their reservation, the gateway config, and the helpers that
 * top up, send and read the books.
 */
import type { ServerResponse } from 'node:http';
import { chatCompletion, chunk, sendError, sse, startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';
import type { SqlExecutor } from '../../core/stores/sql.js';

export const ADMIN_KEY = 'billing-credits-admin-secret';
/** Static keys: `sk-credits-<org>` for organization `<org>`. */
export const keyOf = (org: string) => `sk-credits-${org}-0123456789abcdef`;

/**
 * $1 / $2 per 1M tokens = 1 / 2 micro-USD per token. A request of PROMPT (10 characters: a bound
 * of 10 tokens) with max_tokens 20 reserves 10 + 40 = 50; the upstream reports 10 + 20 tokens, so
 * it costs exactly 50 too.
 */
export const PROMPT = '0123456789';
export const COST = 50;
export const USAGE = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };

export interface Upstream extends MockOpenAI {
  /** Responses held open (the `hang` model, aborted streams), ended at close. */
  held: Set<ServerResponse>;
}

/**
 * Upstream models: `ok` answers (or streams, with usage when asked); `bad` is a 400; `broken` a
 * 500; `hang` never answers; `trickle` sends one chunk and then waits for the client to leave.
 */
export async function startUpstream(): Promise<Upstream> {
  const mock = (await startMockOpenAI()) as Upstream;
  mock.held = new Set();
  const close = mock.close.bind(mock);
  mock.close = async () => {
    for (const res of mock.held) res.destroy();
    await close();
  };
  mock.on('/v1/chat/completions', (req, res, body) => {
    const model = String(body?.['model']);
    if (model === 'bad') return sendError(res, 400, 'bad request upstream');
    if (model === 'broken') return sendError(res, 500, 'upstream broke', 'server_error');
    if (model === 'hang') {
      mock.held.add(res);
      res.on('close', () => mock.held.delete(res));
      return;
    }
    if (body?.['stream'] !== true) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(model, 'hello', USAGE)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(model, { role: 'assistant', content: 'hel' }));
    if (model === 'trickle') {
      mock.held.add(res);
      req.on('close', () => mock.held.delete(res));
      return;
    }
    sse(res, chunk(model, { content: 'lo' }, 'stop'));
    if ((body['stream_options'] as { include_usage?: boolean } | undefined)?.include_usage) sse(res, { ...chunk(model, {}), choices: [], usage: USAGE });
    sse(res, '[DONE]');
    res.end();
  });
  return mock;
}

export function creditsConfig(upstreamBase: string, sql: string, orgs: readonly string[], extra: { billing?: string; cache?: boolean } = {}): string {
  return `version: 1
stores: { kv: memory, sql: ${sql} }
providers:
  up: { adapter: openai, base_url: "${upstreamBase}", api_key: sk-upstream }
  slow: { adapter: openai, base_url: "${upstreamBase}", api_key: sk-upstream, timeouts: { first_byte: 300ms } }
  local: { adapter: openai, base_url: "${upstreamBase}", api_key: sk-upstream }
models:
  ok: { targets: [{ provider: up }] }
  bad: { targets: [{ provider: up }] }
  broken: { targets: [{ provider: up }] }
  hang: { targets: [{ provider: slow }] }
  trickle: { targets: [{ provider: up }] }
  unpriced: { targets: [{ provider: up, model: unpriced }] }
  free: { targets: [{ provider: local, model: ok }] }
pipeline:
  - auth:
      keys: [static, sql]
      static:
${orgs.map((org) => `        - { name: key-${org}, key: "${keyOf(org)}", org: ${org}, scopes: [read, write] }`).join('\n')}
  - billing:
      providers: { local: { free: true } }
      models:
        up/ok: { input_per_1m: 1, output_per_1m: 2 }
        up/bad: { input_per_1m: 1, output_per_1m: 2 }
        up/broken: { input_per_1m: 1, output_per_1m: 2 }
        slow/hang: { input_per_1m: 1, output_per_1m: 2 }
        up/trickle: { input_per_1m: 1, output_per_1m: 2 }
      records: { flush_interval: 20ms }
      credits: { enabled: true }
${extra.billing ?? ''}
${extra.cache ? '  - cache: { ttl: 10m }\n' : ''}  - route: { breaker: { enabled: false } }
`;
}

export function chat(url: string, org: string, body: Record<string, unknown> = {}, init: RequestInit = {}): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${keyOf(org)}` },
    body: JSON.stringify({ model: 'ok', max_tokens: 20, messages: [{ role: 'user', content: PROMPT }], ...body }),
    ...init,
  });
}

export async function admin(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export function topUp(url: string, org: string, amount: number, key = `top-up-${org}-${amount}`): Promise<{ status: number; body: Record<string, unknown> }> {
  return admin(url, 'POST', `/admin/credits/${org}/top-ups`, { amount_micros: amount, idempotency_key: key });
}

/** The books of one organization, straight from SQL. */
export async function books(sql: SqlExecutor, org: string): Promise<{ balance: bigint; reserved: bigint; reservations: number; ledgerSum: bigint; usageEntries: bigint; usageCost: bigint; usageRows: number }> {
  const one = async (text: string): Promise<Record<string, string | null>> => (await sql.query<Record<string, string | null>>(text, [org])).rows[0] ?? {};
  const account = await one('SELECT balance_micros::text AS balance, reserved_micros::text AS reserved FROM billing_accounts WHERE org_id = $1');
  const reservations = await one('SELECT count(*)::text AS n FROM billing_reservations WHERE org_id = $1');
  const ledger = await one(`SELECT coalesce(sum(amount_micros), 0)::text AS total, coalesce(sum(amount_micros) FILTER (WHERE kind = 'usage'), 0)::text AS usage FROM billing_ledger WHERE org_id = $1`);
  const usage = await one('SELECT coalesce(sum(cost_micros), 0)::text AS cost, count(*)::text AS n FROM billing_usage WHERE org_id = $1');
  return {
    balance: BigInt(account['balance'] ?? 0),
    reserved: BigInt(account['reserved'] ?? 0),
    reservations: Number(reservations['n']),
    ledgerSum: BigInt(ledger['total'] ?? 0),
    usageEntries: BigInt(ledger['usage'] ?? 0),
    usageCost: BigInt(usage['cost'] ?? 0),
    usageRows: Number(usage['n']),
  };
}

/** Polls until `check` holds (the usage queue writes every 20 ms here); returns its last value. */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, tries = 200): Promise<T> {
  let value = await read();
  for (let i = 0; i < tries && !check(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

/** Runs `tasks` with at most `width` at a time. */
export async function pool<T>(tasks: readonly (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}
