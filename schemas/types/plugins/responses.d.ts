// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/responses.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * Stored responses for the OpenAI Responses API (`POST /v1/responses`): keeps each completed answer in the SQL store per organization, so that a later request can continue it with `previous_response_id` (the stored conversation is put before the new input, whatever provider answers), and serves `GET /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` and `DELETE /v1/responses/{id}`. A response is never visible to another organization: an id of another organization, an expired one and an unknown one all get the same 404. `instructions` are not carried over to the next turn, as with OpenAI. Put it right after `auth` (so the organization is known) and before `cache`. Without it, a request with `previous_response_id` is refused with 400 `previous_response_unsupported`.
 */
export interface ResponsesConfig {
  /**
   * How long a stored response can be retrieved or continued, from when it was made: whole days, hours or minutes (`30d`, `12h`, `90m`). Expired rows are deleted by a background job every 10 minutes.
   */
  retention: string;
  /**
   * Whether a request that does not say `store` is stored (OpenAI's default is true). `store: false` in a request is never stored; `store: true` always is.
   */
  store_default: boolean;
}
