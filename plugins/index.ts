/**
 * The built-in plugins, registered explicitly: the YAML name → definition. Nothing is discovered by
 * scanning directories; a plugin that is not here is used with `use: ./path/to/plugin.ts`. A
 * definition brings its own SQL migrations, admin routes and CLI commands.
 */
import type { PluginDefinition, PluginRegistry } from '../core/plugin.js';
import audit from './audit/index.js';
import auth from './auth/index.js';
import billing from './billing/index.js';
import cache from './cache/index.js';
import ipAllowlist from './ip-allowlist/index.js';
import rateLimit from './rate-limit/index.js';
import responses from './responses/index.js';
import route from './route/index.js';
import transform from './transform/index.js';

const definitions: PluginDefinition<never, unknown>[] = [
  audit as PluginDefinition<never, unknown>,
  auth as PluginDefinition<never, unknown>,
  billing as PluginDefinition<never, unknown>,
  cache as PluginDefinition<never, unknown>,
  ipAllowlist as PluginDefinition<never, unknown>,
  rateLimit as PluginDefinition<never, unknown>,
  responses as PluginDefinition<never, unknown>,
  route as PluginDefinition<never, unknown>,
  transform as PluginDefinition<never, unknown>,
];

export const builtinPlugins: PluginRegistry = new Map(definitions.map((d) => [d.name, d]));
