/**
 * `route` — the terminal plugin of the model pipeline. Resolves the model id to targets, orders
 * them by the model's strategy (`plans.ts`), calls the provider adapter — retrying and falling
 * back within one attempt budget and one deadline per request, skipping targets whose circuit
 * breaker is open (`invoke.ts`) — and answers `GET /v1/models[/{id}]`. What it learns about each
 * target (breaker, in flight, latency) is process state, shown at `GET /admin/targets` and in the
 * metrics, and shared with other replicas through Redis (`breaker-sync.ts`).
 */
import { definePlugin } from '../../core/plugin.js';
import { ConfigError, readSchema, validateAt, type ConfigIssue } from '../../core/config/schema.js';
import { parseDuration } from '../../core/config/units.js';
import { errors, type GatewayError } from '../../core/errors.js';
import { ClientGoneError, type UpstreamClient, type UpstreamTimeouts } from '../../core/http/upstream.js';
import type { Context, Endpoint, NamedModelEndpoint, ModelResolver } from '../../core/context.js';
import { adapters } from './providers/index.js';
import { ModelTable, type Provider, type Resolution, type Target } from './resolve.js';
import { buildModelList, modelCard, type ModelCard } from './models.js';
import { TokenCounter, promptText } from './final-usage.js';
import { providerTokenCount, tokenCounting } from './count-tokens.js';
import type { Operation } from './adapter.js';
import { breakerSettings } from './breaker.js';
import { BreakerSync } from './breaker-sync.js';
import { GroupRegistry, TargetRegistry } from './targets.js';
import { Plan, type PlanSettings } from './plans.js';
import { registerTargetMetrics } from './target-metrics.js';
import routeAdmin from './admin.js';
import { retryPolicy, type RetryPolicy } from './retry.js';
import { createInvoke } from './invoke.js';
import { discoverySources, ModelDiscovery } from './discovery.js';
import { liveModelList } from './discovery-list.js';
import type { RouteConfig } from '../../schemas/types/plugins/route.js';

export type { RouteConfig };

/** What `route` decided, for the plugins that run after it on the way back (billing, audit). */
export interface RouteState {
  /** Model id the client asked for (or the endpoint default). */
  requested: string;
  /** The config key that matched. */
  key: string;
  /** The target that answered. */
  provider: string;
  model: string;
}

declare module '../../core/context.js' {
  interface ContextState {
    route?: RouteState;
  }
}

const DEFAULT_KEY: Record<NamedModelEndpoint, keyof RouteConfig['defaults']> = {
  'chat.completions': 'chat',
  completions: 'completions',
  embeddings: 'embeddings',
  'images.generations': 'images',
  'messages.count_tokens': 'chat',
};

/** What `route` keeps for the life of the process, across config versions. */
export interface RouteProcess {
  /** The tokenizer worker that settles cut streams. */
  readonly counter: TokenCounter;
  /** Each target's breaker, calls in flight and latency: what a reload must not forget. */
  readonly targets: TargetRegistry;
  /** What each group's strategy remembers (round-robin weights, exploration). */
  readonly groups: GroupRegistry;
  /** Breaker changes to and from the other replicas; only with a Redis store. */
  readonly sync: BreakerSync | undefined;
  /** The upstream model listings of providers with `discover:` (`discovery.ts`). */
  readonly discovery: ModelDiscovery;
}

export default definePlugin<RouteConfig, RouteProcess>({
  name: 'route',
  schema: readSchema('plugins/route'),
  terminal: true,
  kinds: ['model'],
  process: {
    create: (env) => {
      const targets = new TargetRegistry();
      registerTargetMetrics(env.metrics, targets);
      const sync = env.kv.kind === 'redis' ? new BreakerSync(env.kv, targets, env.log) : undefined;
      return { counter: new TokenCounter(), targets, groups: new GroupRegistry(), sync, discovery: new ModelDiscovery(env.upstream, env.log) };
    },
    close: async (state) => {
      state.discovery.close();
      await state.sync?.close();
      return state.counter.close();
    },
    details: (state) => state.discovery.details(),
  },
  admin: routeAdmin,
  create(config, env, state) {
    const issues: ConfigIssue[] = [];
    const providers = new Map<string, Provider>();
    const up = env.config.upstream;
    for (const [name, pc] of Object.entries(env.config.providers)) {
      const definition = adapters.get(pc.adapter);
      if (!definition) {
        issues.push({ path: ['$', 'providers', name, 'adapter'], message: `unknown adapter '${pc.adapter}'; available: ${[...adapters.keys()].join(', ')}` });
        continue;
      }
      const { adapter: _adapter, catalog, timeouts, discover: _discover, ...settings } = pc;
      const found = validateAt(definition.schema, settings, ['$', 'providers', name]);
      if (found.length) {
        issues.push(...found);
        continue;
      }
      const t: UpstreamTimeouts = {
        connectMs: parseDuration(timeouts?.['connect'] ?? up.connect_timeout)!,
        firstByteMs: parseDuration(timeouts?.['first_byte'] ?? up.first_byte_timeout)!,
        totalMs: parseDuration(timeouts?.['total'] ?? up.total_timeout)!,
      };
      const adapter = definition.create(settings as never, { provider: name, timeouts: t, catalog: env.catalog, log: env.log, upstream: env.upstream });
      providers.set(name, { name, adapter, catalog: catalog ?? pc.adapter });
    }
    for (const [key, model] of Object.entries(env.config.models)) {
      model.targets.forEach((t, i) => {
        if (t.provider !== undefined && !providers.has(t.provider) && !env.config.providers[t.provider]) {
          issues.push({ path: ['$', 'models', key, 'targets', i, 'provider'], message: `unknown provider '${t.provider}'; configured: ${Object.keys(env.config.providers).join(', ') || '(none)'}` });
        }
      });
    }
    const sources = discoverySources(env.config, providers, issues);
    if (issues.length) throw new ConfigError(issues);

    const table = new ModelTable(env.config.models, providers, config.provider_prefix);
    for (const [endpoint, id] of Object.entries(config.defaults)) {
      if (id && !table.resolve(id)) issues.push({ path: ['defaults', endpoint], message: `default model '${id}' is not served by \`models:\`` });
    }
    if (issues.length) throw new ConfigError(issues);

    const created = Math.floor(Date.now() / 1000);
    const list = buildModelList(table, env.catalog, created);
    // Response bodies belong to their request (later plugins may rewrite them), so each request gets its own copy.
    const listJson = JSON.stringify({ object: 'list', data: list });
    const cards = new Map<string, string>(list.map((c) => [c.id, JSON.stringify(c)]));
    const discovered = state.discovery.attach(sources);
    const live = liveModelList(list, listJson, discovered, env.catalog, created);
    const upstream = env.upstream;

    function resolveOrThrow(id: string, ctx: Context): Resolution {
      const resolution = table.resolve(id) ?? discovered.resolve(id);
      if (!resolution) throw table.notFound(id, ctx.auth?.allowedModels);
      return resolution;
    }

    /** The one resolution of a request's model (`ctx.model` reads through it). */
    const models: ModelResolver = {
      resolve(endpoint, requested, ctx) {
        let id = requested;
        if (id === undefined || id === null || id === '') {
          id = config.defaults[DEFAULT_KEY[endpoint]];
          if (!id) throw errors.badRequest('missing_model', "Missing required parameter: 'model'.", 'model');
        }
        const text = String(id);
        const resolution = resolveOrThrow(text, ctx);
        return {
          requested: text,
          key: resolution.key,
          id: resolution.key.includes('*') ? text : resolution.key,
          aliases: table.aliasesOf(resolution.key),
          targets: resolution.targets.map((t) => ({ provider: t.provider.name, model: t.model })),
        };
      },
    };

    const fallbackPolicy = retryPolicy(config, undefined);
    const policies = new Map<string, RetryPolicy>(Object.entries(env.config.models).map(([key, model]) => [key, retryPolicy(config, model)]));
    const breaker = breakerSettings(config.breaker);
    const planSettings: PlanSettings = { breaker, decay: config.least_latency.decay, explore: config.least_latency.explore, completionTokens: config.cost.completion_tokens };
    const plans = new Map<string, Plan>(table.trees().map(({ key, tree, leaves }) => [key, new Plan(tree, leaves, state.targets, state.groups, planSettings, env.catalog)]));
    if (state.sync) state.sync.enabled = breaker.shared;
    const invoke = createInvoke({
      providers,
      upstream,
      counter: state.counter,
      targets: state.targets,
      breaker,
      sync: state.sync,
      decay: planSettings.decay,
      planOf: (key) => plans.get(key),
      providerHeaders: config.provider_headers,
      log: env.log,
      policyOf: (key) => policies.get(key) ?? fallbackPolicy,
    });

    function retrieve(ctx: Context): void {
      const id = ctx.modelParam!;
      const card = cards.get(id);
      ctx.response = { status: 200, headers: {}, body: card ? (JSON.parse(card) as ModelCard) : (live.card(id) ?? modelCard(id, resolveOrThrow(id, ctx), env.catalog, created)) };
    }

    return {
      models,
      async handle(ctx) {
        const endpoint = ctx.endpoint as Endpoint;
        if (endpoint === 'models.list') ctx.response = { status: 200, headers: {}, body: JSON.parse(live.json()) as unknown };
        else if (endpoint === 'models.retrieve') retrieve(ctx);
        else if (endpoint === 'plugin') throw pluginNotRun(ctx);
        else if (endpoint === 'messages.count_tokens') ctx.response = await countTokens(ctx, state.counter, providers, upstream);
        else {
          // A Responses chain needs the `responses` plugin, which puts the stored conversation first (`ctx.responses`).
          if (ctx.inbound?.extra?.['previous_response_id'] !== undefined && ctx.responses === undefined) {
            throw errors.badRequest('previous_response_unsupported', "'previous_response_id' needs stored responses: add the `responses` plugin to the pipeline (after `auth`).", 'previous_response_id');
          }
          await invoke(ctx, endpoint);
        }
      },
      close: () => discovered.detach(),
    };
  },
});

/** A plugin's client endpoint reached the end of a pipeline that does not run that plugin. */
function pluginNotRun(ctx: Context): GatewayError {
  const { plugin } = ctx.pluginRoute!;
  return errors.notFound('endpoint_not_enabled', `${ctx.method} ${ctx.path} is served by the \`${plugin}\` plugin, which this pipeline does not run; add \`${plugin}\` to the pipeline to enable it.`);
}

/**
 * `POST /v1/messages/count_tokens`: the prompt's tokens (messages, system, tool definitions), after
 * the model is resolved — so an unknown or forbidden model is refused as on `/v1/messages`. When the
 * model's first target can count itself (Anthropic), its provider is asked; otherwise, or when that
 * call fails, the gateway's tokenizer (o200k) estimates. `x-switchyard-token-count` says which
 * (`provider`, `estimate`).
 */
async function countTokens(ctx: Context, counter: TokenCounter, providers: ReadonlyMap<string, Provider>, upstream: UpstreamClient): Promise<{ status: number; headers: Record<string, string>; body: unknown }> {
  const target = ctx.model?.targets[0];
  const provider = target && providers.get(target.provider);
  const adapter = tokenCounting(provider);
  if (provider && adapter) {
    try {
      const tokens = await providerTokenCount(ctx, provider, adapter, target.model, upstream);
      return { status: 200, headers: { 'x-switchyard-token-count': 'provider' }, body: { input_tokens: tokens } };
    } catch (err) {
      if (err instanceof ClientGoneError || ctx.signal.aborted) throw err;
      ctx.log.warn({ err, request_id: ctx.id, provider: provider.name }, 'count_tokens: the provider did not count; estimating');
    }
  }
  const body = ctx.body ?? {};
  const tools = Array.isArray(body['tools']) ? JSON.stringify(body['tools']) : '';
  const [prompt = 0, toolTokens = 0] = await counter.count([promptText({ body } as Pick<Operation, 'body'> as Operation), tools]);
  return { status: 200, headers: { 'x-switchyard-token-count': 'estimate' }, body: { input_tokens: prompt + toolTokens } };
}

export type { Target };
