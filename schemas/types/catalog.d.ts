// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/catalog.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * One file per provider in `config/catalog/`: public facts about its models. Prices are USD.
 */
export interface CatalogFile {
  /**
   * Ignored; lets editors find this schema.
   */
  $schema?: string;
  /**
   * Catalog name; a provider uses the catalog named like its adapter unless it sets `catalog:`.
   */
  provider: string;
  /**
   * Where the facts were read (URL of the provider's model/pricing page).
   */
  source?: string;
  /**
   * Date the prices were read from `source`.
   */
  prices_read?: string;
  /**
   * Model id → facts.
   */
  models: {
    [k: string]: {
      /**
       * The kind of endpoint the model serves.
       */
      mode: 'chat' | 'completion' | 'embedding' | 'image';
      /**
       * Largest input + output, in tokens.
       */
      context_window?: number;
      /**
       * Largest output, in tokens.
       */
      max_output_tokens?: number;
      /**
       * What the model reads.
       */
      input_modalities: ('text' | 'image' | 'audio' | 'video' | 'file')[];
      /**
       * What the model writes.
       */
      output_modalities: ('text' | 'image' | 'audio' | 'embedding')[];
      /**
       * Supports function/tool calling.
       */
      tools: boolean;
      /**
       * Embedding vector length (embedding models).
       */
      dimensions?: number;
      /**
       * Prices in USD.
       */
      pricing?: {
        /**
         * Per 1M input tokens.
         */
        input_per_1m?: number;
        /**
         * Per 1M output tokens.
         */
        output_per_1m?: number;
        /**
         * Per 1M cached input tokens.
         */
        cached_input_per_1m?: number;
        /**
         * Per 1M input tokens written to the prompt cache (Anthropic's 5-minute cache writes); default the input price.
         */
        cache_write_per_1m?: number;
        /**
         * Per 1M input tokens written to the prompt cache with the 1-hour TTL (Anthropic's `ephemeral_1h_input_tokens`); default `cache_write_per_1m`, then the input price.
         */
        cache_write_1h_per_1m?: number;
        /**
         * Per generated image (standard quality, smallest size).
         */
        per_image?: number;
      };
      /**
       * The provider has announced its retirement.
       */
      deprecated: boolean;
    };
  };
}
