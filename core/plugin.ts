/**
 * The plugin contract. A plugin is a definition (`definePlugin`) whose `create()` runs once per
 * config version (compile, connect, precompute) and returns an instance whose `handle()` runs per
 * request, onion style: code before `await next()` sees the request, code after it sees the
 * response. YAML order is execution order; requests flow down the list, responses flow back up.
 */
import type { Context, ModelResolver } from './context.js';
import type { GatewayEnv } from './env.js';
import type { AdminModule } from './admin/contract.js';
import type { Migration } from './stores/migrate.js';
import type { DialectName } from './api/dialects/dialect.js';

export type Next = () => Promise<void>;

/** What a pipeline entry may run on: model endpoints (`/v1/...`) and/or raw proxy routes. */
export type RouteKind = 'model' | 'proxy';

export interface PluginInstance {
  /** Per request: cheap, no config parsing, no synchronous I/O. */
  handle(ctx: Context, next: Next): Promise<void>;
  /** Called once the config version that created this instance is retired and idle. */
  close?(): Promise<void> | void;
  /**
   * A terminal plugin resolves model ids for its config version: `ctx.model` reads through this,
   * so every plugin sees the one resolution the terminal plugin routes by.
   */
  readonly models?: ModelResolver;
}

export interface PluginDefinition<Config = unknown, State = undefined> {
  /** The YAML key, e.g. `ip-allowlist`. */
  name: string;
  /** JSON Schema of the config; ajv validates it at load time. `undefined` config is passed as `{}`. */
  schema: object;
  /** Plugins that must appear earlier in the same pipeline (a pipeline without them is a load error). */
  requires?: readonly string[];
  /**
   * Plugins that, when a pipeline has them, must run earlier than this one (`rate-limit` after
   * `auth`, so that it counts per key). A pipeline that has them later is a load error naming both.
   */
  after?: readonly string[];
  /** A terminal plugin answers every request itself and must be last (e.g. `route`). */
  terminal?: boolean;
  /** Where the plugin may be used; default both. */
  kinds?: readonly RouteKind[];
  /**
   * State that lives as long as the process, not a config version: created the first time a
   * version uses the plugin, handed to every later `create()`, kept across reloads, closed (flushed)
   * at shutdown. Module-level mutable state has no place in a plugin; it goes here.
   */
  process?: {
    create(env: GatewayEnv): State;
    close?(state: State): Promise<void> | void;
    /**
     * What `/ready` shows under the plugin's name in `details` (JSON): a degraded dependency the
     * plugin works around, such as a failing model listing. Informational: it never makes the
     * gateway unready. Cheap and synchronous; undefined leaves the plugin out.
     */
    details?(state: State): unknown;
  };
  /**
   * The SQL tables this plugin owns, as migrations numbered 1, 2, … of its own, recorded under its
   * name. Every registered plugin's run when the SQL store opens: after the core's, in registry order.
   */
  migrations?: readonly Migration[];
  /**
   * Client endpoints it serves (`GET /v1/usage`, `GET /v1/responses/{id}` …). The core matches them,
   * reads a POST's JSON body, and runs the pipeline with `ctx.endpoint === 'plugin'` and
   * `ctx.pluginRoute` naming the endpoint, so `auth`, `ip-allowlist`, `rate-limit` and `audit` apply
   * as to any model request; the plugin answers in `handle` (setting `ctx.response`) instead of
   * calling `next()`. When the pipeline does not run the plugin, the request gets a 404 saying so.
   */
  endpoints?: readonly PluginEndpoint[];
  /** Its `/admin/...` routes; created once per gateway for every registered plugin. */
  admin?: AdminModule;
  /** Commands it adds to `switchyard` (listed in `--help`). */
  commands?: CliCommands;
  /** Runs once per config version: compile, connect, precompute. */
  create(config: Config, env: GatewayEnv, state: State): PluginInstance | Promise<PluginInstance>;
}

/** A client endpoint a plugin serves (see `PluginDefinition.endpoints`). */
export interface PluginEndpoint {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /**
   * A `/v1/...` path (served under `/api/v1/...` too). A last segment `{id}` matches the rest of
   * the path, percent-decoded, as `ctx.pluginRoute.param`.
   */
  readonly path: string;
  /** `ctx.pluginRoute.name`, e.g. `responses.retrieve`. */
  readonly name: string;
  /** The client API whose error shape its errors take (default OpenAI's). */
  readonly dialect?: DialectName;
}

/** Commands a plugin adds to the CLI (`switchyard keys …`); the plugin owns them, the core only dispatches. */
export interface CliCommands {
  readonly names: readonly string[];
  /** Usage lines for `switchyard --help`. */
  readonly usage: string;
  /** Runs `command` with its arguments; resolves to the exit code. */
  run(command: string, args: string[]): Promise<number>;
}

/** Identity helper that gives a plugin definition its types; use as `export default definePlugin({...})`. */
export function definePlugin<Config, State = undefined>(definition: PluginDefinition<Config, State>): PluginDefinition<Config, State> {
  return definition;
}

/** The set of plugins a gateway knows by name (the registry in `plugins/index.ts`). */
export type PluginRegistry = ReadonlyMap<string, PluginDefinition<never, unknown>>;
