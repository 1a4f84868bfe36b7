/**
 * The SQL store contract, as one suite run against every driver: PGlite in memory
 * (`sql-pglite.test.ts`) and real PostgreSQL (`test/services/sql-postgres.test.ts`). A driver
 * passes only if it behaves exactly like the other.
 */
import type { Test } from 'tap';
import { createLogger } from '../../core/log.js';
import type { SqlDriver } from '../../core/stores/migrate.js';
import { CORE_MIGRATIONS, pluginMigrations } from '../../core/stores/migrations.js';
import { migrateSchema } from '../../core/stores/open-sql.js';
import { builtinPlugins } from '../../plugins/index.js';
import { AUTH_MIGRATIONS } from '../../plugins/auth/migrations.js';

export const silentLog = createLogger({ level: 'silent' });

/** What a gateway with the built-in plugins migrates after the core's; the suite's stores are opened with it. */
export const PLUGIN_MIGRATIONS = pluginMigrations(builtinPlugins);

/** `owner/id` of every migration of the core and the built-in plugins, sorted. */
export const ALL_MIGRATION_KEYS = [CORE_MIGRATIONS, ...PLUGIN_MIGRATIONS].flatMap((o) => o.migrations.map((m) => `${o.owner}/${m.id}`)).sort();

/** `owner/id` of every recorded migration, sorted. */
export async function recordedMigrations(db: SqlDriver): Promise<string[]> {
  const { rows } = await db.query<{ key: string }>(`SELECT owner || '/' || id AS key FROM schema_migrations`);
  return rows.map((r) => r.key).sort();
}

/**
 * Shapes an empty database the way the gateway left it before migrations had owners: a
 * `schema_migrations` keyed by a global integer id, with 1 (settings and identity tables, the same
 * statements the core and `auth` now own) and 2 (accounting tables no code uses) applied, and data.
 */
export async function buildLegacyDatabase(db: SqlDriver): Promise<void> {
  const identity = CORE_MIGRATIONS.migrations[0]!.sql + AUTH_MIGRATIONS[0]!.sql;
  await db.transaction(async (tx) => {
    await tx.query(`CREATE TABLE schema_migrations (
      id         integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    for (const statement of `${identity}${LEGACY_ACCOUNTING}`.split(';').map((s) => s.trim()).filter(Boolean)) await tx.query(statement);
    await tx.query(`INSERT INTO schema_migrations (id, name, applied_at) VALUES
      (1, 'identity: settings, plans, organizations, api keys', '2024-05-06T07:08:09Z'),
      (2, 'accounting: credit ledger, usage records, audit events', '2024-05-06T07:08:10Z')`);
    await tx.query(`INSERT INTO gateway_settings (name, value) VALUES ('server_secret', 'legacy-secret')`);
    await tx.query(`INSERT INTO organizations (id, slug, name) VALUES ('org_legacy', 'legacy', 'Legacy Inc')`);
  });
}

const LEGACY_ACCOUNTING = `
CREATE TABLE credit_ledger (
  id            bigserial PRIMARY KEY,
  org_id        text COLLATE "C" NOT NULL,
  amount_micros bigint NOT NULL,
  kind          text NOT NULL,
  reference     text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE usage_records (
  id          bigserial PRIMARY KEY,
  request_id  text NOT NULL,
  model       text NOT NULL,
  cost_micros bigint NOT NULL DEFAULT 0
);
CREATE TABLE audit_events (
  id     bigserial PRIMARY KEY,
  actor  text NOT NULL,
  action text NOT NULL
);
`;

/** What a legacy database (`buildLegacyDatabase`) looks like once migrated with the built-in plugins. */
export async function checkLegacyUpgraded(t: Test, db: SqlDriver): Promise<void> {
  const fresh = PLUGIN_MIGRATIONS.filter((o) => o.owner !== 'auth').flatMap((o) => o.migrations.map((m) => `${o.owner}/${m.id}`));
  t.same(await recordedMigrations(db), ['auth/1', 'core/1', 'legacy/1', 'legacy/2', ...fresh].sort(), 'legacy 1 adopted by core and auth; legacy 2 kept as a record; the owners new since (billing, audit…) ran');
  const { rows } = await db.query<{ applied_at: Date }>(`SELECT applied_at FROM schema_migrations WHERE id = 1 AND owner IN ('core', 'auth', 'legacy')`);
  t.same(rows.map((r) => r.applied_at.toISOString()), ['2024-05-06T07:08:09.000Z', '2024-05-06T07:08:09.000Z', '2024-05-06T07:08:09.000Z'], 'adopted rows keep the date the tables were created');
  t.same((await db.query(`SELECT value FROM gateway_settings WHERE name = 'server_secret'`)).rows, [{ value: 'legacy-secret' }], 'the server secret is kept');
  t.same((await db.query(`SELECT slug FROM organizations`)).rows, [{ slug: 'legacy' }], 'identity data is kept');
  t.same((await db.query<{ n: string }>(`SELECT count(*) AS n FROM credit_ledger`)).rows, [{ n: '0' }], 'the accounting tables are left alone');
}

/** Runs the suite on a store the caller opened (with `openSqlStore` and `PLUGIN_MIGRATIONS`) and closes afterwards. */
export function sqlStoreSuite(t: Test, store: () => SqlDriver): void {
  t.test('migrations created every table and recorded every migration once, by owner', async (t) => {
    const db = store();
    t.same(await recordedMigrations(db), ALL_MIGRATION_KEYS);
    t.ok(ALL_MIGRATION_KEYS.includes('core/1') && ALL_MIGRATION_KEYS.includes('auth/1'), 'the core and auth own migrations');
    const tables = await db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`);
    t.same(tables.rows.map((r) => r.table_name).sort(), ['api_keys', 'audit_chain_head', 'audit_log', 'billing_accounts', 'billing_ledger', 'billing_reservations', 'billing_spend', 'billing_usage', 'billing_usage_daily', 'gateway_settings', 'organizations', 'plans', 'responses_stored', 'schema_migrations'], 'the core\'s table and the built-in plugins\', nothing else');
  });

  t.test('migrating an up-to-date database applies nothing', async (t) => {
    t.same(await migrateSchema(store(), PLUGIN_MIGRATIONS, silentLog), []);
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
    const { rows } = await db.query<{ amount_micros: unknown; total: unknown; n: unknown }>(
      `SELECT amount_micros, sum(amount_micros) OVER () AS total, count(*) OVER () AS n FROM (VALUES ($1::bigint)) AS v (amount_micros)`,
      [huge],
    );
    t.equal(rows[0]?.amount_micros, huge);
    t.equal(typeof rows[0]?.total, 'string');
    t.equal(rows[0]?.n, '1', 'count(*) is bigint too');
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
