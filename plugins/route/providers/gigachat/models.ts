/**
 * GigaChat's model list (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/get-models):
 * `GET {base_url}/models` with the access token, answered as
 * `{ object: "list", data: [{ id: "GigaChat", object: "model", owned_by, type }] }`. Not paginated.
 */
import type { ListedModel, ModelLister } from '../../adapter.js';
import { listField, listRequest, text } from '../model-list.js';

export function gigachatModelLister(base: string, headers: Readonly<Record<string, string>>, token: () => Promise<string>, provider: string): ModelLister {
  return {
    async request() {
      const request = listRequest(`${base}/models`, headers);
      request.headers['authorization'] = `Bearer ${await token()}`;
      return request;
    },
    parse(body) {
      const models: ListedModel[] = [];
      for (const m of listField(body, 'data', provider)) {
        const id = text(m['id']);
        if (id) models.push({ id });
      }
      return { models };
    },
  };
}
