/**
 * The pieces of `route`'s resilience on their own: the circuit breaker's states, the failure
 * classes, and the provider's "retry after" headers.
 */
import t from 'tap';
import { Breaker, type BreakerSettings } from '../../plugins/route/breaker.js';
import { classify, providerRetryDelayMs } from '../../plugins/route/retry.js';
import { GatewayError } from '../../core/errors.js';

const settings: BreakerSettings = { enabled: true, failures: 5, failureRate: 0.5, minRequests: 10, windowMs: 1000, cooldownMs: 100, probes: 2, shared: false };

t.test('a breaker opens on the failure rate over a window once it has enough calls', async (t) => {
  const b = new Breaker();
  for (let i = 0; i < 9; i++) b.leave(b.enter(i, settings), i % 2 ? 'failure' : 'success', i, settings);
  t.equal(b.state, 'closed', '4 of 9 failed, below min_requests');
  b.leave(b.enter(9, settings), 'failure', 9, settings);
  t.equal(b.state, 'open', '5 of 10 failed: 50%');
  t.equal(b.enter(50, settings), false, 'skipped while cooling down');
});

t.test('a new window starts the rate afresh', async (t) => {
  const b = new Breaker();
  for (let i = 0; i < 8; i++) b.leave(b.enter(0, settings), i % 2 ? 'failure' : 'success', 0, settings);
  for (let i = 0; i < 8; i++) b.leave(b.enter(1500, settings), i % 2 ? 'failure' : 'success', 1500, settings);
  t.equal(b.state, 'closed', '8 of 16 failed across two windows, but only 8 calls in this one');
});

t.test('half-open lets `half_open_probes` calls through at once; a failed probe opens it again', async (t) => {
  const b = new Breaker();
  for (let i = 0; i < 5; i++) b.leave(b.enter(0, settings), 'failure', 0, settings);
  t.equal(b.state, 'open');
  const p1 = b.enter(100, settings);
  const p2 = b.enter(100, settings);
  t.same([p1, p2, b.enter(100, settings)], ['probe', 'probe', false]);
  b.leave(p1, 'neutral', 101, settings);
  t.equal(b.state, 'half_open', 'a neutral probe decides nothing');
  b.leave(p2, 'failure', 102, settings);
  t.equal(b.state, 'open');
  t.equal(b.openUntil, 202);
  const p3 = b.enter(202, settings);
  b.leave(p3, 'success', 203, settings);
  t.equal(b.state, 'closed');
});

t.test('failure classes: the upstream status decides, a stream error its own status, the client 4xx none', async (t) => {
  const e = (status: number, code: string, message = 'x') => new GatewayError(status, 'upstream_error', code, message);
  t.equal(classify(e(503, 'upstream_error'), 529), 'overloaded');
  t.equal(classify(e(429, 'rate_limit_exceeded'), 429), '429');
  t.equal(classify(e(502, 'upstream_error'), 500), '5xx');
  t.equal(classify(e(502, 'upstream_error'), 200), '5xx', 'an error event in a 200 stream');
  t.equal(classify(e(502, 'upstream_unreachable'), undefined), 'connection');
  t.equal(classify(e(504, 'upstream_timeout'), undefined), 'timeout');
  t.equal(classify(e(400, 'context_length_exceeded'), 400), 'context_length');
  t.equal(classify(e(400, 'upstream_400', 'prompt is too long: 210000 tokens'), 400), 'context_length');
  t.equal(classify(e(400, 'content_policy_violation'), 400), 'content_filter');
  t.equal(classify(e(400, 'invalid_value'), 400), undefined);
  t.equal(classify(e(404, 'model_not_found'), 404), undefined);
});

t.test('retry-after-ms, Retry-After (seconds, HTTP date) and x-ratelimit-reset-requests on a 429', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  t.equal(providerRetryDelayMs({ 'retry-after-ms': '250', 'retry-after': '9' }, 429, now), 250);
  t.equal(providerRetryDelayMs({ 'retry-after': '2' }, 503, now), 2000);
  t.equal(providerRetryDelayMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }, 503, now), 3000);
  t.equal(providerRetryDelayMs({ 'x-ratelimit-reset-requests': '6m0s' }, 429, now), 360_000);
  t.equal(providerRetryDelayMs({ 'x-ratelimit-reset-requests': '20ms' }, 429, now), 20);
  t.equal(providerRetryDelayMs({ 'x-ratelimit-reset-requests': '1.5s' }, 500, now), undefined, 'only on a 429');
  t.equal(providerRetryDelayMs({ 'retry-after': 'soon' }, 429, now), undefined);
});
