/**
 * Cohere's model list (https://docs.cohere.com/reference/list-models): `GET {base_url}/v1/models`
 * (the v2 API lists through v1), answered as `{ models: [{ name, endpoints, context_length, … }],
 * next_page_token }`; pages of up to 1000 follow `page_token`. Kept are the models this adapter can
 * call (`chat`, `embed` endpoints).
 */
import type { ListedModel, ModelLister } from '../../adapter.js';
import { listField, listRequest, positiveInt, text, withQuery } from '../model-list.js';

const CALLABLE = new Set(['chat', 'embed']);

export function cohereModelLister(base: string, headers: Readonly<Record<string, string>>, provider: string): ModelLister {
  return {
    request: (cursor) => listRequest(withQuery(`${base}/v1/models`, { page_size: '1000', page_token: cursor }), headers),
    parse(body) {
      const models: ListedModel[] = [];
      for (const m of listField(body, 'models', provider)) {
        const id = text(m['name']);
        const endpoints = m['endpoints'];
        if (!id || (Array.isArray(endpoints) && !endpoints.some((e) => CALLABLE.has(e as string)))) continue;
        models.push({ id, context_window: positiveInt(m['context_length']) });
      }
      return { models, next: text((body as { next_page_token?: unknown }).next_page_token) };
    },
  };
}
