/**
 * Plan credit grants across replicas: two gateways (each its own process state, its own memory of
 * grants made, and its own PostgreSQL pool) share one database. Organizations on a plan whose
 * monthly credit pays for exactly 20 requests send 40 at once, spread over both gateways, as their
 * first requests of the month: the grant is made once (one ledger entry, keyed
 * `plan-grant:<org>:<YYYY-MM>`), so exactly 20 are served and the balance ends at zero.
 */
import t from 'tap';
import pg from 'pg';
import type { TestGateway } from '../helpers/gateway.js';
import { startCreditReplicas } from './credit-replicas.js';
import { admin, COST, eventually, PROMPT } from '../plugins/billing-credits-fixture.js';
import { periodsOf } from '../../plugins/billing/credits.js';

const GRANT = 20 * COST;

let one: TestGateway;
let two: TestGateway;
let client: pg.Client;

t.before(async () => {
  ({ one, two, client } = await startCreditReplicas(t, 'plans', ['static-org'], { billing: `      plans: { pro: { monthly_credits_micros: ${GRANT} } }\n` }));
  t.equal((await admin(one.url, 'POST', '/admin/plans', { name: 'pro' })).status, 201);
});

function chat(url: string, key: string): Promise<number> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'ok', max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] }),
  }).then(async (res) => (await res.text(), res.status));
}

for (const slug of ['plan-one', 'plan-two', 'plan-three']) {
  t.test(`${slug}: 40 first requests of the month through two gateways → one grant, 20 served`, async (t) => {
    const org = await admin(one.url, 'POST', '/admin/organizations', { slug, name: slug, plan_id: 'pro' });
    t.equal(org.status, 201);
    const id = String(org.body['id']);
    const key = String((await admin(two.url, 'POST', `/admin/organizations/${slug}/keys`, {})).body['key']);
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => chat(i % 2 === 0 ? one.url : two.url, key)));
    t.equal(statuses.filter((s) => s === 200).length, 20, 'exactly what one grant pays for');
    t.equal(statuses.filter((s) => s === 402).length, 20);
    const { rows } = await client.query<{ key: string; amount: string }>(`SELECT idempotency_key AS key, amount_micros::text AS amount FROM billing_ledger WHERE org_id = $1 AND kind = 'grant'`, [id]);
    t.same(rows, [{ key: `plan-grant:${id}:${periodsOf(Date.now()).month.slice(0, 7)}`, amount: String(GRANT) }], 'granted once');
    // Settlements run after each response is sent: wait for the last one.
    const account = await eventually(
      async () => (await client.query<{ b: string; r: string }>('SELECT balance_micros::text AS b, reserved_micros::text AS r FROM billing_accounts WHERE org_id = $1', [id])).rows[0],
      (row) => row?.r === '0',
    );
    t.same(account, { b: '0', r: '0' }, 'the grant spent exactly, nothing left reserved');
  });
}
