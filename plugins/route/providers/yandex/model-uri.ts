/**
 * Yandex addresses models by URI, not by bare id: `gpt://<folder_id>/<model>/<branch>` for text
 * generation and `emb://<folder_id>/<model>/<branch>` for embeddings, where the branch is `latest`,
 * `rc` or `deprecated` and a fine-tuned model adds `@<suffix>`
 * (https://yandex.cloud/en/docs/ai-studio/concepts/generation/models#addressing-models,
 * https://yandex.cloud/en/docs/ai-studio/concepts/embeddings). A client may send either form.
 */
import { errors } from '../../../../core/errors.js';

export type UriScheme = 'gpt' | 'emb';

/** The branch a bare model id gets; the API's own default too. */
export const DEFAULT_BRANCH = 'latest';

/**
 * `yandexgpt-lite` → `gpt://<folder>/yandexgpt-lite/latest`; `yandexgpt/rc` keeps its branch;
 * `yandexgpt-lite@ft1` → `gpt://<folder>/yandexgpt-lite/latest@ft1`; a full URI (`gpt://…`,
 * `emb://…`, `ds://…`) passes through untouched.
 */
export function modelUri(scheme: UriScheme, model: string, folderId: string | undefined, provider: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(model)) return model;
  if (!folderId) {
    throw errors.badRequest('invalid_value', `Provider '${provider}' needs folder_id to address '${model}'; set folder_id or send a full ${scheme}:// model URI.`, 'model');
  }
  const id = model.replace(/^\/+|\/+$/g, '');
  if (id === '') throw errors.badRequest('invalid_value', 'The model id is empty.', 'model');
  if (id.includes('/')) return `${scheme}://${folderId}/${id}`;
  const at = id.indexOf('@');
  const path = at === -1 ? `${id}/${DEFAULT_BRANCH}` : `${id.slice(0, at)}/${DEFAULT_BRANCH}${id.slice(at)}`;
  return `${scheme}://${folderId}/${path}`;
}
