/** The SQL store suite on embedded PGlite, plus what only PGlite does: a data directory. */
import t from 'tap';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateSchema, openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlDriver } from '../../core/stores/migrate.js';
import { ALL_MIGRATION_KEYS, PLUGIN_MIGRATIONS, recordedMigrations, silentLog, sqlStoreSuite } from './sql-suite.js';

let db: SqlDriver;
t.before(async () => {
  db = await openSqlStore({ pglite: 'memory' }, tmpdir(), silentLog, PLUGIN_MIGRATIONS);
});
t.teardown(() => db.close());

t.test('contract', async (t) => {
  t.equal(db.kind, 'pglite');
  sqlStoreSuite(t, () => db);
});

t.test('a relative data directory is created under the config directory and keeps data across reopen', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'switchyard-pglite-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const first = await openSqlStore({ pglite: './nested/data' }, base, silentLog, PLUGIN_MIGRATIONS);
  await first.query(`INSERT INTO gateway_settings (name, value) VALUES ('kept', 'yes')`);
  await first.close();
  t.ok((await stat(join(base, 'nested', 'data'))).isDirectory());

  const second = await openSqlStore({ pglite: './nested/data' }, base, silentLog, PLUGIN_MIGRATIONS);
  t.teardown(() => second.close());
  t.same((await second.query(`SELECT value FROM gateway_settings WHERE name = 'kept'`)).rows, [{ value: 'yes' }]);
  t.same(await migrateSchema(second, PLUGIN_MIGRATIONS, silentLog), [], 'reopening applies no migration');
  t.same(await recordedMigrations(second), ALL_MIGRATION_KEYS);
});

t.test('a failing migration leaves the database at the last good one and names the failure', async (t) => {
  const scratch = await openSqlStore({ pglite: 'memory' }, tmpdir(), silentLog, PLUGIN_MIGRATIONS);
  t.teardown(() => scratch.close());
  const broken = { owner: 'broken', migrations: [{ id: 1, name: 'half', sql: 'CREATE TABLE ok_part (x int); SELECT * FROM no_such_table;' }] };
  await t.rejects(migrateSchema(scratch, [...PLUGIN_MIGRATIONS, broken], silentLog), { message: /migration broken\/1 \(half\) failed/ });
  const { rows } = await scratch.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'ok_part'`);
  t.same(rows, [], 'the half-applied migration was rolled back');
  t.same((await scratch.query(`SELECT id FROM schema_migrations WHERE owner = 'broken'`)).rows, []);
  t.same(await migrateSchema(scratch, PLUGIN_MIGRATIONS, silentLog), [], 'the lock was released: a later run proceeds');
});

t.test('a data directory held by another live process is refused; a stale claim is taken over', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'switchyard-pglite-lock-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  await mkdir(join(base, 'data'));
  await writeFile(join(base, 'data', 'switchyard.lock'), String(process.ppid));
  await t.rejects(openSqlStore({ pglite: './data' }, base, silentLog, PLUGIN_MIGRATIONS), { message: new RegExp(`in use by process ${process.ppid}`) });

  await writeFile(join(base, 'data', 'switchyard.lock'), '2147483646');
  const store = await openSqlStore({ pglite: './data' }, base, silentLog, PLUGIN_MIGRATIONS);
  t.equal((await readFile(join(base, 'data', 'switchyard.lock'), 'utf8')).trim(), String(process.pid), 'claimed by this process');
  await store.close();
  await t.rejects(stat(join(base, 'data', 'switchyard.lock')), { code: 'ENOENT' }, 'released on close');
});
