/**
 * Plans grant monthly credit (billing `plans`), on PGlite through a real gateway: an organization on
 * a plan gets the plan's credit on its first priced request of each calendar month (UTC), once, as
 * a ledger `grant` with the idempotency key `plan-grant:<org>:<YYYY-MM>`; organizations on no plan,
 * or on a plan without a grant, get nothing. Across replicas: test/services/billing-plans.test.ts.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import type { Gateway } from '../../core/gateway.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import { ADMIN_KEY, admin, COST, creditsConfig, eventually, PROMPT, startUpstream, type Upstream } from './billing-credits-fixture.js';

const GRANT = 200;

let upstream: Upstream;
let gw: TestGateway;
t.before(async () => {
  upstream = await startUpstream();
  gw = await startGateway(creditsConfig(upstream.baseUrl, '{ pglite: memory }', ['static-org'], { billing: `      plans: { pro: { monthly_credits_micros: ${GRANT} } }\n` }), {
    level: 'warn',
    env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY },
  });
  t.equal((await admin(gw.url, 'POST', '/admin/plans', { name: 'pro' })).status, 201);
  t.equal((await admin(gw.url, 'POST', '/admin/plans', { name: 'basic' })).status, 201);
});
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

const billingState = (gateway: Gateway) => (gateway as unknown as { services: { stateNamed(name: string): unknown } }).services.stateNamed('billing') as { now: () => number };

/** A new organization (on `plan`, if any) and a key of it. */
async function orgWithKey(slug: string, plan?: string): Promise<{ id: string; key: string }> {
  const org = await admin(gw.url, 'POST', '/admin/organizations', { slug, name: slug, ...(plan && { plan_id: plan }) });
  const key = await admin(gw.url, 'POST', `/admin/organizations/${slug}/keys`, {});
  return { id: String(org.body['id']), key: String(key.body['key']) };
}

async function chat(key: string): Promise<number> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'ok', max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] }),
  });
  await res.text();
  return res.status;
}

async function grants(org: string): Promise<{ key: string; amount: string }[]> {
  const sql: SqlExecutor = await gw.gateway.stores.sql();
  const { rows } = await sql.query<{ key: string; amount: string }>(`SELECT idempotency_key AS key, amount_micros::text AS amount FROM billing_ledger WHERE org_id = $1 AND kind = 'grant' ORDER BY entry_id`, [org]);
  return rows;
}

/** The balance once every request of `org` is settled (settlement runs after the client has its response). */
async function balance(org: string): Promise<bigint> {
  const read = async () => (await (await gw.gateway.stores.sql()).query<{ b: string; r: string }>('SELECT balance_micros::text AS b, reserved_micros::text AS r FROM billing_accounts WHERE org_id = $1', [org])).rows[0];
  const row = await eventually(read, (r) => r?.r === '0');
  return BigInt(row?.b ?? 0);
}

t.test("an organization on a plan gets the plan's credit once a month, on its first priced request", async (t) => {
  const state = billingState(gw.gateway);
  const realNow = state.now;
  t.teardown(() => void (state.now = realNow));
  const start = Date.UTC(2031, 0, 31, 23, 59);
  state.now = () => start;
  const { id, key } = await orgWithKey('pro-org', 'pro');
  t.equal(await chat(key), 200, 'served with no top-up: the grant came first');
  t.equal(await balance(id), BigInt(GRANT - COST));
  // Concurrent requests in the same month grant nothing more.
  const statuses = await Promise.all(Array.from({ length: 6 }, () => chat(key)));
  t.equal(statuses.filter((s) => s === 200).length, 3, 'the rest of the grant, and no more');
  t.equal(await balance(id), 0n);
  t.same(await grants(id), [{ key: `plan-grant:${id}:2031-01`, amount: String(GRANT) }], 'one grant, keyed by organization and month');
  // The next calendar month (UTC): one new grant.
  state.now = () => start + 2 * 60_000;
  t.equal(await chat(key), 200);
  t.equal(await chat(key), 200);
  t.equal(await balance(id), BigInt(GRANT - 2 * COST));
  t.same((await grants(id)).map((g) => g.key), [`plan-grant:${id}:2031-01`, `plan-grant:${id}:2031-02`]);
});

t.test('no plan, or a plan without a grant: no credit', async (t) => {
  const none = await orgWithKey('no-plan-org');
  const basic = await orgWithKey('basic-org', 'basic');
  t.equal(await chat(none.key), 402);
  t.equal(await chat(basic.key), 402);
  t.same(await grants(none.id), []);
  t.same(await grants(basic.id), []);
});

t.test('plans that grant credit need credits enabled', async (t) => {
  const yaml = creditsConfig(upstream.baseUrl, '{ pglite: memory }', ['x'], { billing: '      plans: { pro: { monthly_credits_micros: 1 } }\n' }).replace('credits: { enabled: true }', 'credits: { enabled: false }');
  await t.rejects(startGateway(yaml, { level: 'silent' }), /plan credit grants need `credits.enabled: true`/);
});
