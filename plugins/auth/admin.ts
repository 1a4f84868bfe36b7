/**
 * The identity admin API: organizations, API keys and plans under `/admin`, over the identity
 * repository. Every change that can affect a cached key (revoke, update, rotate, organization or
 * plan change) is published on the identity channel, so every `auth` instance drops it at once.
 *
 * It also recognises API keys with the `admin` scope as admin credentials (`authenticate`). Logs
 * name keys by id and prefix only; the secret appears in exactly one place, the create/rotate response.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { defineAdminModule, type AdminCaller, type AdminRequest, type AdminRoute, type AdminServices } from '../../core/admin/contract.js';
import { presentedCredential } from '../../core/http/credentials.js';
import { errors } from '../../core/errors.js';
import { compileCidrs } from '../../core/http/client-ip.js';
import { publishIdentityChange, type IdentityChange } from './events.js';
import { hashKey } from './keys.js';
import { IdentityStore, type KeyChanges, type KeyOptions, type NewOrg, type NewPlan, type OrgChanges, type Page, type PlanChanges } from './identity-store.js';
import * as schemas from './admin-schemas.js';
import type { KeyRecord } from './types.js';


export default defineAdminModule({
  name: 'identity',
  create(services) {
    let opening: Promise<IdentityStore> | undefined;
    const store = (): Promise<IdentityStore> => {
      // Opened on first use (PGlite takes seconds to start); a failed open is retried next time.
      opening ??= services.sql().then((sql) => new IdentityStore(sql));
      opening.catch(() => (opening = undefined));
      return opening;
    };
    return { routes: identityRoutes(services, store), authenticate: (headers) => authenticate(services, store, headers) };
  },
});

/** An `sk-sy-…` key with the `admin` scope is an admin caller; a bad one is a 401; other credentials are not ours. */
async function authenticate(services: AdminServices, store: () => Promise<IdentityStore>, headers: IncomingHttpHeaders): Promise<AdminCaller | undefined> {
  const presented = presentedCredential(headers);
  if (!presented?.startsWith('sk-sy-')) return undefined;
  const found = await (await store()).findByHash(hashKey(await services.serverSecret(), presented));
  const now = Date.now();
  if (!found || found.key.revoked_at !== null || found.org.disabled || (found.key.expires_at !== null && Date.parse(found.key.expires_at) <= now)) {
    if (found) services.log.info({ keyId: found.key.id, prefix: found.key.prefix }, 'admin: refused an inactive key');
    throw errors.invalidApiKey();
  }
  return { kind: 'api_key', orgId: found.org.id, keyId: found.key.id, scopes: found.key.scopes };
}

function identityRoutes(services: AdminServices, store: () => Promise<IdentityStore>): AdminRoute[] {
  const changed = async (req: AdminRequest, change: IdentityChange) => {
    // The change is committed either way; caches then expire by TTL, so say loudly that fan-out failed.
    await publishIdentityChange(services.kv, change).catch((err: Error) => req.log.error({ err: err.message, change }, 'admin: identity change not published'));
  };
  const org = (record: object) => ({ object: 'organization', ...record });
  const plan = (record: object) => ({ object: 'plan', ...record });
  const key = (record: KeyRecord) => ({ object: 'api_key', ...record });

  return [
    {
      method: 'POST', path: '/admin/organizations', tag: 'organizations', summary: 'Create an organization.',
      requestSchema: schemas.orgCreateSchema, responseSchema: schemas.orgResponseSchema, successStatus: 201,
      handle: async (req) => {
        const body = req.body as NewOrg;
        checkCidrs(body.allowed_ips, 'allowed_ips');
        const created = await (await store()).createOrg(body);
        req.audit({ action: 'organization.create', target: { type: 'organization', id: created.id }, after: created });
        req.log.info({ orgId: created.id, slug: created.slug }, 'admin: organization created');
        return { status: 201, body: org(created) };
      },
    },
    {
      method: 'GET', path: '/admin/organizations', tag: 'organizations', summary: 'List organizations, oldest first.',
      queryParams: schemas.pageQueryParams, responseSchema: schemas.listResponseSchema(schemas.orgResponseSchema),
      handle: async (req) => ({ status: 200, body: list(await (await store()).listOrgs(pageOf(req)), org) }),
    },
    {
      method: 'GET', path: '/admin/organizations/:id', tag: 'organizations', summary: 'Get an organization by id or slug.',
      responseSchema: schemas.orgResponseSchema,
      handle: async (req) => ({ status: 200, body: org(await (await store()).requireOrg(req.params['id']!)) }),
    },
    {
      method: 'PATCH', path: '/admin/organizations/:id', tag: 'organizations', summary: 'Change an organization: name, plan (assignment), allowed IPs, metadata, disabled.',
      requestSchema: schemas.orgUpdateSchema, responseSchema: schemas.orgResponseSchema,
      handle: async (req) => {
        const body = req.body as OrgChanges;
        checkCidrs(body.allowed_ips, 'allowed_ips');
        const before = await (await store()).requireOrg(req.params['id']!);
        const updated = await (await store()).updateOrg(req.params['id']!, body);
        req.audit({ action: 'organization.update', target: { type: 'organization', id: updated.id }, before, after: updated });
        await changed(req, { orgId: updated.id });
        req.log.info({ orgId: updated.id, fields: Object.keys(body) }, 'admin: organization updated');
        return { status: 200, body: org(updated) };
      },
    },
    {
      method: 'DELETE', path: '/admin/organizations/:id', tag: 'organizations', summary: 'Delete an organization (refused while it has active keys).',
      responseSchema: schemas.deletedResponseSchema('organization'),
      handle: async (req) => {
        const deleted = await (await store()).deleteOrg(req.params['id']!);
        req.audit({ action: 'organization.delete', target: { type: 'organization', id: deleted.id }, before: deleted });
        await changed(req, { orgId: deleted.id });
        req.log.info({ orgId: deleted.id, slug: deleted.slug }, 'admin: organization deleted');
        return { status: 200, body: { object: 'organization', id: deleted.id, deleted: true } };
      },
    },
    {
      method: 'POST', path: '/admin/organizations/:id/keys', tag: 'keys', summary: 'Create an API key for an organization; the response holds the key, shown only this once.',
      requestSchema: schemas.keyCreateSchema, responseSchema: schemas.issuedKeyResponseSchema, successStatus: 201,
      handle: async (req) => {
        const { expires_in, ...options } = req.body as KeyOptions & { expires_in?: string };
        if (expires_in !== undefined && options.expires_at != null) throw errors.badRequest('conflicting_expiry', 'Give either expires_at or expires_in, not both.', 'expires_in');
        if (expires_in !== undefined) options.expires_at = new Date(Date.now() + lifetimeSeconds(expires_in, 'expires_in') * 1000).toISOString();
        checkCidrs(options.allowed_ips, 'allowed_ips');
        const issued = await (await store()).createKey(await services.serverSecret(), req.params['id']!, options);
        req.audit({ action: 'key.create', target: { type: 'api_key', id: issued.record.id }, after: issued.record });
        req.log.info({ keyId: issued.record.id, prefix: issued.record.prefix, orgId: issued.record.org_id, scopes: issued.record.scopes }, 'admin: key created');
        return { status: 201, body: { ...key(issued.record), key: issued.secret } };
      },
    },
    {
      method: 'GET', path: '/admin/keys', tag: 'keys', summary: 'List API keys (never their secrets), optionally of one organization.',
      queryParams: [{ name: 'org', description: 'Organization id or slug.', schema: { type: 'string' } }, ...schemas.pageQueryParams],
      responseSchema: schemas.listResponseSchema(schemas.keyResponseSchema),
      handle: async (req) => {
        const orgRef = req.query.get('org') ?? undefined;
        return { status: 200, body: list(await (await store()).listKeys({ ...pageOf(req), ...(orgRef ? { org: orgRef } : {}) }), key) };
      },
    },
    {
      method: 'GET', path: '/admin/keys/:id', tag: 'keys', summary: 'Get an API key (never its secret).',
      responseSchema: schemas.keyResponseSchema,
      handle: async (req) => ({ status: 200, body: key(await (await store()).requireKey(req.params['id']!)) }),
    },
    {
      method: 'PATCH', path: '/admin/keys/:id', tag: 'keys', summary: 'Change an API key: name, scopes, expiry, allowed models/IPs/referrers, limits, metadata.',
      requestSchema: schemas.keyUpdateSchema, responseSchema: schemas.keyResponseSchema,
      handle: async (req) => {
        const body = req.body as KeyChanges;
        checkCidrs(body.allowed_ips, 'allowed_ips');
        const before = await (await store()).requireKey(req.params['id']!);
        const updated = await (await store()).updateKey(req.params['id']!, body);
        req.audit({ action: 'key.update', target: { type: 'api_key', id: updated.id }, before, after: updated });
        await changed(req, { keyId: updated.id });
        req.log.info({ keyId: updated.id, prefix: updated.prefix, fields: Object.keys(body) }, 'admin: key updated');
        return { status: 200, body: key(updated) };
      },
    },
    {
      method: 'POST', path: '/admin/keys/:id/revoke', tag: 'keys', summary: 'Revoke an API key now (every replica refuses it within a second).',
      requestSchema: { type: 'object', additionalProperties: false, properties: {} }, responseSchema: schemas.keyResponseSchema,
      handle: async (req) => {
        const before = await (await store()).requireKey(req.params['id']!);
        const revoked = await (await store()).revokeKey(req.params['id']!);
        req.audit({ action: 'key.revoke', target: { type: 'api_key', id: revoked.id }, before, after: revoked });
        await changed(req, { keyId: revoked.id });
        req.log.info({ keyId: revoked.id, prefix: revoked.prefix }, 'admin: key revoked');
        return { status: 200, body: key(revoked) };
      },
    },
    {
      method: 'POST', path: '/admin/keys/:id/rotate', tag: 'keys', summary: 'Issue a replacement key with the same settings; the old one works for the grace period, then expires.',
      requestSchema: schemas.keyRotateSchema, responseSchema: schemas.issuedKeyResponseSchema,
      handle: async (req) => {
        const { grace_period = '24h' } = req.body as { grace_period?: string };
        const grace = lifetimeSeconds(grace_period, 'grace_period');
        const before = await (await store()).requireKey(req.params['id']!);
        const rotated = await (await store()).rotateKey(await services.serverSecret(), req.params['id']!, grace);
        req.audit({ action: 'key.rotate', target: { type: 'api_key', id: rotated.previous.id }, before, after: { previous: rotated.previous, issued: rotated.record } });
        await changed(req, { keyId: rotated.previous.id });
        req.log.info({ keyId: rotated.record.id, prefix: rotated.record.prefix, previousKeyId: rotated.previous.id, graceSeconds: grace }, 'admin: key rotated');
        return { status: 200, body: { ...key(rotated.record), key: rotated.secret, rotated_from: { id: rotated.previous.id, expires_at: rotated.previous.expires_at } } };
      },
    },
    {
      method: 'POST', path: '/admin/plans', tag: 'plans', summary: 'Create a plan (allowed models, limits).',
      requestSchema: schemas.planCreateSchema, responseSchema: schemas.planResponseSchema, successStatus: 201,
      handle: async (req) => {
        const created = await (await store()).createPlan(req.body as NewPlan);
        req.audit({ action: 'plan.create', target: { type: 'plan', id: created.id }, after: created });
        req.log.info({ planId: created.id, name: created.name }, 'admin: plan created');
        return { status: 201, body: plan(created) };
      },
    },
    {
      method: 'GET', path: '/admin/plans', tag: 'plans', summary: 'List plans, oldest first.',
      queryParams: schemas.pageQueryParams, responseSchema: schemas.listResponseSchema(schemas.planResponseSchema),
      handle: async (req) => ({ status: 200, body: list(await (await store()).listPlans(pageOf(req)), plan) }),
    },
    {
      method: 'GET', path: '/admin/plans/:id', tag: 'plans', summary: 'Get a plan by id or name.',
      responseSchema: schemas.planResponseSchema,
      handle: async (req) => ({ status: 200, body: plan(await (await store()).requirePlan(req.params['id']!)) }),
    },
    {
      method: 'PATCH', path: '/admin/plans/:id', tag: 'plans', summary: 'Change a plan; organizations on it see the change at once.',
      requestSchema: schemas.planUpdateSchema, responseSchema: schemas.planResponseSchema,
      handle: async (req) => {
        const before = await (await store()).requirePlan(req.params['id']!);
        const updated = await (await store()).updatePlan(req.params['id']!, req.body as PlanChanges);
        req.audit({ action: 'plan.update', target: { type: 'plan', id: updated.id }, before, after: updated });
        await changed(req, { planId: updated.id });
        req.log.info({ planId: updated.id, fields: Object.keys(req.body as object) }, 'admin: plan updated');
        return { status: 200, body: plan(updated) };
      },
    },
    {
      method: 'DELETE', path: '/admin/plans/:id', tag: 'plans', summary: 'Delete a plan (refused while organizations are on it).',
      responseSchema: schemas.deletedResponseSchema('plan'),
      handle: async (req) => {
        const deleted = await (await store()).deletePlan(req.params['id']!);
        req.audit({ action: 'plan.delete', target: { type: 'plan', id: deleted.id }, before: deleted });
        await changed(req, { planId: deleted.id });
        req.log.info({ planId: deleted.id, name: deleted.name }, 'admin: plan deleted');
        return { status: 200, body: { object: 'plan', id: deleted.id, deleted: true } };
      },
    },
  ];
}

function list<T extends { id: string }>(page: Page<T>, shape: (record: T) => object): object {
  return { object: 'list', data: page.data.map(shape), has_more: page.has_more, last_id: page.data.at(-1)?.id ?? null };
}

function pageOf(req: AdminRequest): { limit?: number; after?: string } {
  const limitText = req.query.get('limit');
  const after = req.query.get('after');
  const page: { limit?: number; after?: string } = {};
  if (limitText !== null) {
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > 100) throw errors.badRequest('invalid_limit', `limit must be an integer from 1 to 100, not '${limitText.slice(0, 20)}'.`, 'limit');
    page.limit = limit;
  }
  if (after) page.after = after;
  return page;
}

/** Rejects the first entry that is not an IP address or CIDR, naming it (`allowed_ips[2]`). */
function checkCidrs(cidrs: readonly string[] | undefined, field: string): void {
  cidrs?.forEach((cidr, i) => {
    try {
      compileCidrs([cidr]);
    } catch (err) {
      throw errors.badRequest('invalid_cidr', `Invalid value for '${field}[${i}]': ${(err as Error).message}.`, `${field}[${i}]`);
    }
  });
}

function lifetimeSeconds(text: string, param: string): number {
  const seconds = schemas.parseLifetime(text);
  if (seconds === undefined) throw errors.badRequest('invalid_duration', `'${text.slice(0, 20)}' is not a duration like 30d, 12h or 0s.`, param);
  return seconds;
}
