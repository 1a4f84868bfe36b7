/**
 * Credit leases (plugins/billing/leases.ts) on PGlite, through a real in-process gateway: a busy
 * organization is served on a few lease statements instead of two per request and its books come
 * out exact; near the limit of its credit or of a budget, concurrent requests still cannot run past
 * it; leases off is one ledger entry per request; the costs of a lease held open reach the balance
 * at each flush; and, on the LeaseBook itself, a crash leaves a lease row that expires and is
 * released, and failed `billing_lease` statements lose or double no charge once they work again.
 */
import t, { type Test } from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import type { Gateway } from '../../core/gateway.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import { periodsOf, releaseExpired } from '../../plugins/billing/credits.js';
import { LeaseBook, type LeaseScope } from '../../plugins/billing/leases.js';
import { silentLog } from '../stores/sql-suite.js';
import { ADMIN_KEY, admin, books, chat, COST, creditsConfig, eventually, pool, PROMPT, startUpstream, topUp, type Upstream } from './billing-credits-fixture.js';

const ORGS = ['rich', 'limited', 'budgeted', 'crashed', 'faulty', 'plain', 'held', 'found'];
const LEASE_NOTE = /^usage of \d+ requests \(lease\)$/;
const options = { level: 'warn', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } };

// One gateway with leases at their defaults for most of the file; the tests of other settings start their own.
let upstream: Upstream;
let gw: TestGateway;
t.before(async () => {
  upstream = await startUpstream();
  gw = await startGateway(creditsConfig(upstream.baseUrl, '{ pglite: memory }', ORGS, { billing: '      budgets: { enabled: true }\n' }), options);
});
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

interface BillingState {
  queue: { flush(): Promise<void> };
  leases: LeaseBook;
}
const billingState = (gateway: Gateway) => (gateway as unknown as { services: { stateNamed(name: string): unknown } }).services.stateNamed('billing') as BillingState;
/** Resolves once every request the gateway is running has ended, post-response work (settlements) included. */
async function idle(gateway: Gateway): Promise<boolean> {
  const running = (gateway as unknown as { inFlight: Set<unknown> }).inFlight;
  for (let i = 0; i < 1000 && running.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return running.size === 0;
}

/** The usage entries of an organization's ledger: how many, and how many were written by leases. */
async function usageEntries(sql: SqlExecutor, org: string): Promise<{ all: number; leased: number; notes: string[] }> {
  const { rows } = await sql.query<{ note: string | null }>(`SELECT note FROM billing_ledger WHERE org_id = $1 AND kind = 'usage'`, [org]);
  const notes = rows.map((r) => r.note ?? '');
  return { all: rows.length, leased: notes.filter((n) => LEASE_NOTE.test(n)).length, notes };
}

/** An organization's spend today (UTC), from billing_spend. */
async function spendToday(sql: SqlExecutor, org: string): Promise<{ spent: bigint; reserved: bigint }> {
  const { rows } = await sql.query<{ spent: string; reserved: string }>(
    `SELECT coalesce(sum(spent_micros), 0)::text AS spent, coalesce(sum(reserved_micros), 0)::text AS reserved FROM billing_spend WHERE scope = 'org' AND subject = $1 AND period = 'day'`,
    [org],
  );
  return { spent: BigInt(rows[0]!.spent), reserved: BigInt(rows[0]!.reserved) };
}

/** Sends `n` requests of `org`, `width` at a time, through `url`; resolves to their statuses (a 402 must be insufficient_quota). */
async function burst(t: Test, url: string, org: string, n: number, width: number, code = 'insufficient_quota'): Promise<number[]> {
  const tasks = Array.from({ length: n }, () => async () => {
    const res = await chat(url, org);
    const body = (await res.json()) as { error?: { type: string; code: string } };
    if (res.status === 402 && (body.error?.type !== 'insufficient_quota' || body.error.code !== code)) t.fail(`402 with ${JSON.stringify(body.error)}`);
    return res.status;
  });
  return pool(tasks, width);
}

/** Samples `balance` and `balance - reserved` of `org` until stopped; resolves to the lowest seen. */
function sampler(sql: SqlExecutor, org: string, start: bigint): { stop(): Promise<{ lowest: bigint; samples: number }> } {
  let sampling = true;
  let lowest = start;
  let samples = 0;
  const run = (async () => {
    while (sampling) {
      const { rows } = await sql.query<{ b: string; r: string }>('SELECT balance_micros::text AS b, reserved_micros::text AS r FROM billing_accounts WHERE org_id = $1', [org]);
      const balance = BigInt(rows[0]!.b);
      const available = balance - BigInt(rows[0]!.r);
      if (balance < lowest) lowest = balance;
      if (available < lowest) lowest = available;
      samples++;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    async stop() {
      sampling = false;
      await run;
      return { lowest, samples };
    },
  };
}

/** The books once the gateway is idle and its usage records written: balanced, nothing held. */
async function settledBooks(t: Test, gateway: Gateway, org: string) {
  t.ok(await idle(gateway), 'the gateway is idle');
  t.ok(await billingState(gateway).leases.drained(), 'every lease returned once the organization is idle');
  await billingState(gateway).queue.flush();
  const sql = await gateway.stores.sql();
  const b = await books(sql, org);
  t.equal(b.reserved, 0n, 'nothing reserved');
  t.equal(b.reservations, 0, 'no reservation row (no lease) left');
  t.equal(b.ledgerSum, b.balance, 'the ledger sums to the balance');
  t.equal(-b.usageEntries, b.usageCost, "ledger usage = usage records' cost, exactly");
  return b;
}

t.test('a rich organization under concurrency: a few lease statements, exact books', async (t) => {
  const credit = 10_000_000;
  t.equal((await topUp(gw.url, 'rich', credit)).status, 201);
  const statuses = await burst(t, gw.url, 'rich', 400, 50);
  t.equal(statuses.filter((s) => s === 200).length, 400, 'every request served');
  const b = await settledBooks(t, gw.gateway, 'rich');
  t.equal(billingState(gw.gateway).leases.size, 0, 'every lease returned');
  t.equal(b.usageCost, BigInt(400 * COST), 'cost = requests × COST');
  t.equal(b.balance, BigInt(credit - 400 * COST));
  t.equal(b.usageRows, 400);
  const entries = await usageEntries(await gw.gateway.stores.sql(), 'rich');
  t.ok(entries.leased > 0, `leases were used (${entries.leased} lease entries)`);
  t.ok(entries.all <= 40, `far fewer ledger entries than requests (${entries.all} for 400: ${entries.leased} by leases)`);
  const requests = entries.notes.map((n) => Number(LEASE_NOTE.test(n) ? n.split(' ')[2] : 1)).reduce((a, n) => a + n, 0);
  t.equal(requests, 400, 'the entries count every request once');
});

t.test('credit for 1,000 requests, 1,500 at 100 at a time: at most 1,000 succeed, never below zero', async (t) => {
  const credit = 1000 * COST;
  t.equal((await topUp(gw.url, 'limited', credit)).status, 201);
  const sql = await gw.gateway.stores.sql();
  const watch = sampler(sql, 'limited', BigInt(credit));
  const statuses = await burst(t, gw.url, 'limited', 1500, 100);
  const { lowest, samples } = await watch.stop();
  const ok = statuses.filter((s) => s === 200).length;
  t.comment(`credit for 1,000: ${ok} of 1,500 succeeded; ${samples} samples, lowest balance or available ${lowest}`);
  t.ok(ok <= 1000, `at most 1,000 succeed (${ok})`);
  t.ok(ok >= 950, `and nearly all the credit is used (${ok})`);
  t.equal(statuses.filter((s) => s === 402).length, 1500 - ok, 'the rest get 402 insufficient_quota');
  t.ok(samples > 10, `sampled during the burst (${samples})`);
  t.ok(lowest >= 0n, `balance and available never seen below zero (lowest ${lowest})`);
  const b = await settledBooks(t, gw.gateway, 'limited');
  t.equal(b.usageCost, BigInt(ok * COST));
  t.equal(b.balance, BigInt(credit - ok * COST));
  t.ok((await usageEntries(sql, 'limited')).leased > 0, 'leases were used while credit was plenty');
});

t.test('a daily budget for 500 requests, 800 at 64 at a time: at most 500 succeed, spend exact', async (t) => {
  t.equal((await topUp(gw.url, 'budgeted', 10_000_000)).status, 201);
  t.equal((await admin(gw.url, 'PATCH', '/admin/credits/budgeted/budgets', { daily_budget_micros: 500 * COST })).status, 200);
  const statuses = await burst(t, gw.url, 'budgeted', 800, 64, 'budget_exceeded');
  const ok = statuses.filter((s) => s === 200).length;
  t.comment(`daily budget for 500: ${ok} of 800 succeeded`);
  t.ok(ok <= 500, `at most 500 succeed (${ok})`);
  t.ok(ok >= 450, `and nearly all the budget is used (${ok})`);
  t.equal(statuses.filter((s) => s === 402).length, 800 - ok, 'the rest get 402 budget_exceeded');
  const b = await settledBooks(t, gw.gateway, 'budgeted');
  t.equal(b.usageCost, BigInt(ok * COST));
  const sql = await gw.gateway.stores.sql();
  t.same(await spendToday(sql, 'budgeted'), { spent: BigInt(ok * COST), reserved: 0n }, 'spent = successes × COST, nothing reserved');
  t.ok((await usageEntries(sql, 'budgeted')).leased > 0, 'leases were used');
});

t.test("a key's daily budget for 300 requests, 500 at 50 at a time: at most 300 succeed, the key's spend exact", async (t) => {
  t.equal((await admin(gw.url, 'POST', '/admin/organizations', { slug: 'keyed', name: 'Keyed' })).status, 201);
  t.equal((await topUp(gw.url, 'keyed', 10_000_000)).status, 201);
  const created = await admin(gw.url, 'POST', '/admin/organizations/keyed/keys', { limits: { daily_budget_micros: 300 * COST } });
  t.equal(created.status, 201);
  const secret = String(created.body['key']);
  const org = String(created.body['org_id']);
  const tasks = Array.from({ length: 500 }, () => async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ model: 'ok', max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] }),
    });
    const body = (await res.json()) as { error?: { code: string; message: string } };
    if (res.status === 402 && !(body.error?.code === 'budget_exceeded' && /key's daily budget/.test(body.error.message))) t.fail(`402 with ${JSON.stringify(body.error)}`);
    return res.status;
  });
  const statuses = await pool(tasks, 50);
  const ok = statuses.filter((s) => s === 200).length;
  t.comment(`key daily budget for 300: ${ok} of 500 succeeded`);
  t.ok(ok <= 300, `at most 300 succeed (${ok})`);
  t.ok(ok >= 270, `and nearly all the budget is used (${ok})`);
  t.equal(statuses.filter((s) => s === 402).length, 500 - ok, "the rest get 402 (the key's daily budget)");
  const b = await settledBooks(t, gw.gateway, org);
  t.equal(b.usageCost, BigInt(ok * COST));
  const sql = await gw.gateway.stores.sql();
  const { rows } = await sql.query<{ spent: string; reserved: string }>(
    `SELECT spent_micros::text AS spent, reserved_micros::text AS reserved FROM billing_spend WHERE scope = 'key' AND subject = $1 AND period = 'day'`,
    [String(created.body['id'])],
  );
  t.same(rows, [{ spent: String(ok * COST), reserved: '0' }], "the key's spend = successes × COST, nothing reserved");
  t.ok((await usageEntries(sql, org)).leased > 0, 'leases were used');
});

t.test('leases off: one ledger entry per request, the same books', async (t) => {
  const yaml = creditsConfig(upstream.baseUrl, '{ pglite: memory }', ['plain'], { billing: '      budgets: { enabled: true }\n' });
  const off = await startGateway(yaml.replace('credits: { enabled: true }', 'credits: { enabled: true, leases: { enabled: false } }'), options);
  t.teardown(() => off.close());
  const credit = 1_000_000;
  t.equal((await topUp(off.url, 'plain', credit)).status, 201);
  const statuses = await burst(t, off.url, 'plain', 200, 50);
  t.equal(statuses.filter((s) => s === 200).length, 200);
  const b = await settledBooks(t, off.gateway, 'plain');
  t.equal(b.usageCost, BigInt(200 * COST));
  t.equal(b.balance, BigInt(credit - 200 * COST));
  const entries = await usageEntries(await off.gateway.stores.sql(), 'plain');
  t.equal(entries.all, 200, 'one usage entry per request');
  t.equal(entries.leased, 0, 'none by a lease');
  t.equal(billingState(off.gateway).leases.size, 0);
});

t.test('flush: the costs settled on a lease held open reach the balance before it is returned', async (t) => {
  const yaml = creditsConfig(upstream.baseUrl, '{ pglite: memory }', ['held'], { billing: '      budgets: { enabled: true }\n' });
  const quick = await startGateway(yaml.replace('credits: { enabled: true }', 'credits: { enabled: true, leases: { flush_interval: 50ms } }'), options);
  t.teardown(() => quick.close());
  const credit = 1_000_000;
  t.equal((await topUp(quick.url, 'held', credit)).status, 201);
  const sql = await quick.gateway.stores.sql();
  const state = billingState(quick.gateway);

  // The first stream is alone in its scope (it reserves on its own); the second opens a lease and holds it.
  const open = async () => {
    const controller = new AbortController();
    const res = await chat(quick.url, 'held', { model: 'trickle', stream: true }, { signal: controller.signal });
    t.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read();
    return async () => {
      controller.abort();
      await reader.read().catch(() => undefined);
    };
  };
  const first = await open();
  const second = await open();
  t.equal(state.leases.size, 1, 'a lease is open');
  const rows = async () => (await sql.query<{ request_id: string }>(`SELECT request_id FROM billing_reservations WHERE org_id = 'held' ORDER BY request_id = 'lease'`)).rows.map((r) => r.request_id);
  t.equal((await rows()).at(-1), 'lease', 'its reservation row');

  const served = await Promise.all(Array.from({ length: 10 }, async () => (await chat(quick.url, 'held')).status));
  t.same(served, Array(10).fill(200));
  const started = Date.now();
  const charged = await eventually(() => books(sql, 'held'), (b) => b.balance === BigInt(credit - 10 * COST));
  t.equal(charged.balance, BigInt(credit - 10 * COST), `the 10 finished requests are charged while the lease is held (after ${Date.now() - started} ms)`);
  t.equal(state.leases.size, 1, 'the lease is still open');
  t.ok((await rows()).includes('lease'), 'and still reserved in SQL');
  t.ok((await usageEntries(sql, 'held')).leased > 0, 'charged by a lease statement');

  await second();
  await first();
  const b = await settledBooks(t, quick.gateway, 'held');
  t.equal(state.leases.size, 0, 'the lease is returned when its last request ends');
  t.ok(b.balance <= BigInt(credit - 10 * COST), 'the aborted streams are charged what they generated');
  t.equal(b.usageRows, 12);
});

const { day, month } = periodsOf(Date.now());

t.test("billing_lease says whether the lease's row existed, and charges a repeated statement once", async (t) => {
  const sql = await gw.gateway.stores.sql();
  t.equal((await topUp(gw.url, 'found', 1_000_000)).status, 201);
  const id = '00000000-0000-4000-8000-00000000f0f0';
  // (A column named `found` would be PL/pgSQL's FOUND inside the function: it is called `existed`.)
  // `total`: what the lease's requests cost since it opened; `acked`: what the caller knows was charged.
  const call = async (total: number, acked: number, close: boolean, want: number) => {
    const { rows } = await sql.query<{ held: string; granted: string; existed: boolean | null }>(
      'SELECT * FROM billing_lease($1, $2, NULL, $3, $4, 1, $5, $6, 0, 0.0625, true, false, $7, $8, NULL, NULL, $9)',
      [id, 'found', total, acked, close, want, day, month, new Date(Date.now() + 60_000).toISOString()],
    );
    const r = rows[0]!;
    return { held: String(r.held), granted: String(r.granted), found: r.existed };
  };
  t.same(await call(0, 0, false, 3200), { held: '3200', granted: '3200', found: false }, 'a new lease: not found, granted');
  t.same(await call(50, 0, false, 0), { held: '3150', granted: '0', found: true }, 'a flush on it: found, 50 charged');
  t.same(await call(50, 0, false, 0), { held: '3150', granted: '0', found: true }, 'the same statement again (its reply lost): nothing charged twice');
  t.same(await call(100, 50, true, 0), { held: '0', granted: '0', found: true }, 'its return: found, 50 more charged');
  t.same(await call(100, 100, true, 0), { held: '0', granted: '0', found: false }, 'returned already: not found, nothing charged');
  const b = await books(sql, 'found');
  t.same([b.balance, b.reserved, b.reservations], [1_000_000n - 100n, 0n, 0]);
  // The same through the gateway: a busy organization's flushes must not warn that its lease had expired.
  t.notOk(
    gw.logs.some((l) => /had expired and been released/.test(String(l['msg']))),
    'no "lease had expired" warning for leases that never expired',
  );
});
const scopeOf = (org: string): LeaseScope => ({ org, keyId: undefined, credit: true, budgets: true, day, month, keyDaily: undefined, keyMonthly: undefined });

t.test('a crash: the lease row stays until its expiry, then is released; only flushed costs are charged', async (t) => {
  const sql = await gw.gateway.stores.sql();
  const credit = 1_000_000;
  t.equal((await topUp(gw.url, 'crashed', credit)).status, 201);
  t.equal((await admin(gw.url, 'PATCH', '/admin/credits/crashed/budgets', { daily_budget_micros: credit })).status, 200);
  const now = Date.now();
  let failed = 0;
  const book = new LeaseBook(async () => sql, silentLog, { failed: () => failed++ }, () => now);
  const scope = scopeOf('crashed');
  // Three requests at once: two admitted on a lease, the third still on its way.
  const key = book.enter(scope);
  book.enter(scope);
  book.enter(scope);
  const a = await book.admit(key, scope, 50n);
  const b = await book.admit(key, scope, 50n);
  t.ok(a !== undefined && a === b, 'both admitted on one lease');
  const held = a!.held;
  t.ok(held >= 4n * 50n, `the lease holds at least 4 worst cases (${held})`);
  await book.done(key, a, 50n, 30n);
  await book.flushAll();
  t.equal((await books(sql, 'crashed')).balance, BigInt(credit - 30), 'the first cost is charged at a flush');
  await book.done(key, b, 50n, 40n);
  // The process dies here: the second cost was never flushed, the lease never returned.
  t.equal(failed, 0);

  const before = await books(sql, 'crashed');
  t.equal(before.reservations, 1, 'the lease row stays');
  t.equal(before.reserved, held - 30n, 'holding what the lease held, less what was charged');
  t.same(await spendToday(sql, 'crashed'), { spent: 30n, reserved: held - 30n });
  t.same(await releaseExpired(sql, new Date(now)), [], 'not expired yet');
  const released = await releaseExpired(sql, new Date(now + 600_001));
  t.same(released.map((r) => [r.org_id, r.request_id, String(r.credit_micros)]), [['crashed', 'lease', String(held - 30n)]], 'released at its expiry');

  const after = await books(sql, 'crashed');
  t.equal(after.balance, BigInt(credit - 30), 'balance = top-up − flushed charges (the unflushed one is lost, as documented)');
  t.equal(after.reserved, 0n);
  t.equal(after.reservations, 0);
  t.equal(after.ledgerSum, after.balance, 'the ledger sums to the balance');
  t.same(await spendToday(sql, 'crashed'), { spent: 30n, reserved: 0n }, 'the budget hold is released too');
});

t.test('failed lease statements: no charge lost or doubled once they work again', async (t) => {
  const sql = await gw.gateway.stores.sql();
  const credit = 1_000_000;
  t.equal((await topUp(gw.url, 'faulty', credit)).status, 201);
  // The real store, with the next `failNext` billing_lease statements failing before they reach it.
  let failNext = 0;
  let statements = 0;
  const faulty: SqlExecutor = {
    query: (text, params) => {
      if (text.includes('billing_lease')) {
        statements++;
        if (failNext > 0) {
          failNext--;
          return Promise.reject(new Error('injected: connection reset'));
        }
      }
      return sql.query(text, params);
    },
  };
  // A failed statement must not surface as an unhandled rejection (that ends a Node process).
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));
  let failed = 0;
  const book = new LeaseBook(async () => faulty, silentLog, { failed: () => failed++ });
  // Flushed by hand only; a lease returned as soon as its last request is done.
  book.configure({ fraction: 1 / 16, flushMs: 3_600_000, ttlMs: 600_000, idleMs: 0 });
  t.teardown(() => book.close());
  const scope = scopeOf('faulty');
  const balance = async () => (await books(sql, 'faulty')).balance;
  const key = book.enter(scope);
  book.enter(scope);
  book.enter(scope);

  failNext = 1;
  t.equal(await book.admit(key, scope, 50n), undefined, 'the lease cannot be opened: the request reserves on its own');
  t.equal(failed, 1);
  await book.done(key);
  const a = await book.admit(key, scope, 50n);
  const b = await book.admit(key, scope, 50n);
  t.ok(a !== undefined && a === b, 'opened once SQL answers');

  await book.done(key, a, 50n, 50n);
  failNext = 2;
  await book.flushAll();
  await book.flushAll();
  t.equal(failed, 3, 'two flushes failed');
  t.equal(await balance(), BigInt(credit), 'nothing charged yet');
  await book.flushAll();
  t.equal(await balance(), BigInt(credit - 50), 'charged once when SQL answers again');
  await book.flushAll();
  t.equal(await balance(), BigInt(credit - 50), 'and not again');

  // The last request settles: the lease is returned, and that fails.
  failNext = 1;
  await book.done(key, b, 50n, 45n);
  t.equal(failed, 4, 'the return failed');
  t.equal(book.size, 0);
  t.equal((await books(sql, 'faulty')).reservations, 1, 'its row is still there');
  const count = statements;
  await book.flushAll();
  t.equal(statements, count + 1, 'the return is tried again at the next flush');
  await book.flushAll();
  t.equal(statements, count + 1, 'once');

  const after = await books(sql, 'faulty');
  t.equal(after.balance, BigInt(credit - 95), 'every cost charged exactly once');
  t.equal(after.reserved, 0n);
  t.equal(after.reservations, 0);
  t.equal(after.ledgerSum, after.balance, 'the ledger sums to the balance');
  t.equal(after.usageEntries, -95n);
  t.same(await spendToday(sql, 'faulty'), { spent: 95n, reserved: 0n });
  await book.close();
  await new Promise((resolve) => setImmediate(resolve));
  t.same(unhandled.map((e) => (e as Error).message), [], 'no unhandled rejection (a failed growth rejects `growing.finally(...)`, which nothing handles)');
});
