/**
 * `route` — the terminal plugin of the model pipeline. Resolves the model id to targets, calls the
 * provider adapter, falls back to the next target when one fails with a retryable error before any
 * byte reached the client, and answers `GET /v1/models[/{id}]`.
 */
import { definePlugin } from '../../core/plugin.js';
import { ConfigError, readSchema, validateAt, type ConfigIssue } from '../../core/config/schema.js';
import { parseDuration } from '../../core/config/units.js';
import { GatewayError, errors, toGatewayError } from '../../core/errors.js';
import { ClientGoneError, type UpstreamTimeouts } from '../../core/http/upstream.js';
import type { Attempt, Context, Endpoint, ModelEndpoint, ModelResolver } from '../../core/context.js';
import type { Operation } from './adapter.js';
import { adapters } from './providers/index.js';
import { ModelTable, type Provider, type Resolution, type Target } from './resolve.js';
import { buildModelList, modelCard, type ModelCard } from './models.js';
import { callTarget } from './call.js';
import { TokenCounter } from './final-usage.js';
import { isRetryable } from './upstream-errors.js';
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

const DEFAULT_KEY: Record<ModelEndpoint, keyof RouteConfig['defaults']> = {
  'chat.completions': 'chat',
  completions: 'completions',
  embeddings: 'embeddings',
  'images.generations': 'images',
};

export default definePlugin<RouteConfig, TokenCounter>({
  name: 'route',
  schema: readSchema('plugins/route'),
  terminal: true,
  kinds: ['model'],
  // The tokenizer worker that settles cut streams outlives config versions.
  process: { create: () => new TokenCounter(), close: (counter) => counter.close() },
  create(config, env, counter) {
    const issues: ConfigIssue[] = [];
    const providers = new Map<string, Provider>();
    const up = env.config.upstream;
    for (const [name, pc] of Object.entries(env.config.providers)) {
      const definition = adapters.get(pc.adapter);
      if (!definition) {
        issues.push({ path: ['$', 'providers', name, 'adapter'], message: `unknown adapter '${pc.adapter}'; available: ${[...adapters.keys()].join(', ')}` });
        continue;
      }
      const { adapter: _adapter, catalog, timeouts, ...settings } = pc;
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
        if (!providers.has(t.provider) && !env.config.providers[t.provider]) {
          issues.push({ path: ['$', 'models', key, 'targets', i, 'provider'], message: `unknown provider '${t.provider}'; configured: ${Object.keys(env.config.providers).join(', ') || '(none)'}` });
        }
      });
    }
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
    const upstream = env.upstream;

    function resolveOrThrow(id: string, ctx: Context): Resolution {
      const resolution = table.resolve(id);
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

    async function invoke(ctx: Context, endpoint: ModelEndpoint): Promise<void> {
      const body = ctx.body!;
      const model = ctx.model!;
      const stream = body['stream'] === true && (endpoint === 'chat.completions' || endpoint === 'completions');
      const streamOptions = body['stream_options'] as { include_usage?: boolean } | undefined | null;
      const targets = model.targets;
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i]!;
        const provider = providers.get(target.provider)!;
        const op: Operation = {
          endpoint,
          body,
          model: target.model,
          stream,
          clientWantsUsage: streamOptions?.include_usage === true,
          requestId: ctx.id,
          headers: ctx.upstreamHeaders,
        };
        const attempt: Attempt = { provider: target.provider, model: target.model, startMs: performance.now() - ctx.startedAt };
        ctx.attempts.push(attempt);
        try {
          if (!provider.adapter.supports(endpoint)) {
            throw errors.badRequest('unsupported_endpoint', `Provider '${provider.name}' does not serve ${endpoint}.`, 'model');
          }
          const headers: Record<string, string> = config.provider_headers ? { 'x-switchyard-provider': provider.name, 'x-switchyard-model': target.model } : {};
          ctx.response = await callTarget(ctx, { provider, model: target.model }, op, upstream, headers, attempt, counter);
          ctx.route = { requested: model.requested, key: model.key, provider: provider.name, model: target.model };
          return;
        } catch (err) {
          if (err instanceof ClientGoneError) throw err;
          if (!(err instanceof GatewayError)) {
            env.log.error({ err, request_id: ctx.id, provider: provider.name }, 'adapter failed unexpectedly');
            throw toGatewayError(err);
          }
          const error = err;
          attempt.status ??= error.status;
          attempt.errorCode = error.code;
          attempt.ms = performance.now() - ctx.startedAt - attempt.startMs;
          if (i < targets.length - 1 && isRetryable(error.status)) {
            env.log.warn({ request_id: ctx.id, provider: provider.name, model: target.model, code: error.code, status: error.status }, 'target failed; falling back');
            continue;
          }
          throw error;
        }
      }
    }

    function retrieve(ctx: Context): void {
      const id = ctx.modelParam!;
      const card = cards.get(id);
      ctx.response = { status: 200, headers: {}, body: card ? (JSON.parse(card) as ModelCard) : modelCard(id, resolveOrThrow(id, ctx), env.catalog, created) };
    }

    return {
      models,
      async handle(ctx) {
        const endpoint = ctx.endpoint as Endpoint;
        if (endpoint === 'models.list') ctx.response = { status: 200, headers: {}, body: JSON.parse(listJson) as unknown };
        else if (endpoint === 'models.retrieve') retrieve(ctx);
        else await invoke(ctx, endpoint);
      },
    };
  },
});

export type { Target };
