/**
 * The SQL schema, as ordered migrations. They live in TypeScript (not `.sql` files) so that `tsc`
 * ships them in `dist/`. The same text runs on PGlite and PostgreSQL.
 *
 * Rules: never edit or reorder an applied migration; add a new one with the next id. Ids are
 * `text COLLATE "C"` so that ordering (and cursor pagination by id) is byte order on every server,
 * whatever the database's locale. Money is `bigint` micro-units, never a float. History tables
 * (ledger, usage, audit) carry no foreign keys: they outlive the organizations and keys they name.
 */

export interface Migration {
  /** Position in the order; applied ascending, recorded in `schema_migrations`. */
  id: number;
  /** Short description, recorded alongside the id. */
  name: string;
  sql: string;
}

const IDENTITY = `
CREATE TABLE gateway_settings (
  name  text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE plans (
  id             text COLLATE "C" PRIMARY KEY,
  name           text NOT NULL UNIQUE,
  allowed_models text[] NOT NULL DEFAULT '{}',
  limits         jsonb NOT NULL DEFAULT '{}',
  metadata       jsonb NOT NULL DEFAULT '{}',
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organizations (
  id          text COLLATE "C" PRIMARY KEY,
  slug        text NOT NULL UNIQUE,
  name        text NOT NULL,
  plan_id     text COLLATE "C" REFERENCES plans (id) ON DELETE RESTRICT,
  allowed_ips text[] NOT NULL DEFAULT '{}',
  metadata    jsonb NOT NULL DEFAULT '{}',
  disabled    boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organizations_plan_id ON organizations (plan_id);

CREATE TABLE api_keys (
  id                text COLLATE "C" PRIMARY KEY,
  org_id            text COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name              text NOT NULL DEFAULT '',
  key_hash          text NOT NULL,
  prefix            text NOT NULL,
  scopes            text[] NOT NULL,
  environment       text NOT NULL CHECK (environment IN ('live', 'test')),
  expires_at        timestamptz,
  revoked_at        timestamptz,
  allowed_models    text[] NOT NULL DEFAULT '{}',
  allowed_ips       text[] NOT NULL DEFAULT '{}',
  allowed_referrers text[] NOT NULL DEFAULT '{}',
  limits            jsonb NOT NULL DEFAULT '{}',
  metadata          jsonb NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  last_used_at      timestamptz
);
CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);
CREATE INDEX api_keys_org_id ON api_keys (org_id, id);
`;

const ACCOUNTING = `
CREATE TABLE credit_ledger (
  id            bigserial PRIMARY KEY,
  org_id        text COLLATE "C" NOT NULL,
  amount_micros bigint NOT NULL,
  kind          text NOT NULL,
  reference     text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_ledger_org ON credit_ledger (org_id, created_at);

CREATE TABLE usage_records (
  id                bigserial PRIMARY KEY,
  request_id        text NOT NULL,
  org_id            text COLLATE "C",
  key_id            text COLLATE "C",
  model             text NOT NULL,
  provider          text NOT NULL,
  prompt_tokens     integer NOT NULL DEFAULT 0,
  completion_tokens integer NOT NULL DEFAULT 0,
  cost_micros       bigint NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_records_org ON usage_records (org_id, created_at);
CREATE INDEX usage_records_key ON usage_records (key_id, created_at);
CREATE INDEX usage_records_request ON usage_records (request_id);

CREATE TABLE audit_events (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT now(),
  actor   text NOT NULL,
  action  text NOT NULL,
  target  text,
  details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_target ON audit_events (target, at);
`;

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [
  { id: 1, name: 'identity: settings, plans, organizations, api keys', sql: IDENTITY },
  { id: 2, name: 'accounting: credit ledger, usage records, audit events', sql: ACCOUNTING },
];
