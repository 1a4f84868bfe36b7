/**
 * The built-in plugins, registered explicitly: the YAML name → definition. Nothing is discovered by
 * scanning directories; a plugin that is not here is used with `use: ./path/to/plugin.ts`.
 */
import type { PluginDefinition, PluginRegistry } from '../core/plugin.js';
import type { AdminModule } from '../core/admin/contract.js';
import auth from './auth/index.js';
import identityAdmin from './auth/admin.js';
import cache from './cache/index.js';
import cacheAdmin from './cache/admin.js';
import ipAllowlist from './ip-allowlist/index.js';
import rateLimit from './rate-limit/index.js';
import route from './route/index.js';
import transform from './transform/index.js';

const definitions: PluginDefinition<never>[] = [
  auth as PluginDefinition<never>,
  cache as PluginDefinition<never>,
  ipAllowlist as PluginDefinition<never>,
  rateLimit as PluginDefinition<never>,
  route as PluginDefinition<never>,
  transform as PluginDefinition<never>,
];

export const builtinPlugins: PluginRegistry = new Map(definitions.map((d) => [d.name, d]));

/** Admin API modules (`/admin/...` routes), registered the same explicit way. */
export const builtinAdminModules: readonly AdminModule[] = [identityAdmin, cacheAdmin];
