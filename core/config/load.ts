/**
 * Load a config file: parse YAML (keeping positions), interpolate `${VAR}`, validate against
 * `schemas/gateway.schema.json`, load the model catalog. Every problem is reported as
 * `file:line:col: path: message`, all of them at once.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { readSchema, validateAt } from './schema.js';
import { parseYaml, ConfigLoadError, type SourceFile } from './source.js';
import { loadCatalog, type Catalog } from './catalog.js';
import type { GatewayConfig } from './types.js';

export { ConfigLoadError, formatIssue, type LocatedIssue } from './source.js';

const gatewaySchema = readSchema('gateway');

export interface LoadedConfig {
  readonly file: string;
  readonly dir: string;
  /** sha256 of the file and catalog text; a reload that changes nothing is skipped. */
  readonly hash: string;
  readonly config: GatewayConfig;
  readonly catalog: Catalog;
  readonly source: SourceFile;
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigLoadError([{ file: path, path: [], message: `cannot read config: ${(err as Error).message}` }]);
  }
  const { source, value, issues } = parseYaml(path, text, env);
  if (issues.length) throw new ConfigLoadError(issues);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigLoadError([{ file: path, line: 1, col: 1, path: [], message: 'the config must be a YAML mapping with at least `version: 1`' }]);
  }
  const schemaIssues = validateAt(gatewaySchema, value, []).map((i) => source.locate(i));
  if (schemaIssues.length) throw new ConfigLoadError(schemaIssues);
  const config = value as GatewayConfig;
  const dir = dirname(path);
  const catalog = await loadCatalog(config.catalog.map((d) => resolve(dir, d)), env);
  const hash = createHash('sha256').update(text).update(catalog.hash).digest('hex');
  return { file: path, dir, hash, config, catalog, source };
}
