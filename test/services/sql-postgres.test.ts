/** The SQL store suite on real PostgreSQL, plus what only a shared server has: concurrent openers. */
import t from 'tap';
import { openSqlDriver, openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlDriver } from '../../core/stores/migrate.js';
import { ALL_MIGRATION_KEYS, PLUGIN_MIGRATIONS, buildLegacyDatabase, checkLegacyUpgraded, recordedMigrations, silentLog, sqlStoreSuite } from '../stores/sql-suite.js';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';

let schema: ScratchSchema;
let db: SqlDriver;
t.before(async () => {
  schema = await createScratchSchema('sql');
  db = await openSqlStore({ postgres: { url: schema.url, pool: 4 } }, process.cwd(), silentLog, PLUGIN_MIGRATIONS);
});
t.teardown(async () => {
  await db?.close();
  await schema?.drop();
});

t.test('contract', async (t) => {
  t.equal(db.kind, 'postgres');
  sqlStoreSuite(t, () => db);
});

t.test('two replicas opening one empty database at once both succeed and migrate exactly once', async (t) => {
  const fresh = await createScratchSchema('race');
  t.teardown(() => fresh.drop());
  const opened = await Promise.all([1, 2, 3].map(() => openSqlStore({ postgres: fresh.url }, process.cwd(), silentLog, PLUGIN_MIGRATIONS)));
  t.teardown(() => Promise.all(opened.map((s) => s.close())));
  t.same(await recordedMigrations(opened[0]!), ALL_MIGRATION_KEYS, 'each migration recorded once (the key is (owner, id))');
  await t.resolves(opened[2]!.query('SELECT 1 FROM api_keys'));
});

t.test('replicas opening a database migrated before migrations had owners upgrade it once and run nothing again', async (t) => {
  const legacy = await createScratchSchema('legacy');
  t.teardown(() => legacy.drop());
  const builder = await openSqlDriver({ postgres: legacy.url }, process.cwd(), silentLog);
  await buildLegacyDatabase(builder);
  await builder.close();
  const opened = await Promise.all([1, 2].map(() => openSqlStore({ postgres: legacy.url }, process.cwd(), silentLog, PLUGIN_MIGRATIONS)));
  t.teardown(() => Promise.all(opened.map((s) => s.close())));
  await checkLegacyUpgraded(t, opened[1]!);
});

t.test('an unreachable server fails the open with the connection error', async (t) => {
  await t.rejects(openSqlStore({ postgres: 'postgres://postgres@127.0.0.1:1/none' }, process.cwd(), silentLog, PLUGIN_MIGRATIONS), { code: 'store_unavailable', detail: /ECONNREFUSED/ });
});
