/**
 * The built-in plugins, registered explicitly: the YAML name → definition. Nothing is discovered by
 * scanning directories; a plugin that is not here is used with `use: ./path/to/plugin.ts`.
 */
import type { PluginDefinition, PluginRegistry } from '../core/plugin.js';
import type { AdminModule } from '../core/admin/contract.js';
import type { CliCommands } from '../core/cli.js';
import { IDENTITY_COMMANDS, IDENTITY_USAGE, runIdentityCli, type IdentityCommand } from './auth/cli.js';
import auth from './auth/index.js';
import identityAdmin from './auth/admin.js';
import cache from './cache/index.js';
import cacheAdmin from './cache/admin.js';
import ipAllowlist from './ip-allowlist/index.js';
import rateLimit from './rate-limit/index.js';
import route from './route/index.js';
import transform from './transform/index.js';

const definitions: PluginDefinition<never, unknown>[] = [
  auth as PluginDefinition<never, unknown>,
  cache as PluginDefinition<never, unknown>,
  ipAllowlist as PluginDefinition<never, unknown>,
  rateLimit as PluginDefinition<never, unknown>,
  route as PluginDefinition<never, unknown>,
  transform as PluginDefinition<never, unknown>,
];

export const builtinPlugins: PluginRegistry = new Map(definitions.map((d) => [d.name, d]));

/** Admin API modules (`/admin/...` routes), registered the same explicit way. */
export const builtinAdminModules: readonly AdminModule[] = [identityAdmin, cacheAdmin];

/** CLI commands plugins add (`switchyard keys|orgs|plans …`), registered the same explicit way. */
export const builtinCommands: readonly CliCommands[] = [
  { names: IDENTITY_COMMANDS, usage: IDENTITY_USAGE.replace(/\n$/, ''), run: (command, args) => runIdentityCli(command as IdentityCommand, args) },
];
