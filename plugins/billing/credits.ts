/**
 * Balances, the credit ledger, reservations and budget spend in SQL (the functions of billing's
 * migration 2). Every operation is one statement: one round trip, atomic on PGlite and across
 * PostgreSQL replicas. Amounts are integer micro-units; `bigint` travels as text both ways.
 */
import type { SqlExecutor } from '../../core/stores/sql.js';

/** A refusal raised by the SQL functions (`switchyard_billing:<reason>:…`). */
export class BillingRefusal extends Error {
  constructor(
    readonly reason: 'insufficient_quota' | 'budget' | 'idempotency_conflict' | 'below_zero',
    readonly details: readonly string[],
  ) {
    super(`billing refused: ${reason}`);
  }
}

const REFUSAL = /switchyard_billing:([a-z_]+)((?::[^:\s]*)*)/;

/** Rethrows a database error as a `BillingRefusal` when it is one. */
function refusalOf(err: unknown): never {
  const m = REFUSAL.exec((err as Error)?.message ?? '');
  if (m) throw new BillingRefusal(m[1] as BillingRefusal['reason'], m[2] ? m[2].slice(1).split(':') : []);
  throw err;
}

/** A budget a reservation counted against: `org:day`, `org:month`, `key:day`, `key:month`. */
export interface BudgetUse {
  budget: string;
  /** Spent + reserved in the period, this request's reservation included. */
  used: bigint;
  limit: bigint;
}

export interface ReserveInput {
  id: string;
  org: string;
  keyId: string | undefined;
  requestId: string;
  amount: bigint;
  /** Hold the amount on the balance (refused when short). */
  credit: boolean;
  /** Count the amount against budgets (the org's, and the key's given here). */
  budgets: boolean;
  /** `YYYY-MM-DD` of the UTC day and of the first day of the UTC month. */
  day: string;
  month: string;
  keyDaily: bigint | undefined;
  keyMonthly: bigint | undefined;
  expiresAt: Date;
}

export interface SettleInput {
  id: string;
  cost: bigint;
  /** Take the cost from the balance (and write a ledger entry). */
  charge: boolean;
  org: string;
  keyId: string | undefined;
  requestId: string;
  budgets: boolean;
  day: string;
  month: string;
}

export interface LedgerEntry {
  entry_id: string;
  at: string;
  kind: 'top_up' | 'adjustment' | 'grant' | 'usage';
  amount_micros: string;
  balance_after_micros: string;
  note: string | null;
  replayed?: boolean;
  idempotency_key?: string | null;
  request_id?: string | null;
  key_id?: string | null;
  actor?: string | null;
}

export interface Account {
  org_id: string;
  balance_micros: string;
  reserved_micros: string;
  daily_budget_micros: string | null;
  monthly_budget_micros: string | null;
}

const nullable = (n: bigint | undefined): string | null => (n === undefined ? null : n.toString());

/** Holds `amount` for one request; throws `BillingRefusal` (insufficient_quota, budget). */
export async function reserve(sql: SqlExecutor, r: ReserveInput): Promise<BudgetUse[]> {
  try {
    const { rows } = await sql.query<{ budget: string; used: string; limit_micros: string }>(
      'SELECT * FROM billing_reserve($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)',
      [r.id, r.org, r.keyId ?? null, r.requestId, r.amount.toString(), r.credit, r.budgets, r.day, r.month, nullable(r.keyDaily), nullable(r.keyMonthly), r.expiresAt.toISOString()],
    );
    return rows.map((row) => ({ budget: row.budget, used: BigInt(row.used), limit: BigInt(row.limit_micros) }));
  } catch (err) {
    return refusalOf(err);
  }
}

/** Releases the reservation `id` and charges `cost`; resolves to the balance after, when charged. */
export async function settle(sql: SqlExecutor, s: SettleInput): Promise<bigint | undefined> {
  const { rows } = await sql.query<{ balance: string | null }>('SELECT billing_settle($1, $2, $3, $4, $5, $6, $7, $8, $9) AS balance', [
    s.id, s.cost.toString(), s.charge, s.org, s.keyId ?? null, s.requestId, s.budgets, s.day, s.month,
  ]);
  const balance = rows[0]?.balance;
  return balance === null || balance === undefined ? undefined : BigInt(balance);
}

/**
 * Settles several reservations in ONE statement (one round trip, one transaction): all or none.
 * Sorted by organization and key first, so that batches of concurrent replicas lock the account and
 * budget rows in the same order.
 */
export async function settleMany(sql: SqlExecutor, all: readonly SettleInput[]): Promise<void> {
  const sorted = [...all].sort((a, b) => compare(a.org, b.org) || compare(a.keyId ?? '', b.keyId ?? ''));
  const column = (f: (s: SettleInput) => string | null) => sorted.map(f);
  const flag = (b: boolean) => (b ? 't' : 'f');
  await sql.query(
    `SELECT billing_settle(u.id::uuid, u.cost::bigint, u.charge::boolean, u.org, u.key, u.request, u.budgets::boolean, u.day::date, u.month::date)
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) AS u(id, cost, charge, org, key, request, budgets, day, month)`,
    [
      column((s) => s.id), column((s) => s.cost.toString()), column((s) => flag(s.charge)), column((s) => s.org), column((s) => s.keyId ?? null),
      column((s) => s.requestId), column((s) => flag(s.budgets)), column((s) => s.day), column((s) => s.month),
    ],
  );
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Settlements committed in groups: a settlement that finds none being written goes at once, alone;
 * those that arrive while a write is under way wait for it and go together as the next one
 * (`settleMany`, at most `maxBatch` at a time). Under load this turns N statements and N commits
 * into a few, and costs a lone settlement no delay. A failed group fails each of its settlements
 * (none of it was applied); the caller retries them one by one.
 */
export class SettlementGroups {
  private waiting: { input: SettleInput; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing = false;

  constructor(
    private readonly sql: () => Promise<SqlExecutor>,
    private readonly maxBatch = 256,
  ) {}

  settle(input: SettleInput): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  /** Writes what waits, group after group, until nothing does; never rejects (each settlement's promise carries its outcome). */
  private async drain(): Promise<void> {
    this.writing = true;
    while (this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.maxBatch);
      try {
        const sql = await this.sql();
        if (group.length === 1) await settle(sql, group[0]!.input);
        else await settleMany(sql, group.map((g) => g.input));
        for (const g of group) g.resolve();
      } catch (err) {
        for (const g of group) g.reject(err);
      }
    }
    this.writing = false;
  }
}

/** Releases the reservations whose expiry passed; resolves to what was released. */
export async function releaseExpired(sql: SqlExecutor, now: Date): Promise<{ reservation_id: string; org_id: string; request_id: string | null; credit_micros: string }[]> {
  const { rows } = await sql.query<{ reservation_id: string; org_id: string; request_id: string | null; credit_micros: string }>('SELECT * FROM billing_release_expired($1)', [now.toISOString()]);
  return rows;
}

/** A top-up, adjustment or grant, once per idempotency key; throws `BillingRefusal` (idempotency_conflict, below_zero). */
export async function credit(sql: SqlExecutor, org: string, kind: 'top_up' | 'adjustment' | 'grant', amount: bigint, idempotencyKey: string, actor: string, note: string | null): Promise<LedgerEntry> {
  try {
    const { rows } = await sql.query<LedgerEntry>('SELECT * FROM billing_credit($1, $2, $3, $4, $5, $6)', [org, kind, amount.toString(), idempotencyKey, actor, note]);
    return rows[0]!;
  } catch (err) {
    return refusalOf(err);
  }
}

export async function account(sql: SqlExecutor, org: string): Promise<Account | undefined> {
  const { rows } = await sql.query<Account>(
    'SELECT org_id, balance_micros::text, reserved_micros::text, daily_budget_micros::text, monthly_budget_micros::text FROM billing_accounts WHERE org_id = $1',
    [org],
  );
  return rows[0];
}

/** Sets an organization's budgets (null: none), creating its account when missing. */
export async function setOrgBudgets(sql: SqlExecutor, org: string, daily: bigint | null | undefined, monthly: bigint | null | undefined): Promise<Account> {
  const { rows } = await sql.query<Account>(
    `INSERT INTO billing_accounts AS a (org_id, daily_budget_micros, monthly_budget_micros) VALUES ($1, $2, $3)
     ON CONFLICT (org_id) DO UPDATE SET
       daily_budget_micros = CASE WHEN $4 THEN EXCLUDED.daily_budget_micros ELSE a.daily_budget_micros END,
       monthly_budget_micros = CASE WHEN $5 THEN EXCLUDED.monthly_budget_micros ELSE a.monthly_budget_micros END,
       updated_at = now()
     RETURNING org_id, balance_micros::text, reserved_micros::text, daily_budget_micros::text, monthly_budget_micros::text`,
    [org, daily?.toString() ?? null, monthly?.toString() ?? null, daily !== undefined, monthly !== undefined],
  );
  return rows[0]!;
}

/** Spent and reserved in an organization's or key's current day and month. */
export async function spendOf(sql: SqlExecutor, scope: 'org' | 'key', subject: string, day: string, month: string): Promise<{ day: { spent: string; reserved: string }; month: { spent: string; reserved: string } }> {
  const { rows } = await sql.query<{ period: string; spent: string; reserved: string }>(
    `SELECT period, spent_micros::text AS spent, reserved_micros::text AS reserved FROM billing_spend
     WHERE scope = $1 AND subject = $2 AND ((period = 'day' AND start_date = $3) OR (period = 'month' AND start_date = $4))`,
    [scope, subject, day, month],
  );
  const of = (period: string) => {
    const row = rows.find((r) => r.period === period);
    return { spent: row?.spent ?? '0', reserved: row?.reserved ?? '0' };
  };
  return { day: of('day'), month: of('month') };
}

/** Ledger entries of an organization, newest first, `limit` at a time before entry `before`. */
export async function ledger(sql: SqlExecutor, org: string, limit: number, before: string | undefined): Promise<LedgerEntry[]> {
  const params: unknown[] = [org, limit];
  const where = before === undefined ? '' : ` AND entry_id < $${params.push(before)}`;
  const { rows } = await sql.query<LedgerEntry>(
    `SELECT entry_id::text, at, kind, amount_micros::text, balance_after_micros::text, idempotency_key, request_id, key_id, actor, note
     FROM billing_ledger WHERE org_id = $1${where} ORDER BY entry_id DESC LIMIT $2`,
    params,
  );
  return rows;
}

/** `YYYY-MM-DD` of the UTC day of `ms`, and of the first day of its UTC month. */
export function periodsOf(ms: number): { day: string; month: string } {
  const day = new Date(ms).toISOString().slice(0, 10);
  return { day, month: `${day.slice(0, 8)}01` };
}

/** `periodsOf` for the request path: the strings are made once per UTC day, not per request. */
export class Periods {
  private from = 0;
  private to = -1;
  private current = { day: '', month: '' };

  of(ms: number): { day: string; month: string } {
    if (ms < this.from || ms >= this.to) {
      this.current = periodsOf(ms);
      this.from = ms - (ms % 86_400_000);
      this.to = this.from + 86_400_000;
    }
    return this.current;
  }
}

/** The idempotency key of an organization's plan grant for a month (`month`: `YYYY-MM-01`). */
export function planGrantKey(org: string, month: string): string {
  return `plan-grant:${org}:${month.slice(0, 7)}`;
}

/**
 * Grants a plan's monthly credit to `org` once per calendar month, through the ledger's idempotency
 * key, so concurrent calls on any number of replicas grant it once. Resolves to true when this call
 * granted it, false when the month's grant existed (also when it was made for another amount: the
 * plan changed mid-month, and the month's grant stands).
 */
export async function grantPlanCredits(sql: SqlExecutor, org: string, plan: string, amount: bigint, month: string): Promise<boolean> {
  try {
    const entry = await credit(sql, org, 'grant', amount, planGrantKey(org, month), `plan:${plan}`, `monthly credit of plan ${plan} for ${month.slice(0, 7)}`);
    return entry.replayed !== true;
  } catch (err) {
    if (err instanceof BillingRefusal && err.reason === 'idempotency_conflict') return false;
    throw err;
  }
}
