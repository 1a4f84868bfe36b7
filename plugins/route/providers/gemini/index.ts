/**
 * `gemini`: the Google Gemini API (Generative Language API, https://ai.google.dev/api). Chat goes
 * to `models/{model}:generateContent` and, streamed, to `models/{model}:streamGenerateContent?alt=sse`;
 * embeddings to `:embedContent` / `:batchEmbedContents`; image generation to `:generateContent` of
 * an image model. The key travels in the `x-goog-api-key` header, never in the URL (where it
 * would end up in access logs). Legacy `completions` are not served.
 */
import { readSchema } from '../../../../core/config/schema.js';
import { defineAdapter, streamContext, type HttpAdapter, type ModelEndpoint, type Operation } from '../../adapter.js';
import { logDropped, postJson, setHeaders } from '../../upstream-request.js';
import { buildChatRequest } from './chat-request.js';
import { parseChatResponse } from './chat-response.js';
import { geminiStreamTranslator } from './chat-stream.js';
import { buildEmbeddingRequest, parseEmbeddingResponse } from './embeddings.js';
import { parseGeminiError } from './errors.js';
import { buildImageRequest, parseImageResponse } from './images.js';
import { geminiModelLister } from './models.js';
import type { GeminiConfig } from '../../../../schemas/types/providers/gemini.js';

/** Provider settings, as `schemas/providers/gemini.schema.json` describes (defaults applied). */
export type { GeminiConfig };

const SERVED: ReadonlySet<ModelEndpoint> = new Set(['chat.completions', 'embeddings', 'images.generations']);

export default defineAdapter<GeminiConfig>({
  name: 'gemini',
  schema: readSchema('providers/gemini'),
  create(config, env): HttpAdapter {
    const base = config.base_url.replace(/\/+$/, '');
    const fixedHeaders = setHeaders({ 'content-type': 'application/json' }, config.headers);
    if (config.api_key) fixedHeaders['x-goog-api-key'] = config.api_key;
    const provider = env.provider;
    const mode = config.unsupported_params;

    /** `models/gemini-x` and `gemini-x` name the same model; the path wants the bare id. */
    const modelPath = (model: string) => `${base}/models/${encodeURIComponent(model.replace(/^models\//, ''))}`;

    function translate(op: Operation): { url: string; body: Record<string, unknown>; dropped: string[] } {
      switch (op.endpoint) {
        case 'embeddings': {
          const r = buildEmbeddingRequest(op.body, op.model.replace(/^models\//, ''), mode, provider);
          return { url: `${modelPath(op.model)}:${r.method}`, body: r.body, dropped: r.dropped };
        }
        case 'images.generations': {
          const r = buildImageRequest(op.body, mode, provider);
          return { url: `${modelPath(op.model)}:generateContent`, ...r };
        }
        default: {
          const r = buildChatRequest(op.body, { provider, unsupportedParams: mode, safetySettings: config.safety_settings });
          const url = op.stream ? `${modelPath(op.model)}:streamGenerateContent?alt=sse` : `${modelPath(op.model)}:generateContent`;
          return { url, ...r };
        }
      }
    }

    return {
      kind: 'http',
      timeouts: env.timeouts,
      models: geminiModelLister(base, fixedHeaders, provider),
      supports: (endpoint) => SERVED.has(endpoint),
      buildRequest(op) {
        const { url, body, dropped } = translate(op);
        logDropped(env, op, dropped, 'dropped parameters the provider cannot honour');
        return postJson(url, { ...fixedHeaders, accept: op.stream ? 'text/event-stream' : 'application/json', 'x-request-id': op.requestId }, op, body);
      },
      parseResponse(op, body) {
        const ctx = { provider, model: op.model, requestId: op.requestId };
        if (op.endpoint === 'embeddings') return parseEmbeddingResponse(op.body, op.model, body, provider);
        if (op.endpoint === 'images.generations') return parseImageResponse(op.body, body, provider);
        return parseChatResponse(body, ctx);
      },
      streamTranslator: (op) => geminiStreamTranslator(streamContext(env, op)),
      parseError: (status, text, headers) => parseGeminiError(provider, status, text, headers),
    };
  },
});
