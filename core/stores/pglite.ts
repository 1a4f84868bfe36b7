/**
 * The embedded SQL driver: PGlite (PostgreSQL compiled to WASM) in this process, data in a
 * directory or in memory. One connection by nature, so only one process may open a directory.
 *
 * Footprint (measured; docs/production.md "Memory"): a new data directory is a copy of a seed made
 * once by `npm run build` (bin/pglite-seed.js) — initdb in this process would start a second
 * PostgreSQL in WASM and leave ~650 MB resident for good; without a seed for the installed PGlite,
 * initdb runs in a worker thread, whose memory goes when it ends. PostgreSQL runs with small
 * buffers (`SMALL_SETTINGS`, overridable under `stores.sql.settings`), and its WASM is compiled by
 * V8's baseline compiler only (no optimising tier-up: ~50 MB less code, and faster start-up; the
 * gateway's queries are few and short).
 */
import { cp, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { PGlite, types } from '@electric-sql/pglite';
import type { SqlExecutor, SqlResult } from './sql.js';
import type { SqlDriver, SqlSession } from './migrate.js';

/** `memory` for a throw-away database; anything else is a directory, relative to `baseDir`. */
export const PGLITE_MEMORY = 'memory';

interface PgliteQueryable {
  query<Row>(text: string, params?: unknown[]): Promise<{ rows: Row[]; affectedRows?: number }>;
  exec(text: string): Promise<unknown>;
}

/**
 * `bigint` comes back as a string, as it does from `pg`: money in micro-units can pass 2^53, and both
 * drivers must hand callers the same types.
 */
const PARSERS = { [types.INT8]: (value: string) => value };

/**
 * PostgreSQL settings for a small, single-session database (initdb's defaults size it for a server:
 * 128 MB of shared buffers alone). Passed as `-c` start parameters, so postgresql.conf is untouched.
 * Shared buffers live in the WebAssembly memory, which never shrinks, and a day of usage rows
 * touches all of them: 8MB, not 16MB, is ~9 MB less resident idle and after load
 * (docs/footprint.md); the operating system's page cache still caches the data files.
 */
export const SMALL_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '8MB',
  wal_buffers: '1MB',
  temp_buffers: '2MB',
  work_mem: '2MB',
  maintenance_work_mem: '16MB',
};

export interface PgliteOptions {
  /** PostgreSQL settings over `SMALL_SETTINGS` (`stores.sql.settings`). */
  settings?: Readonly<Record<string, string | number>>;
}

export async function openPglite(location: string, baseDir: string, options: PgliteOptions = {}): Promise<SqlDriver> {
  const startParams = [...PGlite.defaultStartParams];
  for (const [name, value] of Object.entries({ ...SMALL_SETTINGS, ...options.settings })) startParams.push('-c', `${name}=${value}`);
  if (location === PGLITE_MEMORY) {
    const seed = await seedPath();
    const loadDataDir = seed ? new Blob([await readFile(`${seed}.tar.gz`)]) : undefined;
    return new PgliteStore(await createPglite(undefined, { parsers: PARSERS, startParams, loadDataDir }));
  }
  const dir = isAbsolute(location) ? location : resolve(baseDir, location);
  await mkdir(dir, { recursive: true });
  const unlock = await lockDirectory(dir);
  try {
    if (!(await exists(join(dir, 'PG_VERSION')))) await initialiseDataDir(dir, await seedPath());
    return new PgliteStore(await createPglite(dir, { parsers: PARSERS, startParams }), unlock);
  } catch (err) {
    await unlock();
    throw err;
  }
}

type CreateOptions = NonNullable<Parameters<typeof PGlite.create>[1]>;

let baselineOnly = 0;

/**
 * `PGlite.create` with V8's optimising WASM tier off while PGlite's module compiles (the tiers are
 * chosen when a module compiles, so nothing compiled later — undici's HTTP parser — is affected). A
 * runtime without `setFlagsFromString` just compiles as it always does.
 */
async function createPglite(dir: string | undefined, options: CreateOptions): Promise<PGlite> {
  if (baselineOnly++ === 0) setV8Flag('--liftoff-only');
  try {
    return dir === undefined ? await PGlite.create(options) : await PGlite.create(dir, options);
  } finally {
    if (--baselineOnly === 0) setV8Flag('--no-liftoff-only');
  }
}

function setV8Flag(flag: string): void {
  try {
    setFlagsFromString(flag);
  } catch {
    // not every runtime lets a program set V8 flags
  }
}

/** The project root, seen from core/stores/ (sources) and from dist/core/stores/ (compiled). */
const ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/core/') ? '../../../' : '../../', import.meta.url));
const SEED_SCRIPT = pathToFileURL(join(ROOT, 'bin', 'pglite-seed.js'));

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

/**
 * `dist/pglite-seed-<version>` (a data directory, and `.tar.gz` the same as a tarball) when the build
 * made one for the installed PGlite.
 */
export async function seedPath(): Promise<string | undefined> {
  const seeder = (await import(SEED_SCRIPT.href)) as { pgliteVersion(): Promise<string> };
  const base = join(ROOT, 'dist', `pglite-seed-${await seeder.pgliteVersion()}`);
  return (await exists(join(base, 'PG_VERSION'))) && (await exists(`${base}.tar.gz`)) ? base : undefined;
}

/**
 * A new data directory: a copy of the seed's (no PostgreSQL runs for it), or initdb in a worker
 * thread (bin/pglite-seed.js) when there is no seed, so the memory initdb takes goes when it ends.
 */
export async function initialiseDataDir(dir: string, seed: string | undefined): Promise<void> {
  if (seed) {
    await cp(seed, dir, { recursive: true });
    return;
  }
  await new Promise<void>((resolvePromise, reject) => {
    const worker = new Worker(SEED_SCRIPT, { workerData: { mark: 'switchyard:pglite-seed', dir } });
    let created = false;
    worker.once('message', () => (created = true));
    worker.once('error', reject);
    // Waits for the worker to end, not only for its answer: its memory is what this is for.
    worker.once('exit', (code) => (created ? resolvePromise() : reject(new Error(`the PGlite worker exited with code ${code} before it created ${dir}`))));
  });
}

/**
 * PGlite has no locking of its own, and two processes writing one data directory corrupt it (a
 * second `npm start` would open it before failing to bind the port). A pid file claims the
 * directory; one left by a process that no longer runs is taken over.
 */
async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'switchyard.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processRuns(pid)) {
        throw new Error(`the PGlite data directory ${dir} is in use by process ${pid}; only one process may open it (use \`stores.sql: { postgres: … }\` to share data between replicas)`);
      }
      await rm(file, { force: true });
    }
  }
  throw new Error(`cannot lock the PGlite data directory ${dir}`);
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function executorFor(target: PgliteQueryable): SqlSession {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []): Promise<SqlResult<Row>> {
      const result = await target.query<Row>(text, [...params]);
      return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
    },
    async exec(script: string): Promise<void> {
      await target.exec(script);
    },
  };
}

class PgliteStore implements SqlDriver {
  readonly kind = 'pglite' as const;
  private readonly executor: SqlSession;

  constructor(
    private readonly db: PGlite,
    private readonly unlock: () => Promise<void> = async () => {},
  ) {
    this.executor = executorFor(db);
  }

  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
    return this.executor.query<Row>(text, params);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(executorFor(tx)));
  }

  /**
   * PGlite is a single session already. (Not `runExclusive`: queries made inside it would wait for
   * it to end.) Only the migration runner uses this, before the store is handed to anyone else.
   */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return fn(this.executor);
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
    await this.unlock();
  }
}
