/**
 * `transform` — rewrite requests before routing and responses on the way back. Rules are compiled
 * once per config version into small closures; a request runs only the rules that match it.
 */
import { globToRegExp } from '../../core/config/glob.js';
import { definePlugin } from '../../core/plugin.js';
import { readSchema } from '../../core/config/schema.js';
import type { Context } from '../../core/context.js';
import { compilePath, hasPath, setPath, removePath, getPath, type FieldPath } from './paths.js';
import type { TransformConfig } from '../../schemas/types/plugins/transform.js';

/** One entry of `rules:`. */
export type TransformRule = TransformConfig['rules'][number];

export type { TransformConfig };

type Json = Record<string, unknown>;

interface CompiledRule {
  matches(ctx: Context): boolean;
  request?(ctx: Context): void;
  /** Rewrites one JSON value (a whole body or one stream chunk). */
  body?(value: Json, requestedModel: string | undefined): void;
  headers?(headers: Record<string, string>): void;
}

function compileMatch(match: TransformRule['match']): (ctx: Context) => boolean {
  if (!match) return () => true;
  const models = match.models?.map(globToRegExp);
  const paths = match.paths?.map(globToRegExp);
  const endpoints = match.endpoints ? new Set<string>(match.endpoints) : undefined;
  return (ctx) => {
    if (endpoints && (!ctx.endpoint || !endpoints.has(ctx.endpoint))) return false;
    if (paths && !paths.some((p) => p.test(ctx.path))) return false;
    if (models) {
      const sent = ctx.body?.['model'];
      if (typeof sent === 'string' && models.some((m) => m.test(sent))) return true;
      // Else the model the request resolves to: an alias, or the endpoint's default, matches the
      // rules written for its model.
      const resolved = ctx.model;
      if (!resolved) return false;
      const matches = (id: string) => models.some((m) => m.test(id));
      return matches(resolved.id) || resolved.aliases.some(matches);
    }
    return true;
  };
}

const entries = (m: Record<string, unknown> | undefined): [FieldPath, unknown][] =>
  Object.entries(m ?? {}).map(([k, v]) => [compilePath(k), v]);

function compileRequest(req: NonNullable<TransformRule['request']>): (ctx: Context) => void {
  const set = entries(req.set);
  const defaults = entries(req.default);
  const remove = (req.remove ?? []).map(compilePath);
  const prompt = req.system_prompt === undefined ? undefined : typeof req.system_prompt === 'string' ? { content: req.system_prompt, position: 'prepend' as const } : { content: req.system_prompt.content, position: req.system_prompt.position ?? 'prepend' };
  const headerSet = Object.entries(req.headers?.set ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
  const headerRemove = (req.headers?.remove ?? []).map((h) => h.toLowerCase());
  return (ctx) => {
    const body = ctx.body;
    if (body) {
      for (const path of remove) removePath(body, path);
      for (const [path, value] of defaults) if (!hasPath(body, path)) setPath(body, path, value);
      for (const [path, value] of set) setPath(body, path, value);
      if (req.model !== undefined) body['model'] = req.model;
      if (prompt && Array.isArray(body['messages'])) injectSystemPrompt(body['messages'] as Json[], prompt.content, prompt.position);
    }
    for (const h of headerRemove) ctx.upstreamHeaders[h] = null;
    for (const [h, v] of headerSet) ctx.upstreamHeaders[h] = v;
  };
}

function injectSystemPrompt(messages: Json[], content: string, position: 'prepend' | 'append' | 'replace'): void {
  const message = { role: 'system', content };
  if (position === 'replace') {
    for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!['role'] === 'system' || messages[i]!['role'] === 'developer') messages.splice(i, 1);
    messages.unshift(message);
  } else if (position === 'append') {
    let i = 0;
    while (i < messages.length && (messages[i]!['role'] === 'system' || messages[i]!['role'] === 'developer')) i++;
    messages.splice(i, 0, message);
  } else {
    messages.unshift(message);
  }
}

function compileResponse(res: NonNullable<TransformRule['response']>): Pick<CompiledRule, 'body' | 'headers'> {
  const set = entries(res.set);
  const remove = (res.remove ?? []).map(compilePath);
  const rename = Object.entries(res.rename ?? {}).map(([from, to]) => [compilePath(from), compilePath(to)] as const);
  const hasBodyOps = set.length > 0 || remove.length > 0 || rename.length > 0 || res.restore_model;
  const headerSet = Object.entries(res.headers?.set ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
  const headerRemove = (res.headers?.remove ?? []).map((h) => h.toLowerCase());
  return {
    body: hasBodyOps
      ? (value, requestedModel) => {
          for (const [from, to] of rename) {
            if (!hasPath(value, from)) continue;
            const v = getPath(value, from);
            removePath(value, from);
            setPath(value, to, v);
          }
          for (const path of remove) removePath(value, path);
          for (const [path, v] of set) setPath(value, path, v);
          if (res.restore_model && requestedModel !== undefined && 'model' in value) value['model'] = requestedModel;
        }
      : undefined,
    headers:
      headerSet.length || headerRemove.length
        ? (headers) => {
            for (const h of headerRemove) delete headers[h];
            for (const [h, v] of headerSet) headers[h] = v;
          }
        : undefined,
  };
}

async function* mapStream(stream: AsyncIterable<unknown>, rules: CompiledRule[], requestedModel: string | undefined): AsyncGenerator<unknown> {
  for await (const chunk of stream) {
    if (chunk && typeof chunk === 'object' && !Array.isArray(chunk)) for (const rule of rules) rule.body?.(chunk as Json, requestedModel);
    yield chunk;
  }
}

export default definePlugin<TransformConfig>({
  name: 'transform',
  schema: readSchema('plugins/transform'),
  create(config) {
    const rules: CompiledRule[] = config.rules.map((rule) => ({
      matches: compileMatch(rule.match),
      request: rule.request ? compileRequest(rule.request) : undefined,
      ...(rule.response ? compileResponse(rule.response) : {}),
    }));
    return {
      async handle(ctx, next) {
        const requestedModel = typeof ctx.body?.['model'] === 'string' ? (ctx.body['model'] as string) : undefined;
        const matched = rules.filter((r) => r.matches(ctx));
        for (const rule of matched) rule.request?.(ctx);
        await next();
        const response = ctx.response;
        if (!response || matched.length === 0) return;
        const onBack = matched.slice().reverse();
        for (const rule of onBack) rule.headers?.(response.headers);
        const bodyRules = onBack.filter((r) => r.body);
        if (bodyRules.length === 0 || response.status >= 400) return;
        if (response.stream) ctx.response = { ...response, stream: mapStream(response.stream, bodyRules, requestedModel) };
        else if (response.body && typeof response.body === 'object') for (const rule of bodyRules) rule.body!(response.body as Json, requestedModel);
      },
    };
  },
});
