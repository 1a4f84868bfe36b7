/**
 * Migrations by owner, on embedded PGlite: the core first, then each plugin in the order given,
 * ids counted per owner; and the upgrade of a database migrated before migrations had owners
 * (`test/services/sql-postgres.test.ts` repeats that on PostgreSQL, with replicas racing).
 */
import t, { type Test } from 'tap';
import { tmpdir } from 'node:os';
import { migrate, type SqlDriver } from '../../core/stores/migrate.js';
import { migrateSchema, openSqlDriver } from '../../core/stores/open-sql.js';
import { PLUGIN_MIGRATIONS, buildLegacyDatabase, checkLegacyUpgraded, recordedMigrations, silentLog } from './sql-suite.js';

async function emptyDatabase(t: Test): Promise<SqlDriver> {
  const db = await openSqlDriver({ pglite: 'memory' }, tmpdir(), silentLog);
  t.teardown(() => db.close());
  return db;
}

/** Every migration of the plugins that came after the legacy database (all but auth, which adopts its legacy rows). */
const NEW_OWNERS_MIGRATIONS = PLUGIN_MIGRATIONS.filter((o) => o.owner !== 'auth').flatMap((o) => o.migrations.map((m) => ({ owner: o.owner, id: m.id })));

t.test('a database migrated before migrations had owners is upgraded without running anything again', async (t) => {
  const db = await emptyDatabase(t);
  await buildLegacyDatabase(db);
  // Running a legacy migration's SQL again would fail (its tables exist): only the owners that are new since (billing, audit…) run.
  t.same(await migrateSchema(db, PLUGIN_MIGRATIONS, silentLog), NEW_OWNERS_MIGRATIONS, 'no legacy migration ran again; only the new owners\' ran');
  await checkLegacyUpgraded(t, db);
  const key = await db.query<{ column: string }>(
    `SELECT a.attname AS column FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = 'schema_migrations'::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
  );
  t.same(key.rows.map((r) => r.column), ['owner', 'id'], 'schema_migrations is keyed by (owner, id)');

  t.same(await migrateSchema(db, PLUGIN_MIGRATIONS, silentLog), [], 'a second run finds nothing to do');
  await checkLegacyUpgraded(t, db);
});

t.test('a legacy record is adopted by a plugin that is registered only later', async (t) => {
  const db = await emptyDatabase(t);
  await buildLegacyDatabase(db);
  t.same(await migrateSchema(db, [], silentLog), [], 'a gateway without auth adopts only the core part');
  t.same(await recordedMigrations(db), ['core/1', 'legacy/1', 'legacy/2']);
  t.same(await migrateSchema(db, PLUGIN_MIGRATIONS, silentLog), NEW_OWNERS_MIGRATIONS, 'adding auth later runs nothing of its own either (only the owners new since run)');
  await checkLegacyUpgraded(t, db);
});

t.test('owners run in the order given, each one\'s ids ascending; ids count per owner', async (t) => {
  const db = await emptyDatabase(t);
  const first = {
    owner: 'first',
    migrations: [
      { id: 2, name: 'second table', sql: 'CREATE TABLE first_b (a_id int REFERENCES first_a (id));' },
      { id: 1, name: 'first table', sql: 'CREATE TABLE first_a (id int PRIMARY KEY);' },
    ],
  };
  const second = { owner: 'second', migrations: [{ id: 1, name: 'needs first', sql: 'CREATE TABLE second_c (a_id int REFERENCES first_a (id));' }] };
  t.same(await migrate(db, [first, second], silentLog), [
    { owner: 'first', id: 1 },
    { owner: 'first', id: 2 },
    { owner: 'second', id: 1 },
  ]);
  t.same(await recordedMigrations(db), ['first/1', 'first/2', 'second/1']);
  t.same(await migrate(db, [first, second], silentLog), []);
});

t.test('an owner named twice, the reserved legacy owner or an id declared twice is refused before anything runs', async (t) => {
  const db = await emptyDatabase(t);
  const one = { id: 1, name: 'one', sql: 'CREATE TABLE never_made (x int);' };
  await t.rejects(migrate(db, [{ owner: 'a', migrations: [one] }, { owner: 'a', migrations: [] }], silentLog), { message: "migrations: owner 'a' is named twice" });
  await t.rejects(migrate(db, [{ owner: 'legacy', migrations: [one] }], silentLog), { message: "migrations: owner 'legacy' is reserved" });
  await t.rejects(migrate(db, [{ owner: 'b', migrations: [one, one] }], silentLog), { message: "migrations: 'b' declares migration 1 twice" });
  t.same((await db.query(`SELECT 1 FROM information_schema.tables WHERE table_name IN ('never_made', 'schema_migrations')`)).rows, []);
});
