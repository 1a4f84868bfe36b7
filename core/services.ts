/**
 * What lives as long as the process, not a config version: the logger, metrics, the upstream
 * client, the stores, the request-record bus, and each plugin's process state (queues, health,
 * tallies, fallbacks — created the first time a version uses the plugin, kept across reloads,
 * closed at shutdown). Config versions come and go around it; `envFor` hands a version's plugins
 * their view of it.
 */
import type { LoadedConfig } from './config/load.js';
import type { GatewayEnv } from './env.js';
import type { GatewayMetrics } from './metrics.js';
import type { Logger } from './log.js';
import type { UpstreamClient } from './http/upstream.js';
import type { Stores } from './stores/index.js';
import type { PluginDefinition } from './plugin.js';
import { RecordBus } from './record.js';
import { EventBus } from './events.js';

export class ProcessServices {
  readonly records: RecordBus;
  /** Admin actions and config reloads (`core/events.ts`). */
  readonly events: EventBus;
  private readonly states = new Map<PluginDefinition<never, unknown>, unknown>();

  constructor(
    readonly log: Logger,
    readonly metrics: GatewayMetrics,
    readonly upstream: UpstreamClient,
    readonly stores: Stores,
    /** The address the gateway listens on (after `--listen` / `SWITCHYARD_LISTEN`). */
    readonly listen: string,
    readonly processEnv: NodeJS.ProcessEnv,
  ) {
    this.records = new RecordBus(log);
    this.events = new EventBus(log);
  }

  /** The process state of `definition`, created on first use. */
  stateOf(definition: PluginDefinition<never, unknown>, env: GatewayEnv): unknown {
    if (!definition.process) return undefined;
    if (!this.states.has(definition)) this.states.set(definition, definition.process.create(env));
    return this.states.get(definition);
  }

  /** The process state of the plugin named `name`, once a config version has used it (for its admin routes). */
  stateNamed(name: string): unknown {
    for (const [definition, state] of this.states) if (definition.name === name) return state;
    return undefined;
  }

  /** Each plugin's `process.details`, by plugin name, for `/ready`; plugins with nothing to say are left out. */
  readyDetails(): Record<string, unknown> {
    const details: Record<string, unknown> = {};
    for (const [definition, state] of this.states) {
      const detail = definition.process?.details?.(state as never);
      if (detail !== undefined) details[definition.name] = detail;
    }
    return details;
  }

  /** Closes (flushes) every plugin's process state; each gets its own chance even if another fails. */
  async close(): Promise<void> {
    const closing = [...this.states].map(async ([definition, state]) => {
      try {
        await definition.process?.close?.(state as never);
      } catch (err) {
        this.log.error({ err, plugin: definition.name }, 'closing a plugin failed');
      }
    });
    this.states.clear();
    await Promise.all(closing);
  }
}

/** A config version's view of the process services, handed to its plugins' `create()`. */
export function envFor(loaded: LoadedConfig, services: ProcessServices): GatewayEnv {
  const { stores } = services;
  return {
    log: services.log,
    metrics: services.metrics,
    upstream: services.upstream,
    catalog: loaded.catalog,
    configDir: loaded.dir,
    config: loaded.config,
    kv: stores.kv,
    sql: () => stores.sql(),
    serverSecret: () => stores.serverSecret(),
    listen: services.listen,
    processEnv: services.processEnv,
    records: services.records,
    events: services.events,
  };
}
