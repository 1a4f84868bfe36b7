/**
 * Settlements committed in groups (plugins/billing/credits.ts `SettlementGroups`), on embedded
 * PGlite with billing's migrations: those that arrive while one is written go together as one
 * statement, the books come out as if each had been settled alone, and a group that fails applies
 * none of its settlements.
 */
import t, { type Test } from 'tap';
import { tmpdir } from 'node:os';
import { migrateSchema, openSqlDriver } from '../../core/stores/open-sql.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import { credit, periodsOf, reserve, settle, SettlementGroups, type SettleInput } from '../../plugins/billing/credits.js';
import { BILLING_MIGRATIONS } from '../../plugins/billing/migrations.js';
import { silentLog } from '../stores/sql-suite.js';
import { books } from './billing-credits-fixture.js';

async function database(t: Test): Promise<{ db: SqlExecutor; statements: string[] }> {
  const driver = await openSqlDriver({ pglite: 'memory' }, tmpdir(), silentLog);
  t.teardown(() => driver.close());
  await migrateSchema(driver, [{ owner: 'billing', migrations: BILLING_MIGRATIONS }], silentLog);
  const statements: string[] = [];
  // Counts the settlement statements that reach the database.
  const db: SqlExecutor = {
    query: (text, params) => {
      if (text.includes('billing_settle')) statements.push(text);
      return driver.query(text, params);
    },
  };
  return { db, statements };
}

const { day, month } = periodsOf(Date.now());
let sequence = 0;
const uuid = () => `00000000-0000-4000-8000-${String(++sequence).padStart(12, '0')}`;

/** Reserves `amount` for each of `n` requests of `org` (keys k0, k1 alternating); resolves to their settlement inputs at `cost`. */
async function reserveMany(db: SqlExecutor, org: string, n: number, amount: bigint, cost: bigint): Promise<SettleInput[]> {
  const inputs: SettleInput[] = [];
  for (let i = 0; i < n; i++) {
    const id = uuid();
    const keyId = `k${i % 2}`;
    await reserve(db, { id, org, keyId, requestId: `req-${id}`, amount, credit: true, budgets: true, day, month, keyDaily: undefined, keyMonthly: undefined, expiresAt: new Date(Date.now() + 60_000) });
    inputs.push({ id, cost, charge: true, org, keyId, requestId: `req-${id}`, budgets: true, day, month });
  }
  return inputs;
}

t.test('settlements that arrive while one is written go as one statement, and the books balance', async (t) => {
  const { db, statements } = await database(t);
  await credit(db, 'acme', 'top_up', 1_000_000n, 'top-up-1', 'test', null);
  await credit(db, 'zeta', 'top_up', 1_000_000n, 'top-up-1', 'test', null);
  const inputs = [...(await reserveMany(db, 'zeta', 20, 100n, 60n)), ...(await reserveMany(db, 'acme', 20, 100n, 60n))];
  t.equal((await books(db, 'acme')).reserved, 2000n, 'held before settling');

  const groups = new SettlementGroups(async () => db);
  await Promise.all(inputs.map((input) => groups.settle(input)));
  t.equal(statements.length, 2, 'the first alone, the 39 that arrived meanwhile in one statement');

  for (const org of ['acme', 'zeta']) {
    const b = await books(db, org);
    t.equal(b.balance, 1_000_000n - 20n * 60n, `${org}: charged 20 × 60`);
    t.equal(b.reserved, 0n, `${org}: nothing held`);
    t.equal(b.reservations, 0, `${org}: every reservation released`);
    t.equal(b.usageEntries, -1200n, `${org}: 20 usage entries in the ledger`);
    t.equal(b.ledgerSum, b.balance, `${org}: the ledger sums to the balance`);
  }
  const spend = await db.query<{ subject: string; period: string; spent: string; reserved: string }>(
    'SELECT subject, period, spent_micros::text AS spent, reserved_micros::text AS reserved FROM billing_spend ORDER BY scope, subject, period',
  );
  const spent = Object.fromEntries(spend.rows.map((r) => [`${r.subject}:${r.period}`, r.spent]));
  t.same(spent, { 'acme:day': '1200', 'acme:month': '1200', 'zeta:day': '1200', 'zeta:month': '1200', 'k0:day': '1200', 'k0:month': '1200', 'k1:day': '1200', 'k1:month': '1200' }, 'budget spend per org and key, day and month');
  t.ok(spend.rows.every((r) => r.reserved === '0'), 'no budget row keeps a reservation');
});

t.test('a group that fails fails each of its settlements and applies none; alone they succeed', async (t) => {
  const { db } = await database(t);
  await credit(db, 'acme', 'top_up', 1_000_000n, 'top-up-1', 'test', null);
  const [first, ...rest] = await reserveMany(db, 'acme', 4, 100n, 60n);
  const broken: SettleInput = { ...rest[0]!, id: 'not-a-uuid' };
  const groups = new SettlementGroups(async () => db);
  const outcomes = await Promise.allSettled([first!, ...rest, broken].map((input) => groups.settle(input)));
  t.same(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'rejected', 'rejected', 'rejected'], 'the lone first settles; its successors went in one group with the broken one');
  let b = await books(db, 'acme');
  t.equal(b.reservations, 3, "the failed group's reservations are all still held");
  t.equal(b.balance, 1_000_000n - 60n, 'only the first was charged');
  for (const input of rest) await settle(db, input);
  b = await books(db, 'acme');
  t.equal(b.reservations, 0);
  t.equal(b.reserved, 0n);
  t.equal(b.balance, 1_000_000n - 4n * 60n, 'settled one by one, each is charged once');
});
