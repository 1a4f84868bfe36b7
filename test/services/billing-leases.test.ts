/**
 * Credit leases across replicas: two gateways (each its own LeaseBook and PostgreSQL pool) share one
 * database. An organization with credit for 2,000 requests gets 3,000, alternating between the
 * gateways, 100 at a time: each replica serves on its own leases, yet at most 2,000 succeed, the
 * balance and what is available are never seen below zero, and the books come out exact with
 * nothing left reserved.
 */
import t from 'tap';
import pg from 'pg';
import type { TestGateway } from '../helpers/gateway.js';
import type { Gateway } from '../../core/gateway.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import { startCreditReplicas } from './credit-replicas.js';
import { books, chat, COST, pool, topUp } from '../plugins/billing-credits-fixture.js';

let one: TestGateway;
let two: TestGateway;
let client: pg.Client;

t.before(async () => {
  // 100 requests at once on a 2-core machine under load: a longer wait for a free connection than the
  // default 5 s, so that a slow moment does not mark the store down (503s, with or without leases).
  ({ one, two, client } = await startCreditReplicas(t, 'leases', ['acme'], { postgres: 'connect_timeout: 30s, query_timeout: 30s', level: 'warn' }));
});

interface BillingState {
  queue: { flush(): Promise<void> };
  leases: { size: number; drained(): Promise<boolean> };
}
const billingState = (gateway: Gateway) => (gateway as unknown as { services: { stateNamed(n: string): unknown } }).services.stateNamed('billing') as BillingState;
/** Resolves once every request the gateway is running has ended, post-response work (settlements, lease returns) included. */
async function idle(gateway: Gateway): Promise<boolean> {
  const running = (gateway as unknown as { inFlight: Set<unknown> }).inFlight;
  for (let i = 0; i < 1000 && running.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return running.size === 0;
}

t.test('3,000 requests through two gateways on credit for 2,000: at most 2,000 succeed, never below zero, exact books', async (t) => {
  const credit = 2000 * COST;
  t.equal((await topUp(one.url, 'acme', credit)).status, 201);
  // Sample the balance while the burst runs (its own connection): it must never be seen below zero.
  let lowest = BigInt(credit);
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await client.query<{ b: string; r: string }>(`SELECT balance_micros::text AS b, reserved_micros::text AS r FROM billing_accounts WHERE org_id = 'acme'`);
      const balance = BigInt(rows[0]!.b);
      const available = balance - BigInt(rows[0]!.r);
      if (balance < lowest) lowest = balance;
      if (available < lowest) lowest = available;
      samples++;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  const others: string[] = [];
  const tasks = Array.from({ length: 3000 }, (_, i) => async () => {
    const res = await chat(i % 2 === 0 ? one.url : two.url, 'acme');
    const body = (await res.json()) as { error?: { type: string; code: string } };
    if (res.status === 402 && (body.error?.type !== 'insufficient_quota' || body.error.code !== 'insufficient_quota')) t.fail(`402 with ${JSON.stringify(body.error)}`);
    if (res.status !== 200 && res.status !== 402) others.push(`${res.status} ${JSON.stringify(body.error)}`);
    return res.status;
  });
  const statuses = await pool(tasks, 100);
  sampling = false;
  await sampler;
  const ok = statuses.filter((s) => s === 200).length;
  t.comment(`credit for 2,000 over two gateways: ${ok} of 3,000 succeeded; ${samples} samples, lowest balance or available ${lowest}`);
  t.ok(ok <= 2000, `at most 2,000 succeed (${ok})`);
  t.ok(ok >= 1900, `and nearly all the credit is used (${ok})`);
  if (others.length > 0) {
    const seen = new Map<string, number>();
    for (const l of [...one.logs, ...two.logs]) {
      const line = `${String(l['msg'])} ${String(l['err'] ?? l['detail'] ?? '')}`.slice(0, 300);
      seen.set(line, (seen.get(line) ?? 0) + 1);
    }
    t.comment(`logs: ${JSON.stringify([...seen], null, 1)}`);
  }
  t.same(others.slice(0, 3), [], `no answer but 200 and 402 (${others.length} others)`);
  t.equal(statuses.filter((s) => s === 402).length, 3000 - ok, 'the rest get 402 insufficient_quota');
  t.ok(samples > 10, `sampled during the burst (${samples})`);
  t.ok(lowest >= 0n, `balance and available never seen below zero (lowest ${lowest})`);

  for (const gw of [one, two]) {
    t.ok(await idle(gw.gateway), 'idle');
    t.ok(await billingState(gw.gateway).leases.drained(), 'every lease returned once the organization is idle');
    await billingState(gw.gateway).queue.flush();
    t.equal(billingState(gw.gateway).leases.size, 0, 'every lease returned');
  }
  const sql: SqlExecutor = { query: (text, params) => client.query(text, params as unknown[]) as never };
  const b = await books(sql, 'acme');
  t.equal(b.reserved, 0n, 'nothing reserved');
  t.equal(b.reservations, 0, 'no reservation row left');
  t.equal(b.balance, BigInt(credit - ok * COST));
  t.equal(b.ledgerSum, b.balance, 'the ledger sums to the balance');
  t.equal(-b.usageEntries, b.usageCost, "ledger usage = usage records' cost, exactly");
  t.equal(b.usageCost, BigInt(ok * COST));
  const { rows } = await client.query<{ note: string | null; key_id: string | null }>(`SELECT note, key_id FROM billing_ledger WHERE org_id = 'acme' AND kind = 'usage'`);
  const leased = rows.filter((r) => /^usage of \d+ requests \(lease\)$/.test(r.note ?? ''));
  t.comment(`${rows.length} usage entries, ${leased.length} by leases`);
  t.ok(leased.length > 0, `the ledger has lease entries (${leased.length} of ${rows.length})`);
  t.ok(rows.length < ok, 'fewer usage entries than requests served');
  const warned = [...one.logs, ...two.logs].filter((l) => /had expired and been released/.test(String(l['msg']))).length;
  t.equal(warned, 0, 'no lease expired, and none is said to have (billing_lease `found`)');
});
