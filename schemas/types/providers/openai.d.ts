// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/providers/openai.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * OpenAI and every OpenAI-compatible API: Azure OpenAI, OpenRouter, Mistral, Groq, Together, vLLM, Ollama, LM Studio. Requests and responses pass through unchanged except for the model id.
 */
export interface OpenAIConfig {
  /**
   * API root including the version path (`https://api.mistral.ai/v1`, `http://127.0.0.1:11434/v1`). For Azure: `https://RESOURCE.openai.azure.com`.
   */
  base_url: string;
  /**
   * Provider credential, usually `${SOME_API_KEY}`. Omit for servers without auth (local vLLM/Ollama). Never logged.
   */
  api_key?: string;
  /**
   * Header that carries the key. Default `authorization` (`api-key` when `azure` is set).
   */
  auth_header?: string;
  /**
   * Prefix before the key in `auth_header`. Default `Bearer` for `authorization`, none for other headers.
   */
  auth_scheme?: string;
  /**
   * Extra headers on every request: `OpenAI-Organization`, OpenRouter's `HTTP-Referer` and `X-Title`, and so on.
   */
  headers: {
    [k: string]: string;
  };
  /**
   * Extra query parameters on every request.
   */
  query: {
    [k: string]: string;
  };
  /**
   * Azure OpenAI deployment-style paths: `{base_url}/openai/deployments/{deployment}/{operation}?api-version=…`.
   */
  azure?: {
    /**
     * The `api-version` query parameter, e.g. `2024-10-21`.
     */
    api_version: string;
    /**
     * Model id → deployment name. A model not listed uses its own id as the deployment name.
     */
    deployments: {
      [k: string]: string;
    };
  };
  /**
   * The provider serves OpenAI's Responses API (`{base_url}/responses`). Default: true when `base_url` is OpenAI's own (`https://api.openai.com/...`, the default), false otherwise (most OpenAI-compatible servers lack it). Then a `/v1/responses` request whose conversation no plugin rewrote, continuing no stored response, is sent there as the client wrote it (target model, `store: false`) and its answer returned as the provider made it, under the gateway's response id; otherwise it is translated to chat completions. Not used with `azure`.
   */
  responses_api?: boolean;
  /**
   * Ask the provider for a final usage chunk on every stream (`stream_options.include_usage`), so usage is always known; the chunk is only forwarded to clients that asked for it. Turn off for servers that reject `stream_options`.
   */
  stream_usage: boolean;
}
