/**
 * `gigachat`: Sber's GigaChat API (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/gigachat-api).
 * Chat goes to `POST {base_url}/chat/completions` (streamed as SSE ending in `data: [DONE]`),
 * embeddings to `POST {base_url}/embeddings`. Requests carry a 30-minute OAuth access token
 * (auth.ts), fetched with the authorization key through the gateway's one HTTP client, cached,
 * and renewed when the API answers 401 (the call is then sent once more).
 *
 * TLS: GigaChat's servers use certificates of the Russian Trusted Root CA (НУЦ Минцифры), which
 * Node does not trust by default: start the gateway with `NODE_EXTRA_CA_CERTS` pointing at that
 * root certificate.
 */
import { readSchema } from '../../../../core/config/schema.js';
import { parseDuration } from '../../../../core/config/units.js';
import { defineAdapter, streamContext, type HttpAdapter, type ModelEndpoint, type Operation } from '../../adapter.js';
import { logDropped, postJson, setHeaders } from '../../upstream-request.js';
import { TokenSource } from './auth.js';
import { buildEmbeddingsBody, translateEmbeddings } from './embeddings.js';
import { buildChatBody } from './request.js';
import { gigachatError, translateCompletion } from './response.js';
import { gigachatStreamTranslator } from './stream.js';
import { gigachatModelLister } from './models.js';
import type { GigaChatConfig } from '../../../../schemas/types/providers/gigachat.js';

/** Provider settings; see `schemas/providers/gigachat.schema.json` for each field. */
export type { GigaChatConfig };

const SERVED: ReadonlySet<ModelEndpoint> = new Set(['chat.completions', 'embeddings']);

export default defineAdapter<GigaChatConfig>({
  name: 'gigachat',
  schema: readSchema('providers/gigachat'),
  create(config, env): HttpAdapter {
    if (!env.upstream) throw new Error('the gigachat adapter needs the upstream client to fetch access tokens');
    const provider = env.provider;
    const base = config.base_url.replace(/\/+$/, '');
    const authorizationKey = config.credentials ?? Buffer.from(`${config.client_id}:${config.client_secret}`).toString('base64');
    const tokens = new TokenSource({
      provider,
      authUrl: config.auth_url,
      authorizationKey,
      scope: config.scope,
      marginMs: parseDuration(config.token_refresh_margin)!,
      upstream: env.upstream,
      timeouts: env.timeouts,
      log: env.log,
      secrets: config.client_secret ? [config.client_secret] : [],
    });
    const redact = (text: string) => tokens.redact(text);
    const fixedHeaders = setHeaders({ 'content-type': 'application/json' }, config.headers);
    const mode = config.unsupported_params;

    function translate(op: Operation): { url: string; body: Record<string, unknown>; dropped: string[] } {
      if (op.endpoint === 'embeddings') return { url: `${base}/embeddings`, ...buildEmbeddingsBody(op.body, op.model, mode, provider) };
      return { url: `${base}/chat/completions`, ...buildChatBody(op.body, op.model, op.stream, { provider, unsupported: mode }) };
    }

    return {
      kind: 'http',
      timeouts: env.timeouts,
      models: gigachatModelLister(base, fixedHeaders, () => tokens.get(), provider),
      supports: (endpoint) => SERVED.has(endpoint),
      async buildRequest(op) {
        // Translate first: a request GigaChat cannot take is answered 400 without fetching a token.
        const { url, body, dropped } = translate(op);
        logDropped(env, op, dropped);
        const headers: Record<string, string> = {
          ...fixedHeaders,
          accept: op.stream ? 'text/event-stream' : 'application/json',
          // The API's optional logging headers: the request id, and the end user (OpenAI's `user`).
          'x-request-id': op.requestId,
        };
        if (typeof op.body['user'] === 'string' && op.body['user'] !== '') headers['x-client-id'] = op.body['user'];
        const request = postJson(url, headers, op, body);
        // Set last: the token is the adapter's own, not something a header rule should replace.
        request.headers['authorization'] = `Bearer ${await tokens.get()}`;
        return request;
      },
      async refreshAuth() {
        await tokens.renew();
        return true;
      },
      parseResponse(op, body) {
        if (op.endpoint === 'embeddings') return translateEmbeddings(op.body, op.model, body, provider);
        return translateCompletion(body, { provider, model: op.model, requestId: op.requestId });
      },
      streamTranslator: (op) => gigachatStreamTranslator({ ...streamContext(env, op), redact }),
      parseError: (status, text, headers) => gigachatError(provider, status, text, headers, redact),
    };
  },
});
