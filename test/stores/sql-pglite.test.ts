/** The SQL store suite on embedded PGlite, plus what only PGlite does: a data directory. */
import t from 'tap';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlDriver } from '../../core/stores/migrate.js';
import { migrate } from '../../core/stores/migrate.js';
import { MIGRATIONS } from '../../core/stores/migrations.js';
import { silentLog, sqlStoreSuite } from './sql-suite.js';

let db: SqlDriver;
t.before(async () => {
  db = await openSqlStore({ pglite: 'memory' }, tmpdir(), silentLog);
});
t.teardown(() => db.close());

t.test('contract', async (t) => {
  t.equal(db.kind, 'pglite');
  sqlStoreSuite(t, () => db);
});

t.test('a relative data directory is created under the config directory and keeps data across reopen', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'switchyard-pglite-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const first = await openSqlStore({ pglite: './nested/data' }, base, silentLog);
  await first.query(`INSERT INTO gateway_settings (name, value) VALUES ('kept', 'yes')`);
  await first.close();
  t.ok((await stat(join(base, 'nested', 'data'))).isDirectory());

  const second = await openSqlStore({ pglite: './nested/data' }, base, silentLog);
  t.teardown(() => second.close());
  t.same((await second.query(`SELECT value FROM gateway_settings WHERE name = 'kept'`)).rows, [{ value: 'yes' }]);
  t.same(await migrate(second, MIGRATIONS, silentLog), [], 'reopening applies no migration');
  const { rows } = await second.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
  t.equal(rows[0]?.n, String(MIGRATIONS.length));
});

t.test('a failing migration leaves the database at the last good one and names the failure', async (t) => {
  const scratch = await openSqlStore({ pglite: 'memory' }, tmpdir(), silentLog);
  t.teardown(() => scratch.close());
  const bad = [...MIGRATIONS, { id: 1000, name: 'broken', sql: 'CREATE TABLE ok_part (x int); SELECT * FROM no_such_table;' }];
  await t.rejects(migrate(scratch, bad, silentLog), { message: /migration 1000 \(broken\) failed/ });
  const { rows } = await scratch.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'ok_part'`);
  t.same(rows, [], 'the half-applied migration was rolled back');
  t.same((await scratch.query('SELECT id FROM schema_migrations WHERE id = 1000')).rows, []);
  t.same(await migrate(scratch, MIGRATIONS, silentLog), [], 'the lock was released: a later run proceeds');
});

t.test('a data directory held by another live process is refused; a stale claim is taken over', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'switchyard-pglite-lock-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  await mkdir(join(base, 'data'));
  await writeFile(join(base, 'data', 'switchyard.lock'), String(process.ppid));
  await t.rejects(openSqlStore({ pglite: './data' }, base, silentLog), { message: new RegExp(`in use by process ${process.ppid}`) });

  await writeFile(join(base, 'data', 'switchyard.lock'), '2147483646');
  const store = await openSqlStore({ pglite: './data' }, base, silentLog);
  t.equal((await readFile(join(base, 'data', 'switchyard.lock'), 'utf8')).trim(), String(process.pid), 'claimed by this process');
  await store.close();
  await t.rejects(stat(join(base, 'data', 'switchyard.lock')), { code: 'ENOENT' }, 'released on close');
});
