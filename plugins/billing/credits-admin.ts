/**
 * The credits admin API (tag `credits`): an organization's balance and budgets, its ledger, and
 * top-ups and adjustments — each once per idempotency key (the body's `idempotency_key` or the
 * `Idempotency-Key` header): a retried call answers the first call's entry (200, `replayed: true`)
 * and changes nothing. Top-ups and adjustments are audited with the balance before and after.
 *
 * An organization is named by its id, or by its slug when the `organizations` table (auth's SQL
 * identities) has one; any other id (a static key's `org`) is taken as it is.
 */
import type { AdminCaller, AdminRequest, AdminRoute, AdminServices } from '../../core/admin/contract.js';
import { errors } from '../../core/errors.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import { account, BillingRefusal, credit, ledger, periodsOf, setOrgBudgets, spendOf, type Account, type LedgerEntry } from './credits.js';

const MAX_AMOUNT = 1_000_000_000_000_000; // 10^18 micro-units: far below bigint's range, above any real top-up
const IDEMPOTENCY = { type: 'string', minLength: 1, maxLength: 200, description: 'Makes the call safe to retry: the same key answers the first call\'s entry and changes nothing (or the `Idempotency-Key` header).' };

const topUpSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['amount_micros'],
  properties: {
    amount_micros: { type: 'integer', minimum: 1, maximum: MAX_AMOUNT, description: 'Credit to add, in micro-units of the gateway currency (1 USD = 1000000).' },
    idempotency_key: IDEMPOTENCY,
    note: { type: 'string', maxLength: 500, description: 'Why (an invoice number, a ticket).' },
  },
};

const adjustmentSchema = {
  ...topUpSchema,
  properties: {
    ...topUpSchema.properties,
    amount_micros: { type: 'integer', minimum: -MAX_AMOUNT, maximum: MAX_AMOUNT, not: { const: 0 }, description: 'Signed change of the balance, in micro-units; refused (409) when it would take the balance below zero.' },
  },
};

const budgetLimit = (what: string) => ({ type: ['integer', 'null'], minimum: 0, maximum: MAX_AMOUNT, description: `${what} in micro-units (calendar, UTC); null removes it.` });
const budgetsSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { daily_budget_micros: budgetLimit('Most the organization may spend per day'), monthly_budget_micros: budgetLimit('Most the organization may spend per month') },
};

const entrySchema = {
  type: 'object',
  required: ['object', 'entry_id', 'org_id', 'at', 'kind', 'amount_micros', 'balance_after_micros'],
  properties: {
    object: { const: 'credit.entry' },
    entry_id: { type: 'string' },
    org_id: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    kind: { enum: ['top_up', 'adjustment', 'grant', 'usage'] },
    amount_micros: { type: 'string', description: 'Signed, micro-units (a string: it may pass 2^53).' },
    balance_after_micros: { type: 'string' },
    note: { type: ['string', 'null'] },
    replayed: { type: 'boolean', description: 'True when the idempotency key was used before: this is the earlier entry, nothing changed.' },
  },
};

const spendSchema = { type: 'object', properties: { spent_micros: { type: 'string' }, reserved_micros: { type: 'string' } } };
const balanceSchema = {
  type: 'object',
  required: ['object', 'org_id', 'currency', 'balance_micros', 'reserved_micros', 'available_micros'],
  properties: {
    object: { const: 'credit.balance' },
    org_id: { type: 'string' },
    currency: { type: 'string' },
    balance_micros: { type: 'string', description: 'Credits in minus settled spend.' },
    reserved_micros: { type: 'string', description: 'Held by requests in flight.' },
    available_micros: { type: 'string', description: 'What new requests may reserve: balance − reserved.' },
    daily_budget_micros: { type: ['string', 'null'] },
    monthly_budget_micros: { type: ['string', 'null'] },
    today: spendSchema,
    this_month: spendSchema,
  },
};

/** The organization `given` names: an `organizations` id or slug, else `given` itself. */
export async function resolveOrg(sql: SqlExecutor, given: string): Promise<string> {
  try {
    const { rows } = await sql.query<{ id: string }>('SELECT id FROM organizations WHERE id = $1 OR slug = $1 LIMIT 1', [given]);
    return rows[0]?.id ?? given;
  } catch {
    return given;
  }
}

function actorOf(caller: AdminCaller): string {
  return caller.kind === 'admin_secret' ? 'admin_secret' : `${caller.kind}:${caller.keyId}`;
}

function idempotencyKeyOf(req: AdminRequest, body: { idempotency_key?: string }): string {
  const header = req.headers['idempotency-key'];
  const key = body.idempotency_key ?? (typeof header === 'string' && header !== '' ? header : undefined);
  if (key === undefined) throw errors.badRequest('missing_idempotency_key', 'Top-ups and adjustments need an idempotency key (`idempotency_key` or the `Idempotency-Key` header), so that a retry never credits twice.', 'idempotency_key');
  if (key.length > 200) throw errors.badRequest('invalid_idempotency_key', 'An idempotency key has at most 200 characters.', 'idempotency_key');
  return key;
}

function entryBody(org: string, e: LedgerEntry): Record<string, unknown> {
  return {
    object: 'credit.entry',
    entry_id: String(e.entry_id),
    org_id: org,
    at: new Date(e.at).toISOString(),
    kind: e.kind,
    amount_micros: String(e.amount_micros),
    balance_after_micros: String(e.balance_after_micros),
    note: e.note ?? null,
    ...(e.replayed !== undefined && { replayed: e.replayed }),
    ...(e.idempotency_key !== undefined && { idempotency_key: e.idempotency_key }),
    ...(e.request_id !== undefined && e.request_id !== null && { request_id: e.request_id }),
    ...(e.key_id !== undefined && e.key_id !== null && { key_id: e.key_id }),
    ...(e.actor !== undefined && e.actor !== null && { actor: e.actor }),
  };
}

export function creditRoutes(services: AdminServices, currency: () => string, now: () => number): AdminRoute[] {
  const balanceBody = async (sql: SqlExecutor, org: string, a: Account | undefined) => {
    const { day, month } = periodsOf(now());
    const spend = await spendOf(sql, 'org', org, day, month);
    const balance = BigInt(a?.balance_micros ?? 0);
    const reserved = BigInt(a?.reserved_micros ?? 0);
    return {
      object: 'credit.balance',
      org_id: org,
      currency: currency(),
      balance_micros: balance.toString(),
      reserved_micros: reserved.toString(),
      available_micros: (balance - reserved).toString(),
      daily_budget_micros: a?.daily_budget_micros ?? null,
      monthly_budget_micros: a?.monthly_budget_micros ?? null,
      today: { spent_micros: spend.day.spent, reserved_micros: spend.day.reserved },
      this_month: { spent_micros: spend.month.spent, reserved_micros: spend.month.reserved },
    };
  };

  const change = (kind: 'top_up' | 'adjustment', path: string, summary: string, requestSchema: object): AdminRoute => ({
    method: 'POST',
    path,
    tag: 'credits',
    summary,
    requestSchema,
    responseSchema: entrySchema,
    successStatus: 201,
    async handle(req) {
      const body = req.body as { amount_micros: number; idempotency_key?: string; note?: string };
      const key = idempotencyKeyOf(req, body);
      const sql = await services.sql();
      const org = await resolveOrg(sql, req.params['org']!);
      const before = await account(sql, org);
      let entry: LedgerEntry;
      try {
        entry = await credit(sql, org, kind, BigInt(body.amount_micros), key, actorOf(req.caller), body.note ?? null);
      } catch (err) {
        if (err instanceof BillingRefusal && err.reason === 'idempotency_conflict') {
          throw errors.conflict('idempotency_key_reused', 'This idempotency key was used for a different amount or kind; use a new key for a new change.', 'idempotency_key');
        }
        if (err instanceof BillingRefusal && err.reason === 'below_zero') {
          throw errors.conflict('balance_below_zero', `This adjustment would take the balance (${err.details[0]} micro-units) below zero.`, 'amount_micros');
        }
        throw err;
      }
      req.audit({
        action: kind === 'top_up' ? 'credits.topup' : 'credits.adjust',
        target: { type: 'organization', id: org },
        before: { balance_micros: before?.balance_micros ?? '0' },
        after: { balance_micros: String(entry.balance_after_micros), entry_id: String(entry.entry_id), amount_micros: String(entry.amount_micros), replayed: entry.replayed === true },
      });
      return { status: entry.replayed ? 200 : 201, body: entryBody(org, entry) };
    },
  });

  return [
    {
      method: 'GET',
      path: '/admin/credits/:org',
      tag: 'credits',
      summary: "An organization's balance, reserved credit, budgets and this day's and month's spend (UTC).",
      responseSchema: balanceSchema,
      async handle(req) {
        const sql = await services.sql();
        const org = await resolveOrg(sql, req.params['org']!);
        return { status: 200, body: await balanceBody(sql, org, await account(sql, org)) };
      },
    },
    change('top_up', '/admin/credits/:org/top-ups', 'Add credit to an organization (once per idempotency key).', topUpSchema),
    change('adjustment', '/admin/credits/:org/adjustments', "Correct an organization's balance up or down (once per idempotency key).", adjustmentSchema),
    {
      method: 'GET',
      path: '/admin/credits/:org/ledger',
      tag: 'credits',
      summary: "An organization's ledger entries, newest first: top-ups, adjustments, grants and one `usage` entry per charged request.",
      queryParams: [
        { name: 'limit', description: 'Entries per page, 1–1000 (default 100).', schema: { type: 'integer' } },
        { name: 'before', description: 'Only entries older than this entry id (the last `entry_id` of the previous page).', schema: { type: 'string' } },
      ],
      responseSchema: { type: 'object', required: ['object', 'data'], properties: { object: { const: 'list' }, data: { type: 'array', items: entrySchema }, has_more: { type: 'boolean' } } },
      async handle(req) {
        const limitText = req.query.get('limit');
        const limit = limitText === null ? 100 : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw errors.badRequest('invalid_limit', 'limit must be a whole number from 1 to 1000.', 'limit');
        const before = req.query.get('before') ?? undefined;
        if (before !== undefined && !/^\d{1,18}$/.test(before)) throw errors.badRequest('invalid_before', 'before must be an entry id.', 'before');
        const sql = await services.sql();
        const org = await resolveOrg(sql, req.params['org']!);
        const rows = await ledger(sql, org, limit + 1, before);
        const page = rows.slice(0, limit);
        return { status: 200, body: { object: 'list', data: page.map((e) => entryBody(org, e)), has_more: rows.length > limit } };
      },
    },
    {
      method: 'PATCH',
      path: '/admin/credits/:org/budgets',
      tag: 'credits',
      summary: "Set or remove an organization's daily and monthly budgets (enforced when `billing.budgets.enabled`).",
      requestSchema: budgetsSchema,
      responseSchema: balanceSchema,
      async handle(req) {
        const body = req.body as { daily_budget_micros?: number | null; monthly_budget_micros?: number | null };
        const big = (v: number | null | undefined) => (v === undefined ? undefined : v === null ? null : BigInt(v));
        const sql = await services.sql();
        const org = await resolveOrg(sql, req.params['org']!);
        const before = await account(sql, org);
        const after = await setOrgBudgets(sql, org, big(body.daily_budget_micros), big(body.monthly_budget_micros));
        req.audit({
          action: 'credits.budgets',
          target: { type: 'organization', id: org },
          before: { daily_budget_micros: before?.daily_budget_micros ?? null, monthly_budget_micros: before?.monthly_budget_micros ?? null },
          after: { daily_budget_micros: after.daily_budget_micros, monthly_budget_micros: after.monthly_budget_micros },
        });
        return { status: 200, body: await balanceBody(sql, org, after) };
      },
    },
  ];
}
