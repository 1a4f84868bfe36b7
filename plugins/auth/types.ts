/**
 * Identity records (rows of the SQL store, or static keys from YAML) and `ctx.auth`, the typed
 * state the `auth` plugin sets and every later plugin reads (ip-allowlist, rate-limit, cache,
 * billing, audit).
 */
import type { Limits, Scope, StaticKey } from '../../schemas/types/plugins/auth.js';

/** What a credential may do; the values are `schemas/plugins/auth.schema.json`'s (static keys, JWTs and SQL keys alike). */
export type { Scope };
export type KeyEnvironment = StaticKey['environment'];

/** Per-key or per-plan limits; absent fields mean "no override". */
export type LimitOverrides = Limits;

export interface PlanRecord {
  id: string;
  name: string;
  /** Model id globs this plan may use; empty = all. */
  allowed_models: string[];
  limits: LimitOverrides;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface OrgRecord {
  id: string;
  /** Unique, URL-safe (`acme`). */
  slug: string;
  name: string;
  plan_id: string | null;
  /** CIDRs every key of the org is limited to; empty = anywhere. */
  allowed_ips: string[];
  metadata: Record<string, unknown>;
  disabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface KeyRecord {
  id: string;
  org_id: string;
  name: string;
  /** The visible start of the key (`sk-sy-live-AbCd…`), for humans to tell keys apart. Never enough to use it. */
  prefix: string;
  scopes: Scope[];
  environment: KeyEnvironment;
  /** ISO time, or null for never. */
  expires_at: string | null;
  revoked_at: string | null;
  /** Model id globs; empty = whatever the plan allows. */
  allowed_models: string[];
  /** CIDRs; empty = anywhere (subject to the org's list). */
  allowed_ips: string[];
  /** Referrer / Origin host names (`example.com`, `*.example.com`); empty = any. */
  allowed_referrers: string[];
  limits: LimitOverrides;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
}

/** How the caller proved who it is. */
export type AuthMethod = 'api_key' | 'static_key' | 'jwt' | 'admin_secret';

/** `ctx.auth`: set by the `auth` plugin after a successful check. Read-only for everyone else. */
export interface AuthState {
  method: AuthMethod;
  /** Organization id (SQL id, the static key's `org`, or the JWT claim). */
  orgId: string;
  /** Key id (SQL) or static key name; for JWT the subject. Safe to log and to use in counters. */
  keyId: string;
  /** The key's visible prefix, for logs and audit; never the secret. */
  keyPrefix?: string;
  scopes: readonly Scope[];
  environment: KeyEnvironment;
  plan?: PlanRecord;
  /** Effective model globs: the key's if set, else the plan's; empty = all. */
  allowedModels: readonly string[];
  /** Effective CIDR lists a request must match (key's and org's each, when set). */
  allowedIps: readonly (readonly string[])[];
  allowedReferrers: readonly string[];
  /** Effective limits: key overrides over plan. */
  limits: LimitOverrides;
  metadata: Readonly<Record<string, unknown>>;
}

declare module '../../core/context.js' {
  interface ContextState {
    auth?: AuthState;
  }
}
