/**
 * The model list of OpenAI and OpenAI-compatible APIs: `GET {base_url}/models`, answered as
 * `{ "object": "list", "data": [{ "id", "object": "model", "created", "owned_by" }] }`
 * (https://platform.openai.com/docs/api-reference/models/list). Compatible servers add their own
 * fields, read here when they say how large a model's window is: OpenRouter `context_length` and
 * `top_provider.max_completion_tokens` (https://openrouter.ai/docs/api-reference/list-available-models),
 * Groq `context_window` and `max_completion_tokens` (https://console.groq.com/docs/api-reference#models-list),
 * Mistral `max_context_length` (https://docs.mistral.ai/api/#tag/models/operation/list_models_v1_models_get),
 * vLLM `max_model_len` (https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html).
 * Ollama (https://github.com/ollama/ollama/blob/main/docs/openai.md#v1models) sends the plain form.
 * Not paginated.
 */
import type { ListedModel, ModelLister } from '../adapter.js';
import { listField, listRequest, positiveInt, text } from './model-list.js';

export function openaiModelLister(url: string, headers: Readonly<Record<string, string>>, provider: string): ModelLister {
  return {
    request: () => listRequest(url, headers),
    parse(body) {
      const models: ListedModel[] = [];
      for (const m of listField(body, 'data', provider)) {
        const id = text(m['id']);
        if (!id) continue;
        const top = m['top_provider'] as Record<string, unknown> | undefined;
        const context = positiveInt(m['context_window']) ?? positiveInt(m['context_length']) ?? positiveInt(m['max_context_length']) ?? positiveInt(m['max_model_len']);
        const output = positiveInt(m['max_completion_tokens']) ?? positiveInt(top?.['max_completion_tokens']);
        models.push({ id, created: positiveInt(m['created']), context_window: context, max_output_tokens: output });
      }
      return { models };
    },
  };
}
