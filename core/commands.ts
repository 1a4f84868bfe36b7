/**
 * Commands shared by the CLI and tests: which config file to use, `validate`, and how a command
 * line mistake is worded.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, ConfigLoadError, type LoadedConfig } from './config/load.js';
import { compileConfig } from './pipeline.js';
import { packageRoot } from './config/schema.js';
import { createLogger } from './log.js';
import { GatewayMetrics } from './metrics.js';
import { UpstreamClient } from './http/upstream.js';
import type { PluginRegistry } from './plugin.js';
import { Stores } from './stores/index.js';
import { pluginMigrations } from './stores/migrations.js';
import { ProcessServices } from './services.js';

/**
 * A `parseArgs` error (unknown option, missing value, stray argument) as one short line —
 * "unknown option '--bogus'" — for the CLI to print instead of a stack trace. Anything else is rethrown.
 */
export function argumentProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) throw err;
  const sentence = (err as Error).message.split('. ')[0]!.replace(/\.$/, '');
  return sentence.charAt(0).toLowerCase() + sentence.slice(1);
}

export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env['SWITCHYARD_CONFIG']) return resolve(env['SWITCHYARD_CONFIG']);
  const local = resolve('config/gateway.yaml');
  return existsSync(local) ? local : join(packageRoot(), 'config', 'gateway.yaml');
}

/** Loads and compiles each file without serving anything; prints problems as `file:line:col: path: message`. */
export async function validate(files: string[], plugins: PluginRegistry, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<boolean> {
  let ok = true;
  for (const file of files) {
    try {
      await compileStandalone(await loadConfig(file), plugins);
      out(`${file}: ok`);
    } catch (err) {
      ok = false;
      out(err instanceof ConfigLoadError ? err.message : `${file}: ${(err as Error).message}`);
    }
  }
  return ok;
}

/**
 * Compiles a loaded config without serving it, then closes what it built. Throws ConfigLoadError.
 * It must not touch the real stores (a running gateway may hold the PGlite directory): plugins get
 * in-process memory and a throw-away embedded database.
 */
export async function compileStandalone(loaded: LoadedConfig, plugins: PluginRegistry): Promise<void> {
  const log = createLogger({ level: 'silent' });
  const upstream = new UpstreamClient();
  const stores = new Stores({ kv: 'memory', sql: { pglite: 'memory' } }, loaded.dir, log, pluginMigrations(plugins), {});
  try {
    const services = new ProcessServices(log, new GatewayMetrics({ processMetrics: false }), upstream, stores, loaded.config.server.listen, process.env);
    const version = await compileConfig(0, loaded, plugins, services);
    await version.close();
    await services.close();
  } finally {
    await stores.close();
    await upstream.close();
  }
}
