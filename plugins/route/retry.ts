/**
 * When a failed call is worth another one, and how long to wait first. A failure falls into one
 * class (`classify`); a model's `retry_on` lists the classes it retries or falls back on. A retry
 * of the same target waits a jittered exponential backoff, or what the provider asked for
 * (`Retry-After` and its cousins), capped; a fallback to another target does not wait.
 */
import { parseDuration } from '../../core/config/units.js';
import type { UpstreamTimeouts } from '../../core/http/upstream.js';
import type { GatewayError } from '../../core/errors.js';
import type { RouteConfig } from '../../schemas/types/plugins/route.js';
import type { ModelConfig } from '../../core/config/types.js';
import { headerValue } from './upstream-errors.js';

/** What kind of failure a call ended in. */
export type FailureClass = 'connection' | 'timeout' | '429' | '5xx' | 'overloaded' | 'context_length' | 'content_filter';

/** The classes that are the target's fault, which count against its circuit breaker. */
const TARGET_FAULTS: ReadonlySet<FailureClass> = new Set(['connection', 'timeout', '429', '5xx', 'overloaded']);

/** A model's retry settings, compiled once per config version. */
export interface RetryPolicy {
  readonly retryOn: ReadonlySet<FailureClass>;
  /** Further calls to one target after its first. */
  readonly retries: number;
  /** Upstream calls per request, all targets together. */
  readonly maxAttempts: number;
  /** 0: none. */
  readonly deadlineMs: number;
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  readonly retryAfterCapMs: number;
  /** The model's own upstream timeouts (`models.<id>.timeouts`), over each provider's; undefined: none. */
  readonly timeouts: Partial<UpstreamTimeouts> | undefined;
}

type RetryOnItem = NonNullable<ModelConfig['retry_on']>[number];

/** The policy of a model: its own fields over `route`'s. */
export function retryPolicy(route: RouteConfig, model: ModelConfig | undefined): RetryPolicy {
  const list: readonly RetryOnItem[] = model?.retry_on ?? route.retry_on;
  return {
    retryOn: new Set(list.map((c) => String(c) as FailureClass)),
    retries: model?.retries ?? route.retries,
    maxAttempts: model?.max_attempts ?? route.max_attempts,
    deadlineMs: parseDuration(model?.deadline ?? route.deadline)!,
    backoffBaseMs: parseDuration(route.backoff.base)!,
    backoffCapMs: parseDuration(route.backoff.cap)!,
    retryAfterCapMs: parseDuration(route.retry_after_cap)!,
    timeouts: modelTimeouts(model?.timeouts),
  };
}

function modelTimeouts(config: ModelConfig['timeouts']): Partial<UpstreamTimeouts> | undefined {
  if (!config) return undefined;
  const timeouts: { -readonly [K in keyof UpstreamTimeouts]?: number } = {};
  if (config.connect !== undefined) timeouts.connectMs = parseDuration(config.connect)!;
  if (config.first_byte !== undefined) timeouts.firstByteMs = parseDuration(config.first_byte)!;
  if (config.total !== undefined) timeouts.totalMs = parseDuration(config.total)!;
  return Object.keys(timeouts).length ? timeouts : undefined;
}

const CONNECTION_CODES = new Set(['upstream_unreachable', 'upstream_invalid_response', 'upstream_stream_error', 'upstream_stream_truncated', 'upstream_stream_empty']);
const TIMEOUT_CODES = new Set(['upstream_timeout', 'upstream_connect_timeout']);
const CONTEXT_LENGTH = /context[ _-]?length|context window|maximum context|prompt is too long|too many tokens/i;
const CONTENT_FILTER = /content[ _-]?(management[ _-])?polic|content[ _-]?filter|responsible ?ai/i;

/**
 * The class of a failed call, or undefined for a failure no other call would fix (the client's
 * own 4xx). `upstreamStatus` is the provider's HTTP status when it answered (the error's `status`
 * is what the client would see: a provider's 500 becomes a 502, its 529 a 503). A failure after a
 * 2xx — an error event in a stream — is judged by the error's own status.
 */
export function classify(error: GatewayError, upstreamStatus: number | undefined): FailureClass | undefined {
  if (TIMEOUT_CODES.has(error.code)) return 'timeout';
  if (CONNECTION_CODES.has(error.code)) return 'connection';
  const status = upstreamStatus !== undefined && (upstreamStatus < 200 || upstreamStatus >= 300) ? upstreamStatus : error.status;
  if (status === 529 || /overloaded/i.test(error.code)) return 'overloaded';
  if (status === 429) return '429';
  if (status === 408) return 'timeout';
  if (status >= 500 || status < 400) return '5xx';
  if (error.code === 'context_length_exceeded' || ((status === 400 || status === 413) && CONTEXT_LENGTH.test(error.message))) return 'context_length';
  if (error.code === 'content_filter' || error.code === 'content_policy_violation' || (status === 400 && CONTENT_FILTER.test(error.message))) return 'content_filter';
  return undefined;
}

/** Failures the same target would repeat for the same request: only another target can help. */
const FALLBACK_ONLY: ReadonlySet<FailureClass> = new Set(['context_length', 'content_filter']);

/** True when calling the same target again could end differently. */
export function sameTargetMayRecover(kind: FailureClass): boolean {
  return !FALLBACK_ONLY.has(kind);
}

/** True when a failure of this class counts against the target's circuit breaker. */
export function isTargetFault(kind: FailureClass | undefined): boolean {
  return kind !== undefined && TARGET_FAULTS.has(kind);
}

/** Full jitter: a random wait between 0 and `min(cap, base × 2^retry)` (`retry` counts from 0). */
export function backoffMs(policy: RetryPolicy, retry: number): number {
  return Math.random() * Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** retry);
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * How long the provider asked the caller to wait, in ms, from its response headers:
 * `retry-after-ms`, then `Retry-After` (seconds or an HTTP date), then — on a 429 —
 * OpenAI's `x-ratelimit-reset-requests` (`1s`, `6m0s`, `20ms`). Undefined when it said nothing usable.
 */
export function providerRetryDelayMs(headers: Headers, status: number, now = Date.now()): number | undefined {
  const ms = Number(headerValue(headers, 'retry-after-ms'));
  if (headerValue(headers, 'retry-after-ms') !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  const after = retryAfterMs(headerValue(headers, 'retry-after'), now);
  if (after !== undefined) return after;
  if (status === 429) return goDurationMs(headerValue(headers, 'x-ratelimit-reset-requests'));
  return undefined;
}

/** `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A Go-style duration as OpenAI sends it: `6m0s`, `1.5s`, `20ms`, `1h2m`. */
function goDurationMs(value: string | undefined): number | undefined {
  const m = value && /^\s*(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?\s*$/.exec(value);
  if (!m || !(m[1] || m[2] || m[3] || m[4])) return undefined;
  return Number(m[1] ?? 0) * 3_600_000 + Number(m[2] ?? 0) * 60_000 + Number(m[3] ?? 0) * 1000 + Number(m[4] ?? 0);
}

/** Resolves after `ms`, or rejects with `signal`'s reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const done = (): void => {
      signal.removeEventListener('abort', stop);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const stop = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', stop, { once: true });
  });
}
