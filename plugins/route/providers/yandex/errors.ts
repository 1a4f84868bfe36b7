/**
 * Yandex Cloud errors → gateway errors. Yandex APIs describe errors with `google.rpc.Status`
 * (https://yandex.cloud/en/docs/api-design-guide/concepts/errors): `{"code": 16, "message": "…",
 * "details": […]}` with a gRPC code. The REST gateway in front of Foundation Models also answers in
 * grpc-gateway's envelope, `{"error": {"grpcCode": 3, "httpCode": 400, "message": "…",
 * "httpStatus": "Bad Request", "details": []}}`, and that envelope is what a stream carries as a
 * line when it fails after the 200. Both are read; the HTTP status wins, then `httpCode`, then the
 * gRPC code's documented HTTP mapping. Messages pass through `redactSecret`, since an
 * "unknown api key" message can echo the key.
 */
import type { GatewayError } from '../../../../core/errors.js';
import { headerValue, providerError, rawErrorMessage, redactSecret, tryParseJson } from '../../upstream-errors.js';

/** gRPC code → [status name, HTTP status], per the table in the Yandex API design guide. */
const GRPC: Record<number, [string, number]> = {
  1: ['CANCELLED', 499],
  2: ['UNKNOWN', 500],
  3: ['INVALID_ARGUMENT', 400],
  4: ['DEADLINE_EXCEEDED', 504],
  5: ['NOT_FOUND', 404],
  6: ['ALREADY_EXISTS', 409],
  7: ['PERMISSION_DENIED', 403],
  8: ['RESOURCE_EXHAUSTED', 429],
  9: ['FAILED_PRECONDITION', 400],
  10: ['ABORTED', 409],
  11: ['OUT_OF_RANGE', 400],
  12: ['NOT_IMPLEMENTED', 501],
  13: ['INTERNAL', 500],
  14: ['UNAVAILABLE', 503],
  15: ['DATA_LOSS', 500],
  16: ['UNAUTHENTICATED', 401],
};

interface ReadError {
  message: string | undefined;
  grpcCode: number | undefined;
  httpCode: number | undefined;
}

/** Reads either envelope; `undefined` when the value is neither. */
export function readYandexError(value: unknown): ReadError | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const inner = v['error'];
  if (inner && typeof inner === 'object') {
    const e = inner as Record<string, unknown>;
    return { message: typeof e['message'] === 'string' ? e['message'] : undefined, grpcCode: num(e['grpcCode'] ?? e['grpc_code']), httpCode: num(e['httpCode'] ?? e['http_code']) };
  }
  if (typeof inner === 'string') return { message: inner, grpcCode: undefined, httpCode: undefined };
  if (typeof v['message'] === 'string' && ('code' in v || 'details' in v)) return { message: v['message'], grpcCode: num(v['code']), httpCode: undefined };
  return undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export interface ErrorContext {
  provider: string;
  /** Credentials to keep out of messages. */
  secrets: readonly (string | undefined)[];
}

function build(ctx: ErrorContext, status: number, e: ReadError | undefined, fallback: string, retryAfter?: string): GatewayError {
  let message = e?.message ?? fallback;
  for (const secret of ctx.secrets) message = redactSecret(message, secret);
  const name = e?.grpcCode !== undefined ? GRPC[e.grpcCode]?.[0] : undefined;
  // The gRPC status names a 4xx problem more precisely than the number (FAILED_PRECONDITION …).
  const code = status >= 400 && status < 500 && status !== 429 && name ? name.toLowerCase() : null;
  return providerError(ctx.provider, { status, message, code, retryAfter });
}

/** A non-2xx HTTP answer. */
export function parseHttpError(ctx: ErrorContext, status: number, text: string, headers: Record<string, string | string[] | undefined>): GatewayError {
  const e = readYandexError(tryParseJson(text));
  return build(ctx, status, e, rawErrorMessage(text, status), headerValue(headers, 'retry-after'));
}

/** An error line inside a stream that had already answered 200. */
export function streamError(ctx: ErrorContext, value: unknown): GatewayError {
  const e = readYandexError(value);
  const status = e?.httpCode ?? (e?.grpcCode !== undefined ? GRPC[e.grpcCode]?.[1] : undefined) ?? 502;
  return build(ctx, status, e, 'the stream reported an error');
}
