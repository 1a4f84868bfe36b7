/**
 * Google API errors → gateway errors. Gemini answers with the Google error envelope
 * (https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes,
 * https://cloud.google.com/apis/design/errors):
 * `{"error":{"code":429,"message":"…","status":"RESOURCE_EXHAUSTED","details":[…]}}`, sometimes
 * wrapped in a one-element array. Two details matter: an invalid API key is a 400 whose
 * `ErrorInfo.reason` is `API_KEY_INVALID` (the client sees 401 `authentication_error`), and a 429
 * says when to retry in `RetryInfo.retryDelay` (`"13s"`) rather than in a `retry-after` header.
 */
import type { GatewayError } from '../../../../core/errors.js';
import { headerValue, providerError, rawErrorMessage, tryParseJson } from '../../upstream-errors.js';

interface GoogleErrorDetail {
  '@type'?: string;
  reason?: string;
  retryDelay?: string;
}

interface GoogleError {
  code?: number;
  message?: string;
  status?: string;
  details?: GoogleErrorDetail[];
}

/** ErrorInfo reasons that mean the credential is wrong, not the request. */
const BAD_KEY = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED', 'API_KEY_NOT_FOUND']);

function googleError(text: string): GoogleError | undefined {
  const parsed = tryParseJson(text);
  const envelope = (Array.isArray(parsed) ? parsed[0] : parsed) as { error?: unknown } | undefined;
  const error = envelope?.error;
  return error && typeof error === 'object' ? (error as GoogleError) : undefined;
}

/** `"13s"` / `"1.5s"` → whole seconds for `retry-after`. */
function retryAfterOf(details: GoogleErrorDetail[] | undefined): string | undefined {
  const delay = details?.find((d) => d['@type']?.endsWith('google.rpc.RetryInfo'))?.retryDelay;
  const seconds = delay ? Number(/^([\d.]+)s$/.exec(delay)?.[1]) : NaN;
  return Number.isFinite(seconds) ? String(Math.ceil(seconds)) : undefined;
}

/** A non-2xx Gemini answer → the error the client sees. */
export function parseGeminiError(provider: string, status: number, text: string, headers: Record<string, string | string[] | undefined>): GatewayError {
  const e = googleError(text);
  const message = e?.message ?? rawErrorMessage(text, status);
  const retryAfter = headerValue(headers, 'retry-after') ?? retryAfterOf(e?.details);
  const badKey = e?.details?.some((d) => d.reason !== undefined && BAD_KEY.has(d.reason));
  if (badKey) return providerError(provider, { status: 401, message, code: 'invalid_api_key' });
  // Google's status names the 4xx problem more precisely than the number (`FAILED_PRECONDITION`).
  const code = status >= 400 && status < 500 && status !== 429 && e?.status ? e.status.toLowerCase() : null;
  return providerError(provider, { status, message, code, retryAfter });
}
