/**
 * Gemini's model list (https://ai.google.dev/api/models#method:-models.list): `GET {base_url}/models`,
 * answered as `{ models: [{ name: "models/gemini-2.0-flash", inputTokenLimit, outputTokenLimit,
 * supportedGenerationMethods, … }], nextPageToken }`; pages of up to 1000 follow `pageToken`.
 * Kept are the models this adapter can call (`generateContent`, `embedContent`), by their bare id.
 */
import type { ListedModel, ModelLister } from '../../adapter.js';
import { listField, listRequest, positiveInt, text, withQuery } from '../model-list.js';

const CALLABLE = new Set(['generateContent', 'embedContent', 'batchEmbedContents']);

export function geminiModelLister(base: string, headers: Readonly<Record<string, string>>, provider: string): ModelLister {
  return {
    request: (cursor) => listRequest(withQuery(`${base}/models`, { pageSize: '1000', pageToken: cursor }), headers),
    parse(body) {
      const models: ListedModel[] = [];
      for (const m of listField(body, 'models', provider)) {
        const id = text(m['name'])?.replace(/^models\//, '');
        const methods = m['supportedGenerationMethods'];
        if (!id || (Array.isArray(methods) && !methods.some((x) => CALLABLE.has(x as string)))) continue;
        models.push({ id, context_window: positiveInt(m['inputTokenLimit']), max_output_tokens: positiveInt(m['outputTokenLimit']) });
      }
      return { models, next: text((body as { nextPageToken?: unknown }).nextPageToken) };
    },
  };
}
