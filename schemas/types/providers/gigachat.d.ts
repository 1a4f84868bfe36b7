// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/providers/gigachat.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * Sber's GigaChat API (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/gigachat-api): chat (`POST {base_url}/chat/completions`, streams included) and embeddings (`POST {base_url}/embeddings`), translated from and to the OpenAI format. Requests are authorized with a 30-minute access token the adapter gets from `auth_url` with the authorization key (OAuth client credentials), caches, and renews. GigaChat's servers use the Russian Trusted Root CA: start the gateway with NODE_EXTRA_CA_CERTS pointing at that certificate.
 */
export interface GigaChatConfig {
  /**
   * API root including the version path; requests go to `{base_url}/chat/completions` and `{base_url}/embeddings`.
   */
  base_url: string;
  /**
   * The OAuth token endpoint (`POST /api/v2/oauth`).
   */
  auth_url: string;
  /**
   * The authorization key from the GigaChat API project in Sber's studio (base64 of `client_id:client_secret`), usually `${GIGACHAT_CREDENTIALS}`. Sent only to `auth_url`; never logged. Give this or `client_id` and `client_secret`.
   */
  credentials?: string;
  /**
   * Client ID of the GigaChat API project; with `client_secret`, an alternative to `credentials`.
   */
  client_id?: string;
  /**
   * Client Secret of the GigaChat API project, usually `${GIGACHAT_CLIENT_SECRET}`; with `client_id`, an alternative to `credentials`. Never logged.
   */
  client_secret?: string;
  /**
   * The API version the token is for: `GIGACHAT_API_PERS` (individuals), `GIGACHAT_API_B2B` (businesses, prepaid packages) or `GIGACHAT_API_CORP` (businesses, pay-as-you-go).
   */
  scope: 'GIGACHAT_API_PERS' | 'GIGACHAT_API_B2B' | 'GIGACHAT_API_CORP';
  /**
   * A cached access token is renewed this long before it expires, so no request leaves with a token about to lapse.
   */
  token_refresh_margin: string | number;
  /**
   * Extra headers on every API request (e.g. `X-Session-ID`, which GigaChat uses to keep a conversation's prompt cache warm). Not sent to `auth_url`.
   */
  headers: {
    [k: string]: string;
  };
  /**
   * What to do with request fields GigaChat cannot honour (`stop`, `seed`, `logprobs`, penalties, `response_format: json_object`, `tool_choice: required`, `dimensions`, …): `drop` them (logged at debug level; `tool_choice: required` becomes `auto`) or `reject` the request with 400 `unsupported_parameter`. `n` > 1 and image or file content parts are always rejected.
   */
  unsupported_params: 'drop' | 'reject';
}
