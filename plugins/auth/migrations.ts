/**
 * `auth`'s SQL schema: plans, organizations and API keys (the identity repository,
 * `identity-store.ts`). Recorded under the owner `auth`; never edit or reorder an applied
 * migration, add one with the next id.
 */
import type { Migration } from '../../core/stores/migrate.js';

const IDENTITY = `
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

export const AUTH_MIGRATIONS: readonly Migration[] = [
  // Legacy migration 1 created these tables together with the core's settings.
  { id: 1, name: 'identity: plans, organizations, api keys', sql: IDENTITY, legacyId: 1 },
];
