/**
 * `billing`'s SQL schema, recorded under the owner `billing`; never edit or reorder an applied
 * migration, add one with the next id.
 *
 * `billing_usage` holds one compact row per model request: ids, tokens by kind and the cost in
 * integer micro-units — never the prices themselves (they are in the catalog and the config), so a
 * row stays small (docs/billing.md gives the measured size). The names `usage_records` and
 * `credit_ledger` are avoided on purpose: a legacy accounting migration created tables so named on
 * some old databases. `row_id` is made in the gateway, so a batch retried after an INSERT whose
 * acknowledgement was lost writes each row once (`ON CONFLICT DO NOTHING`). No foreign keys: the
 * history outlives the keys and organizations it names.
 */
import type { Migration } from '../../core/stores/migrate.js';

const USAGE = `
CREATE TABLE billing_usage (
  row_id            uuid PRIMARY KEY,
  at                timestamptz NOT NULL,
  request_id        text NOT NULL,
  org_id            text COLLATE "C",
  key_id            text COLLATE "C",
  model_requested   text,
  model_served      text,
  provider          text,
  attempts          smallint NOT NULL,
  status            smallint NOT NULL,
  prompt_tokens     integer NOT NULL,
  completion_tokens integer NOT NULL,
  cached_tokens     integer NOT NULL,
  reasoning_tokens  integer NOT NULL,
  estimated         boolean NOT NULL,
  cost_micros       bigint,
  cache             text,
  latency_ms        integer NOT NULL,
  ttft_ms           integer,
  error_code        text
);
CREATE INDEX billing_usage_org_at ON billing_usage (org_id, at);
CREATE INDEX billing_usage_key_at ON billing_usage (key_id, at);
-- Rows arrive in time order: a BRIN index over at costs almost nothing per row.
CREATE INDEX billing_usage_at ON billing_usage USING brin (at);
`;

/**
 * Credits and budgets. The rules live in SQL functions so that each step is ONE statement — one
 * round trip, atomic on PGlite and across PostgreSQL replicas alike (row locks on the account and
 * the spend rows, always taken in the same order: account, org day, org month, key day, key month):
 *
 * - `billing_accounts`: per organization, the balance (credits in minus settled spend) and what is
 *   reserved by requests in flight; `balance - reserved` is what a new request may reserve. Its org
 *   budgets (daily / monthly) sit beside it.
 * - `billing_ledger`: append-only (a trigger refuses UPDATE and DELETE); top-ups, adjustments,
 *   grants and one `usage` entry per charged request; `(org_id, idempotency_key)` is unique.
 * - `billing_reservations`: one row per request in flight, with an expiry past any request's life,
 *   so that a crash between reserve and settle is undone by `billing_release_expired`.
 * - `billing_spend`: spent and reserved per (org | key, UTC day | month), for budgets.
 *
 * Refusals are raised as `switchyard_billing:<reason>` errors, which roll the statement back whole.
 */
const CREDITS = `
CREATE TABLE billing_accounts (
  org_id                text COLLATE "C" PRIMARY KEY,
  balance_micros        bigint NOT NULL DEFAULT 0,
  reserved_micros       bigint NOT NULL DEFAULT 0 CHECK (reserved_micros >= 0),
  daily_budget_micros   bigint CHECK (daily_budget_micros >= 0),
  monthly_budget_micros bigint CHECK (monthly_budget_micros >= 0),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE billing_ledger (
  entry_id             bigserial PRIMARY KEY,
  org_id               text COLLATE "C" NOT NULL,
  at                   timestamptz NOT NULL DEFAULT now(),
  kind                 text NOT NULL CHECK (kind IN ('top_up', 'adjustment', 'grant', 'usage')),
  amount_micros        bigint NOT NULL,
  balance_after_micros bigint NOT NULL,
  idempotency_key      text,
  request_id           text,
  key_id               text,
  actor                text,
  note                 text,
  UNIQUE (org_id, idempotency_key)
);
CREATE INDEX billing_ledger_org_entry ON billing_ledger (org_id, entry_id);
CREATE FUNCTION billing_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'billing_ledger is append-only: add an adjustment instead';
END $$;
CREATE TRIGGER billing_ledger_append_only BEFORE UPDATE OR DELETE ON billing_ledger
  FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();

CREATE TABLE billing_reservations (
  reservation_id uuid PRIMARY KEY,
  org_id         text COLLATE "C" NOT NULL,
  key_id         text COLLATE "C",
  request_id     text,
  credit_micros  bigint NOT NULL,
  budget_micros  bigint NOT NULL,
  budgets        boolean NOT NULL,
  day            date NOT NULL,
  month          date NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL
);
CREATE INDEX billing_reservations_expires ON billing_reservations (expires_at);

CREATE TABLE billing_spend (
  scope           text NOT NULL,
  subject         text COLLATE "C" NOT NULL,
  period          text NOT NULL,
  start_date      date NOT NULL,
  spent_micros    bigint NOT NULL DEFAULT 0,
  reserved_micros bigint NOT NULL DEFAULT 0 CHECK (reserved_micros >= 0),
  PRIMARY KEY (scope, subject, period, start_date)
);

-- Counts a reservation of p_amount against one budget row; raises when it would pass p_limit.
-- With no limit the row is not touched (spend is still added at settlement). Returns spent + reserved after.
CREATE FUNCTION billing_budget_reserve(p_scope text, p_subject text, p_period text, p_start date, p_amount bigint, p_limit bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE used bigint;
BEGIN
  IF p_limit IS NULL OR p_subject IS NULL THEN RETURN NULL; END IF;
  INSERT INTO billing_spend AS s (scope, subject, period, start_date, reserved_micros)
    VALUES (p_scope, p_subject, p_period, p_start, p_amount)
    ON CONFLICT (scope, subject, period, start_date) DO UPDATE SET reserved_micros = s.reserved_micros + p_amount
    RETURNING s.spent_micros + s.reserved_micros INTO used;
  -- A request with nothing to reserve still needs room left (spent < limit).
  IF used > p_limit OR (p_amount = 0 AND used >= p_limit) THEN
    RAISE EXCEPTION 'switchyard_billing:budget:%:%:%:%', p_scope, p_period, used - p_amount, p_limit;
  END IF;
  RETURN used;
END $$;

-- Moves p_release from reserved to p_cost spent on one budget row (created when missing).
CREATE FUNCTION billing_budget_settle(p_scope text, p_subject text, p_period text, p_start date, p_release bigint, p_cost bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_subject IS NULL THEN RETURN; END IF;
  INSERT INTO billing_spend AS s (scope, subject, period, start_date, spent_micros)
    VALUES (p_scope, p_subject, p_period, p_start, p_cost)
    ON CONFLICT (scope, subject, period, start_date) DO UPDATE
      SET spent_micros = s.spent_micros + p_cost, reserved_micros = greatest(s.reserved_micros - p_release, 0);
END $$;

-- Reserves p_amount for one request: from the balance when p_credit (refused when balance - reserved
-- is short), and against every budget that has a limit (the org's from billing_accounts, the key's
-- given). Returns one row per budget with a limit: its name, spent + reserved after, the limit.
CREATE FUNCTION billing_reserve(p_id uuid, p_org text, p_key text, p_request text, p_amount bigint, p_credit boolean,
  p_budgets boolean, p_day date, p_month date, p_key_daily bigint, p_key_monthly bigint, p_expires timestamptz)
RETURNS TABLE (budget text, used bigint, limit_micros bigint) LANGUAGE plpgsql AS $$
DECLARE org_daily bigint; org_monthly bigint; u bigint;
BEGIN
  IF p_credit THEN
    UPDATE billing_accounts SET reserved_micros = reserved_micros + p_amount
      WHERE org_id = p_org AND balance_micros - reserved_micros >= p_amount
      RETURNING daily_budget_micros, monthly_budget_micros INTO org_daily, org_monthly;
    IF NOT FOUND THEN RAISE EXCEPTION 'switchyard_billing:insufficient_quota'; END IF;
  ELSIF p_budgets THEN
    SELECT daily_budget_micros, monthly_budget_micros INTO org_daily, org_monthly FROM billing_accounts WHERE org_id = p_org;
  END IF;
  IF p_budgets THEN
    u := billing_budget_reserve('org', p_org, 'day', p_day, p_amount, org_daily);
    IF u IS NOT NULL THEN budget := 'org:day'; used := u; limit_micros := org_daily; RETURN NEXT; END IF;
    u := billing_budget_reserve('org', p_org, 'month', p_month, p_amount, org_monthly);
    IF u IS NOT NULL THEN budget := 'org:month'; used := u; limit_micros := org_monthly; RETURN NEXT; END IF;
    u := billing_budget_reserve('key', p_key, 'day', p_day, p_amount, p_key_daily);
    IF u IS NOT NULL THEN budget := 'key:day'; used := u; limit_micros := p_key_daily; RETURN NEXT; END IF;
    u := billing_budget_reserve('key', p_key, 'month', p_month, p_amount, p_key_monthly);
    IF u IS NOT NULL THEN budget := 'key:month'; used := u; limit_micros := p_key_monthly; RETURN NEXT; END IF;
  END IF;
  INSERT INTO billing_reservations (reservation_id, org_id, key_id, request_id, credit_micros, budget_micros, budgets, day, month, expires_at)
    VALUES (p_id, p_org, p_key, p_request, CASE WHEN p_credit THEN p_amount ELSE 0 END, p_amount, p_budgets, p_day, p_month, p_expires);
END $$;

-- Releases a reservation's holds and charges p_cost: the balance (a 'usage' ledger entry, when
-- p_charge and the cost is not 0) and the budgets' spend. A reservation already released (expired
-- and reconciled) is charged all the same, with what the caller passes. Returns the balance after
-- (null when the balance was not charged).
CREATE FUNCTION billing_settle(p_id uuid, p_cost bigint, p_charge boolean, p_org text, p_key text, p_request text,
  p_budgets boolean, p_day date, p_month date)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE r billing_reservations%ROWTYPE; bal bigint;
BEGIN
  DELETE FROM billing_reservations WHERE reservation_id = p_id RETURNING * INTO r;
  IF NOT FOUND THEN
    r.org_id := p_org; r.key_id := p_key; r.credit_micros := 0; r.budget_micros := 0; r.budgets := p_budgets; r.day := p_day; r.month := p_month;
  END IF;
  IF r.credit_micros <> 0 OR (p_charge AND p_cost <> 0) THEN
    INSERT INTO billing_accounts AS a (org_id, balance_micros) VALUES (r.org_id, -CASE WHEN p_charge THEN p_cost ELSE 0 END)
      ON CONFLICT (org_id) DO UPDATE SET
        balance_micros = a.balance_micros - CASE WHEN p_charge THEN p_cost ELSE 0 END,
        reserved_micros = a.reserved_micros - r.credit_micros,
        updated_at = now()
      RETURNING balance_micros INTO bal;
    IF p_charge AND p_cost <> 0 THEN
      INSERT INTO billing_ledger (org_id, kind, amount_micros, balance_after_micros, request_id, key_id)
        VALUES (r.org_id, 'usage', -p_cost, bal, p_request, r.key_id);
    END IF;
  END IF;
  IF r.budgets THEN
    PERFORM billing_budget_settle('org', r.org_id, 'day', r.day, r.budget_micros, p_cost);
    PERFORM billing_budget_settle('org', r.org_id, 'month', r.month, r.budget_micros, p_cost);
    PERFORM billing_budget_settle('key', r.key_id, 'day', r.day, r.budget_micros, p_cost);
    PERFORM billing_budget_settle('key', r.key_id, 'month', r.month, r.budget_micros, p_cost);
  END IF;
  RETURN bal;
END $$;

-- Releases every reservation whose expiry has passed (a gateway that crashed between reserve and
-- settle). Returns one row per released reservation.
CREATE FUNCTION billing_release_expired(p_now timestamptz)
RETURNS TABLE (reservation_id uuid, org_id text, request_id text, credit_micros bigint) LANGUAGE plpgsql AS $$
DECLARE r billing_reservations%ROWTYPE;
BEGIN
  FOR r IN DELETE FROM billing_reservations AS x WHERE x.expires_at < p_now RETURNING * LOOP
    UPDATE billing_accounts AS a SET reserved_micros = a.reserved_micros - r.credit_micros WHERE a.org_id = r.org_id AND r.credit_micros <> 0;
    IF r.budgets THEN
      PERFORM billing_budget_settle('org', r.org_id, 'day', r.day, r.budget_micros, 0);
      PERFORM billing_budget_settle('org', r.org_id, 'month', r.month, r.budget_micros, 0);
      PERFORM billing_budget_settle('key', r.key_id, 'day', r.day, r.budget_micros, 0);
      PERFORM billing_budget_settle('key', r.key_id, 'month', r.month, r.budget_micros, 0);
    END IF;
    reservation_id := r.reservation_id; org_id := r.org_id; request_id := r.request_id; credit_micros := r.credit_micros;
    RETURN NEXT;
  END LOOP;
END $$;

-- A top-up, adjustment or grant, once per (org, idempotency key): the account row is locked first,
-- so two identical calls at once are serialised and the second finds the first's entry. Returns the
-- entry and whether it already existed; raises 'switchyard_billing:idempotency_conflict' when the
-- key was used for a different amount or kind, 'switchyard_billing:below_zero' when the balance
-- would drop under 0.
CREATE FUNCTION billing_credit(p_org text, p_kind text, p_amount bigint, p_idempotency text, p_actor text, p_note text)
RETURNS TABLE (entry_id bigint, at timestamptz, kind text, amount_micros bigint, balance_after_micros bigint, note text, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE e billing_ledger%ROWTYPE; bal bigint; res bigint;
BEGIN
  INSERT INTO billing_accounts (org_id) VALUES (p_org) ON CONFLICT DO NOTHING;
  SELECT a.balance_micros, a.reserved_micros INTO bal, res FROM billing_accounts a WHERE a.org_id = p_org FOR UPDATE;
  SELECT * INTO e FROM billing_ledger l WHERE l.org_id = p_org AND l.idempotency_key = p_idempotency;
  IF FOUND THEN
    IF e.kind <> p_kind OR e.amount_micros <> p_amount THEN RAISE EXCEPTION 'switchyard_billing:idempotency_conflict'; END IF;
    RETURN QUERY SELECT e.entry_id, e.at, e.kind, e.amount_micros, e.balance_after_micros, e.note, true;
    RETURN;
  END IF;
  IF bal + p_amount < 0 THEN RAISE EXCEPTION 'switchyard_billing:below_zero:%', bal; END IF;
  UPDATE billing_accounts a SET balance_micros = a.balance_micros + p_amount, updated_at = now() WHERE a.org_id = p_org RETURNING a.balance_micros INTO bal;
  INSERT INTO billing_ledger AS l (org_id, kind, amount_micros, balance_after_micros, idempotency_key, actor, note)
    VALUES (p_org, p_kind, p_amount, bal, p_idempotency, p_actor, p_note) RETURNING * INTO e;
  RETURN QUERY SELECT e.entry_id, e.at, e.kind, e.amount_micros, e.balance_after_micros, e.note, false;
END $$;
`;

/**
 * `billing_usage` partitioned by UTC day (declarative range partitioning, one partition per day,
 * `billing_usage_pYYYYMMDD`), so that retention is a DROP of whole partitions, not a DELETE. The
 * process creates partitions ahead (today, tomorrow) and for the day of any row it writes
 * (retention.ts); `billing_usage_partition` may be called by several replicas at once. The key
 * becomes `(row_id, at)` (a partitioned table's key holds the partition key): a row written twice
 * carries the same `at`, so a replayed batch still adds nothing.
 *
 * `billing_usage_daily`: sums per UTC day, organization, key and model (served, else asked for),
 * upserted by the same statement that inserts a batch (usage-rows.ts), from the rows that statement
 * really inserted — so a replayed batch does not count twice. A missing org, key or model is `''`
 * (a unique key over NULLs would need PostgreSQL 15). The existing rows are moved and summed here.
 */
const USAGE_PARTITIONED = `
ALTER TABLE billing_usage RENAME TO billing_usage_unpartitioned;
DROP INDEX billing_usage_org_at, billing_usage_key_at, billing_usage_at;
ALTER TABLE billing_usage_unpartitioned RENAME CONSTRAINT billing_usage_pkey TO billing_usage_unpartitioned_pkey;
CREATE TABLE billing_usage (
  row_id            uuid NOT NULL,
  at                timestamptz NOT NULL,
  request_id        text NOT NULL,
  org_id            text COLLATE "C",
  key_id            text COLLATE "C",
  model_requested   text,
  model_served      text,
  provider          text,
  attempts          smallint NOT NULL,
  status            smallint NOT NULL,
  prompt_tokens     integer NOT NULL,
  completion_tokens integer NOT NULL,
  cached_tokens     integer NOT NULL,
  reasoning_tokens  integer NOT NULL,
  estimated         boolean NOT NULL,
  cost_micros       bigint,
  cache             text,
  latency_ms        integer NOT NULL,
  ttft_ms           integer,
  error_code        text,
  PRIMARY KEY (row_id, at)
) PARTITION BY RANGE (at);
CREATE INDEX billing_usage_org_at ON billing_usage (org_id, at);
CREATE INDEX billing_usage_key_at ON billing_usage (key_id, at);
CREATE INDEX billing_usage_at ON billing_usage USING brin (at);

-- The partition of one UTC day; nothing when it exists (or another replica creates it meanwhile).
CREATE FUNCTION billing_usage_partition(p_day date) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF billing_usage FOR VALUES FROM (%L) TO (%L)',
    'billing_usage_p' || to_char(p_day, 'YYYYMMDD'), p_day::timestamp AT TIME ZONE 'UTC', (p_day + 1)::timestamp AT TIME ZONE 'UTC');
EXCEPTION WHEN duplicate_table OR unique_violation THEN
  NULL;
END $$;

-- Drops the partitions of the days before p_before; returns their names.
CREATE FUNCTION billing_usage_drop_partitions(p_before date) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::regclass AS rel, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'billing_usage'::regclass AND c.relname ~ '^billing_usage_p[0-9]{8}$' ORDER BY c.relname LOOP
    IF to_date(substr(r.relname, 16), 'YYYYMMDD') < p_before THEN
      EXECUTE format('DROP TABLE %s', r.rel);
      RETURN NEXT r.relname::text;
    END IF;
  END LOOP;
END $$;

DO $$
DECLARE d date;
BEGIN
  FOR d IN SELECT DISTINCT (at AT TIME ZONE 'UTC')::date FROM billing_usage_unpartitioned LOOP
    PERFORM billing_usage_partition(d);
  END LOOP;
END $$;
INSERT INTO billing_usage SELECT * FROM billing_usage_unpartitioned;
DROP TABLE billing_usage_unpartitioned;

CREATE TABLE billing_usage_daily (
  day               date NOT NULL,
  org_id            text COLLATE "C" NOT NULL,
  key_id            text COLLATE "C" NOT NULL,
  model             text NOT NULL,
  requests          bigint NOT NULL,
  errors            bigint NOT NULL,
  prompt_tokens     bigint NOT NULL,
  completion_tokens bigint NOT NULL,
  cached_tokens     bigint NOT NULL,
  reasoning_tokens  bigint NOT NULL,
  cost_micros       bigint NOT NULL,
  unpriced_requests bigint NOT NULL,
  PRIMARY KEY (day, org_id, key_id, model)
);
CREATE INDEX billing_usage_daily_org_day ON billing_usage_daily (org_id, day);
CREATE INDEX billing_usage_daily_key_day ON billing_usage_daily (key_id, day);
INSERT INTO billing_usage_daily
SELECT (at AT TIME ZONE 'UTC')::date, coalesce(org_id, ''), coalesce(key_id, ''), coalesce(model_served, model_requested, ''),
  count(*), count(*) FILTER (WHERE status >= 400), sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(reasoning_tokens),
  coalesce(sum(cost_micros), 0), count(*) FILTER (WHERE cost_micros IS NULL)
FROM billing_usage GROUP BY 1, 2, 3, 4;
`;

/**
 * Credit leases (leases.ts): a replica holds a share of an organization's (or key's) free credit and
 * budgets as ONE reservation row (`request_id` 'lease'), admits requests against it in memory and
 * charges what they cost here, in batches. Locks in the order billing_settle takes them: the
 * reservation, the account, the budget rows (org day, org month, key day, key month).
 */
const LEASES = `
-- What is free under one budget (limit - spent - reserved), the row locked; p_free when it has no limit.
CREATE FUNCTION billing_budget_free(p_free bigint, p_scope text, p_subject text, p_period text, p_start date, p_limit bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE f bigint;
BEGIN
  IF p_limit IS NULL OR p_subject IS NULL THEN RETURN p_free; END IF;
  INSERT INTO billing_spend (scope, subject, period, start_date) VALUES (p_scope, p_subject, p_period, p_start) ON CONFLICT DO NOTHING;
  SELECT p_limit - s.spent_micros - s.reserved_micros INTO f FROM billing_spend s
    WHERE s.scope = p_scope AND s.subject = p_subject AND s.period = p_period AND s.start_date = p_start FOR UPDATE;
  RETURN CASE WHEN p_free IS NULL THEN f ELSE least(p_free, f) END;
END $$;

ALTER TABLE billing_reservations ADD COLUMN charged_micros bigint NOT NULL DEFAULT 0;

-- One statement on a lease: charges what the requests settled against it cost since the last
-- charge — p_total (all they cost since the lease opened, as the process counts it) less what the
-- row says was charged (less p_acked, what the process knows was charged, when the row is gone), so
-- a statement repeated after a lost reply charges nothing twice — to the balance when p_credit (one
-- 'usage' ledger entry for p_requests requests) and the budgets' spend, and shrinks the lease by as
-- much; then, when p_close, releases the rest and deletes it; else grows it by
-- least(p_want, free * p_fraction) — free: the balance less every reservation (when p_credit) and
-- each budget's limit less its spent and reserved — when that reaches p_min (else by nothing),
-- creating it when p_id is new, and moves its expiry to p_expires. A lease that had expired and was
-- released is charged all the same (existed = false). Returns the lease's hold after, the growth,
-- whether the row existed, and the use of every budget with a limit (a row with budget NULL when
-- there is none).
CREATE FUNCTION billing_lease(p_id uuid, p_org text, p_key text, p_total bigint, p_acked bigint, p_requests integer, p_close boolean,
  p_want bigint, p_min bigint, p_fraction double precision, p_credit boolean, p_budgets boolean, p_day date, p_month date,
  p_key_daily bigint, p_key_monthly bigint, p_expires timestamptz)
RETURNS TABLE (held bigint, granted bigint, existed boolean, budget text, used bigint, limit_micros bigint) LANGUAGE plpgsql AS $$
DECLARE r billing_reservations%ROWTYPE; had boolean; bal bigint; free bigint; g bigint := 0; rel bigint := 0; rel_credit bigint := 0;
  org_daily bigint; org_monthly bigint; any_budget boolean := false; p_charge bigint;
BEGIN
  SELECT * INTO r FROM billing_reservations x WHERE x.reservation_id = p_id FOR UPDATE;
  had := FOUND;
  p_charge := greatest(p_total - CASE WHEN had THEN r.charged_micros ELSE p_acked END, 0);
  IF had THEN rel := least(p_charge, r.budget_micros); rel_credit := least(p_charge, r.credit_micros); END IF;
  IF p_close AND had THEN rel := r.budget_micros; rel_credit := r.credit_micros; END IF;
  IF p_charge <> 0 OR rel <> 0 OR rel_credit <> 0 THEN
    IF p_credit OR rel_credit <> 0 THEN
      INSERT INTO billing_accounts AS a (org_id, balance_micros) VALUES (p_org, -CASE WHEN p_credit THEN p_charge ELSE 0 END)
        ON CONFLICT (org_id) DO UPDATE SET
          balance_micros = a.balance_micros - CASE WHEN p_credit THEN p_charge ELSE 0 END,
          reserved_micros = a.reserved_micros - rel_credit,
          updated_at = now()
        RETURNING a.balance_micros INTO bal;
      IF p_credit AND p_charge <> 0 THEN
        INSERT INTO billing_ledger (org_id, kind, amount_micros, balance_after_micros, key_id, note)
          VALUES (p_org, 'usage', -p_charge, bal, p_key, 'usage of ' || p_requests || ' requests (lease)');
      END IF;
    END IF;
    IF p_budgets THEN
      PERFORM billing_budget_settle('org', p_org, 'day', p_day, rel, p_charge);
      PERFORM billing_budget_settle('org', p_org, 'month', p_month, rel, p_charge);
      PERFORM billing_budget_settle('key', p_key, 'day', p_day, rel, p_charge);
      PERFORM billing_budget_settle('key', p_key, 'month', p_month, rel, p_charge);
    END IF;
  END IF;
  IF p_close THEN
    IF had THEN DELETE FROM billing_reservations x WHERE x.reservation_id = p_id; END IF;
    held := 0; granted := 0; existed := had;
    RETURN NEXT;
    RETURN;
  END IF;
  IF had THEN r.budget_micros := r.budget_micros - rel; r.credit_micros := r.credit_micros - rel_credit; END IF;
  IF p_credit THEN
    SELECT a.balance_micros - a.reserved_micros, a.daily_budget_micros, a.monthly_budget_micros INTO free, org_daily, org_monthly
      FROM billing_accounts a WHERE a.org_id = p_org FOR UPDATE;
    IF NOT FOUND THEN free := 0; END IF;
  ELSIF p_budgets THEN
    SELECT a.daily_budget_micros, a.monthly_budget_micros INTO org_daily, org_monthly FROM billing_accounts a WHERE a.org_id = p_org;
  END IF;
  IF p_want > 0 THEN
    IF p_budgets THEN
      free := billing_budget_free(free, 'org', p_org, 'day', p_day, org_daily);
      free := billing_budget_free(free, 'org', p_org, 'month', p_month, org_monthly);
      free := billing_budget_free(free, 'key', p_key, 'day', p_day, p_key_daily);
      free := billing_budget_free(free, 'key', p_key, 'month', p_month, p_key_monthly);
    END IF;
    g := CASE WHEN free IS NULL THEN p_want ELSE least(p_want, floor(greatest(free, 0) * p_fraction)::bigint) END;
    IF g < p_min THEN g := 0; END IF;
  END IF;
  IF g > 0 THEN
    IF p_credit THEN UPDATE billing_accounts a SET reserved_micros = a.reserved_micros + g WHERE a.org_id = p_org; END IF;
    IF p_budgets THEN
      PERFORM billing_budget_reserve('org', p_org, 'day', p_day, g, org_daily);
      PERFORM billing_budget_reserve('org', p_org, 'month', p_month, g, org_monthly);
      PERFORM billing_budget_reserve('key', p_key, 'day', p_day, g, p_key_daily);
      PERFORM billing_budget_reserve('key', p_key, 'month', p_month, g, p_key_monthly);
    END IF;
  END IF;
  IF had THEN
    UPDATE billing_reservations x SET budget_micros = r.budget_micros + g, credit_micros = r.credit_micros + CASE WHEN p_credit THEN g ELSE 0 END,
      charged_micros = greatest(p_total, r.charged_micros), expires_at = p_expires
      WHERE x.reservation_id = p_id;
    held := r.budget_micros + g;
  ELSIF g > 0 THEN
    INSERT INTO billing_reservations (reservation_id, org_id, key_id, request_id, credit_micros, budget_micros, budgets, day, month, expires_at, charged_micros)
      VALUES (p_id, p_org, p_key, 'lease', CASE WHEN p_credit THEN g ELSE 0 END, g, p_budgets, p_day, p_month, p_expires, p_total);
    held := g;
  ELSE
    held := 0;
  END IF;
  granted := g; existed := had;
  IF p_budgets THEN
    FOR budget, used, limit_micros IN
      SELECT b.name, s.spent_micros + s.reserved_micros, b.lim
      FROM (VALUES ('org:day', 'org', p_org, 'day', p_day, org_daily), ('org:month', 'org', p_org, 'month', p_month, org_monthly),
                   ('key:day', 'key', p_key, 'day', p_day, p_key_daily), ('key:month', 'key', p_key, 'month', p_month, p_key_monthly))
        AS b(name, scope, subject, period, start_date, lim)
      JOIN billing_spend s ON s.scope = b.scope AND s.subject = b.subject AND s.period = b.period AND s.start_date = b.start_date
      WHERE b.lim IS NOT NULL
    LOOP
      any_budget := true;
      RETURN NEXT;
    END LOOP;
  END IF;
  IF NOT any_budget THEN budget := NULL; used := NULL; limit_micros := NULL; RETURN NEXT; END IF;
END $$;
`;

export const BILLING_MIGRATIONS: readonly Migration[] = [
  { id: 1, name: 'usage records (billing_usage)', sql: USAGE },
  { id: 2, name: 'credits, reservations and budgets', sql: CREDITS },
  { id: 3, name: 'usage partitioned by day, daily aggregates', sql: USAGE_PARTITIONED },
  { id: 4, name: 'credit leases', sql: LEASES },
];
