#!/usr/bin/env node
// A freshly initialised PGlite data directory, made once at build time instead of on every
// gateway's first start: initdb starts a second PostgreSQL in WASM and would leave the gateway
// holding ~650 MB it never gives back. Writes, for the installed PGlite version <v>:
//   dist/pglite-seed-<v>/         the data directory: a new database directory is a copy of it
//   dist/pglite-seed-<v>.tar.gz   the same as a tarball, loaded by `stores.sql: { pglite: memory }`
//
//   node bin/pglite-seed.js            unless they exist
//   node bin/pglite-seed.js --force    again
//
// Run by `npm run build`. Also a worker: without a seed for the installed PGlite,
// core/stores/pglite.ts runs initdb for a new data directory here, so initdb's memory is the
// worker's and goes when it ends. Plain JavaScript with no project imports: it runs before and
// without a build.
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

/** The `workerData.mark` core/stores/pglite.ts starts this script with. */
export const WORKER_MARK = 'switchyard:pglite-seed';

/** The installed PGlite's version: a seed only loads into the PGlite that made it. */
export async function pgliteVersion() {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve('@electric-sql/pglite'));
  for (;;) {
    const pkg = await readFile(join(dir, 'package.json'), 'utf8').then(JSON.parse, () => undefined);
    if (pkg?.name === '@electric-sql/pglite') return pkg.version;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the @electric-sql/pglite package.json');
    dir = up;
  }
}

/** initdb into `dir` (which must not hold a database), and the result as a gzipped tarball. */
async function initialise(dir) {
  const { PGlite } = await import('@electric-sql/pglite');
  // The baseline WASM compiler only: less memory, faster start-up (see core/stores/pglite.ts).
  setFlagsFromString('--liftoff-only');
  const db = await PGlite.create(dir);
  try {
    return new Uint8Array(await (await db.dumpDataDir('gzip')).arrayBuffer());
  } finally {
    await db.close();
  }
}

const exists = (path) => stat(path).then(() => true, () => false);

if (!isMainThread && parentPort && workerData?.mark === WORKER_MARK) {
  await initialise(workerData.dir);
  parentPort.postMessage('done');
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  const base = join(dist, `pglite-seed-${await pgliteVersion()}`);
  if ((await exists(base)) && (await exists(`${base}.tar.gz`)) && !process.argv.includes('--force')) {
    process.stdout.write(`pglite seed: ${base} is there\n`);
  } else {
    await mkdir(dist, { recursive: true });
    const tmp = await mkdtemp(join(dist, '.pglite-seed-'));
    try {
      const tar = await initialise(tmp);
      await writeFile(`${base}.tar.gz.tmp`, tar);
      await rm(base, { recursive: true, force: true });
      await rename(tmp, base);
      await rename(`${base}.tar.gz.tmp`, `${base}.tar.gz`);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    process.stdout.write(`pglite seed: wrote ${base}/ and ${base}.tar.gz\n`);
  }
}
