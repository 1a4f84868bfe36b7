/**
 * Credits across replicas: two gateways (each its own process state and its own PostgreSQL pool)
 * share one database. An organization with credit for exactly 50 requests gets 500 concurrent
 * requests spread over both: at most 50 succeed, the balance never goes below zero, and the
 * ledger's usage equals the usage records' cost exactly. Concurrent identical top-ups through both
 * gateways credit once.
 */
import t from 'tap';
import pg from 'pg';
import type { TestGateway } from '../helpers/gateway.js';
import type { Gateway } from '../../core/gateway.js';
import { startCreditReplicas } from './credit-replicas.js';
import { books, chat, COST, topUp } from '../plugins/billing-credits-fixture.js';

let one: TestGateway;
let two: TestGateway;
let client: pg.Client;

t.before(async () => {
  ({ one, two, client } = await startCreditReplicas(t, 'credits', ['acme', 'twin']));
});

/** Waits for the credit leases' return (50 ms after an organization's last request), then writes the queued usage rows. */
const flush = async (gateway: Gateway) => {
  const state = (gateway as unknown as { services: { stateNamed(n: string): unknown } }).services.stateNamed('billing') as { queue: { flush(): Promise<void> }; leases: { drained(): Promise<boolean> } };
  await state.leases.drained();
  await state.queue.flush();
};

t.test('500 concurrent requests through two gateways on credit for 50: at most 50 succeed, never below zero', async (t) => {
  t.equal((await topUp(one.url, 'acme', 50 * COST)).status, 201);
  // Sample the balance while the burst runs: it must never be seen below zero.
  let lowest = BigInt(50 * COST);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await client.query<{ b: string; r: string }>(`SELECT balance_micros::text AS b, reserved_micros::text AS r FROM billing_accounts WHERE org_id = 'acme'`);
      const available = BigInt(rows[0]!.b) - BigInt(rows[0]!.r);
      if (BigInt(rows[0]!.b) < lowest) lowest = BigInt(rows[0]!.b);
      if (available < lowest) lowest = available;
    }
  })();
  const statuses = await Promise.all(Array.from({ length: 500 }, async (_, i) => {
    const res = await chat(i % 2 === 0 ? one.url : two.url, 'acme');
    await res.text();
    return res.status;
  }));
  sampling = false;
  await sampler;
  const ok = statuses.filter((s) => s === 200).length;
  t.ok(ok <= 50, `at most 50 succeed (${ok})`);
  t.equal(ok, 50, 'and here, with costs equal to their reservations, exactly 50');
  t.equal(statuses.filter((s) => s === 402).length, 500 - ok, 'the rest get 402');
  t.ok(lowest >= 0n, `balance and available never seen below zero (lowest ${lowest})`);
  await flush(one.gateway);
  await flush(two.gateway);
  const b = await books({ query: (text, params) => client.query(text, params as unknown[]) as never }, 'acme');
  t.equal(b.balance, 0n);
  t.equal(b.reserved, 0n);
  t.equal(b.reservations, 0);
  t.equal(b.ledgerSum, b.balance, 'the ledger sums to the balance');
  t.equal(-b.usageEntries, b.usageCost, "ledger usage = usage records' cost, exactly");
  t.equal(b.usageCost, BigInt(ok * COST));
});

t.test('identical top-ups at once through both gateways credit once', async (t) => {
  const results = await Promise.all([one, two, one, two].map((gw) => topUp(gw.url, 'twin', 1234, 'invoice-77')));
  t.same(results.map((r) => r.status).sort(), [200, 200, 200, 201]);
  const { rows } = await client.query<{ b: string; n: string }>(`SELECT (SELECT balance_micros::text FROM billing_accounts WHERE org_id = 'twin') AS b, (SELECT count(*)::text FROM billing_ledger WHERE org_id = 'twin') AS n`);
  t.same(rows[0], { b: '1234', n: '1' });
});
