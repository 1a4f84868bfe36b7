/**
 * The model catalog: public facts (context window, prices, capabilities) per provider and model,
 * from `config/catalog/*.yaml` in the package plus any directories the config adds. Data, validated
 * by `schemas/catalog.schema.json`; read at load time, looked up from a Map afterwards.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { readSchema, validateAt, packageRoot } from './schema.js';
import { parseYaml, ConfigLoadError, type LocatedIssue } from './source.js';
import type { CatalogFile } from '../../schemas/types/catalog.js';

const catalogSchema = readSchema('catalog');

/** One model's facts in a catalog file (`config/catalog/*.yaml`), from the schema. */
export type CatalogEntry = CatalogFile['models'][string];

export class Catalog {
  private readonly entries = new Map<string, CatalogEntry & { prices_read?: string }>();
  constructor(
    files: CatalogFile[],
    readonly hash: string,
  ) {
    for (const f of files) {
      for (const [id, entry] of Object.entries(f.models)) {
        this.entries.set(`${f.provider}\u0000${id}`, f.prices_read ? { ...entry, prices_read: f.prices_read } : entry);
      }
    }
  }

  get(catalog: string, model: string): (CatalogEntry & { prices_read?: string }) | undefined {
    return this.entries.get(`${catalog}\u0000${model}`);
  }

  /** Every model id a catalog lists. */
  models(catalog: string): string[] {
    const prefix = `${catalog}\u0000`;
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }
}

export function builtinCatalogDir(): string {
  return join(packageRoot(), 'config', 'catalog');
}

/** Loads the built-in catalog and then `dirs` (later files override earlier entries). */
export async function loadCatalog(dirs: string[], env: NodeJS.ProcessEnv): Promise<Catalog> {
  const files: CatalogFile[] = [];
  const issues: LocatedIssue[] = [];
  const hash = createHash('sha256');
  for (const dir of [builtinCatalogDir(), ...dirs.map((d) => resolve(d))]) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
    } catch (err) {
      if (dir === builtinCatalogDir()) continue;
      issues.push({ file: dir, path: [], message: `cannot read catalog directory: ${(err as Error).message}` });
      continue;
    }
    for (const name of names) {
      const file = join(dir, name);
      const text = await readFile(file, 'utf8');
      hash.update(file).update(text);
      const parsed = parseYaml(file, text, env);
      if (parsed.issues.length) {
        issues.push(...parsed.issues);
        continue;
      }
      const found = validateAt(catalogSchema, parsed.value, []).map((i) => parsed.source.locate(i));
      if (found.length) issues.push(...found);
      else files.push(parsed.value as CatalogFile);
    }
  }
  if (issues.length) throw new ConfigLoadError(issues);
  return new Catalog(files, hash.digest('hex'));
}
