/**
 * Commands shared by the CLI and tests: which config file to use, and `validate`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, ConfigLoadError } from './config/load.js';
import { compileConfig } from './pipeline.js';
import { packageRoot } from './config/schema.js';
import { createLogger } from './log.js';
import { GatewayMetrics } from './metrics.js';
import { UpstreamClient } from './http/upstream.js';
import type { PluginRegistry } from './plugin.js';

export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env['SWITCHYARD_CONFIG']) return resolve(env['SWITCHYARD_CONFIG']);
  const local = resolve('config/gateway.yaml');
  return existsSync(local) ? local : join(packageRoot(), 'config', 'gateway.yaml');
}

/** Loads and compiles each file without serving anything; prints problems as `file:line:col: path: message`. */
export async function validate(files: string[], plugins: PluginRegistry, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<boolean> {
  let ok = true;
  const log = createLogger({ level: 'silent' });
  for (const file of files) {
    const upstream = new UpstreamClient();
    try {
      const loaded = await loadConfig(file);
      const version = await compileConfig(0, loaded, plugins, {
        log,
        metrics: new GatewayMetrics({ processMetrics: false }),
        upstream,
        catalog: loaded.catalog,
        configDir: loaded.dir,
        config: loaded.config,
      });
      await version.close();
      out(`${file}: ok`);
    } catch (err) {
      ok = false;
      out(err instanceof ConfigLoadError ? err.message : `${file}: ${(err as Error).message}`);
    } finally {
      await upstream.close();
    }
  }
  return ok;
}
