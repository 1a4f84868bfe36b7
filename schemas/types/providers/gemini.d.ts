// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/providers/gemini.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * The Google Gemini API (Generative Language API, https://ai.google.dev/api): chat (`models/{model}:generateContent`, streamed via `:streamGenerateContent?alt=sse`), embeddings (`:embedContent`, `:batchEmbedContents`) and image generation with Gemini image models. OpenAI requests are translated to Gemini's format and back; legacy `completions` are not served.
 */
export interface GeminiConfig {
  /**
   * API root including the version path; requests go to `{base_url}/models/{model}:{method}`.
   */
  base_url: string;
  /**
   * Gemini API key, usually `${GEMINI_API_KEY}`, sent in the `x-goog-api-key` header (never in the URL). Never logged.
   */
  api_key?: string;
  /**
   * Extra headers on every request.
   */
  headers: {
    [k: string]: string;
  };
  /**
   * `safetySettings` sent with every chat request, e.g. `[{category: HARM_CATEGORY_HARASSMENT, threshold: BLOCK_ONLY_HIGH}]` (https://ai.google.dev/gemini-api/docs/safety-settings). Empty: Gemini's defaults.
   */
  safety_settings: {
    /**
     * A `HarmCategory`, e.g. `HARM_CATEGORY_DANGEROUS_CONTENT`.
     */
    category: string;
    /**
     * A `HarmBlockThreshold`: `BLOCK_NONE`, `BLOCK_ONLY_HIGH`, `BLOCK_MEDIUM_AND_ABOVE`, `BLOCK_LOW_AND_ABOVE` or `OFF`.
     */
    threshold: string;
  }[];
  /**
   * What to do with request fields Gemini cannot honour (`user`, `logprobs`, `logit_bias`, `parallel_tool_calls: false`, `quality` for images, …): `drop` them (logged at debug level) or `reject` the request with 400 `unsupported_parameter`. Image requests with `n` > 1 are always rejected.
   */
  unsupported_params: 'drop' | 'reject';
}
