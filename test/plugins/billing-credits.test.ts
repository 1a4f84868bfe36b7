/**
 * Credits and budgets on PGlite, through a real in-process gateway: no overspend under 500
 * concurrent requests, no leaked reservation after 1,000 mixed requests (successes, 4xx, upstream
 * 5xx, client aborts mid-stream, timeouts, cache hits, refusals), idempotent top-ups (concurrent
 * ones included), unbounded requests refused, crash recovery of expired reservations, day and month
 * budget boundaries on an injected clock, and the 402 as the official `openai` SDK sees it.
 */
import t from 'tap';
import OpenAI from 'openai';
import { randomUUID } from 'node:crypto';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import type { Gateway } from '../../core/gateway.js';
import { runCreditsCli } from '../../plugins/billing/cli.js';
import { ADMIN_KEY, admin, books, chat, COST, creditsConfig, keyOf, pool, PROMPT, startUpstream, topUp, type Upstream } from './billing-credits-fixture.js';

// One gateway for the whole file (starting PGlite is the slow part); each test has its own organizations.
let upstream: Upstream;
let gw: TestGateway;
t.before(async () => {
  upstream = await startUpstream();
  gw = await startGateway(
    creditsConfig(upstream.baseUrl, '{ pglite: memory }', ['acme', 'rich', 'poor', 'idem', 'bound', 'crash', 'budget', 'burst', 'broke', 'cli-org'], {
      billing: '      budgets: { enabled: true, soft_limit_percent: 80 }\n',
      cache: true,
    }),
    { level: 'warn', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } },
  );
});
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

interface BillingState {
  now: () => number;
  queue: { flush(): Promise<void> };
  reconciler?: { run(): Promise<void> };
  /** Credit leases: each returned 50 ms after its organization's last request. */
  leases: { drained(): Promise<boolean> };
}
/** Resolves once every request the gateway is running has ended, post-response work (settlements) included. */
async function idle(gateway: Gateway): Promise<boolean> {
  const running = (gateway as unknown as { inFlight: Set<unknown> }).inFlight;
  for (let i = 0; i < 1000 && running.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return running.size === 0;
}
const billingState = (gateway: Gateway) => (gateway as unknown as { services: { stateNamed(name: string): unknown } }).services.stateNamed('billing') as BillingState;


t.test('no overspend: credit for exactly 50 requests, 500 concurrent requests → exactly 50 succeed', async (t) => {
  t.equal((await topUp(gw.url, 'acme', 50 * COST)).status, 201);
  const statuses = await Promise.all(
    Array.from({ length: 500 }, async () => {
      const res = await chat(gw.url, 'acme');
      const body = (await res.json()) as { error?: { type: string; code: string } };
      if (res.status === 402) t.same([body.error?.type, body.error?.code], ['insufficient_quota', 'insufficient_quota']);
      return res.status;
    }),
  );
  t.equal(statuses.filter((s) => s === 200).length, 50, 'every credit used, none overspent');
  t.equal(statuses.filter((s) => s === 402).length, 450, 'the rest refused with 402');
  t.ok(await billingState(gw.gateway).leases.drained(), 'no lease held');
  await billingState(gw.gateway).queue.flush();
  const b = await books(await gw.gateway.stores.sql(), 'acme');
  t.equal(b.balance, 0n, 'balance exactly zero, never below');
  t.equal(b.reserved, 0n);
  t.equal(b.reservations, 0);
  t.equal(b.ledgerSum, b.balance, 'the ledger sums to the balance');
  t.equal(-b.usageEntries, b.usageCost, 'ledger usage = usage records\' cost');
  t.equal(b.usageCost, BigInt(50 * COST));
});

t.test('no leak: 1,000 mixed requests leave nothing reserved and the books balanced', async (t) => {
  await topUp(gw.url, 'rich', 10_000_000);
  const kinds = ['ok', 'ok', 'stream', 'cached', 'bad', 'broken', 'abort', 'hang', 'poor', 'unbounded'] as const;
  const seen = new Map<string, number[]>();
  const tasks = Array.from({ length: 1000 }, (_, i) => async () => {
    const kind = kinds[i % kinds.length]!;
    let status: number;
    if (kind === 'abort') {
      const controller = new AbortController();
      const res = await chat(gw.url, 'rich', { model: 'trickle', stream: true }, { signal: controller.signal });
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      await reader.read().catch(() => undefined);
      status = 499;
    } else {
      const body: Record<string, unknown> =
        kind === 'stream' ? { stream: true, stream_options: { include_usage: true } }
        : kind === 'cached' ? { temperature: 0 }
        : kind === 'unbounded' ? { model: 'unpriced' }
        : kind === 'ok' || kind === 'poor' ? {}
        : { model: kind };
      const res = await chat(gw.url, kind === 'poor' ? 'poor' : 'rich', body);
      await res.text();
      status = res.status;
      if (kind === 'cached') seen.set('cache', [...(seen.get('cache') ?? []), res.headers.get('x-switchyard-cache') === 'HIT' ? 1 : 0]);
    }
    seen.set(kind, [...(seen.get(kind) ?? []), status]);
  });
  await pool(tasks, 64);
  t.ok(await idle(gw.gateway), 'aborted streams settled on the server side too');
  t.same(new Set(seen.get('ok')), new Set([200]));
  t.same(new Set(seen.get('stream')), new Set([200]));
  t.same(new Set(seen.get('bad')), new Set([400]));
  t.ok(seen.get('broken')!.every((s) => s >= 500), 'upstream 5xx');
  t.same(new Set(seen.get('hang')), new Set([504]), 'timeouts');
  t.same(new Set(seen.get('poor')), new Set([402]));
  t.same(new Set(seen.get('unbounded')), new Set([400]));
  t.ok(seen.get('cache')!.filter(Boolean).length >= 90, 'cache hits');

  const state = billingState(gw.gateway);
  t.ok(await state.leases.drained(), 'every lease returned once the organization is idle');
  await state.queue.flush();
  const sql = await gw.gateway.stores.sql();
  const b = await books(sql, 'rich');
  t.equal(b.reserved, 0n, 'nothing left reserved');
  t.equal(b.reservations, 0, 'no reservation row left');
  const { rows } = await sql.query<{ n: string }>('SELECT count(*)::text AS n FROM billing_reservations');
  t.equal(rows[0]!.n, '0');
  t.equal(b.ledgerSum, b.balance, 'the ledger sums to the balance');
  t.equal(-b.usageEntries, b.usageCost, 'ledger usage = usage records\' cost, aborted streams included');
  // 200 answers and 100 streams at 50 each, the cache's first misses, and what the aborted streams generated.
  t.ok(b.usageCost > BigInt(300 * COST), `successes, streams and aborted streams charged (${b.usageCost})`);
  t.equal(b.usageRows, 900, 'a usage row for every request of the org (the poor org has its own)');
});

t.test('top-ups are idempotent: a retry, and two identical calls at once, credit once', async (t) => {
  const first = await topUp(gw.url, 'idem', 1000, 'inv-1');
  t.equal(first.status, 201);
  t.equal(first.body['balance_after_micros'], '1000');
  const retry = await topUp(gw.url, 'idem', 1000, 'inv-1');
  t.equal(retry.status, 200);
  t.equal(retry.body['replayed'], true);
  t.equal(retry.body['entry_id'], first.body['entry_id'], 'the same entry');

  const twins = await Promise.all([topUp(gw.url, 'idem', 500, 'inv-2'), topUp(gw.url, 'idem', 500, 'inv-2'), topUp(gw.url, 'idem', 500, 'inv-2')]);
  t.same(twins.map((r) => r.status).sort(), [200, 200, 201], 'one credits, the others replay it');
  t.equal(new Set(twins.map((r) => r.body['entry_id'])).size, 1);

  const header = await admin(gw.url, 'POST', '/admin/credits/idem/top-ups', { amount_micros: 7 }, { 'idempotency-key': 'inv-3' });
  t.equal(header.status, 201, 'the Idempotency-Key header works too');
  t.equal((await admin(gw.url, 'POST', '/admin/credits/idem/top-ups', { amount_micros: 7 }, { 'idempotency-key': 'inv-3' })).status, 200);

  const reused = await topUp(gw.url, 'idem', 999, 'inv-1');
  t.equal(reused.status, 409);
  t.equal((reused.body['error'] as { code: string }).code, 'idempotency_key_reused');
  const missing = await admin(gw.url, 'POST', '/admin/credits/idem/top-ups', { amount_micros: 5 });
  t.equal(missing.status, 400, 'no idempotency key, no top-up');

  const down = await admin(gw.url, 'POST', '/admin/credits/idem/adjustments', { amount_micros: -100, idempotency_key: 'adj-1', note: 'refund correction' });
  t.equal(down.status, 201);
  t.equal(down.body['balance_after_micros'], '1407');
  const tooFar = await admin(gw.url, 'POST', '/admin/credits/idem/adjustments', { amount_micros: -5000, idempotency_key: 'adj-2' });
  t.equal(tooFar.status, 409, 'an adjustment cannot take the balance below zero');

  const balance = await admin(gw.url, 'GET', '/admin/credits/idem');
  t.same([balance.body['balance_micros'], balance.body['reserved_micros'], balance.body['available_micros']], ['1407', '0', '1407']);
  const ledger = await admin(gw.url, 'GET', '/admin/credits/idem/ledger');
  t.same((ledger.body['data'] as { kind: string; amount_micros: string }[]).map((e) => [e.kind, e.amount_micros]), [['adjustment', '-100'], ['top_up', '7'], ['top_up', '500'], ['top_up', '1000']], 'one entry per change, newest first');

  const sql = await gw.gateway.stores.sql();
  await t.rejects(sql.query(`UPDATE billing_ledger SET amount_micros = 1 WHERE org_id = 'idem'`), /append-only/, 'the ledger cannot be edited');
  await t.rejects(sql.query(`DELETE FROM billing_ledger WHERE org_id = 'idem'`), /append-only/);
});

t.test('a request whose worst case cannot be bounded is refused, a free model is not', async (t) => {
  await topUp(gw.url, 'bound', 1_000_000);
  const unpriced = await chat(gw.url, 'bound', { model: 'unpriced' });
  t.equal(unpriced.status, 400);
  t.match(((await unpriced.json()) as { error: { code: string; message: string } }).error, { code: 'cost_unbounded', message: /no price is configured for up\/unpriced/ });
  const noMax = await chat(gw.url, 'bound', { max_tokens: undefined });
  t.equal(noMax.status, 400, 'no max_tokens and no catalog max_output_tokens');
  t.match(((await noMax.json()) as { error: { message: string } }).error.message, /set max_tokens/);
  const freeOk = await chat(gw.url, 'bound', { model: 'free', max_tokens: undefined });
  t.equal(freeOk.status, 200, 'a free model needs no bound');
});

t.test('a reservation left by a crash expires and is released (at start, and every minute)', async (t) => {
  await topUp(gw.url, 'crash', 1000);
  const sql = await gw.gateway.stores.sql();
  // What a gateway that died mid-request leaves: the hold on the balance and its reservation row.
  await sql.query(`SELECT * FROM billing_reserve($1, 'crash', NULL, 'req-crashed', 980, true, false, '2026-01-01', '2026-01-01', NULL, NULL, now() - interval '1 second')`, [randomUUID()]);
  t.equal((await chat(gw.url, 'crash')).status, 402, 'the hold blocks what it holds');
  await billingState(gw.gateway).reconciler!.run();
  t.equal((await chat(gw.url, 'crash')).status, 200, 'released');
  const b = await books(sql, 'crash');
  t.equal(b.reserved, 0n);
  t.equal(b.balance, BigInt(1000 - COST), 'the crashed request was not charged');
  t.ok(gw.logs.some((l) => /released expired credit reservations/.test(String(l['msg'])) && l['released'] === 1), 'logged');
});

t.test('budgets: day and month boundaries (UTC) on an injected clock, soft warning, hard 402', async (t) => {
  await topUp(gw.url, 'budget', 1_000_000);
  const state = billingState(gw.gateway);
  let now = Date.parse('2026-03-31T23:59:59.000Z');
  state.now = () => now;
  const set = await admin(gw.url, 'PATCH', '/admin/credits/budget/budgets', { daily_budget_micros: 2 * COST, monthly_budget_micros: 3 * COST });
  t.equal(set.status, 200);

  const first = await chat(gw.url, 'budget');
  t.equal(first.status, 200);
  t.equal(first.headers.get('x-switchyard-budget-warning'), null, '50% of the day: no warning');
  const second = await chat(gw.url, 'budget');
  t.equal(second.status, 200);
  t.match(second.headers.get('x-switchyard-budget-warning'), /^org:day 100% \(100 of 100\)/, 'at the soft limit: a warning');
  const third = await chat(gw.url, 'budget');
  t.equal(third.status, 402, 'the daily budget is spent');
  t.match(((await third.json()) as { error: Record<string, string> }).error, { type: 'insufficient_quota', code: 'budget_exceeded', message: /daily budget/ });

  now = Date.parse('2026-04-01T00:00:00.000Z');
  t.equal((await chat(gw.url, 'budget')).status, 200, 'a new UTC day and month: both budgets start again');
  t.equal((await chat(gw.url, 'budget')).status, 200);
  t.equal((await chat(gw.url, 'budget')).status, 402, 'day spent again');
  now = Date.parse('2026-04-02T00:00:00.000Z');
  t.equal((await chat(gw.url, 'budget')).status, 200, 'the next day: 3 of 3 this month');
  const monthly = await chat(gw.url, 'budget');
  t.equal(monthly.status, 402, 'the monthly budget is spent, though the day has room');
  t.match(((await monthly.json()) as { error: { message: string } }).error.message, /monthly budget/);
  now = Date.parse('2026-04-30T23:59:59.999Z');
  t.equal((await chat(gw.url, 'budget')).status, 402, 'still April');
  now = Date.parse('2026-05-01T00:00:00.000Z');
  t.equal((await chat(gw.url, 'budget')).status, 200, 'May');

  const balance = await admin(gw.url, 'GET', '/admin/credits/budget');
  t.same(balance.body['this_month'], { spent_micros: String(COST), reserved_micros: '0' });
  t.equal(balance.body['monthly_budget_micros'], String(3 * COST));
});

t.test('concurrent requests cannot run past a budget', async (t) => {
  await topUp(gw.url, 'burst', 1_000_000);
  await admin(gw.url, 'PATCH', '/admin/credits/burst/budgets', { daily_budget_micros: 10 * COST });
  const statuses = await Promise.all(Array.from({ length: 100 }, async () => (await chat(gw.url, 'burst')).status));
  t.equal(statuses.filter((s) => s === 200).length, 10);
});

t.test('the official openai SDK gets a 402 insufficient_quota and does not retry it', async (t) => {
  let calls = 0;
  const client = new OpenAI({
    apiKey: keyOf('broke'),
    baseURL: `${gw.url}/v1`,
    maxRetries: 3,
    fetch: (async (url: string | URL | Request, init?: RequestInit) => {
      calls++;
      return fetch(url, init);
    }) as typeof fetch,
  });
  const err = await client.chat.completions.create({ model: 'ok', max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.APIError, 'an API error');
  const api = err as InstanceType<typeof OpenAI.APIError>;
  t.equal(api.status, 402);
  t.equal(api.code, 'insufficient_quota');
  t.equal(api.type, 'insufficient_quota');
  t.match(api.message, /Insufficient credit/);
  t.equal(calls, 1, 'not retried');
});

t.test("key budgets: the key's own daily budget, else its plan's monthly budget", async (t) => {
  const plan = await admin(gw.url, 'POST', '/admin/plans', { name: 'metered', limits: { monthly_budget_micros: 3 * COST } });
  t.equal(plan.status, 201);
  t.equal((await admin(gw.url, 'POST', '/admin/organizations', { slug: 'keyed', name: 'Keyed', plan_id: 'metered' })).status, 201);
  t.equal((await topUp(gw.url, 'keyed', 1_000_000)).status, 201, 'top-up by slug');
  const own = await admin(gw.url, 'POST', '/admin/organizations/keyed/keys', { limits: { daily_budget_micros: COST } });
  const planned = await admin(gw.url, 'POST', '/admin/organizations/keyed/keys', {});
  const send = async (secret: unknown) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${String(secret)}` },
      body: JSON.stringify({ model: 'ok', max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] }),
    });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
  };
  t.equal((await send(own.body['key'])).status, 200);
  const overDay = await send(own.body['key']);
  t.equal(overDay.status, 402);
  t.match(overDay.body.error, { code: 'budget_exceeded', message: /key's daily budget/ });
  // The plan's 150 a month applies to each key of the plan that sets none: three requests of 50.
  for (let i = 0; i < 3; i++) t.equal((await send(planned.body['key'])).status, 200);
  const overMonth = await send(planned.body['key']);
  t.equal(overMonth.status, 402, "past the plan's monthly budget");
  t.match(overMonth.body.error?.message, /key's monthly budget/);
});

t.test('switchyard credits: top-up (retry-safe with its key), adjust, balance, budget, ledger', async (t) => {
  const run = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await runCreditsCli([...args, '--url', gw.url, '--admin-key', ADMIN_KEY], { env: {}, out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err, json: out ? (JSON.parse(out) as Record<string, unknown>) : undefined };
  };
  const first = await run('top-up', 'cli-org', '--amount-micros', '5000', '--idempotency-key', 'cli-1', '--note', 'from the CLI');
  t.equal(first.code, 0, first.err);
  t.equal(first.json?.['balance_after_micros'], '5000');
  const again = await run('top-up', 'cli-org', '--amount-micros', '5000', '--idempotency-key', 'cli-1');
  t.equal(again.code, 0);
  t.equal(again.json?.['replayed'], true);
  t.match(again.err, /nothing changed/);
  const generated = await run('top-up', 'cli-org', '--amount-micros', '1');
  t.match(generated.err, /^idempotency key: [0-9a-f-]{36} \(pass --idempotency-key/);
  t.equal((await run('adjust', 'cli-org', '--amount-micros=-1001', '--idempotency-key', 'cli-2')).code, 0);
  t.equal((await run('budget', 'cli-org', '--daily-micros', '700', '--monthly-micros', 'none')).json?.['daily_budget_micros'], '700');
  const balance = await run('balance', 'cli-org');
  t.same([balance.json?.['balance_micros'], balance.json?.['available_micros']], ['4000', '4000']);
  t.equal(((await run('ledger', 'cli-org', '--limit', '2')).json?.['data'] as unknown[]).length, 2);
  const bad = await run('top-up', 'cli-org', '--amount-micros', '-5');
  t.equal(bad.code, 2, 'a top-up is positive');
  t.equal((await run('adjust', 'cli-org', '--amount-micros=-999999', '--idempotency-key', 'cli-3')).code, 1, 'below zero: refused by the gateway');
});
