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

export const BILLING_MIGRATIONS: readonly Migration[] = [{ id: 1, name: 'usage records (billing_usage)', sql: USAGE }];
