/**
 * `anthropic`: Anthropic's Messages API (https://platform.claude.com/docs/en/api/messages).
 * Translates OpenAI chat requests to `POST {base_url}/v1/messages` and the answers back: complete
 * messages, SSE streams and error bodies. Serves `chat.completions` only, and counts prompt tokens
 * with `POST {base_url}/v1/messages/count_tokens`. A client that spoke Anthropic Messages itself
 * gets its own body sent when no plugin rewrote it (native.ts).
 */
import { readSchema } from '../../../../core/config/schema.js';
import { defineAdapter, streamContext, type HttpAdapter, type Operation } from '../../adapter.js';
import { logDropped, postJson, setHeaders } from '../../upstream-request.js';
import { buildMessagesBody, jsonToolFor } from './request.js';
import { parseHttpError, translateMessage } from './response.js';
import { anthropicStreamTranslator } from './stream.js';
import { anthropicModelLister } from './models.js';
import { attachNativeBody, countedTokens, countTokensBody, isNative, mergedBeta, nativeMessagesBody, nativeStreamTranslator } from './native.js';
import type { AnthropicConfig } from '../../../../schemas/types/providers/anthropic.js';

/** Provider settings; see `schemas/providers/anthropic.schema.json` for each field. */
export type { AnthropicConfig };

export default defineAdapter<AnthropicConfig>({
  name: 'anthropic',
  schema: readSchema('providers/anthropic'),
  create(config, env): HttpAdapter {
    const base = config.base_url.replace(/\/+$/, '');
    const url = `${base}/v1/messages`;
    const fixedHeaders: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'anthropic-version': config.anthropic_version };
    if (config.beta.length) fixedHeaders['anthropic-beta'] = config.beta.join(',');
    setHeaders(fixedHeaders, config.headers);
    if (config.api_key) fixedHeaders[config.auth_header] = config.auth_header === 'authorization' ? `Bearer ${config.api_key}` : config.api_key;
    const requestOptions = { provider: env.provider, defaultMaxTokens: config.default_max_tokens, jsonMode: config.json_mode, unsupported: config.unsupported_params };

    return {
      kind: 'http',
      native: 'anthropic',
      timeouts: env.timeouts,
      models: anthropicModelLister(base, fixedHeaders, env.provider),
      supports: (endpoint) => endpoint === 'chat.completions',
      buildRequest(op: Operation) {
        const headers: Record<string, string> = { ...fixedHeaders, 'x-request-id': op.requestId };
        if (op.stream) headers['accept'] = 'text/event-stream';
        if (isNative(op)) {
          const beta = mergedBeta(fixedHeaders['anthropic-beta'], op);
          if (beta) headers['anthropic-beta'] = beta;
          return postJson(url, headers, op, nativeMessagesBody(op));
        }
        const { body, dropped } = buildMessagesBody(op.body, op.model, op.stream, requestOptions);
        logDropped(env, op, dropped);
        return postJson(url, headers, op, body);
      },
      parseResponse(op, body) {
        const translated = translateMessage(env.provider, op.model, body, jsonToolFor(op.body, config.json_mode));
        if (isNative(op)) attachNativeBody(translated.body, body);
        return translated;
      },
      streamTranslator(op) {
        const translator = anthropicStreamTranslator({ ...streamContext(env, op), jsonTool: jsonToolFor(op.body, config.json_mode) });
        return isNative(op) ? nativeStreamTranslator(translator, op.requestId, op.model) : translator;
      },
      parseError: (status, text, headers) => parseHttpError(env.provider, status, text, headers),
      countTokens: {
        request(op) {
          const headers: Record<string, string> = { ...fixedHeaders, 'x-request-id': op.requestId };
          const beta = mergedBeta(fixedHeaders['anthropic-beta'], op);
          if (beta) headers['anthropic-beta'] = beta;
          return postJson(`${url}/count_tokens`, headers, op, countTokensBody(op, () => buildMessagesBody(op.body, op.model, false, requestOptions).body));
        },
        parse: (body) => countedTokens(env.provider, body),
      },
    };
  },
});
