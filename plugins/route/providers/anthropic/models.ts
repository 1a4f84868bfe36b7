/**
 * Anthropic's model list (https://docs.anthropic.com/en/api/models-list): `GET {base_url}/v1/models`
 * with the same credentials and `anthropic-version` as a call, answered as
 * `{ data: [{ type: "model", id, display_name, created_at }], has_more, first_id, last_id }`;
 * pages of up to 1000 follow `after_id` = the previous page's `last_id` while `has_more`.
 */
import type { ListedModel, ModelLister } from '../../adapter.js';
import { listField, listRequest, text, withQuery } from '../model-list.js';

export function anthropicModelLister(base: string, headers: Readonly<Record<string, string>>, provider: string): ModelLister {
  return {
    request: (cursor) => listRequest(withQuery(`${base}/v1/models`, { limit: '1000', after_id: cursor }), headers),
    parse(body) {
      const models: ListedModel[] = [];
      for (const m of listField(body, 'data', provider)) {
        const id = text(m['id']);
        if (!id) continue;
        const created = Date.parse(String(m['created_at']));
        models.push({ id, created: Number.isNaN(created) ? undefined : Math.floor(created / 1000) });
      }
      const page = body as { has_more?: unknown; last_id?: unknown };
      return { models, next: page.has_more === true ? text(page.last_id) : undefined };
    },
  };
}
