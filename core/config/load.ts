/**
 * Load a config file: parse YAML (keeping positions), interpolate `${VAR}`, validate against
 * `schemas/gateway.schema.json`, load the model catalog. Every problem is reported as
 * `file:line:col: path: message`, all of them at once.
 *
 * Paths: one written in the file is relative to the file's directory; one that is wholly an
 * environment variable (`pglite: ${SWITCHYARD_DATA_DIR}`) is relative to the working directory,
 * like any path typed on a command line. Such paths are made absolute here, so later code only
 * ever resolves literal ones against the file.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isScalar } from 'yaml';
import { wholeVariable } from './interpolate.js';
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
  resolveEnvironmentPaths(config, source, text, env);
  const dir = dirname(path);
  const catalog = await loadCatalog(config.catalog.map((d) => resolve(dir, d)), env);
  const hash = createHash('sha256').update(text).update(catalog.hash).digest('hex');
  return { file: path, dir, hash, config, catalog, source };
}

/** Where the config names files and directories: the embedded database, catalog directories, plugin modules. */
function pathFields(config: GatewayConfig): (string | number)[][] {
  const fields: (string | number)[][] = [['stores', 'sql', 'pglite']];
  config.catalog.forEach((_, i) => fields.push(['catalog', i]));
  config.pipeline.forEach((_, i) => fields.push(['pipeline', i, 'use']));
  config.routes.forEach((route, r) => route.pipeline.forEach((_, i) => fields.push(['routes', r, 'pipeline', i, 'use'])));
  return fields;
}

/** Makes each relative path that came wholly from an environment variable absolute, from the working directory. */
function resolveEnvironmentPaths(config: GatewayConfig, source: SourceFile, text: string, env: NodeJS.ProcessEnv): void {
  for (const field of pathFields(config)) {
    const node = source.doc.getIn(field, true);
    if (!isScalar(node) || !node.range || !wholeVariable(text.slice(node.range[0], node.range[1]), env)) continue;
    const parent = field.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], config) as Record<string | number, unknown>;
    const key = field[field.length - 1]!;
    const value = parent[key];
    if (typeof value !== 'string' || isAbsolute(value) || (key === 'pglite' && value === 'memory')) continue;
    parent[key] = resolve(value);
  }
}
