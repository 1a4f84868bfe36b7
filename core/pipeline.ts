/**
 * Compile a loaded config into a runnable version: resolve each pipeline entry to a plugin
 * definition, validate its config against the plugin's schema, check ordering rules, call
 * `create()` once, and compose the instances into an onion. Everything per-request is precomputed
 * here, so a request only walks an array.
 */
import { access } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigLoadError, type LoadedConfig, type LocatedIssue } from './config/load.js';
import { ConfigError, validateAt, type ConfigIssue } from './config/schema.js';
import { parseBytes, parseDuration } from './config/units.js';
import type { PipelineEntry } from './config/types.js';
import { clientIpResolver, type ClientIpResolver } from './http/client-ip.js';
import type { Context, ModelResolver } from './context.js';
import { envFor, type ProcessServices } from './services.js';
import type { PluginDefinition, PluginInstance, PluginRegistry, RouteKind, Next } from './plugin.js';
import { tracedHandler } from './telemetry/index.js';

/** A composed plugin chain. `terminal` runs after the last plugin calls `next()`. */
export type Chain = (ctx: Context, terminal: Next) => Promise<void>;

export interface ProxyRoute {
  /** Path as written (`/internal/search/*`). */
  readonly path: string;
  /** Returns true when `path` belongs to this route. */
  matches(path: string): boolean;
  /** Prefix removed before forwarding (with `strip_prefix`), else ''. */
  readonly strip: string;
  readonly upstream: string;
  readonly timeoutMs: number;
  /** Pass the client's `Authorization`, `x-api-key` and `api-key` upstream (`forward_credentials`); otherwise they are removed. */
  readonly forwardCredentials: boolean;
  readonly chain: Chain;
}

export interface ServerSettings {
  listen: string;
  bodyLimit: number;
  trustedProxies: string[];
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** On SIGTERM, how long `/ready` fails while the listener still serves. */
  drainDelayMs: number;
  maxHeaderSize: number;
  accessLog: boolean;
  /** Resolves the client address from the socket peer and `X-Forwarded-For`. */
  clientIp: ClientIpResolver;
}

/** One compiled configuration. Requests hold it while they run; retired versions close when idle. */
export class ConfigVersion {
  private inFlight = 0;
  private retired = false;
  private closed: Promise<void> | undefined;
  /** When this version was compiled (ISO time). */
  readonly loadedAt = new Date().toISOString();

  constructor(
    readonly id: number,
    readonly loaded: LoadedConfig,
    readonly settings: ServerSettings,
    readonly modelChain: Chain,
    /** Resolves model ids for this version (the model pipeline's terminal plugin provides it). */
    readonly models: ModelResolver | undefined,
    readonly proxyRoutes: readonly ProxyRoute[],
    private readonly instances: readonly PluginInstance[],
  ) {}

  acquire(): void {
    this.inFlight++;
  }

  release(): void {
    if (--this.inFlight === 0 && this.retired) void this.close();
  }

  /** No new requests will use this version; it closes once its last request ends. */
  retire(): Promise<void> | undefined {
    this.retired = true;
    return this.inFlight === 0 ? this.close() : undefined;
  }

  get active(): number {
    return this.inFlight;
  }

  close(): Promise<void> {
    this.closed ??= Promise.allSettled(this.instances.map((i) => i.close?.())).then(() => undefined);
    return this.closed;
  }
}

export function resolveServerSettings(loaded: LoadedConfig): ServerSettings {
  const s = loaded.config.server;
  return {
    listen: s.listen,
    bodyLimit: parseBytes(s.body_limit)!,
    trustedProxies: s.trusted_proxies,
    headersTimeoutMs: parseDuration(s.headers_timeout)!,
    requestTimeoutMs: parseDuration(s.request_timeout)!,
    keepAliveTimeoutMs: parseDuration(s.keep_alive_timeout)!,
    shutdownTimeoutMs: parseDuration(s.shutdown_timeout)!,
    drainDelayMs: parseDuration(s.drain_delay)!,
    maxHeaderSize: parseBytes(s.max_header_size)!,
    accessLog: s.access_log,
    clientIp: clientIpResolver(s.trusted_proxies),
  };
}

interface ResolvedEntry {
  name: string;
  definition: PluginDefinition<unknown, unknown>;
  config: unknown;
  /** JSON path of the entry's config, for error messages. */
  path: (string | number)[];
}

/** Compiles a loaded config. Throws ConfigLoadError (located issues) when anything is wrong. */
export async function compileConfig(id: number, loaded: LoadedConfig, registry: PluginRegistry, services: ProcessServices): Promise<ConfigVersion> {
  const env = envFor(loaded, services);
  const issues: ConfigIssue[] = [];
  const model = await resolveEntries(loaded.config.pipeline, ['pipeline'], 'model', registry, loaded.dir, issues);
  const routes = await Promise.all(
    loaded.config.routes.map((r, i) => resolveEntries(r.pipeline, ['routes', i, 'pipeline'], 'proxy', registry, loaded.dir, issues)),
  );
  // Judged only when every entry resolved: an invalid last entry is reported already, and an empty
  // pipeline could answer nothing.
  if (model.length === loaded.config.pipeline.length && !model.at(-1)?.definition.terminal) {
    issues.push({ path: model.length ? ['pipeline', model.length - 1] : ['pipeline'], message: 'the pipeline must end with a terminal plugin such as `route`' });
  }
  let settings: ServerSettings | undefined;
  try {
    settings = resolveServerSettings(loaded);
  } catch (err) {
    issues.push({ path: ['server', 'trusted_proxies'], message: (err as Error).message });
  }
  if (issues.length || !settings) throw located(loaded, issues);

  const instances: PluginInstance[] = [];
  const createAll = async (entries: ResolvedEntry[]) => {
    const made: PluginInstance[] = [];
    for (const e of entries) {
      try {
        const instance = await e.definition.create(e.config as never, env, services.stateOf(e.definition as PluginDefinition<never, unknown>, env));
        made.push(instance);
        instances.push(instance);
      } catch (err) {
        if (err instanceof ConfigError) {
          issues.push(...err.issues.map((i) => (i.path[0] === '$' ? { ...i, path: i.path.slice(1) } : { ...i, path: [...e.path, ...i.path] })));
        } else {
          issues.push({ path: e.path, message: `plugin '${e.name}' failed to start: ${(err as Error).message}` });
        }
      }
    }
    return made;
  };
  const modelInstances = await createAll(model);
  const routeInstances = await Promise.all(routes.map((entries) => createAll(entries)));
  if (issues.length) {
    await Promise.allSettled(instances.map((i) => i.close?.()));
    throw located(loaded, issues);
  }

  const totalMs = parseDuration(loaded.config.upstream.total_timeout)!;
  const traced = loaded.config.tracing?.enabled === true;
  const proxyRoutes = loaded.config.routes.map((r, i): ProxyRoute => {
    const prefix = r.path.endsWith('/*') ? r.path.slice(0, -2) : undefined;
    return {
      path: r.path,
      matches: prefix !== undefined ? (p) => p === prefix || p.startsWith(`${prefix}/`) : (p) => p === r.path,
      strip: r.strip_prefix ? (prefix ?? r.path) : '',
      upstream: r.upstream,
      timeoutMs: r.timeout !== undefined ? parseDuration(r.timeout)! : totalMs,
      forwardCredentials: r.forward_credentials === true,
      chain: compose(routeInstances[i]!, traced ? routes[i]!.map((e) => e.name) : undefined),
    };
  });
  return new ConfigVersion(id, loaded, settings, compose(modelInstances, traced ? model.map((e) => e.name) : undefined), modelInstances.at(-1)?.models, proxyRoutes, instances);
}

function located(loaded: LoadedConfig, issues: ConfigIssue[]): ConfigLoadError {
  return new ConfigLoadError(issues.map((i): LocatedIssue => loaded.source.locate(i)));
}

async function resolveEntries(
  entries: PipelineEntry[],
  base: (string | number)[],
  kind: RouteKind,
  registry: PluginRegistry,
  dir: string,
  issues: ConfigIssue[],
): Promise<ResolvedEntry[]> {
  const out: ResolvedEntry[] = [];
  const named: string[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = [...base, i];
    let name: string;
    let config: unknown;
    let path: (string | number)[];
    let definition: PluginDefinition<unknown, unknown> | undefined;
    if (typeof entry === 'string') {
      [name, config, path] = [entry, {}, at];
    } else if ('use' in entry && typeof entry.use === 'string') {
      path = [...at, 'config'];
      config = entry.config ?? {};
      try {
        definition = await importPlugin(resolvePath(dir, entry.use));
        name = definition.name;
        const processWide = (['migrations', 'admin', 'commands'] as const).filter((field) => definition![field] !== undefined);
        if (processWide.length) {
          issues.push({
            path: [...at, 'use'],
            message: `plugin '${name}' declares ${processWide.join(', ')}, which only a plugin registered in the composition root (bin/main.ts) can have: a plugin loaded with \`use:\` is loaded per config version, after the process started`,
          });
          continue;
        }
      } catch (err) {
        issues.push({ path: [...at, 'use'], message: `cannot load plugin module '${entry.use}': ${(err as Error).message}` });
        continue;
      }
    } else {
      name = Object.keys(entry)[0]!;
      config = (entry as Record<string, unknown>)[name] ?? {};
      path = [...at, name];
    }
    definition ??= registry.get(name) as PluginDefinition<unknown, unknown> | undefined;
    if (!definition) {
      issues.push({ path: typeof entry === 'string' ? at : [...at, name], message: `unknown plugin '${name}'; available: ${[...registry.keys()].join(', ')}, or \`use: ./path/to/plugin.ts\`` });
      continue;
    }
    if (definition.kinds && !definition.kinds.includes(kind)) {
      issues.push({ path: at, message: `plugin '${name}' cannot run on ${kind === 'proxy' ? 'raw proxy routes' : 'model endpoints'}` });
      continue;
    }
    if (definition.terminal && (kind === 'proxy' || i !== entries.length - 1)) {
      issues.push({ path: at, message: `plugin '${name}' answers every request itself, so it must be the last entry of the pipeline` });
    }
    for (const required of definition.requires ?? []) {
      if (!named.includes(required)) issues.push({ path: at, message: `plugin '${name}' requires '${required}' earlier in the same pipeline` });
    }
    // Counted even if its config turns out invalid, so that mistake is not also reported as a missing requirement.
    named.push(name);
    const configIssues = validateAt(definition.schema, config, path);
    if (configIssues.length) {
      issues.push(...configIssues);
      continue;
    }
    out.push({ name, definition, config, path });
  }
  for (const [i, entry] of out.entries()) {
    for (const earlier of entry.definition.after ?? []) {
      const later = out.findIndex((other, j) => j > i && other.name === earlier);
      if (later !== -1) {
        issues.push({ path: out[later]!.path, message: `plugin '${entry.name}' must run after '${earlier}': move '${earlier}' before '${entry.name}' in this pipeline` });
      }
    }
  }
  return out;
}

/**
 * True when the gateway itself runs from its .ts sources (`npm run dev`, tests): a TypeScript loader
 * is then already active, so a plain import loads a .ts plugin and shares the gateway's own modules.
 * (tsx's namespaced `tsImport` fails under other loaders, such as the one tap uses.) Such a module
 * is cached, so an edit to the plugin's code needs a restart; its `config:` reloads as usual.
 * Compiled, the gateway has tsx compile the plugin afresh on each load.
 */
const runningFromSource = /\.[cm]?ts$/.test(import.meta.url);

async function importPlugin(file: string): Promise<PluginDefinition<unknown, unknown>> {
  await access(file).catch(() => {
    throw new Error(`there is no file at ${file}`);
  });
  const url = pathToFileURL(file).href;
  let mod: { default?: unknown };
  if (/\.[cm]?tsx?$/.test(file) && !runningFromSource) {
    const { tsImport } = await import('tsx/esm/api');
    mod = (await tsImport(url, import.meta.url)) as { default?: unknown };
  } else {
    mod = (await import(url)) as { default?: unknown };
  }
  let def = (mod.default ?? mod) as Partial<PluginDefinition<unknown, unknown>> & { default?: unknown };
  // tsx compiles a .ts file outside a `"type": "module"` package (e.g. a config directory mounted
  // into a container) as CommonJS, which nests the default export one level deeper.
  if (typeof def?.create !== 'function' && def?.default) def = def.default as typeof def;
  if (typeof def?.name !== 'string' || typeof def.create !== 'function' || typeof def.schema !== 'object') {
    throw new Error('its default export is not a plugin definition (need name, schema and create)');
  }
  return def as PluginDefinition<unknown, unknown>;
}

/** Onion composition: each plugin gets a `next` that runs the rest; calling it twice is an error. */
export function compose(instances: readonly PluginInstance[], tracedNames?: readonly string[]): Chain {
  // With tracing on, each plugin's refusals are reported to the request's trace under its name.
  const handlers = instances.map((i, n) => (tracedNames ? tracedHandler(tracedNames[n]!, i) : i.handle.bind(i)));
  return (ctx, terminal) => {
    let last = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= last) return Promise.reject(new Error('next() called more than once'));
      last = i;
      const handler = handlers[i];
      try {
        return handler ? handler(ctx, () => dispatch(i + 1)) : terminal();
      } catch (err) {
        // A handler that is not `async` may throw (e.g. reading `ctx.model` for an unknown model).
        return Promise.reject(err);
      }
    };
    return dispatch(0);
  };
}
