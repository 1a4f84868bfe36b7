/**
 * The gateway's lifecycle: load and compile the config, serve it, hot-reload it, shut down
 * gracefully. A reload loads, validates and compiles the new version off to the side and then
 * swaps one reference; requests in flight finish on the version they started with, and a retired
 * version is closed when its last request ends. A bad file leaves the running version in place.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolve } from 'node:path';
import { loadConfig, ConfigLoadError, formatIssue, type LoadedConfig } from './config/load.js';
import { ConfigWatcher, type WatchTargets } from './config/watch.js';
import { compileConfig, resolveServerSettings, type ConfigVersion } from './pipeline.js';
import { createGatewayServer, type CutRequest, type ServerHost } from './server.js';
import { GatewayError } from './errors.js';
import { GatewayMetrics } from './metrics.js';
import { createLogger, type Logger } from './log.js';
import { UpstreamClient } from './http/upstream.js';
import { RawProxy } from './http/proxy.js';
import { ProcessServices } from './services.js';
import { accessLog, type RecordBus } from './record.js';
import type { PluginRegistry } from './plugin.js';
import { Stores } from './stores/index.js';
import { pluginMigrations } from './stores/migrations.js';
import { AdminRouter } from './admin/router.js';
import { PluginEndpoints } from './api/endpoints.js';
import { Tracing } from './telemetry/index.js';
import type { AdminServices } from './admin/contract.js';

export interface GatewayOptions {
  configFile: string;
  /** Built-in plugins (`plugins/index.ts`); their migrations, admin routes and commands come with them. */
  plugins: PluginRegistry;
  /** Environment for `${VAR}` interpolation; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Overrides `server.listen` (`127.0.0.1:0` in tests). */
  listen?: string;
  /** Watch the config for changes; default true. */
  watch?: boolean;
  /** Collect Node process metrics; default true. */
  processMetrics?: boolean;
}

export interface CloseOptions {
  /**
   * First keep serving, with `/ready` answering 503 `draining`, for this many milliseconds (`true`:
   * `server.drain_delay`), so that load balancers stop sending traffic before the listener closes.
   * Default 0: a programmatic close, and Ctrl-C, stop accepting at once. The CLI passes `true` on SIGTERM.
   */
  drainDelay?: boolean | number;
}

/** What requests still running at the shutdown deadline end with. */
const shuttingDown = () => new GatewayError(503, 'server_error', 'server_shutting_down', 'The gateway is shutting down and ended this request; please retry it.');

/** How long requests cut at the deadline get to write their error before their connections are closed. */
const CUT_GRACE_MS = 500;

export type ReloadResult = { ok: true; changed: boolean; version: number } | { ok: false; error: ConfigLoadError };

export interface ReloadStatus {
  at: string;
  ok: boolean;
  version: number;
  errors?: string[];
}

export class Gateway implements ServerHost {
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly proxy = new RawProxy();
  /** Request traces: follows the config's `tracing:` block; flushed at shutdown. */
  readonly tracing: Tracing;
  readonly stores: Stores;
  /** Process-lifetime services: stores, upstream client, records, plugins' process state. */
  readonly services: ProcessServices;
  /** The address asked for (`--listen`, `SWITCHYARD_LISTEN`, else `server.listen`). */
  readonly listenAddress: string;
  /** The `/admin` API; set once start-up finished. */
  admin!: AdminRouter;
  /** The client endpoints the registered plugins serve. */
  readonly endpoints: PluginEndpoints;
  private version: ConfigVersion;
  private server: Server | undefined;
  private watcher: ConfigWatcher | undefined;
  private reloading: Promise<ReloadResult> | undefined;
  private reloadAgain = false;
  /** Requests in flight, each with the function that ends it at the shutdown deadline. */
  private readonly inFlight = new Set<CutRequest>();
  private idle: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private nextId = 1;
  draining = false;
  lastReload: ReloadStatus | undefined;

  private constructor(
    private readonly options: GatewayOptions,
    first: { version: ConfigVersion; services: ProcessServices },
  ) {
    this.version = first.version;
    this.services = first.services;
    this.stores = first.services.stores;
    this.listenAddress = first.services.listen;
    this.metrics = first.services.metrics;
    this.log = first.services.log;
    this.tracing = new Tracing(this.log);
    this.endpoints = new PluginEndpoints(options.plugins);
  }

  get records(): RecordBus {
    return this.services.records;
  }

  /** Loads the config (throws ConfigLoadError when it is invalid), starts listening and watching. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const env = options.env ?? process.env;
    const loaded = await loadConfig(options.configFile, env);
    const log = options.logger ?? createLogger({ level: env['SWITCHYARD_LOG_LEVEL'] ?? loaded.config.log.level });
    const metrics = new GatewayMetrics({ processMetrics: options.processMetrics ?? true });
    const upstream = new UpstreamClient(loaded.config.upstream.connections);
    const listen = options.listen ?? env['SWITCHYARD_LISTEN'] ?? loaded.config.server.listen;
    let services: ProcessServices | undefined;
    let version: ConfigVersion;
    try {
      services = new ProcessServices(log, metrics, upstream, new Stores(loaded.config.stores, loaded.dir, log, pluginMigrations(options.plugins), env), listen, env);
      services.records.subscribe(metrics.observe);
      services.records.subscribe(
        accessLog(log, () => gateway?.version.settings.accessLog ?? false, () => gateway?.version.loaded.config.server.access_log_probes ?? false),
      );
      version = await compileConfig(0, loaded, options.plugins, services);
    } catch (err) {
      await services?.close();
      await services?.stores.close();
      await upstream.close();
      throw err;
    }
    const gateway: Gateway = new Gateway(options, { version, services });
    try {
      const modules = [...options.plugins.values()].flatMap((p) => (p.admin ? [p.admin] : []));
      gateway.admin = await AdminRouter.create(modules, gateway.adminServices(), env);
      await gateway.tracing.apply(loaded.config.tracing);
      await gateway.listen(listen);
    } catch (err) {
      await gateway.admin?.close();
      await gateway.tracing.close();
      await version.close();
      await services.close();
      await services.stores.close();
      await upstream.close();
      throw err;
    }
    if (options.watch ?? true) gateway.watcher = await ConfigWatcher.start(watchTargets(loaded), () => void gateway.reload());
    return gateway;
  }

  current(): ConfigVersion {
    return this.version;
  }

  /** Problems that make the gateway not ready: unreachable stores. Empty when ready. */
  checkReady(): Promise<string[]> {
    return this.stores.check();
  }

  readyDetails(): Record<string, unknown> {
    return this.services.readyDetails();
  }

  private adminServices(): AdminServices {
    return {
      log: this.log,
      metrics: this.metrics,
      kv: this.stores.kv,
      sql: () => this.stores.sql(),
      serverSecret: () => this.stores.serverSecret(),
      config: () => this.version.loaded.config,
      events: this.services.events,
      processState: (plugin) => this.services.stateNamed(plugin),
      status: () => ({ version: this.version.id, loadedAt: this.version.loadedAt, file: this.version.loaded.file, ...(this.lastReload ? { lastReload: this.lastReload } : {}) }),
      reload: async () => {
        const r = await this.reload();
        return r.ok ? r : { ok: false, changed: false, version: this.version.id, errors: r.error.issues.map(formatIssue) };
      },
    };
  }

  /** The address the server listens on. */
  address(): AddressInfo {
    return this.server!.address() as AddressInfo;
  }

  /** `http://host:port` of the listener. */
  get url(): string {
    const a = this.address();
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  requestStarted(cut: CutRequest): void {
    this.inFlight.add(cut);
  }

  requestEnded(cut: CutRequest): void {
    this.inFlight.delete(cut);
    if (this.draining) {
      this.server?.closeIdleConnections();
      if (this.inFlight.size === 0) this.idle?.();
    }
  }

  /**
   * Loads, validates and compiles the config file again and swaps it in. Concurrent calls share
   * one reload (and trigger one more if the file changed meanwhile). Never throws.
   */
  reload(): Promise<ReloadResult> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.doReload().finally(() => {
      this.reloading = undefined;
      if (this.reloadAgain) {
        this.reloadAgain = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    const env = this.options.env ?? process.env;
    const old = this.version;
    if (this.draining) return { ok: true, changed: false, version: old.id };
    try {
      const loaded = await loadConfig(this.options.configFile, env);
      if (loaded.hash === old.loaded.hash) {
        // The file was put back to what is serving after a rejected edit: the error is over.
        if (this.lastReload?.ok === false) {
          this.lastReload = { at: new Date().toISOString(), ok: true, version: old.id };
          this.log.info({ version: old.id, file: loaded.file }, 'config file matches the serving version again');
        }
        return { ok: true, changed: false, version: old.id };
      }
      const next = await compileConfig(this.nextId++, loaded, this.options.plugins, this.services);
      // Watched before it serves, so that an edit right after this reload is not missed.
      await this.watcher?.add(watchTargets(loaded));
      if (this.draining) {
        // close() started while this version was built; it would never be retired, so close it here.
        await next.close();
        return { ok: true, changed: false, version: old.id };
      }
      const before = old.settings;
      const after = resolveServerSettings(loaded);
      if (before.listen !== after.listen || before.maxHeaderSize !== after.maxHeaderSize) {
        this.log.warn('server.listen and server.max_header_size apply at start-up; restart to change them');
      }
      if (JSON.stringify(loaded.config.stores) !== JSON.stringify(this.stores.config)) {
        this.log.warn('stores: applies at start-up; restart to change it (still using the stores the gateway started with)');
      }
      await this.tracing.apply(loaded.config.tracing);
      this.applyServerSettings(next);
      if (!env['SWITCHYARD_LOG_LEVEL']) this.log.level = loaded.config.log.level;
      this.version = next;
      void old.retire();
      this.metrics.configReloads.inc({ result: 'ok' });
      this.lastReload = { at: new Date().toISOString(), ok: true, version: next.id };
      this.log.info({ version: next.id, file: loaded.file }, 'config reloaded');
      this.services.events.emit({ type: 'config.reload', time: Date.now(), ok: true, file: loaded.file, fromVersion: old.id, toVersion: next.id, fromHash: old.loaded.hash, toHash: loaded.hash });
      return { ok: true, changed: true, version: next.id };
    } catch (err) {
      const error = err instanceof ConfigLoadError ? err : new ConfigLoadError([{ file: this.options.configFile, path: [], message: (err as Error).message }]);
      const errors = error.issues.map(formatIssue);
      // One save can raise several file events; the same broken file is reported and counted once.
      if (this.lastReload?.ok === false && this.lastReload.errors?.join('\n') === errors.join('\n')) return { ok: false, error };
      this.metrics.configReloads.inc({ result: 'failed' });
      this.lastReload = { at: new Date().toISOString(), ok: false, version: old.id, errors };
      this.log.error({ errors: this.lastReload.errors, version: old.id }, 'config rejected; still serving the previous version');
      this.services.events.emit({ type: 'config.reload', time: Date.now(), ok: false, file: old.loaded.file, fromVersion: old.id, toVersion: old.id, fromHash: old.loaded.hash, errors });
      return { ok: false, error };
    }
  }

  private applyServerSettings(version: ConfigVersion): void {
    if (!this.server) return;
    const s = version.settings;
    this.server.headersTimeout = s.headersTimeoutMs;
    this.server.requestTimeout = Math.max(s.requestTimeoutMs, s.headersTimeoutMs);
    this.server.keepAliveTimeout = s.keepAliveTimeoutMs;
  }

  private async listen(address: string): Promise<void> {
    const { host, port } = parseListen(address);
    const server = createGatewayServer(this, this.version.settings);
    this.server = server;
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
  }

  /**
   * Graceful shutdown: `/ready` turns 503 at once; after the drain delay (see CloseOptions) stop
   * accepting connections and let in-flight requests and streams finish for up to
   * `server.shutdown_timeout` (or `timeoutMs`). What still runs then ends with a
   * `server_shutting_down` error — a 503 answer, or a last event on a stream — before the remaining
   * connections are closed.
   */
  close(timeoutMs?: number, options: CloseOptions = {}): Promise<void> {
    const settings = this.version.settings;
    const drainDelayMs = options.drainDelay === true ? settings.drainDelayMs : options.drainDelay || 0;
    this.closing ??= this.doClose(timeoutMs ?? settings.shutdownTimeoutMs, drainDelayMs);
    return this.closing;
  }

  private async doClose(timeoutMs: number, drainDelayMs: number): Promise<void> {
    this.draining = true;
    await this.watcher?.close();
    const server = this.server;
    if (server && drainDelayMs > 0) {
      this.log.info({ drain_delay_ms: drainDelayMs }, 'draining: /ready answers 503; still serving until the drain delay ends');
      await sleep(drainDelayMs);
    }
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    server?.closeIdleConnections();
    if (!(await this.idleWithin(timeoutMs))) {
      this.log.warn({ active: this.inFlight.size }, 'shutdown deadline reached; ending the requests still running');
      const error = shuttingDown();
      for (const cut of [...this.inFlight]) cut(error);
      await this.idleWithin(CUT_GRACE_MS);
    }
    server?.closeAllConnections();
    await closed;
    // A reload that was compiling when close() began closes what it built; wait for that.
    await this.reloading;
    await this.version.retire();
    this.proxy.close();
    await this.admin.close();
    // Plugins flush their process state (queues, records) while the stores are still open.
    await this.services.close();
    // Every request has ended: the spans still queued are exported now.
    await this.tracing.close();
    await this.services.upstream.close();
    await this.stores.close();
  }

  /** Resolves true once no request is in flight, or false after `ms`. */
  private idleWithin(ms: number): Promise<boolean> {
    if (this.inFlight.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idle = undefined;
        resolve(false);
      }, ms);
      this.idle = () => {
        clearTimeout(timer);
        this.idle = undefined;
        resolve(true);
      };
    });
  }
}

/** The config file and the catalog directories it names. */
function watchTargets(loaded: LoadedConfig): WatchTargets {
  return { files: [loaded.file], dirs: loaded.config.catalog.map((d) => resolve(loaded.dir, d)) };
}

/** `host:port`, `[v6]:port`, `:port` or `port`. */
export function parseListen(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address) ?? /^()()(\d+)$/.exec(address);
  if (!m) throw new Error(`listen address '${address}' is not host:port`);
  return { host: m[1] || m[2] || '127.0.0.1', port: Number(m[3]) };
}
