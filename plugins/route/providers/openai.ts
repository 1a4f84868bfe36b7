/**
 * `openai`: OpenAI and OpenAI-compatible APIs. Bodies pass through unchanged but for the model id
 * (so fields the gateway does not know reach the provider untouched); streams pass through chunk
 * by chunk; usage is read from the body or the final stream chunk.
 */
import { readSchema } from '../../../core/config/schema.js';
import { RawChunk, type Usage } from '../../../core/context.js';
import { errors } from '../../../core/errors.js';
import { defineAdapter, type HttpAdapter, type ModelEndpoint, type Operation, type StreamTranslator } from '../adapter.js';
import { providerError, headerValue, tryParseJson, redactSecret, rawErrorMessage, streamEventJson, streamTruncated } from '../upstream-errors.js';
import { postJson, setHeaders } from '../upstream-request.js';
import { openaiModelLister } from './openai-models.js';
import { isNativeResponses, nativeResponsesBody, nativeResponsesStream, parseNativeResponse } from './openai-responses.js';
import type { OpenAIConfig } from '../../../schemas/types/providers/openai.js';

/** Provider settings; see `schemas/providers/openai.schema.json` for each field. */
export type { OpenAIConfig };

const PATHS: Record<ModelEndpoint, string> = {
  'chat.completions': '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  'images.generations': '/images/generations',
};

/** OpenAI's usage object → ours (cached and reasoning tokens live in the details objects). */
export function readOpenAIUsage(raw: unknown): Usage | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const u = raw as Record<string, unknown>;
  const prompt = Number(u['prompt_tokens'] ?? 0);
  const completion = Number(u['completion_tokens'] ?? 0);
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: Number(u['total_tokens'] ?? prompt + completion) };
  const cached = (u['prompt_tokens_details'] as Record<string, unknown> | undefined)?.['cached_tokens'];
  const reasoning = (u['completion_tokens_details'] as Record<string, unknown> | undefined)?.['reasoning_tokens'];
  if (typeof cached === 'number') usage.cached_tokens = cached;
  if (typeof reasoning === 'number') usage.reasoning_tokens = reasoning;
  return usage;
}

/** A finish reason set to a string (chunks before the last carry `"finish_reason":null`). */
const FINISHED = /"finish_reason"\s*:\s*"/;
/** A usage object (OpenAI sends `"usage":null` on every chunk when usage was asked for). */
const HAS_USAGE = /"usage"\s*:\s*\{/;

/**
 * Whether a stream event can be forwarded as its text: a one-line JSON object (SSE framing holds)
 * that carries neither an error nor usage.
 */
function passable(data: string): boolean {
  return data.charCodeAt(0) === 0x7b && data.charCodeAt(data.length - 1) === 0x7d && !data.includes('\n') && !data.includes('"error"') && !HAS_USAGE.test(data);
}

export default defineAdapter<OpenAIConfig>({
  name: 'openai',
  schema: readSchema('providers/openai'),
  create(config, env): HttpAdapter {
    const base = config.base_url.replace(/\/+$/, '');
    const authHeader = (config.auth_header ?? (config.azure ? 'api-key' : 'authorization')).toLowerCase();
    const scheme = config.auth_scheme ?? (authHeader === 'authorization' ? 'Bearer' : '');
    const fixedHeaders = setHeaders({ 'content-type': 'application/json', accept: 'application/json' }, config.headers);
    if (config.api_key) fixedHeaders[authHeader] = scheme ? `${scheme} ${config.api_key}` : config.api_key;
    const query = new URLSearchParams(config.query);
    if (config.azure) query.set('api-version', config.azure.api_version);
    const search = query.size ? `?${query.toString()}` : '';
    // `/v1/responses` requests go to the upstream's own `/responses` when it has one (not Azure's deployment paths).
    const responsesApi = !config.azure && (config.responses_api ?? /^https:\/\/api\.openai\.com(\/|$)/.test(base));
    const native = (op: Operation): boolean => responsesApi && isNativeResponses(op);
    const urlFor = (endpoint: ModelEndpoint, model: string): string =>
      config.azure
        ? `${base}/openai/deployments/${encodeURIComponent(config.azure.deployments[model] ?? model)}${PATHS[endpoint]}${search}`
        : `${base}${PATHS[endpoint]}${search}`;

    return {
      kind: 'http',
      ...(responsesApi ? { native: 'responses' as const } : {}),
      timeouts: env.timeouts,
      // Azure lists resources' deployments through its management API, not this one.
      ...(config.azure ? {} : { models: openaiModelLister(`${base}/models${search}`, fixedHeaders, env.provider) }),
      supports: () => true,
      buildRequest(op: Operation) {
        if (native(op)) {
          const headers: Record<string, string> = { ...fixedHeaders, 'x-request-id': op.requestId };
          if (op.stream) headers['accept'] = 'text/event-stream';
          return postJson(`${base}/responses${search}`, headers, op, nativeResponsesBody(op));
        }
        let body: Record<string, unknown> = { ...op.body, model: op.model };
        if (op.stream && config.stream_usage && (op.endpoint === 'chat.completions' || op.endpoint === 'completions')) {
          body = { ...body, stream_options: { ...(op.body['stream_options'] as object | undefined), include_usage: true } };
        }
        const headers: Record<string, string> = { ...fixedHeaders, 'x-request-id': op.requestId };
        if (op.stream) headers['accept'] = 'text/event-stream';
        return postJson(urlFor(op.endpoint, op.model), headers, op, body);
      },
      parseResponse(op, body) {
        if (!body || typeof body !== 'object') throw errors.badGateway('upstream_invalid_response', `${env.provider}: the response is not a JSON object.`);
        if (native(op)) return parseNativeResponse(op, body);
        return { body, usage: readOpenAIUsage((body as Record<string, unknown>)['usage']) };
      },
      streamTranslator(op): StreamTranslator {
        if (native(op)) return nativeResponsesStream(op, env.provider);
        let usage: Usage | undefined;
        let finished = false;
        return {
          event(event) {
            const data = event.data;
            if (data === '[DONE]') return { chunks: [], done: true };
            // Most chunks pass through as the text they came as (no parse, no re-serialisation).
            // Parsed are only the ones the gateway must read — an error, the usage, or text that is
            // not a one-line JSON object — and a finish reason is noticed without parsing.
            if (passable(data)) {
              if (!finished && FINISHED.test(data)) finished = true;
              return { chunks: [new RawChunk(data)] };
            }
            const c = streamEventJson(data, env.provider);
            if (c['error']) {
              const e = c['error'] as Record<string, unknown>;
              throw providerError(env.provider, { status: 502, message: redactSecret(String(e['message'] ?? 'stream error'), config.api_key), code: (e['code'] as string) ?? null });
            }
            if (c['usage']) usage = readOpenAIUsage(c['usage']) ?? usage;
            const choices = c['choices'];
            if (Array.isArray(choices) && choices.some((ch) => ch && (ch as Record<string, unknown>)['finish_reason'])) finished = true;
            if (c['usage'] && Array.isArray(choices) && choices.length === 0 && !op.clientWantsUsage) return { chunks: [] };
            return { chunks: [c] };
          },
          end() {
            if (!finished) throw streamTruncated(env.provider);
            return [];
          },
          usage: () => usage,
        };
      },
      parseError(status, text, headers) {
        const parsed = tryParseJson(text) as { error?: { message?: string; code?: string; param?: string } | string; message?: string } | undefined;
        const e = parsed?.error;
        const message = typeof e === 'string' ? e : (e?.message ?? parsed?.message ?? rawErrorMessage(text, status));
        return providerError(env.provider, {
          status,
          message: redactSecret(message, config.api_key),
          code: typeof e === 'object' ? (e.code ?? null) : null,
          param: typeof e === 'object' ? (e.param ?? null) : null,
          retryAfter: headerValue(headers, 'retry-after'),
        });
      },
    };
  },
});
