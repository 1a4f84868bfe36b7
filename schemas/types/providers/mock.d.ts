// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/providers/mock.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * An offline, deterministic provider for the quickstart, demos and tests: chat and completions echo the last user message (streaming too), embeddings are derived from a hash of the input, images are a 1×1 PNG. Usage is estimated at 4 characters per token.
 */
export interface MockConfig {
  /**
   * Delay before answering (or before the first chunk).
   */
  latency: string | number;
  /**
   * Delay between streamed chunks.
   */
  chunk_delay: string | number;
  /**
   * Words per streamed chunk.
   */
  words_per_chunk: number;
  /**
   * Vector length when the request does not set `dimensions`.
   */
  embedding_dimensions: number;
}
