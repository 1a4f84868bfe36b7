/**
 * `yandex`: Yandex Cloud Foundation Models (AI Studio) through its native REST API. Chat goes to
 * `POST {base_url}/foundationModels/v1/completion`
 * (https://yandex.cloud/en/docs/ai-studio/text-generation/api-ref/TextGeneration/completion), streamed
 * as newline-delimited JSON with cumulative text; embeddings go to
 * `POST {base_url}/foundationModels/v1/textEmbedding`
 * (https://yandex.cloud/en/docs/ai-studio/embeddings/api-ref/Embeddings/textEmbedding), one text per
 * call. Models are addressed by URI (`gpt://<folder_id>/<model>/<branch>`), built from `folder_id`
 * unless the client sent one. Auth is an API key (`Authorization: Api-Key …`) or an IAM token
 * (`Authorization: Bearer …`), with the folder in `x-folder-id`. Legacy `completions` and images are
 * not served. The API has no endpoint that lists models, so this adapter has no `models` lister
 * (`discover:` on a Yandex provider is a load error).
 */
import { ConfigError, readSchema } from '../../../../core/config/schema.js';
import { defineAdapter, streamContext, type HttpAdapter, type ModelEndpoint, type Operation } from '../../adapter.js';
import { logDropped, postJson, setHeaders } from '../../upstream-request.js';
import { buildEmbeddingBody, parseEmbeddingResponse } from './embeddings.js';
import { parseHttpError, type ErrorContext } from './errors.js';
import { modelUri } from './model-uri.js';
import { buildCompletionBody } from './request.js';
import { translateCompletion } from './response.js';
import { yandexStreamTranslator } from './stream.js';
import type { YandexConfig } from '../../../../schemas/types/providers/yandex.js';

/** Provider settings; see `schemas/providers/yandex.schema.json` for each field. */
export type { YandexConfig };

const SERVED: ReadonlySet<ModelEndpoint> = new Set(['chat.completions', 'embeddings']);

export default defineAdapter<YandexConfig>({
  name: 'yandex',
  schema: readSchema('providers/yandex'),
  create(config, env): HttpAdapter {
    if (config.api_key && config.iam_token) {
      throw ConfigError.at(['$', 'providers', env.provider, 'iam_token'], 'set api_key or iam_token, not both');
    }
    const base = `${config.base_url.replace(/\/+$/, '')}/foundationModels/v1`;
    const provider = env.provider;
    const fixedHeaders: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (config.folder_id) fixedHeaders['x-folder-id'] = config.folder_id;
    // Yandex logs request data unless told not to (https://yandex.cloud/en/docs/ai-studio/operations/disable-logging).
    if (!config.data_logging) fixedHeaders['x-data-logging-enabled'] = 'false';
    if (config.api_key) fixedHeaders['authorization'] = `Api-Key ${config.api_key}`;
    else if (config.iam_token) fixedHeaders['authorization'] = `Bearer ${config.iam_token}`;
    setHeaders(fixedHeaders, config.headers);
    const errorContext: ErrorContext = { provider, secrets: [config.api_key, config.iam_token] };
    const mode = config.unsupported_params;

    function translate(op: Operation): { url: string; body: Record<string, unknown>; dropped: string[] } {
      if (op.endpoint === 'embeddings') {
        return { url: `${base}/textEmbedding`, ...buildEmbeddingBody(op.body, modelUri('emb', op.model, config.folder_id, provider), mode, provider) };
      }
      const uri = modelUri('gpt', op.model, config.folder_id, provider);
      return { url: `${base}/completion`, ...buildCompletionBody(op.body, uri, op.stream, { provider, unsupported: mode }) };
    }

    return {
      kind: 'http',
      timeouts: env.timeouts,
      streamFormat: 'ndjson',
      supports: (endpoint) => SERVED.has(endpoint),
      buildRequest(op) {
        const { url, body, dropped } = translate(op);
        logDropped(env, op, dropped);
        return postJson(url, { ...fixedHeaders, 'x-client-request-id': op.requestId }, op, body);
      },
      parseResponse(op, body) {
        if (op.endpoint === 'embeddings') return parseEmbeddingResponse(op.body, op.model, body, provider);
        return translateCompletion(body, { provider, model: op.model, requestId: op.requestId });
      },
      streamTranslator: (op) => yandexStreamTranslator({ ...streamContext(env, op), secrets: errorContext.secrets }),
      parseError: (status, text, headers) => parseHttpError(errorContext, status, text, headers),
    };
  },
});
