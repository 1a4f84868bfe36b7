// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/route.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * The terminal plugin of the model pipeline: resolves the requested model id through `models:` to provider targets, calls the provider's adapter, falls back to the next target on retryable failures, and serves `GET /v1/models`.
 */
export interface RouteConfig {
  /**
   * Model used when a request has no `model` field, per endpoint.
   */
  defaults: {
    /**
     * For `/v1/chat/completions`.
     */
    chat?: string;
    /**
     * For `/v1/completions`.
     */
    completions?: string;
    /**
     * For `/v1/embeddings`.
     */
    embeddings?: string;
    /**
     * For `/v1/images/generations`.
     */
    images?: string;
  };
  /**
   * Accept `provider/model` ids (e.g. `openai/gpt-4o`) for any configured provider, even when the id is not listed in `models:`.
   */
  provider_prefix: boolean;
  /**
   * Add `x-switchyard-provider` and `x-switchyard-model` (the upstream model id) to responses.
   */
  provider_headers: boolean;
}
