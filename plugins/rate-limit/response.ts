/**
 * What `rate-limit` tells the client: OpenAI's `x-ratelimit-*` headers on every response, and the
 * 429 (or the 503 when the store is down and `fail_open` is off) in OpenAI's shape and wording.
 * Messages name the dimension (`per key`), never a key or its id.
 */
import { GatewayError } from '../../core/errors.js';
import type { LimitCheck, LimitDecision, LimitState } from '../../core/stores/kv.js';
import type { CheckInfo, CompiledRule, Unit } from './rules.js';

/** OpenAI's duration format: `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`. */
export function formatReset(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.ceil(ms))}ms`;
  // In whole hundredths of a second (rounded up), so no floating-point formatting per response.
  const centis = Math.ceil(ms / 10);
  if (centis < 6_000) return `${seconds(centis)}s`;
  const hours = Math.floor(centis / 360_000);
  const minutes = Math.floor((centis % 360_000) / 6_000);
  return hours ? `${hours}h${minutes}m${seconds(centis % 6_000)}s` : `${minutes}m${seconds(centis % 6_000)}s`;
}

/** Hundredths of a second as seconds without trailing zeros: 150 → `1.5`, 7 → `0.07`, 300 → `3`. */
function seconds(centis: number): string {
  const whole = Math.floor(centis / 100);
  const fraction = centis % 100;
  if (fraction === 0) return String(whole);
  return fraction % 10 === 0 ? `${whole}.${fraction / 10}` : `${whole}.${fraction < 10 ? '0' : ''}${fraction}`;
}

/** Adds the headers of the most restrictive request window and token window (the one with least room). */
export function rateLimitHeaders(decision: LimitDecision, info: readonly CheckInfo[], headers: Record<string, string>): void {
  addUnit('requests', decision, info, headers);
  addUnit('tokens', decision, info, headers);
}

function addUnit(unit: Unit, decision: LimitDecision, info: readonly CheckInfo[], headers: Record<string, string>): void {
  let best = -1;
  for (let i = 0; i < info.length; i++) {
    if (info[i]!.unit !== unit) continue;
    const s = decision.states[i]!;
    const b = best === -1 ? undefined : decision.states[best]!;
    if (!b || s.remaining < b.remaining || (s.remaining === b.remaining && s.resetMs > b.resetMs)) best = i;
  }
  if (best === -1) return;
  const state = decision.states[best]!;
  const names = HEADER_NAMES[unit];
  headers[names.limit] = String(state.limit);
  headers[names.remaining] = String(state.remaining);
  headers[names.reset] = formatReset(state.resetMs);
}

/** Header names as constants: a name built per response would be a new string to hash as a property key. */
const HEADER_NAMES = {
  requests: { limit: 'x-ratelimit-limit-requests', remaining: 'x-ratelimit-remaining-requests', reset: 'x-ratelimit-reset-requests' },
  tokens: { limit: 'x-ratelimit-limit-tokens', remaining: 'x-ratelimit-remaining-tokens', reset: 'x-ratelimit-reset-tokens' },
} as const;

/** `per minute`, `per 1h`, `per 30s`. */
function windowText(ms: number): string {
  if (ms === 60_000) return 'per minute';
  return `per ${formatReset(ms).replace(/([hm])0s$/, '$1').replace(/h0m$/, 'h')}`;
}

/** The index of the check that denied the request: the first without room, request windows before token windows. */
export function deniedCheck(decision: LimitDecision, checks: readonly LimitCheck[], info: readonly CheckInfo[]): number {
  let tokenDenial = -1;
  for (let i = 0; i < checks.length; i++) {
    if (decision.states[i]!.remaining >= checks[i]!.cost) continue;
    if (info[i]!.unit === 'requests') return i;
    if (tokenDenial === -1) tokenDenial = i;
  }
  return tokenDenial === -1 ? 0 : tokenDenial;
}

/** The 429 for a window without room. `Retry-After` is whole seconds, rounded up; `retry-after-ms` is exact. */
export function windowExceeded(info: CheckInfo, state: LimitState, cost: number, retryAfterMs: number, headers: Record<string, string>): GatewayError {
  const used = state.limit - state.remaining;
  const wait = Math.max(1, Math.ceil(retryAfterMs));
  const message = `Rate limit reached for ${info.unit} ${windowText(info.windowMs)} (per ${info.rule.label}): Limit ${state.limit}, Used ${used}, Requested ${cost}. Please try again in ${formatReset(wait)}.`;
  return rateLimited(message, wait, headers);
}

/** The 429 for a concurrency limit: a slot frees when a request in flight finishes. */
export function concurrencyExceeded(rule: CompiledRule, max: number, inUse: number, headers: Record<string, string>): GatewayError {
  return rateLimited(`Too many concurrent requests (per ${rule.label}): Limit ${max}, In use ${inUse}. Please try again when one finishes.`, 1_000, headers);
}

function rateLimited(message: string, waitMs: number, headers: Record<string, string>): GatewayError {
  return new GatewayError(429, 'rate_limit_error', 'rate_limit_exceeded', message, null, {
    ...headers,
    'retry-after': String(Math.ceil(waitMs / 1_000)),
    'retry-after-ms': String(waitMs),
  });
}

/** `fail_open: false` and the store cannot be reached. */
export function limiterUnavailable(): GatewayError {
  return new GatewayError(503, 'server_error', 'rate_limiter_unavailable', 'Rate limits cannot be checked right now, so the request was not run. Please try again shortly.', null, { 'retry-after': '1' });
}
