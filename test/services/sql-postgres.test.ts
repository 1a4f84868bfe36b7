/** The SQL store suite on real PostgreSQL, plus what only a shared server has: concurrent openers. */
import t from 'tap';
import { openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlDriver } from '../../core/stores/migrate.js';
import { MIGRATIONS } from '../../core/stores/migrations.js';
import { silentLog, sqlStoreSuite } from '../stores/sql-suite.js';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';

let schema: ScratchSchema;
let db: SqlDriver;
t.before(async () => {
  schema = await createScratchSchema('sql');
  db = await openSqlStore({ postgres: { url: schema.url, pool: 4 } }, process.cwd(), silentLog);
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
  const opened = await Promise.all([1, 2, 3].map(() => openSqlStore({ postgres: fresh.url }, process.cwd(), silentLog)));
  t.teardown(() => Promise.all(opened.map((s) => s.close())));
  const { rows } = await opened[0]!.query<{ id: number; n: string }>('SELECT id, count(*) OVER (PARTITION BY id) AS n FROM schema_migrations ORDER BY id');
  t.same(rows.map((r) => r.id), MIGRATIONS.map((m) => m.id));
  t.ok(rows.every((r) => r.n === '1'), 'each migration recorded once');
  await t.resolves(opened[2]!.query('SELECT 1 FROM api_keys'));
});

t.test('an unreachable server fails the open with the connection error', async (t) => {
  await t.rejects(openSqlStore({ postgres: 'postgres://postgres@127.0.0.1:1/none' }, process.cwd(), silentLog), { code: 'store_unavailable', detail: /ECONNREFUSED/ });
});
