/**
 * Cohere API errors → gateway errors. Cohere answers `{"message": "…"}` (sometimes with an `id`)
 * with the HTTP status saying what went wrong (https://docs.cohere.com/reference/errors; the
 * statuses of the API definition in the official SDKs: 400, 401, 402, 403, 404, 422, 429, 498,
 * 499, 500, 501, 503, 504). Two are Cohere's own: 498 "invalid token" is an authentication failure
 * (401 for the client), and 499 "request cancelled" came from Cohere's side, not the client's
 * (a retryable provider fault, 502).
 */
import type { GatewayError } from '../../../../core/errors.js';
import { headerValue, providerError, rawErrorMessage, redactSecret, tryParseJson } from '../../upstream-errors.js';

const STATUS: Readonly<Record<number, number>> = { 498: 401, 499: 502 };

/** A non-2xx Cohere answer → the error the client sees; `secret` (the API key) never reaches it. */
export function parseCohereError(provider: string, status: number, text: string, headers: Record<string, string | string[] | undefined>, secret: string | undefined): GatewayError {
  const parsed = tryParseJson(text) as { message?: unknown } | undefined;
  const message = typeof parsed?.message === 'string' ? parsed.message : rawErrorMessage(text, status);
  return providerError(provider, {
    status: STATUS[status] ?? status,
    message: redactSecret(message, secret),
    code: status === 498 ? 'invalid_api_key' : null,
    retryAfter: headerValue(headers, 'retry-after'),
  });
}
