// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/providers/anthropic.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * Anthropic's Messages API (`POST {base_url}/v1/messages`, https://platform.claude.com/docs/en/api/messages). OpenAI chat requests are translated to Messages requests and back, streams included; only `chat.completions` is served.
 */
export interface AnthropicConfig {
  /**
   * API root without the version path; requests go to `{base_url}/v1/messages`.
   */
  base_url: string;
  /**
   * Anthropic API key, usually `${ANTHROPIC_API_KEY}`, sent as `auth_header` says. Never logged.
   */
  api_key?: string;
  /**
   * How `api_key` is sent: the `x-api-key` header, or `Authorization: Bearer <key>` (what the current official SDKs send).
   */
  auth_header: 'x-api-key' | 'authorization';
  /**
   * The `anthropic-version` header (API version date).
   */
  anthropic_version: string;
  /**
   * Beta feature names sent, comma-joined, in the `anthropic-beta` header.
   */
  beta: string[];
  /**
   * Extra headers on every request.
   */
  headers: {
    [k: string]: string;
  };
  /**
   * `max_tokens` sent when the client gave neither `max_completion_tokens` nor `max_tokens` (Anthropic requires one).
   */
  default_max_tokens: number;
  /**
   * How `response_format: json_schema` is honoured: `output_config` sends the schema as `output_config.format` (structured outputs; the schema must follow Anthropic's rules, e.g. `additionalProperties: false` on objects); `tool` forces a synthetic tool whose `input_schema` is the schema and returns its input as the message text. `json_object` has no schema, so it always uses the tool. Models whose thinking is always on reject forced tools.
   */
  json_mode: 'output_config' | 'tool';
  /**
   * What to do with request fields Anthropic cannot honour (`seed`, `logprobs`, `frequency_penalty`, …): `drop` them (logged at debug level) or `reject` the request with 400 `unsupported_parameter`. `n` > 1 and `temperature` > 1 are always rejected.
   */
  unsupported_params: 'drop' | 'reject';
}
