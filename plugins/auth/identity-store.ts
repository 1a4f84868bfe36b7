/**
 * The identity repository: organizations, plans and API keys in the SQL store, as the records of
 * `types.ts`. The admin API writes through it; `auth` reads through `findByHash` on a cache miss.
 *
 * Failures a caller can fix are GatewayErrors (404 unknown id, 409 conflict, 400 bad reference), so
 * the admin routes pass them through untouched. Timestamps come back as ISO strings whichever
 * driver is underneath. Key secrets are returned once by `createKey`/`rotateKey` and never stored:
 * only their HMAC is, and no method returns it.
 *
 * Deleting an organization is refused while it has active keys (revoke them first): deleting keys
 * that are in use is too easy to do by mistake. Its revoked and expired keys go with it.
 */
import type { SqlStore } from '../../core/stores/sql.js';
import { generateKey, hashKey } from './keys.js';
import type { KeyEnvironment, KeyRecord, LimitOverrides, OrgRecord, PlanRecord, Scope } from './types.js';
import { IdGenerator, onUniqueViolation, throwNotFound, toKey, toOrg, toPlan, type Row } from './identity-rows.js';
import { errors } from '../../core/errors.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** Lowercase letters, digits and dashes; cannot look like an `org_…` id. */
export const SLUG_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
const SLUG = new RegExp(SLUG_PATTERN);

export interface PageOptions {
  /** 1–100; default 20. */
  limit?: number;
  /** Return records whose id sorts after this one (the previous page's last id). */
  after?: string;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
}

export interface NewOrg {
  slug: string;
  name: string;
  /** A plan id or name; stored as the id. */
  plan_id?: string | null;
  allowed_ips?: string[];
  metadata?: Record<string, unknown>;
  disabled?: boolean;
}
export type OrgChanges = Partial<Pick<NewOrg, 'name' | 'plan_id' | 'allowed_ips' | 'metadata' | 'disabled'>>;

export interface NewPlan {
  name: string;
  allowed_models?: string[];
  limits?: LimitOverrides;
  metadata?: Record<string, unknown>;
}
export type PlanChanges = Partial<NewPlan>;

export interface KeyOptions {
  name?: string;
  scopes?: Scope[];
  environment?: KeyEnvironment;
  /** ISO time, or null for never. */
  expires_at?: string | null;
  allowed_models?: string[];
  allowed_ips?: string[];
  allowed_referrers?: string[];
  limits?: LimitOverrides;
  metadata?: Record<string, unknown>;
}
export type KeyChanges = Omit<KeyOptions, 'environment'>;

/** A freshly issued key: `secret` is the only copy there will ever be. */
export interface IssuedKey {
  record: KeyRecord;
  secret: string;
}

/** What `auth` needs to decide about a presented key, read in one query. */
export interface KeyIdentity {
  key: KeyRecord;
  org: OrgRecord;
  plan: PlanRecord | null;
}

const PLAN_COLUMNS = 'id, name, allowed_models, limits, metadata, created_at, updated_at';
const ORG_COLUMNS = 'id, slug, name, plan_id, allowed_ips, metadata, disabled, created_at, updated_at';
const KEY_COLUMNS =
  'id, org_id, name, prefix, scopes, environment, expires_at, revoked_at, allowed_models, allowed_ips, allowed_referrers, limits, metadata, created_at, updated_at, last_used_at';
const ACTIVE_KEY = 'revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())';

/** Columns an update may set, and how each value is bound. Names never come from the caller. */
const JSON_COLUMNS = new Set(['limits', 'metadata']);
const TIME_COLUMNS = new Set(['expires_at']);

export class IdentityStore {
  private readonly ids = new IdGenerator();

  constructor(private readonly sql: Pick<SqlStore, 'query' | 'transaction'>) {}

  // Organizations

  async createOrg(input: NewOrg): Promise<OrgRecord> {
    if (!SLUG.test(input.slug)) throw errors.badRequest('invalid_slug', `'${input.slug}' is not a valid slug: use lowercase letters, digits and dashes.`, 'slug');
    const planId = input.plan_id ? (await this.requirePlanRef(input.plan_id)).id : null;
    const { rows } = await this.sql
      .query<Row>(
        `INSERT INTO organizations (id, slug, name, plan_id, allowed_ips, metadata, disabled) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING ${ORG_COLUMNS}`,
        [this.ids.next('org'), input.slug, input.name, planId, input.allowed_ips ?? [], JSON.stringify(input.metadata ?? {}), input.disabled ?? false],
      )
      .catch(onUniqueViolation(`An organization with slug '${input.slug}' already exists.`, 'organization_exists', 'slug'));
    return toOrg(rows[0]!);
  }

  /** By id or slug. */
  async getOrg(ref: string): Promise<OrgRecord | undefined> {
    const { rows } = await this.sql.query<Row>(`SELECT ${ORG_COLUMNS} FROM organizations WHERE id = $1 OR slug = $1`, [ref]);
    return rows[0] && toOrg(rows[0]);
  }

  async requireOrg(ref: string): Promise<OrgRecord> {
    return (await this.getOrg(ref)) ?? throwNotFound('organization', ref);
  }

  listOrgs(page: PageOptions = {}): Promise<Page<OrgRecord>> {
    return this.page(ORG_COLUMNS, 'organizations', [], page, toOrg);
  }

  async updateOrg(ref: string, changes: OrgChanges): Promise<OrgRecord> {
    const org = await this.requireOrg(ref);
    const values: Record<string, unknown> = { ...changes };
    if (changes.plan_id) values['plan_id'] = (await this.requirePlanRef(changes.plan_id)).id;
    const row = await this.update('organizations', ORG_COLUMNS, org.id, values);
    return toOrg(row ?? throwNotFound('organization', ref));
  }

  /** Refused (409) while the organization has active keys. */
  async deleteOrg(ref: string): Promise<OrgRecord> {
    const org = await this.requireOrg(ref);
    return this.sql.transaction(async (tx) => {
      // Locking the row makes a concurrent key insert (its foreign key needs a share lock) wait for the decision.
      await tx.query('SELECT id FROM organizations WHERE id = $1 FOR UPDATE', [org.id]);
      const active = await tx.query<{ n: string }>(`SELECT count(*) AS n FROM api_keys WHERE org_id = $1 AND ${ACTIVE_KEY}`, [org.id]);
      const n = Number(active.rows[0]!.n);
      if (n > 0) throw errors.conflict('organization_has_active_keys', `Organization '${org.slug}' still has ${n} active key(s); revoke them before deleting it.`);
      await tx.query('DELETE FROM organizations WHERE id = $1', [org.id]);
      return org;
    });
  }

  // Plans

  async createPlan(input: NewPlan): Promise<PlanRecord> {
    const { rows } = await this.sql
      .query<Row>(
        `INSERT INTO plans (id, name, allowed_models, limits, metadata) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb) RETURNING ${PLAN_COLUMNS}`,
        [this.ids.next('plan'), input.name, input.allowed_models ?? [], JSON.stringify(input.limits ?? {}), JSON.stringify(input.metadata ?? {})],
      )
      .catch(onUniqueViolation(`A plan named '${input.name}' already exists.`, 'plan_exists', 'name'));
    return toPlan(rows[0]!);
  }

  /** By id or name (an id wins when both match). */
  async getPlan(ref: string): Promise<PlanRecord | undefined> {
    const { rows } = await this.sql.query<Row>(`SELECT ${PLAN_COLUMNS} FROM plans WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1`, [ref]);
    return rows[0] && toPlan(rows[0]);
  }

  async requirePlan(ref: string): Promise<PlanRecord> {
    return (await this.getPlan(ref)) ?? throwNotFound('plan', ref);
  }

  listPlans(page: PageOptions = {}): Promise<Page<PlanRecord>> {
    return this.page(PLAN_COLUMNS, 'plans', [], page, toPlan);
  }

  async updatePlan(ref: string, changes: PlanChanges): Promise<PlanRecord> {
    const plan = await this.requirePlan(ref);
    const row = await this.update('plans', PLAN_COLUMNS, plan.id, { ...changes }).catch(
      onUniqueViolation(`A plan named '${changes.name ?? ''}' already exists.`, 'plan_exists', 'name'),
    );
    return toPlan(row ?? throwNotFound('plan', ref));
  }

  /** Refused (409) while any organization is on the plan. */
  async deletePlan(ref: string): Promise<PlanRecord> {
    const plan = await this.requirePlan(ref);
    return this.sql.transaction(async (tx) => {
      await tx.query('SELECT id FROM plans WHERE id = $1 FOR UPDATE', [plan.id]);
      const used = await tx.query<{ n: string }>('SELECT count(*) AS n FROM organizations WHERE plan_id = $1', [plan.id]);
      const n = Number(used.rows[0]!.n);
      if (n > 0) throw errors.conflict('plan_in_use', `Plan '${plan.name}' is assigned to ${n} organization(s); move them to another plan first.`);
      await tx.query('DELETE FROM plans WHERE id = $1', [plan.id]);
      return plan;
    });
  }

  // Keys

  /** Issues a key for the organization (id or slug); `serverSecret` is what its HMAC is taken under. */
  async createKey(serverSecret: Buffer, orgRef: string, options: KeyOptions = {}): Promise<IssuedKey> {
    const org = await this.requireOrg(orgRef);
    const environment = options.environment ?? 'live';
    const { secret, prefix } = generateKey(environment);
    const { rows } = await this.sql.query<Row>(
      `INSERT INTO api_keys (id, org_id, name, key_hash, prefix, scopes, environment, expires_at, allowed_models, allowed_ips, allowed_referrers, limits, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz, $9, $10, $11, $12::jsonb, $13::jsonb) RETURNING ${KEY_COLUMNS}`,
      [
        this.ids.next('key'), org.id, options.name ?? '', hashKey(serverSecret, secret), prefix, options.scopes ?? ['read', 'write'], environment,
        options.expires_at ?? null, options.allowed_models ?? [], options.allowed_ips ?? [], options.allowed_referrers ?? [],
        JSON.stringify(options.limits ?? {}), JSON.stringify(options.metadata ?? {}),
      ],
    );
    return { record: toKey(rows[0]!), secret };
  }

  async getKey(id: string): Promise<KeyRecord | undefined> {
    const { rows } = await this.sql.query<Row>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id]);
    return rows[0] && toKey(rows[0]);
  }

  async requireKey(id: string): Promise<KeyRecord> {
    return (await this.getKey(id)) ?? throwNotFound('key', id);
  }

  /** Every key, or one organization's (id or slug). */
  async listKeys(page: PageOptions & { org?: string } = {}): Promise<Page<KeyRecord>> {
    if (page.org === undefined) return this.page(KEY_COLUMNS, 'api_keys', [], page, toKey);
    const org = await this.requireOrg(page.org);
    return this.page(KEY_COLUMNS, 'api_keys', [['org_id', org.id]], page, toKey);
  }

  async updateKey(id: string, changes: KeyChanges): Promise<KeyRecord> {
    const row = await this.update('api_keys', KEY_COLUMNS, id, { ...changes });
    return toKey(row ?? throwNotFound('key', id));
  }

  /** Revokes at once; revoking a revoked key keeps its first revocation time. */
  async revokeKey(id: string): Promise<KeyRecord> {
    const { rows } = await this.sql.query<Row>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()), updated_at = now() WHERE id = $1 RETURNING ${KEY_COLUMNS}`,
      [id],
    );
    return toKey(rows[0] ?? throwNotFound('key', id));
  }

  /**
   * Issues a replacement with the same organization, name, environment and settings; a key that
   * had a lifetime gets the same lifetime from now. The old key keeps working for `graceSeconds`
   * (or until its own expiry, if sooner), then expires.
   */
  async rotateKey(serverSecret: Buffer, id: string, graceSeconds: number): Promise<IssuedKey & { previous: KeyRecord }> {
    return this.sql.transaction(async (tx) => {
      const { rows: current } = await tx.query<Row>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE`, [id]);
      const old = toKey(current[0] ?? throwNotFound('key', id));
      if (old.revoked_at !== null) throw errors.conflict('key_revoked', `Key '${id}' is revoked; create a new key instead.`);
      if (old.expires_at !== null && Date.parse(old.expires_at) <= Date.now()) throw errors.conflict('key_expired', `Key '${id}' has expired; create a new key instead.`);
      const { secret, prefix } = generateKey(old.environment);
      const { rows: created } = await tx.query<Row>(
        `INSERT INTO api_keys (id, org_id, name, key_hash, prefix, scopes, environment, expires_at, allowed_models, allowed_ips, allowed_referrers, limits, metadata)
         SELECT $1, org_id, name, $2, $3, scopes, environment, now() + (expires_at - created_at), allowed_models, allowed_ips, allowed_referrers, limits, metadata
         FROM api_keys WHERE id = $4 RETURNING ${KEY_COLUMNS}`,
        [this.ids.next('key'), hashKey(serverSecret, secret), prefix, id],
      );
      const { rows: previous } = await tx.query<Row>(
        `UPDATE api_keys SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $2)), updated_at = now()
         WHERE id = $1 RETURNING ${KEY_COLUMNS}`,
        [id, graceSeconds],
      );
      return { record: toKey(created[0]!), secret, previous: toKey(previous[0]!) };
    });
  }

  /** The key with this HMAC, its organization and the organization's plan, in one query. */
  async findByHash(hash: string): Promise<KeyIdentity | undefined> {
    const { rows } = await this.sql.query<{ key: Row; org: Row; plan: Row | null }>(
      `SELECT to_jsonb(k) - 'key_hash' AS key, to_jsonb(o) AS org, to_jsonb(p) AS plan
       FROM api_keys k JOIN organizations o ON o.id = k.org_id LEFT JOIN plans p ON p.id = o.plan_id
       WHERE k.key_hash = $1`,
      [hash],
    );
    const row = rows[0];
    return row && { key: toKey(row.key), org: toOrg(row.org), plan: row.plan ? toPlan(row.plan) : null };
  }

  /** Records use by many keys in one statement (`auth` batches them). */
  async touchLastUsed(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.sql.query('UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::text[])', [[...ids]]);
  }

  // Shared machinery

  private async requirePlanRef(ref: string): Promise<PlanRecord> {
    const plan = await this.getPlan(ref);
    if (!plan) throw errors.badRequest('plan_not_found', `No plan '${ref}' exists.`, 'plan_id');
    return plan;
  }

  /** One page in id order; `equal` filters are `[column, value]` pairs with fixed column names. */
  private async page<T>(columns: string, table: string, equal: [string, unknown][], page: PageOptions, map: (row: Row) => T): Promise<Page<T>> {
    const limit = Math.min(Math.max(Math.trunc(page.limit ?? DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE);
    const conditions = equal.map(([column], i) => `${column} = $${i + 1}`);
    const params = equal.map(([, value]) => value);
    if (page.after !== undefined) {
      params.push(page.after);
      conditions.push(`id > $${params.length}`);
    }
    const where = conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
    const { rows } = await this.sql.query<Row>(`SELECT ${columns} FROM ${table}${where} ORDER BY id LIMIT ${limit + 1}`, params);
    return { data: rows.slice(0, limit).map(map), has_more: rows.length > limit };
  }

  /** `UPDATE table SET <given columns>, updated_at = now()`; undefined values are left alone. */
  private async update(table: string, columns: string, id: string, values: Record<string, unknown>): Promise<Row | undefined> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const [column, value] of Object.entries(values)) {
      if (value === undefined) continue;
      params.push(JSON_COLUMNS.has(column) ? JSON.stringify(value) : value);
      sets.push(`${column} = $${params.length}${JSON_COLUMNS.has(column) ? '::jsonb' : TIME_COLUMNS.has(column) ? '::timestamptz' : ''}`);
    }
    sets.push('updated_at = now()');
    const { rows } = await this.sql.query<Row>(`UPDATE ${table} SET ${sets.join(', ')} WHERE id = $1 RETURNING ${columns}`, params);
    return rows[0];
  }
}
