/**
 * The OpenAI-compatible surface: which method + path is which operation, and the request checks
 * each body must pass before any plugin sees it. Also mounted under `/api/v1` (IndoxRouter-style).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { readSchema } from '../config/schema.js';
import { errors, GatewayError } from '../errors.js';
import type { Endpoint, PluginRoute } from '../context.js';
import type { PluginRegistry } from '../plugin.js';
import type { DialectName } from './dialects/dialect.js';

export interface EndpointMatch {
  endpoint: Endpoint;
  /** `{id}` of `/v1/models/{id}` (may contain `/`). */
  modelParam?: string;
  /** Route template for metrics labels. */
  template: string;
  /** The client API spoken on this route, when it is not OpenAI's chat family (its body is translated). */
  dialect?: DialectName;
  /** The dialect's operation (`create`, `count_tokens`). */
  operation?: string;
  /** A plugin's client endpoint. */
  pluginRoute?: PluginRoute;
}

/** Routes of other client APIs, served through the chat pipeline (core/api/dialects/). */
const DIALECT_ENDPOINTS: Record<string, Required<Pick<EndpointMatch, 'endpoint' | 'dialect' | 'operation'>>> = {
  '/v1/messages': { endpoint: 'chat.completions', dialect: 'anthropic', operation: 'create' },
  '/v1/messages/count_tokens': { endpoint: 'messages.count_tokens', dialect: 'anthropic', operation: 'count_tokens' },
  '/v1/responses': { endpoint: 'chat.completions', dialect: 'responses', operation: 'create' },
};

const POST_ENDPOINTS: Record<string, Endpoint> = {
  '/v1/chat/completions': 'chat.completions',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
  '/v1/images/generations': 'images.generations',
};

/** Strips the `/api` mount so `/api/v1/x` and `/v1/x` are one route. */
export function normalisePath(path: string): string {
  return path.startsWith('/api/v1/') || path === '/api/v1' ? path.slice(4) : path;
}

/** Returns the operation for a normalised path, a 405 error for a known path with the wrong method, or undefined. */
export function matchEndpoint(method: string, path: string): EndpointMatch | GatewayError | undefined {
  const post = POST_ENDPOINTS[path];
  if (post) return method === 'POST' ? { endpoint: post, template: path } : methodNotAllowed(method, path, 'POST');
  const dialect = DIALECT_ENDPOINTS[path];
  if (dialect) return method === 'POST' ? { ...dialect, template: path } : methodNotAllowed(method, path, 'POST');
  if (path === '/v1/models') return method === 'GET' ? { endpoint: 'models.list', template: path } : methodNotAllowed(method, path, 'GET');
  if (path.startsWith('/v1/models/') && path.length > '/v1/models/'.length) {
    if (method !== 'GET') return methodNotAllowed(method, path, 'GET');
    let id: string;
    try {
      id = decodeURIComponent(path.slice('/v1/models/'.length));
    } catch {
      return errors.badRequest('invalid_path', 'The model id in the URL is not valid percent-encoding.', 'model');
    }
    return { endpoint: 'models.retrieve', modelParam: id, template: '/v1/models/{id}' };
  }
  return undefined;
}

interface PluginEndpointEntry {
  readonly method: string;
  readonly template: string;
  readonly plugin: string;
  readonly name: string;
  readonly dialect: DialectName | undefined;
}

/**
 * The client endpoints plugins serve (`PluginDefinition.endpoints`), compiled once per gateway:
 * exact paths in a map, `…/{id}` paths by prefix.
 */
export class PluginEndpoints {
  private readonly exact = new Map<string, PluginEndpointEntry[]>();
  private readonly prefixed: { prefix: string; entries: PluginEndpointEntry[] }[] = [];

  constructor(plugins: PluginRegistry) {
    for (const plugin of plugins.values()) {
      for (const e of plugin.endpoints ?? []) {
        const entry: PluginEndpointEntry = { method: e.method, template: e.path, plugin: plugin.name, name: e.name, dialect: e.dialect };
        if (e.path.endsWith('/{id}')) {
          const prefix = e.path.slice(0, -'{id}'.length);
          const group = this.prefixed.find((p) => p.prefix === prefix);
          if (group) group.entries.push(entry);
          else this.prefixed.push({ prefix, entries: [entry] });
        } else {
          const list = this.exact.get(e.path);
          if (list) list.push(entry);
          else this.exact.set(e.path, [entry]);
        }
      }
    }
    // Longest prefix first, so `/v1/a/b/{id}` wins over `/v1/a/{id}`.
    this.prefixed.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The plugin endpoint for a normalised path, a 405 for a known path with the wrong method, or undefined. */
  match(method: string, path: string): EndpointMatch | GatewayError | undefined {
    const exact = this.exact.get(path);
    if (exact) return this.pick(exact, method, path, undefined);
    for (const group of this.prefixed) {
      if (path.length > group.prefix.length && path.startsWith(group.prefix)) {
        let param: string;
        try {
          param = decodeURIComponent(path.slice(group.prefix.length));
        } catch {
          return errors.badRequest('invalid_path', 'The id in the URL is not valid percent-encoding.', null);
        }
        return this.pick(group.entries, method, path, param);
      }
    }
    return undefined;
  }

  private pick(entries: readonly PluginEndpointEntry[], method: string, path: string, param: string | undefined): EndpointMatch | GatewayError {
    const entry = entries.find((e) => e.method === method);
    if (!entry) return methodNotAllowed(method, path, entries.map((e) => e.method).join(', '));
    return {
      endpoint: 'plugin',
      template: entry.template,
      ...(entry.dialect ? { dialect: entry.dialect } : {}),
      pluginRoute: { plugin: entry.plugin, name: entry.name, param },
    };
  }
}

function methodNotAllowed(method: string, path: string, allowed: string): GatewayError {
  return new GatewayError(405, 'invalid_request_error', 'method_not_allowed', `${method} is not allowed on ${path}; use ${allowed}.`, null, { allow: allowed });
}

/**
 * Compiled once at import. `strictNumbers` refuses Infinity (what JSON.parse makes of `1e999`) and
 * NaN wherever a number is checked; `verbose` keeps the offending value on the error (error path
 * only) so the message can say why.
 */
const strictAjv = new Ajv({ allErrors: false, strict: false, allowUnionTypes: true, strictNumbers: true, verbose: true });
const validators: Partial<Record<string, ValidateFunction>> = {
  '/v1/chat/completions': strictAjv.compile(readSchema('api/chat.completions')),
  '/v1/completions': strictAjv.compile(readSchema('api/completions')),
  '/v1/embeddings': strictAjv.compile(readSchema('api/embeddings')),
  '/v1/images/generations': strictAjv.compile(readSchema('api/images.generations')),
  '/v1/messages': strictAjv.compile(readSchema('api/messages')),
  '/v1/messages/count_tokens': strictAjv.compile(readSchema('api/messages.count_tokens')),
  '/v1/responses': strictAjv.compile(readSchema('api/responses')),
};

/** Throws a 400 naming the field at fault when a request body breaks the route's checks (`template`: the matched route). */
export function checkRequestBody(template: string, body: Record<string, unknown>): void {
  const validate = validators[template];
  if (!validate || validate(body)) return;
  throw invalidBody(validate.errors![0]!);
}

/** A 400 `invalid_request_body` naming the field an ajv error points at, worded like OpenAI's. Shared with the admin API. */
export function invalidBody(e: ErrorObject): GatewayError {
  const param = paramOf(e);
  return errors.badRequest('invalid_request_body', describe(e), param || null);
}

function paramOf(e: ErrorObject): string {
  const segments = e.instancePath.split('/').slice(1);
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'required') segments.push(String(p['missingProperty']));
  if (e.keyword === 'additionalProperties') segments.push(String(p['additionalProperty']));
  return segments.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function describe(e: ErrorObject): string {
  const param = paramOf(e);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `Missing required parameter: '${param}'.`;
    case 'additionalProperties':
      return `Unrecognized parameter: '${param}'.`;
    case 'type':
      if (typeof e.data === 'number' && !Number.isFinite(e.data)) return `Invalid value for '${param}': must be a finite number.`;
      return `Invalid type for '${param}': expected ${String(p['type']).replace(',', ' or ')}.`;
    case 'enum':
      return `Invalid value for '${param}': must be one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}.`;
    default:
      return `Invalid value for '${param}': ${e.message ?? 'invalid'}.`;
  }
}
