/**
 * The SQL store contract, as one suite run against every driver: PGlite in memory
 * (`sql-pglite.test.ts`) and real PostgreSQL (`test/services/sql-postgres.test.ts`). A driver
 * passes only if it behaves exactly like the other.
 */
import type { Test } from 'tap';
import { createLogger } from '../../core/log.js';
import { migrate, type SqlDriver } from '../../core/stores/migrate.js';
import { MIGRATIONS } from '../../core/stores/migrations.js';

export const silentLog = createLogger({ level: 'silent' });

/** Runs the suite on a store the caller opened (with `openSqlStore`, so migrated) and closes afterwards. */
export function sqlStoreSuite(t: Test, store: () => SqlDriver): void {
  t.test('migrations created every table and recorded every migration once', async (t) => {
    const db = store();
    const { rows } = await db.query<{ id: number }>('SELECT id FROM schema_migrations ORDER BY id');
    t.same(rows.map((r) => r.id), MIGRATIONS.map((m) => m.id));
    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
    );
    for (const name of ['gateway_settings', 'plans', 'organizations', 'api_keys', 'credit_ledger', 'usage_records', 'audit_events']) {
      t.ok(tables.rows.some((r) => r.table_name === name), `${name} exists`);
    }
  });

  t.test('migrating an up-to-date database applies nothing', async (t) => {
    t.same(await migrate(store(), MIGRATIONS, silentLog), []);
  });

  t.test('gateway_settings keeps the (name, value) shape the server secret relies on', async (t) => {
    const db = store();
    await db.query(`INSERT INTO gateway_settings (name, value) VALUES ('suite', $1) ON CONFLICT (name) DO NOTHING`, ['first']);
    await db.query(`INSERT INTO gateway_settings (name, value) VALUES ('suite', $1) ON CONFLICT (name) DO NOTHING`, ['second']);
    const { rows } = await db.query<{ value: string }>(`SELECT value FROM gateway_settings WHERE name = 'suite'`);
    t.same(rows, [{ value: 'first' }]);
  });

  t.test('bigint comes back as an exact string, beyond 2^53', async (t) => {
    const db = store();
    const huge = '9007199254740993';
    await db.query(`INSERT INTO credit_ledger (org_id, amount_micros, kind) VALUES ('org_suite', $1, 'grant')`, [huge]);
    const { rows } = await db.query<{ amount_micros: unknown; total: unknown }>(
      `SELECT amount_micros, sum(amount_micros) OVER () AS total FROM credit_ledger WHERE org_id = 'org_suite'`,
    );
    t.equal(rows[0]?.amount_micros, huge);
    t.equal(typeof rows[0]?.total, 'string');
    const count = await db.query<{ n: unknown }>(`SELECT count(*) AS n FROM credit_ledger WHERE org_id = 'org_suite'`);
    t.equal(count.rows[0]?.n, '1', 'count(*) is bigint too');
  });

  t.test('jsonb, text[] and timestamptz round-trip with the same JS types', async (t) => {
    const db = store();
    const { rows } = await db.query<{ j: unknown; a: unknown; at: unknown }>(
      `SELECT $1::jsonb AS j, $2::text[] AS a, '2030-01-02T03:04:05.678Z'::timestamptz AS at`,
      [JSON.stringify({ rpm: 5, nested: { x: [1, 'two'] } }), ['10.0.0.0/8', "it's"]],
    );
    t.same(rows[0]?.j, { rpm: 5, nested: { x: [1, 'two'] } });
    t.same(rows[0]?.a, ['10.0.0.0/8', "it's"]);
    t.ok(rows[0]?.at instanceof Date);
    t.equal((rows[0]?.at as Date).toISOString(), '2030-01-02T03:04:05.678Z');
  });

  t.test('rowCount counts the rows a write touched', async (t) => {
    const db = store();
    await db.query(`INSERT INTO gateway_settings (name, value) VALUES ('rc1', 'a'), ('rc2', 'b')`);
    const res = await db.query(`UPDATE gateway_settings SET value = 'z' WHERE name IN ('rc1', 'rc2')`);
    t.equal(res.rowCount, 2);
    const none = await db.query(`UPDATE gateway_settings SET value = 'z' WHERE name = 'absent'`);
    t.equal(none.rowCount, 0);
  });

  t.test('a transaction commits what it wrote and returns its value', async (t) => {
    const db = store();
    const value = await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO gateway_settings (name, value) VALUES ('tx-commit', 'yes')`);
      return 42;
    });
    t.equal(value, 42);
    const { rows } = await db.query(`SELECT value FROM gateway_settings WHERE name = 'tx-commit'`);
    t.same(rows, [{ value: 'yes' }]);
  });

  t.test('a transaction that throws rolls back and rethrows', async (t) => {
    const db = store();
    await t.rejects(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO gateway_settings (name, value) VALUES ('tx-rollback', 'no')`);
        throw new Error('boom');
      }),
      { message: 'boom' },
    );
    const { rows } = await db.query(`SELECT value FROM gateway_settings WHERE name = 'tx-rollback'`);
    t.same(rows, []);
  });

  t.test('a transaction runs on one connection (its uncommitted writes are visible to itself)', async (t) => {
    const db = store();
    await db.transaction(async (tx) => {
      const a = await tx.query<{ x: unknown }>('SELECT txid_current() AS x');
      await tx.query(`INSERT INTO gateway_settings (name, value) VALUES ('tx-same', 'seen')`);
      const seen = await tx.query(`SELECT value FROM gateway_settings WHERE name = 'tx-same'`);
      const b = await tx.query<{ x: unknown }>('SELECT txid_current() AS x');
      t.equal(a.rows[0]?.x, b.rows[0]?.x);
      t.equal(seen.rows.length, 1);
    });
  });

  t.test('a failing statement rejects with the database error code', async (t) => {
    const db = store();
    await db.query(`INSERT INTO gateway_settings (name, value) VALUES ('dup', 'a')`);
    await t.rejects(db.query(`INSERT INTO gateway_settings (name, value) VALUES ('dup', 'b')`), { code: '23505' });
    t.ok(await db.query('SELECT 1'), 'the store still works afterwards');
  });

  t.test('ping succeeds on an open store', async (t) => {
    await t.resolves(store().ping());
  });
}
