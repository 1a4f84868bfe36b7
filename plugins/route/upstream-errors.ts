/**
 * How a provider's error becomes the client's error, the same for every adapter: the client sees
 * the provider's status for request problems (4xx) and a gateway status for provider faults (5xx),
 * an OpenAI `type` that matches the status, the provider's own message prefixed with its name, and
 * `retry-after` when the provider sent one.
 */
import { errors, GatewayError, type ErrorType } from '../../core/errors.js';

export interface ProviderFault {
  status: number;
  message: string;
  code?: string | null;
  param?: string | null;
  retryAfter?: string | undefined;
}

const TYPE_BY_STATUS: Record<number, ErrorType> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

export function providerError(provider: string, fault: ProviderFault): GatewayError {
  const { status } = fault;
  // A redirect (never followed) or any other non-4xx is as much the provider's fault as a 5xx.
  const providerFault = status >= 500 || status < 400;
  const clientStatus = status === 529 ? 503 : providerFault && status !== 503 && status !== 504 ? 502 : status;
  const type = TYPE_BY_STATUS[status] ?? (providerFault ? 'upstream_error' : 'invalid_request_error');
  const code = fault.code ?? (status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'upstream_error' : `upstream_${status}`);
  const headers: Record<string, string> = {};
  if (fault.retryAfter) headers['retry-after'] = fault.retryAfter;
  return new GatewayError(clientStatus, type, code, `${provider}: ${fault.message}`.slice(0, 2000), fault.param ?? null, headers);
}

/**
 * Removes a provider credential from text a provider sent back: some providers echo the key they
 * rejected, and it must reach neither the client nor the logs. Very short keys are left alone, as
 * replacing them would mangle the message without protecting anything real.
 */
export function redactSecret(text: string, secret: string | undefined): string {
  return secret && secret.length >= 8 ? text.replaceAll(secret, '[redacted]') : text;
}

/** First value of a header that may be repeated. */
export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Parses JSON if it can; providers' error bodies are not always JSON. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The message of an error body that has no readable one of its own: the body's start, or the status. */
export function rawErrorMessage(text: string, status: number | undefined): string {
  return text.slice(0, 500) || `HTTP ${status ?? 'error'}`;
}

/** One stream event's JSON object; a 502 when the event is not one (`what` names the event in the message). */
export function streamEventJson(data: string, provider: string, what = 'a stream event'): Record<string, unknown> {
  const value = tryParseJson(data);
  if (!value || typeof value !== 'object') throw errors.badGateway('upstream_invalid_response', `${provider}: ${what} is not JSON.`);
  return value as Record<string, unknown>;
}

/** The provider's stream ended before it said the answer was complete. */
export function streamTruncated(provider: string): GatewayError {
  return errors.badGateway('upstream_stream_truncated', `${provider}: the stream ended before the response was complete.`);
}
