// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/transform.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * Dot path into the JSON body, e.g. `metadata.team` or `choices.0.message.content`.
 *
 * This interface was referenced by `TransformConfig`'s JSON-Schema
 * via the `definition` "fieldPath".
 */
export type FieldPath = string;

/**
 * Rewrites requests before they are routed and responses on the way back: set, default or remove body fields (dot paths such as `metadata.team`), inject a system prompt, rename the model, set or remove headers. Rules apply in order; each can be limited to models, endpoints or paths.
 */
export interface TransformConfig {
  /**
   * Applied in order, on the request in order and on the response in reverse order.
   *
   * @minItems 1
   */
  rules: {
    /**
     * When the rule applies; every listed condition must hold. No `match`: always.
     */
    match?: {
      /**
       * Globs on the model id the client sent (`gpt-4o*`, `smart`), or on the model it resolves to: the configured id or any of its aliases (so a rule for `gpt-4o-mini` also applies to a request for its alias `fast`, or to a request that names no model when `gpt-4o-mini` is the default).
       */
      models?: string[];
      /**
       * OpenAI operations.
       */
      endpoints?: ('chat.completions' | 'completions' | 'embeddings' | 'images.generations' | 'models.list' | 'models.retrieve')[];
      /**
       * Globs on the request path (`/internal/*`), for raw proxy routes and model endpoints alike.
       */
      paths?: string[];
    };
    /**
     * Changes to the client's request, made before it is routed.
     */
    request?: {
      /**
       * Fields to set, overwriting what the client sent (e.g. cap `max_tokens`).
       */
      set?: FieldMap;
      /**
       * Fields to set only when the client did not send them.
       */
      default?: FieldMap;
      /**
       * Fields to drop.
       */
      remove?: FieldPath[];
      /**
       * Rename the requested model before routing (the client asks for `gpt-4`, the gateway routes `gpt-4o`).
       */
      model?: string;
      /**
       * A system message to inject into chat requests: a string (prepended), or `{content, position}`.
       */
      system_prompt?:
        | string
        | {
            /**
             * The system message text.
             */
            content: string;
            /**
             * `prepend`: before all messages; `append`: after the client's system messages; `replace`: drop the client's system/developer messages first.
             */
            position?: 'prepend' | 'append' | 'replace';
          };
      /**
       * Headers on the upstream request.
       */
      headers?: HeaderOps;
    };
    /**
     * Changes to the response, made before it reaches the client.
     */
    response?: {
      /**
       * Fields to set in the response body (and in every chunk of a stream).
       */
      set?: FieldMap;
      /**
       * Fields to drop from the response body (and every chunk).
       */
      remove?: FieldPath[];
      /**
       * Move fields: `from.path: to.path`.
       */
      rename?: {
        [k: string]: FieldPath;
      };
      /**
       * Report the model id the client asked for in `model`, instead of the provider's.
       */
      restore_model: boolean;
      /**
       * Headers on the response to the client.
       */
      headers?: HeaderOps;
    };
  }[];
}
/**
 * Dot path → value.
 *
 * This interface was referenced by `TransformConfig`'s JSON-Schema
 * via the `definition` "fieldMap".
 */
export interface FieldMap {
  [k: string]: unknown;
}
/**
 * This interface was referenced by `TransformConfig`'s JSON-Schema
 * via the `definition` "headerOps".
 */
export interface HeaderOps {
  /**
   * Headers to set (replacing any value).
   */
  set?: {
    [k: string]: string;
  };
  /**
   * Headers to drop.
   */
  remove?: string[];
}
