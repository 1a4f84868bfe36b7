/**
 * The plugin contract. A plugin is a definition (`definePlugin`) whose `create()` runs once per
 * config version (compile, connect, precompute) and returns an instance whose `handle()` runs per
 * request, onion style: code before `await next()` sees the request, code after it sees the
 * response. YAML order is execution order; requests flow down the list, responses flow back up.
 */
import type { Context } from './context.js';
import type { GatewayEnv } from './env.js';

export type Next = () => Promise<void>;

/** What a pipeline entry may run on: model endpoints (`/v1/...`) and/or raw proxy routes. */
export type RouteKind = 'model' | 'proxy';

export interface PluginInstance {
  /** Per request: cheap, no config parsing, no synchronous I/O. */
  handle(ctx: Context, next: Next): Promise<void>;
  /** Called once the config version that created this instance is retired and idle. */
  close?(): Promise<void> | void;
}

export interface PluginDefinition<Config = unknown> {
  /** The YAML key, e.g. `ip-allowlist`. */
  name: string;
  /** JSON Schema of the config; ajv validates it at load time. `undefined` config is passed as `{}`. */
  schema: object;
  /** Plugins that must appear earlier in the same pipeline. */
  requires?: readonly string[];
  /** A terminal plugin answers every request itself and must be last (e.g. `route`). */
  terminal?: boolean;
  /** Where the plugin may be used; default both. */
  kinds?: readonly RouteKind[];
  create(config: Config, env: GatewayEnv): PluginInstance | Promise<PluginInstance>;
}

/** Identity helper that gives a plugin definition its types; use as `export default definePlugin({...})`. */
export function definePlugin<Config>(definition: PluginDefinition<Config>): PluginDefinition<Config> {
  return definition;
}

/** The set of plugins a gateway knows by name (the registry in `plugins/index.ts`). */
export type PluginRegistry = ReadonlyMap<string, PluginDefinition<never>>;
