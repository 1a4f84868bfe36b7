/**
 * The identity admin API over HTTP, through a real in-process gateway (PGlite in memory): what an
 * operator can do with organizations, keys and plans, what is refused and how, that secrets show up
 * exactly once, and that admin-scope keys are admin credentials.
 */
import t from 'tap';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { IDENTITY_CHANNEL, parseIdentityChange, type IdentityChange } from '../../plugins/auth/events.js';
import identityAdmin from '../../plugins/auth/admin.js';

const ADMIN_KEY = 'sy-admin-identity-test-0123456789';
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ strict: false, allowUnionTypes: true }));

type Json = Record<string, any>;

async function call(gw: TestGateway, method: string, path: string, body?: unknown, key: string = ADMIN_KEY): Promise<{ status: number; json: Json; text: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gw.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Json, text };
}

const yaml = openaiConfig('http://127.0.0.1:9/v1', `stores: { kv: memory, sql: { pglite: memory } }
pipeline:
  - auth: { keys: [sql] }
  - route
`);

t.test('identity admin API', async (t) => {
  const gw = await startGateway(yaml, { env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
  t.teardown(() => gw.close());
  const changes: IdentityChange[] = [];
  const unsubscribe = await gw.gateway.stores.kv.subscribe(IDENTITY_CHANNEL, (m) => changes.push(parseIdentityChange(m)));
  t.teardown(unsubscribe);

  const doc = (await call(gw, 'GET', '/admin/openapi.json')).json;
  /** Checks a 2xx body against the route's documented response schema. */
  const conforms = (method: string, template: string, status: number, body: unknown) => {
    const schema = doc.paths[template][method].responses[String(status)]?.content?.['application/json']?.schema;
    if (!schema) return t.fail(`no documented ${status} for ${method} ${template}`);
    const validate = ajv.compile(schema);
    t.ok(validate(body), `${method} ${template} matches its schema ${JSON.stringify(validate.errors ?? [])}`);
  };

  t.test('documents every identity route under its tag', async (t) => {
    const routes = (await identityAdmin.create({} as never)).routes;
    for (const r of routes) {
      const template = r.path.replace(/:(\w+)/g, '{$1}');
      t.ok(doc.paths[template]?.[r.method.toLowerCase()], `${r.method} ${r.path} is in the OpenAPI document`);
      t.ok(['organizations', 'keys', 'plans'].includes(r.tag));
    }
  });

  let planId = '';
  let orgId = '';
  let keyId = '';
  let secret = '';

  t.test('creates a plan, an organization on it, and a key whose secret is shown once', async (t) => {
    const plan = await call(gw, 'POST', '/admin/plans', { name: 'pro', allowed_models: ['demo*'], limits: { rpm: 100 } });
    t.equal(plan.status, 201);
    conforms('post', '/admin/plans', 201, plan.json);
    planId = plan.json.id;

    const org = await call(gw, 'POST', '/admin/organizations', { slug: 'acme', name: 'Acme', plan_id: 'pro' });
    t.equal(org.status, 201);
    t.equal(org.json.object, 'organization');
    t.equal(org.json.plan_id, planId, 'the plan name resolved to its id');
    conforms('post', '/admin/organizations', 201, org.json);
    orgId = org.json.id;

    const key = await call(gw, 'POST', '/admin/organizations/acme/keys', { name: 'backend', expires_in: '30d', allowed_ips: ['127.0.0.1', '::1/128'] });
    t.equal(key.status, 201);
    t.equal(key.json.object, 'api_key');
    t.match(key.json.key, /^sk-sy-live-/);
    t.same(key.json.scopes, ['read', 'write'], 'default scopes');
    const expiresIn = Date.parse(key.json.expires_at) - Date.now();
    t.ok(expiresIn > 29.9 * 86_400_000 && expiresIn <= 30 * 86_400_000, 'expires in 30 days');
    conforms('post', '/admin/organizations/{id}/keys', 201, key.json);
    keyId = key.json.id;
    secret = key.json.key;

    const again = await call(gw, 'GET', `/admin/keys/${keyId}`);
    t.equal(again.status, 200);
    t.notOk('key' in again.json, 'reading a key never shows the secret');
    t.notMatch(again.text, secret);
    conforms('get', '/admin/keys/{id}', 200, again.json);
  });

  t.test('a key created through the admin API authenticates model calls until it is revoked', async (t) => {
    const ok = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }) });
    t.equal(ok.status, 200);
    changes.length = 0;
    const revoked = await call(gw, 'POST', `/admin/keys/${keyId}/revoke`, {});
    t.equal(revoked.status, 200);
    t.ok(revoked.json.revoked_at);
    t.same(changes, [{ keyId }], 'the revocation was published on the identity channel');
    await new Promise((r) => setTimeout(r, 50));
    const refused = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }) });
    t.equal(refused.status, 401);
  });

  t.test('lists keys and organizations in cursor pages', async (t) => {
    for (let i = 0; i < 3; i++) t.equal((await call(gw, 'POST', `/admin/organizations/${orgId}/keys`, { name: `k${i}` })).status, 201);
    const first = await call(gw, 'GET', '/admin/keys?org=acme&limit=2');
    t.equal(first.status, 200);
    conforms('get', '/admin/keys', 200, first.json);
    t.equal(first.json.object, 'list');
    t.equal(first.json.data.length, 2);
    t.equal(first.json.has_more, true);
    t.equal(first.json.last_id, first.json.data[1].id);
    const rest = await call(gw, 'GET', `/admin/keys?org=acme&limit=100&after=${first.json.last_id}`);
    t.equal(rest.json.data.length, 2);
    t.equal(rest.json.has_more, false);
    t.notMatch(first.text + rest.text, /"key"|key_hash/, 'lists carry neither secrets nor hashes');
    const orgs = await call(gw, 'GET', '/admin/organizations');
    conforms('get', '/admin/organizations', 200, orgs.json);
    t.ok(orgs.json.data.some((o: Json) => o.slug === 'acme'));
    const bad = await call(gw, 'GET', '/admin/keys?limit=0');
    t.equal(bad.status, 400);
    t.equal(bad.json.error.param, 'limit');
  });

  t.test('rotation returns a new secret and keeps the old key alive for the grace period', async (t) => {
    const created = await call(gw, 'POST', '/admin/organizations/acme/keys', { name: 'rotating', scopes: ['read'] });
    changes.length = 0;
    const rotated = await call(gw, 'POST', `/admin/keys/${created.json.id}/rotate`, { grace_period: '1h' });
    t.equal(rotated.status, 200);
    conforms('post', '/admin/keys/{id}/rotate', 200, rotated.json);
    t.match(rotated.json.key, /^sk-sy-live-/);
    t.not(rotated.json.key, created.json.key);
    t.same(rotated.json.scopes, ['read']);
    t.equal(rotated.json.rotated_from.id, created.json.id);
    const graceLeft = Date.parse(rotated.json.rotated_from.expires_at) - Date.now();
    t.ok(graceLeft > 3_500_000 && graceLeft <= 3_600_000);
    t.same(changes, [{ keyId: created.json.id }]);
    const defaulted = await call(gw, 'POST', `/admin/keys/${rotated.json.id}/rotate`, {});
    t.ok(Math.abs(Date.parse(defaulted.json.rotated_from.expires_at) - Date.now() - 86_400_000) < 10_000, 'grace defaults to 24h');
  });

  t.test('updates a key and an organization, publishing each change', async (t) => {
    const created = await call(gw, 'POST', '/admin/organizations/acme/keys', {});
    changes.length = 0;
    const patched = await call(gw, 'PATCH', `/admin/keys/${created.json.id}`, { name: 'renamed', limits: { rpm: 5 }, expires_at: null });
    t.equal(patched.status, 200);
    t.equal(patched.json.name, 'renamed');
    t.same(patched.json.limits, { rpm: 5 });
    const org = await call(gw, 'PATCH', '/admin/organizations/acme', { disabled: true });
    t.equal(org.json.disabled, true);
    const plan = await call(gw, 'PATCH', `/admin/plans/${planId}`, { limits: { rpm: 1 } });
    t.same(plan.json.limits, { rpm: 1 });
    t.same(changes, [{ keyId: created.json.id }, { orgId }, { planId }]);
    await call(gw, 'PATCH', '/admin/organizations/acme', { disabled: false });
  });

  t.test('refuses bad input with 400 naming the field', async (t) => {
    const cidr = await call(gw, 'POST', '/admin/organizations/acme/keys', { allowed_ips: ['10.0.0.0/8', '10.0.0.300/8'] });
    t.equal(cidr.status, 400);
    t.equal(cidr.json.error.param, 'allowed_ips[1]');
    t.match(cidr.json.error.message, /10\.0\.0\.300/);
    const orgCidr = await call(gw, 'PATCH', '/admin/organizations/acme', { allowed_ips: ['nope'] });
    t.equal(orgCidr.json.error.param, 'allowed_ips[0]');
    const both = await call(gw, 'POST', '/admin/organizations/acme/keys', { expires_in: '1d', expires_at: '2099-01-01T00:00:00Z' });
    t.equal(both.status, 400);
    t.equal(both.json.error.param, 'expires_in');
    const unknown = await call(gw, 'POST', '/admin/organizations', { slug: 'x', name: 'X', colour: 'red' });
    t.equal(unknown.status, 400);
    t.equal(unknown.json.error.param, 'colour');
    const scope = await call(gw, 'POST', '/admin/organizations/acme/keys', { scopes: ['root'] });
    t.equal(scope.status, 400);
    const plan = await call(gw, 'PATCH', '/admin/organizations/acme', { plan_id: 'no-such-plan' });
    t.equal(plan.status, 400);
    t.equal(plan.json.error.code, 'plan_not_found');
  });

  t.test('accepts monthly and daily budgets on plans and keys (billing enforces them), refuses negative ones', async (t) => {
    const limits = { rpm: 10, monthly_budget_micros: 5_000_000, daily_budget_micros: 200_000 };
    const plan = await call(gw, 'POST', '/admin/plans', { name: 'budgeted', limits });
    t.equal(plan.status, 201);
    t.same(plan.json.limits, limits);
    const negative = await call(gw, 'PATCH', '/admin/plans/budgeted', { limits: { monthly_budget_micros: -1 } });
    t.equal(negative.status, 400);
    t.equal(negative.json.error.param, 'limits.monthly_budget_micros');
    t.equal((await call(gw, 'DELETE', '/admin/plans/budgeted')).status < 300, true);
  });

  t.test('answers unknown records with 404 and conflicts with 409, in the OpenAI envelope', async (t) => {
    for (const path of ['/admin/organizations/ghost', '/admin/keys/key_ghost', '/admin/plans/ghost']) {
      const r = await call(gw, 'GET', path);
      t.equal(r.status, 404, path);
      t.equal(r.json.error.type, 'not_found_error');
      t.match(r.json.error.code, /_not_found$/);
      t.ok(r.json.error.request_id);
    }
    t.equal((await call(gw, 'POST', '/admin/organizations', { slug: 'acme', name: 'Again' })).status, 409);
    const inUse = await call(gw, 'DELETE', `/admin/plans/${planId}`);
    t.equal(inUse.status, 409);
    t.equal(inUse.json.error.code, 'plan_in_use');
    const active = await call(gw, 'DELETE', '/admin/organizations/acme');
    t.equal(active.status, 409);
    t.equal(active.json.error.code, 'organization_has_active_keys');
  });

  t.test('deletes an organization without active keys, and an unused plan', async (t) => {
    const org = await call(gw, 'POST', '/admin/organizations', { slug: 'shortlived', name: 'S' });
    const deleted = await call(gw, 'DELETE', '/admin/organizations/shortlived');
    t.same(deleted.json, { object: 'organization', id: org.json.id, deleted: true });
    conforms('delete', '/admin/organizations/{id}', 200, deleted.json);
    t.equal((await call(gw, 'GET', `/admin/organizations/${org.json.id}`)).status, 404);
    const plan = await call(gw, 'POST', '/admin/plans', { name: 'temp' });
    t.equal((await call(gw, 'DELETE', '/admin/plans/temp')).json.id, plan.json.id);
  });

  t.test('an admin-scope key is an admin credential; other keys are refused', async (t) => {
    const admin = await call(gw, 'POST', '/admin/organizations/acme/keys', { scopes: ['admin'], name: 'ops' });
    const viaKey = await call(gw, 'GET', '/admin/organizations/acme', undefined, admin.json.key);
    t.equal(viaKey.status, 200);
    const viaHeader = await fetch(`${gw.url}/admin/plans`, { headers: { 'x-api-key': admin.json.key } });
    t.equal(viaHeader.status, 200, 'x-api-key works too');

    const plain = await call(gw, 'POST', '/admin/organizations/acme/keys', { scopes: ['read', 'write'] });
    const forbidden = await call(gw, 'GET', '/admin/organizations', undefined, plain.json.key);
    t.equal(forbidden.status, 403);
    t.equal(forbidden.json.error.type, 'permission_error');

    const expired = await call(gw, 'POST', '/admin/organizations/acme/keys', { scopes: ['admin'], expires_at: '2001-01-01T00:00:00Z' });
    const revoked = await call(gw, 'POST', '/admin/organizations/acme/keys', { scopes: ['admin'] });
    await call(gw, 'POST', `/admin/keys/${revoked.json.id}/revoke`, {});
    const unknownKey = `${admin.json.key.slice(0, -4)}AAAA`;
    const answers = [];
    for (const key of [expired.json.key, revoked.json.key, unknownKey]) {
      const r = await call(gw, 'GET', '/admin/organizations', undefined, key);
      t.equal(r.status, 401);
      t.equal(r.json.error.code, 'invalid_api_key');
      answers.push(r.json.error.message);
    }
    t.equal(new Set(answers).size, 1, 'expired, revoked and unknown keys get the same message');

    await call(gw, 'PATCH', '/admin/organizations/acme', { disabled: true });
    t.equal((await call(gw, 'GET', '/admin/plans', undefined, admin.json.key)).status, 401, 'a disabled organization\'s admin key is refused');
    await call(gw, 'PATCH', '/admin/organizations/acme', { disabled: false });
  });

  t.test('every admin route rejects missing, non-admin, revoked and expired credentials', async (t) => {
    const nonAdmin = await call(gw, 'POST', '/admin/organizations/acme/keys', { scopes: ['read', 'write'], name: 'not-admin' });
    const expired = await call(gw, 'POST', '/admin/organizations/acme/keys', { scopes: ['admin'], expires_at: '2001-01-01T00:00:00Z' });
    const revoked = await call(gw, 'POST', '/admin/organizations/acme/keys', { scopes: ['admin'] });
    t.equal((await call(gw, 'POST', `/admin/keys/${revoked.json.id}/revoke`, {})).status, 200);
    const credentials: [string, string | undefined, number][] = [
      ['no credential', undefined, 401],
      ['a non-admin key', nonAdmin.json.key as string, 403],
      ['a revoked admin key', revoked.json.key as string, 401],
      ['an expired admin key', expired.json.key as string, 401],
    ];
    let checked = 0;
    for (const [template, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      // A real id where the route takes one, so a refusal cannot be a 404 in disguise.
      const path = template.replace('{id}', template.startsWith('/admin/keys') ? String(nonAdmin.json.id) : 'acme');
      for (const method of Object.keys(ops)) {
        for (const [label, key, status] of credentials) {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (key) headers['authorization'] = `Bearer ${key}`;
          const res = await fetch(`${gw.url}${path}`, { method: method.toUpperCase(), headers, body: method === 'get' || method === 'delete' ? undefined : '{}' });
          const body = (await res.json()) as Json;
          t.equal(res.status, status, `${method.toUpperCase()} ${template} with ${label}`);
          t.equal(body.error?.type, status === 401 ? 'authentication_error' : 'permission_error');
          checked++;
        }
      }
    }
    t.ok(checked >= 4 * 20, `checked ${checked} route × credential pairs`);
    const still = await call(gw, 'GET', `/admin/keys/${nonAdmin.json.id}`);
    t.equal(still.json.revoked_at, null, 'and none of the refused calls changed anything');
  });

  t.test('no key secret ever reaches the log', async (t) => {
    const issued = await call(gw, 'POST', '/admin/organizations/acme/keys', { name: 'logged?' });
    await call(gw, 'GET', '/admin/keys', undefined, issued.json.key);
    const text = gw.logText();
    t.match(text, /admin: key created/, 'key creation is logged');
    t.notMatch(text, issued.json.key.slice(11), 'but never the secret');
    t.notMatch(text, secret.slice(11));
  });
});
