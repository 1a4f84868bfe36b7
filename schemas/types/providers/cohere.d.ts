// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/providers/cohere.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * Cohere's API v2 (https://docs.cohere.com/v2/reference/chat, https://docs.cohere.com/v2/reference/embed). OpenAI chat requests are translated to `POST {base_url}/v2/chat` (streams included) and embeddings requests to `POST {base_url}/v2/embed`; answers come back in OpenAI's shape.
 */
export interface CohereConfig {
  /**
   * API root without the version path; requests go to `{base_url}/v2/chat` and `{base_url}/v2/embed`.
   */
  base_url: string;
  /**
   * Cohere API key, usually `${COHERE_API_KEY}`, sent as `Authorization: Bearer <key>`. Never logged.
   */
  api_key?: string;
  /**
   * Extra headers on every request (for example `X-Client-Name`).
   */
  headers: {
    [k: string]: string;
  };
  /**
   * Cohere's `input_type` for embeddings when the client sends none (Embed v3 and newer require one). A client may set it per request with a non-OpenAI `input_type` field in the embeddings body.
   */
  embedding_input_type: 'search_document' | 'search_query' | 'classification' | 'clustering';
  /**
   * Which of Cohere's token counts becomes the OpenAI `usage`: `tokens` (every token the model read and wrote, including the prompt template Cohere adds; consistent with `cached_tokens`) or `billed_units` (the tokens Cohere charges for, which leave the template out). When the chosen count is missing the other is used. `cached_tokens` is reported with `tokens` only, because Cohere counts it against all prompt tokens.
   */
  usage_source: 'tokens' | 'billed_units';
  /**
   * What to do with request fields Cohere cannot honour (`user`, `logprobs`, `logit_bias`, `parallel_tool_calls: false`, …): `drop` them (logged at debug level) or `reject` the request with 400 `unsupported_parameter`. `n` > 1 is always rejected.
   */
  unsupported_params: 'drop' | 'reject';
}
