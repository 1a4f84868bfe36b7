/**
 * The embedded database's footprint measures (core/stores/pglite.ts): a new data directory is a
 * copy of the build's seed (no initdb in the gateway's process), initdb runs in a worker when there
 * is no seed, PostgreSQL runs with small buffers unless `stores.sql.settings` says otherwise. The
 * memory figures themselves are measured by `npm run bench -- --only=footprint`, not here.
 */
import t, { type Test } from 'tap';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initialiseDataDir, openPglite, PGLITE_MEMORY, seedPath, SMALL_SETTINGS } from '../../core/stores/pglite.js';
import type { SqlDriver } from '../../core/stores/migrate.js';

// initdb in the worker takes longest; the rest run beside it.
t.jobs = 4;

async function scratch(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-pglite-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** initdb gives every cluster a new random system identifier; a copy keeps its original's. */
async function systemIdentifier(db: SqlDriver): Promise<string> {
  const { rows } = await db.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
  return rows[0]!.id;
}

async function setting(db: SqlDriver, name: string): Promise<string> {
  const { rows } = await db.query<Record<string, string>>(`SHOW ${name}`);
  return rows[0]![name]!;
}

t.test('the build made a seed for the installed PGlite (npm run build runs bin/pglite-seed.js)', async (t) => {
  const seed = await seedPath();
  t.ok(seed, 'dist/pglite-seed-<version> exists');
  t.ok((await stat(`${seed}.tar.gz`)).size > 0, 'with its tarball');
});

t.test('a new data directory is a copy of the seed, with small buffers; a memory database loads the same seed', async (t) => {
  const dir = join(await scratch(t), 'data');
  const db = await openPglite(dir, '/');
  t.teardown(() => db.close());
  const memory = await openPglite(PGLITE_MEMORY, '/');
  t.teardown(() => memory.close());
  t.equal(await systemIdentifier(db), await systemIdentifier(memory), 'same cluster identity: both came from the seed, neither ran initdb');
  t.equal(await setting(db, 'shared_buffers'), SMALL_SETTINGS['shared_buffers'], 'shared_buffers is the small default');
  t.equal(await setting(db, 'work_mem'), SMALL_SETTINGS['work_mem']);
  await db.query('CREATE TABLE t (a int)');
  await db.query('INSERT INTO t VALUES (1), (2)');
  t.same((await db.query('SELECT count(*)::int AS n FROM t')).rows, [{ n: 2 }], 'the copy is a working database');
  t.ok((await readdir(dir)).includes('PG_VERSION'));
});

t.test('stores.sql.settings overrides the small defaults, and a reopened directory keeps its data', async (t) => {
  const dir = join(await scratch(t), 'data');
  const first = await openPglite(dir, '/', { settings: { shared_buffers: '32MB', work_mem: 8192 } });
  t.equal(await setting(first, 'shared_buffers'), '32MB');
  t.equal(await setting(first, 'work_mem'), '8MB', 'a number is taken in the setting\'s unit (kB for work_mem)');
  await first.query('CREATE TABLE kept (a int)');
  await first.query('INSERT INTO kept VALUES (7)');
  const id = await systemIdentifier(first);
  await first.close();
  const again = await openPglite(dir, '/');
  t.teardown(() => again.close());
  t.equal(await systemIdentifier(again), id, 'the same cluster, not a new one');
  t.same((await again.query('SELECT a FROM kept')).rows, [{ a: 7 }]);
  t.equal(await setting(again, 'shared_buffers'), SMALL_SETTINGS['shared_buffers'], 'settings are start parameters, not written into the directory');
});

t.test('without a seed, initdb runs in a worker thread and the directory works', async (t) => {
  const dir = join(await scratch(t), 'data');
  await initialiseDataDir(dir, undefined);
  t.ok((await readdir(dir)).includes('PG_VERSION'), 'the worker created the cluster');
  const db = await openPglite(dir, '/');
  t.teardown(() => db.close());
  const memory = await openPglite(PGLITE_MEMORY, '/');
  t.teardown(() => memory.close());
  t.not(await systemIdentifier(db), await systemIdentifier(memory), 'a cluster of its own (initdb ran), not the seed\'s');
  t.same((await db.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
});
