// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/providers/yandex.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * Yandex Cloud Foundation Models (AI Studio) through the native REST API: chat via `POST {base_url}/foundationModels/v1/completion` (https://yandex.cloud/en/docs/ai-studio/text-generation/api-ref/TextGeneration/completion; streams are newline-delimited JSON with cumulative text, sent on as OpenAI deltas) and embeddings via `POST {base_url}/foundationModels/v1/textEmbedding` (one text per request: `input` must be a string or a one-element list). Model ids such as `yandexgpt-lite` or `yandexgpt/rc` become `gpt://<folder_id>/<model>/<branch>` (branch `latest` when none is given); full `gpt://` / `emb://` URIs pass through.
 */
export interface YandexConfig {
  /**
   * API root without the `/foundationModels/v1` path.
   */
  base_url: string;
  /**
   * Yandex Cloud folder ID, usually `${YANDEX_FOLDER_ID}`: used to build model URIs and sent in the `x-folder-id` header. Needed unless every client sends full `gpt://` / `emb://` URIs.
   */
  folder_id?: string;
  /**
   * Service account API key, usually `${YANDEX_API_KEY}`, sent as `Authorization: Api-Key <key>`. Set this or `iam_token`, not both. Never logged.
   */
  api_key?: string;
  /**
   * IAM token, sent as `Authorization: Bearer <token>`. IAM tokens expire within 12 hours: supply a fresh one through `${...}` and a config reload. Set this or `api_key`, not both. Never logged.
   */
  iam_token?: string;
  /**
   * Let Yandex log request data. `false` (the default) sends `x-data-logging-enabled: false` so requests are not stored on Yandex's side (https://yandex.cloud/en/docs/ai-studio/operations/disable-logging).
   */
  data_logging: boolean;
  /**
   * Extra headers on every request.
   */
  headers: {
    [k: string]: string;
  };
  /**
   * What to do with request fields the Yandex API cannot honour (`top_p`, `stop`, `seed`, `frequency_penalty`, `presence_penalty`, `logprobs`, `user`, …): `drop` them (logged at debug level) or `reject` the request with 400 `unsupported_parameter`. Always rejected: `n` > 1, `temperature` > 1, image/audio/file content parts, and embedding requests with more than one input.
   */
  unsupported_params: 'drop' | 'reject';
}
