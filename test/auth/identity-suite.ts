/**
 * The identity repository's behaviour, as one suite run on PGlite (`identity-store.test.ts`) and
 * on real PostgreSQL (`test/services/identity-store-postgres.test.ts`).
 */
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import type { SqlStore } from '../../core/stores/sql.js';
import { IdentityStore } from '../../plugins/auth/identity-store.js';
import { hashKey } from '../../plugins/auth/keys.js';

const SECRET = Buffer.from('identity-suite-server-secret-0123456789', 'utf8');

/** A slug no other test in the run uses. */
export function uniqueSlug(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

export function identityStoreSuite(t: Test, sql: () => SqlStore): void {
  // One store, as a gateway has one (its admin module's): ids it makes sort in creation order.
  let shared: IdentityStore | undefined;
  const store = () => (shared ??= new IdentityStore(sql()));

  t.test('creates an organization and finds it by id and by slug', async (t) => {
    const slug = uniqueSlug('acme');
    const org = await store().createOrg({ slug, name: 'Acme', allowed_ips: ['10.0.0.0/8'], metadata: { tier: 'gold' } });
    t.match(org.id, /^org_[0-9a-z]{26}$/);
    t.equal(org.plan_id, null);
    t.equal(org.disabled, false);
    t.same(org.allowed_ips, ['10.0.0.0/8']);
    t.same(org.metadata, { tier: 'gold' });
    t.match(org.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    t.same(await store().getOrg(org.id), org);
    t.same(await store().getOrg(slug), org);
    t.equal(await store().getOrg('org_missing'), undefined);
  });

  t.test('refuses a duplicate slug with 409 and a malformed slug with 400', async (t) => {
    const slug = uniqueSlug('dup');
    await store().createOrg({ slug, name: 'One' });
    await t.rejects(store().createOrg({ slug, name: 'Two' }), { status: 409, code: 'organization_exists', param: 'slug' });
    await t.rejects(store().createOrg({ slug: 'Not A Slug', name: 'x' }), { status: 400, code: 'invalid_slug' });
    await t.rejects(store().createOrg({ slug: 'org_lookalike', name: 'x' }), { status: 400, code: 'invalid_slug' });
  });

  t.test('lists organizations oldest first in pages that follow the cursor', async (t) => {
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await store().createOrg({ slug: uniqueSlug(`page${i}`), name: `P${i}` }));
    const ids = made.map((o) => o.id);
    const seen: string[] = [];
    let after: string | undefined = made[0]!.id;
    seen.push(after);
    for (;;) {
      const page = await store().listOrgs({ limit: 2, after });
      t.ok(page.data.length <= 2);
      seen.push(...page.data.map((o) => o.id));
      if (!page.has_more) break;
      after = page.data.at(-1)!.id;
    }
    t.same(seen.filter((id) => ids.includes(id)), ids, 'every org once, in creation order');
    const sorted = [...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    t.same(seen, sorted, 'pages are in id order');
    t.equal((await store().listOrgs({ limit: 1000 })).data.length <= 100, true, 'limit is capped at 100');
    t.equal((await store().listOrgs({ limit: 0 })).data.length, 1, 'limit is at least 1');
  });

  t.test('updates an organization and assigns a plan by name or id', async (t) => {
    const org = await store().createOrg({ slug: uniqueSlug('upd'), name: 'Before' });
    const plan = await store().createPlan({ name: uniqueSlug('pro'), allowed_models: ['gpt-4o*'], limits: { rpm: 60 } });
    const updated = await store().updateOrg(org.slug, { name: 'After', plan_id: plan.name, disabled: true, allowed_ips: [] });
    t.equal(updated.name, 'After');
    t.equal(updated.plan_id, plan.id, 'a plan name is stored as its id');
    t.equal(updated.disabled, true);
    t.ok(updated.updated_at >= org.updated_at);
    t.equal((await store().updateOrg(org.id, { plan_id: null })).plan_id, null, 'null removes the plan');
    await t.rejects(store().updateOrg(org.id, { plan_id: 'plan_nope' }), { status: 400, code: 'plan_not_found', param: 'plan_id' });
    await t.rejects(store().updateOrg('no-such-org', { name: 'x' }), { status: 404, type: 'not_found_error', code: 'organization_not_found' });
  });

  t.test('refuses to delete an organization with active keys, then deletes it and its dead keys', async (t) => {
    const org = await store().createOrg({ slug: uniqueSlug('del'), name: 'Del' });
    const { record } = await store().createKey(SECRET, org.id);
    await t.rejects(store().deleteOrg(org.slug), { status: 409, code: 'organization_has_active_keys' });
    await store().revokeKey(record.id);
    t.same((await store().deleteOrg(org.slug)).id, org.id);
    t.equal(await store().getOrg(org.id), undefined);
    t.equal(await store().getKey(record.id), undefined, 'its revoked key went with it');
  });

  t.test('plans: create, get by id or name, update, list, and no delete while assigned', async (t) => {
    const name = uniqueSlug('team');
    const plan = await store().createPlan({ name, limits: { rpm: 10, tpm: 5_000 }, metadata: { a: 1 } });
    t.match(plan.id, /^plan_/);
    t.same(plan.allowed_models, []);
    t.same(await store().getPlan(name), plan);
    await t.rejects(store().createPlan({ name }), { status: 409, code: 'plan_exists' });
    const updated = await store().updatePlan(plan.id, { limits: { rpm: 20 }, allowed_models: ['*'] });
    t.same(updated.limits, { rpm: 20 });
    t.same(updated.allowed_models, ['*']);
    t.ok((await store().listPlans({ limit: 100 })).data.some((p) => p.id === plan.id));
    const org = await store().createOrg({ slug: uniqueSlug('onplan'), name: 'x', plan_id: plan.id });
    await t.rejects(store().deletePlan(plan.id), { status: 409, code: 'plan_in_use' });
    await store().updateOrg(org.id, { plan_id: null });
    t.equal((await store().deletePlan(name)).id, plan.id);
    await t.rejects(store().requirePlan(plan.id), { status: 404, code: 'plan_not_found' });
  });

  t.test('issues a key whose secret is returned once and stored only as its HMAC', async (t) => {
    const org = await store().createOrg({ slug: uniqueSlug('keys'), name: 'Keys' });
    const { record, secret } = await store().createKey(SECRET, org.slug, { name: 'ci', environment: 'test', scopes: ['read'] });
    t.match(secret, /^sk-sy-test-[A-Za-z0-9_-]{43}$/);
    t.equal(record.prefix, secret.slice(0, 16));
    t.equal(record.org_id, org.id);
    t.same(record.scopes, ['read']);
    t.equal(record.environment, 'test');
    t.equal(record.expires_at, null);
    t.notOk('key_hash' in record, 'records never carry the hash');
    const { rows } = await sql().query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [record.id]);
    t.equal(rows[0]!['key_hash'], hashKey(SECRET, secret));
    t.notMatch(JSON.stringify(rows[0]), secret.slice(16), 'the secret part is stored nowhere');
    const defaults = await store().createKey(SECRET, org.id);
    t.same(defaults.record.scopes, ['read', 'write']);
    t.equal(defaults.record.environment, 'live');
    await t.rejects(store().createKey(SECRET, 'ghost-org'), { status: 404, code: 'organization_not_found' });
  });

  t.test('findByHash returns key, org and plan in one answer, and nothing for an unknown hash', async (t) => {
    const plan = await store().createPlan({ name: uniqueSlug('fbh'), limits: { tpm: 1000 } });
    const org = await store().createOrg({ slug: uniqueSlug('fbh'), name: 'F', plan_id: plan.id });
    const { record, secret } = await store().createKey(SECRET, org.id, { limits: { rpm: 3 }, allowed_models: ['gpt-*'] });
    const found = await store().findByHash(hashKey(SECRET, secret));
    t.same(found?.key, record, 'the same record shape as getKey');
    t.same(found?.org, org);
    t.same(found?.plan, plan);
    t.notOk(found && 'key_hash' in found.key);
    t.equal(await store().findByHash(hashKey(SECRET, `${secret}x`)), undefined);
    const bare = await store().createOrg({ slug: uniqueSlug('noplan'), name: 'N' });
    const other = await store().createKey(SECRET, bare.id);
    t.equal((await store().findByHash(hashKey(SECRET, other.secret)))?.plan, null);
  });

  t.test('lists keys of one organization, paginated, never with hashes', async (t) => {
    const org = await store().createOrg({ slug: uniqueSlug('lk'), name: 'L' });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await store().createKey(SECRET, org.id, { name: `k${i}` })).record.id);
    const first = await store().listKeys({ org: org.slug, limit: 2 });
    t.same(first.data.map((k) => k.id), ids.slice(0, 2));
    t.equal(first.has_more, true);
    const second = await store().listKeys({ org: org.id, limit: 2, after: first.data[1]!.id });
    t.same(second.data.map((k) => k.id), ids.slice(2));
    t.equal(second.has_more, false);
    t.notMatch(JSON.stringify(first), /key_hash/);
    await t.rejects(store().listKeys({ org: 'ghost' }), { status: 404, code: 'organization_not_found' });
  });

  t.test('updates a key, clears its expiry with null, and revokes it once', async (t) => {
    const org = await store().createOrg({ slug: uniqueSlug('uk'), name: 'U' });
    const { record } = await store().createKey(SECRET, org.id, { expires_at: '2099-01-01T00:00:00.000Z' });
    t.equal(record.expires_at, '2099-01-01T00:00:00.000Z');
    const updated = await store().updateKey(record.id, {
      name: 'renamed', scopes: ['admin'], allowed_ips: ['::1/128'], allowed_referrers: ['*.example.com'], limits: { concurrency: 2 }, metadata: { team: 'x' }, expires_at: null,
    });
    t.equal(updated.name, 'renamed');
    t.same(updated.scopes, ['admin']);
    t.same(updated.allowed_ips, ['::1/128']);
    t.same(updated.allowed_referrers, ['*.example.com']);
    t.same(updated.limits, { concurrency: 2 });
    t.same(updated.metadata, { team: 'x' });
    t.equal(updated.expires_at, null);
    const revoked = await store().revokeKey(record.id);
    t.ok(revoked.revoked_at);
    t.equal((await store().revokeKey(record.id)).revoked_at, revoked.revoked_at, 'revoking again keeps the first time');
    await t.rejects(store().updateKey('key_missing', { name: 'x' }), { status: 404, code: 'key_not_found' });
    await t.rejects(store().revokeKey('key_missing'), { status: 404, code: 'key_not_found' });
  });

  t.test('rotation issues a replacement with the same settings and lets the old key live out its grace period', async (t) => {
    const org = await store().createOrg({ slug: uniqueSlug('rot'), name: 'R' });
    const day = 86_400_000;
    const { record: old, secret: oldSecret } = await store().createKey(SECRET, org.id, {
      name: 'svc', scopes: ['read', 'write'], environment: 'test', allowed_models: ['m*'], limits: { rpm: 9 }, metadata: { a: 1 },
      expires_at: new Date(Date.now() + 30 * day).toISOString(),
    });
    const before = Date.now();
    const rotated = await store().rotateKey(SECRET, old.id, 3600);
    t.not(rotated.secret, oldSecret);
    t.match(rotated.secret, /^sk-sy-test-/);
    t.not(rotated.record.id, old.id);
    for (const field of ['org_id', 'name', 'scopes', 'environment', 'allowed_models', 'allowed_ips', 'allowed_referrers', 'limits', 'metadata'] as const) {
      t.same(rotated.record[field], old[field], `${field} carried over`);
    }
    const lifetime = Date.parse(rotated.record.expires_at!) - Date.parse(rotated.record.created_at);
    t.ok(Math.abs(lifetime - 30 * day) < 5000, 'the new key gets the same 30-day lifetime');
    const graceEnd = Date.parse(rotated.previous.expires_at!);
    t.ok(graceEnd >= before + 3_590_000 && graceEnd <= Date.now() + 3_610_000, 'the old key now expires in an hour');
    t.equal((await store().findByHash(hashKey(SECRET, rotated.secret)))?.key.id, rotated.record.id);

    const soon = await store().createKey(SECRET, org.id, { expires_at: new Date(Date.now() + 60_000).toISOString() });
    const r2 = await store().rotateKey(SECRET, soon.record.id, 86_400);
    t.equal(r2.previous.expires_at, soon.record.expires_at, 'a sooner expiry is kept');
    const forever = await store().createKey(SECRET, org.id);
    t.equal((await store().rotateKey(SECRET, forever.record.id, 0)).record.expires_at, null, 'a key without expiry rotates into one without expiry');

    await store().revokeKey(old.id);
    await t.rejects(store().rotateKey(SECRET, old.id, 60), { status: 409, code: 'key_revoked' });
    await t.rejects(store().rotateKey(SECRET, 'key_missing', 60), { status: 404, code: 'key_not_found' });
  });

  t.test('touchLastUsed stamps exactly the given keys in one call', async (t) => {
    const org = await store().createOrg({ slug: uniqueSlug('touch'), name: 'T' });
    const a = (await store().createKey(SECRET, org.id)).record;
    const b = (await store().createKey(SECRET, org.id)).record;
    const c = (await store().createKey(SECRET, org.id)).record;
    await store().touchLastUsed([a.id, b.id]);
    await store().touchLastUsed([]);
    t.ok((await store().getKey(a.id))?.last_used_at);
    t.ok((await store().getKey(b.id))?.last_used_at);
    t.equal((await store().getKey(c.id))?.last_used_at, null);
  });
}
