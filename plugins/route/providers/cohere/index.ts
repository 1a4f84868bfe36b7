/**
 * `cohere`: Cohere's API v2 (https://docs.cohere.com/v2/reference/chat,
 * https://docs.cohere.com/v2/reference/embed). Chat goes to `POST {base_url}/v2/chat` (streamed
 * with `"stream": true` as server-sent events), embeddings to `POST {base_url}/v2/embed`; the key
 * travels as `Authorization: Bearer`. Legacy completions and images are not served.
 */
import { readSchema } from '../../../../core/config/schema.js';
import { defineAdapter, streamContext, type HttpAdapter, type ModelEndpoint, type Operation } from '../../adapter.js';
import { logDropped, postJson, setHeaders } from '../../upstream-request.js';
import { buildChatBody } from './chat-request.js';
import { translateChat } from './chat-response.js';
import { cohereStreamTranslator } from './chat-stream.js';
import { buildEmbedBody, translateEmbed } from './embeddings.js';
import { parseCohereError } from './errors.js';
import { cohereModelLister } from './models.js';
import type { CohereConfig } from '../../../../schemas/types/providers/cohere.js';

/** Provider settings; see `schemas/providers/cohere.schema.json` for each field. */
export type { CohereConfig };

const SERVED: ReadonlySet<ModelEndpoint> = new Set(['chat.completions', 'embeddings']);

export default defineAdapter<CohereConfig>({
  name: 'cohere',
  schema: readSchema('providers/cohere'),
  create(config, env): HttpAdapter {
    const base = config.base_url.replace(/\/+$/, '');
    const fixedHeaders = setHeaders({ 'content-type': 'application/json' }, config.headers);
    if (config.api_key) fixedHeaders['authorization'] = `Bearer ${config.api_key}`;
    const provider = env.provider;
    const options = { provider, unsupported: config.unsupported_params };

    function translate(op: Operation): { path: string; body: Record<string, unknown>; dropped: string[] } {
      if (op.endpoint === 'embeddings') return { path: '/v2/embed', ...buildEmbedBody(op.body, op.model, { ...options, inputType: config.embedding_input_type }) };
      return { path: '/v2/chat', ...buildChatBody(op.body, op.model, op.stream, options) };
    }

    return {
      kind: 'http',
      timeouts: env.timeouts,
      models: cohereModelLister(base, fixedHeaders, provider),
      supports: (endpoint) => SERVED.has(endpoint),
      buildRequest(op) {
        const { path, body, dropped } = translate(op);
        logDropped(env, op, dropped);
        return postJson(`${base}${path}`, { ...fixedHeaders, accept: op.stream ? 'text/event-stream' : 'application/json', 'x-request-id': op.requestId }, op, body);
      },
      parseResponse(op, body) {
        if (op.endpoint === 'embeddings') return translateEmbed(op.body, op.model, body, provider, config.usage_source);
        return translateChat({ provider, model: op.model, usageSource: config.usage_source }, body);
      },
      streamTranslator: (op) => cohereStreamTranslator({ ...streamContext(env, op), usageSource: config.usage_source }),
      parseError: (status, text, headers) => parseCohereError(provider, status, text, headers, config.api_key),
    };
  },
});
