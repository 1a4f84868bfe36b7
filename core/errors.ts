/**
 * Every error the gateway returns to a client is a GatewayError, written by the core in the
 * OpenAI error envelope: `{"error":{"message","type","param","code"}}`. Plugins and adapters throw
 * these; only `core/server.ts` turns them into bytes.
 */

/** OpenAI-style error types. `upstream_error` is ours, for faults of a provider the client cannot fix. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'upstream_error'
  | 'timeout_error'
  /** Out of credit or past a budget (402; OpenAI's own type for an exhausted quota). */
  | 'insufficient_quota';

export interface ErrorEnvelope {
  error: { message: string; type: ErrorType; param: string | null; code: string | null; request_id?: string };
}

/**
 * Brands a GatewayError across copies of this module: a custom plugin that tsx compiles on its own
 * (`use: ./my-plugin.ts`) gets its own copy of this class, and its errors must still be answered
 * with their status and code rather than as a 500.
 */
const BRAND = Symbol.for('switchyard.GatewayError');

export class GatewayError extends Error {
  override readonly name: string = 'GatewayError';
  readonly [BRAND] = true;

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== GatewayError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  constructor(
    /** HTTP status sent to the client. */
    readonly status: number,
    readonly type: ErrorType,
    /** Stable machine-readable code, e.g. `model_not_found`. */
    readonly code: string,
    message: string,
    /** The request field at fault, when there is one. */
    readonly param: string | null = null,
    /** Extra response headers (e.g. `retry-after`). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  toEnvelope(requestId?: string): ErrorEnvelope {
    const error: ErrorEnvelope['error'] = { message: this.message, type: this.type, param: this.param, code: this.code };
    if (requestId) error.request_id = requestId;
    return { error };
  }
}

/** RFC 9110 §11.6.1: a 401 names the scheme the client should use. */
export const UNAUTHORIZED: Readonly<Record<string, string>> = { 'www-authenticate': 'Bearer realm="switchyard"' };

/** Shorthands for the errors the gateway makes most often. */
export const errors = {
  badRequest: (code: string, message: string, param: string | null = null) =>
    new GatewayError(400, 'invalid_request_error', code, message, param),
  notFound: (code: string, message: string, param: string | null = null) =>
    new GatewayError(404, 'invalid_request_error', code, message, param),
  conflict: (code: string, message: string, param: string | null = null) =>
    new GatewayError(409, 'invalid_request_error', code, message, param),
  /**
   * 401 for an unknown, wrong, revoked or expired credential: one message for every case, so a
   * caller learns nothing about which (the reason is logged by key id).
   */
  invalidApiKey: () => new GatewayError(401, 'authentication_error', 'invalid_api_key', 'Incorrect API key provided.', null, UNAUTHORIZED),
  internal: (message = 'The gateway hit an internal error; it has been logged.') =>
    new GatewayError(500, 'server_error', 'internal_error', message),
  badGateway: (code: string, message: string) => new GatewayError(502, 'upstream_error', code, message),
  timeout: (message: string) => new GatewayError(504, 'timeout_error', 'upstream_timeout', message),
  /**
   * 402 for a request the caller cannot pay for (no credit left, a budget reached): not 429, which
   * SDKs retry. `code` is `insufficient_quota` or a narrower reason (`budget_exceeded`).
   */
  paymentRequired: (message: string, code = 'insufficient_quota') => new GatewayError(402, 'insufficient_quota', code, message),
};

/**
 * A store (Redis, PostgreSQL) cannot be reached or did not answer in time. Callers that can do
 * without it (`rate-limit`'s `fail_open`, a recently seen API key) catch exactly this; anywhere else
 * it reaches the client as 503 `store_unavailable` with `Retry-After`, never as a 500. The client
 * learns only which store; `detail` (for logs) says what failed.
 */
export class StoreUnavailableError extends GatewayError {
  override readonly name = 'StoreUnavailableError';

  constructor(
    readonly store: 'kv' | 'sql',
    /** What failed, e.g. `postgres: Query read timeout`; logged, never sent to the client. */
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(503, 'server_error', 'store_unavailable', `The gateway cannot reach its ${store} store right now; please try again shortly.`, null, { 'retry-after': '1' });
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/** Converts anything thrown into a GatewayError; unknown errors become a 500 that reveals nothing. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return errors.internal();
}
