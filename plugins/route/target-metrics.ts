/**
 * Each target's state in Prometheus, read at scrape time from `route`'s process state (nothing is
 * counted on the hot path twice). Labels: `provider`, `model` (the upstream model) and `target`
 * (`provider/model`) — never a key or anything from a request's body. The label sets are bounded:
 * every target a config names, plus at most 100 targets named only by clients (glob keys,
 * `provider/model` ids) while their breaker is not closed (`TargetRegistry.listed`, which
 * `GET /admin/targets` shows too).
 */
import type { GatewayMetrics } from '../../core/metrics.js';
import type { TargetRegistry, TargetState } from './targets.js';

export const TARGET_METRICS = {
  inFlight: 'switchyard_route_target_in_flight',
  latency: 'switchyard_route_target_latency_seconds',
  breaker: 'switchyard_route_target_breaker_state',
  cooldown: 'switchyard_route_target_breaker_cooldown_seconds',
  healthy: 'switchyard_route_target_healthy',
  calls: 'switchyard_route_target_calls_total',
} as const;

/** `switchyard_route_target_breaker_state` values. */
export const BREAKER_STATE_VALUES = { closed: 0, half_open: 1, open: 2 } as const;

const LABELS = ['provider', 'model', 'target'] as const;

const labelsOf = (t: TargetState) => ({ provider: t.provider, model: t.model, target: t.id });

/** Registers the target series (once per gateway: `route`'s process state calls it). */
export function registerTargetMetrics(metrics: GatewayMetrics, targets: TargetRegistry): void {
  metrics.gauge(TARGET_METRICS.inFlight, 'Calls in flight to each target from this process (a stream counts until it ends).', LABELS, function () {
    this.reset();
    for (const t of targets.listed()) this.set(labelsOf(t), t.inFlight);
  });
  metrics.gauge(TARGET_METRICS.latency, "Moving average (EWMA) of each target's time to first byte (to the first chunk for streams), in seconds; absent until measured.", LABELS, function () {
    this.reset();
    for (const t of targets.listed()) if (!Number.isNaN(t.latencyMs)) this.set(labelsOf(t), t.latencyMs / 1000);
  });
  metrics.gauge(TARGET_METRICS.breaker, "Each target's circuit breaker: 0 closed, 1 half-open, 2 open.", LABELS, function () {
    this.reset();
    const now = performance.now();
    for (const t of targets.listed()) this.set(labelsOf(t), BREAKER_STATE_VALUES[effectiveState(t, now)]);
  });
  metrics.gauge(TARGET_METRICS.cooldown, 'Seconds until an open breaker lets a probe through (0 when not open).', LABELS, function () {
    this.reset();
    const now = performance.now();
    for (const t of targets.listed()) this.set(labelsOf(t), effectiveState(t, now) === 'open' ? (t.breaker.openUntil - now) / 1000 : 0);
  });
  metrics.gauge(TARGET_METRICS.healthy, 'Whether a target takes traffic: 1 when its breaker is closed, else 0.', LABELS, function () {
    this.reset();
    for (const t of targets.listed()) this.set(labelsOf(t), t.breaker.state === 'closed' ? 1 : 0);
  });
  metrics.counter(TARGET_METRICS.calls, 'Calls to each target from this process, by outcome (success | failure: a connection failure, timeout, 429, 5xx or overload).', [...LABELS, 'outcome'], function () {
    this.reset();
    for (const t of targets.listed()) {
      this.inc({ ...labelsOf(t), outcome: 'success' }, t.calls - t.failures);
      this.inc({ ...labelsOf(t), outcome: 'failure' }, t.failures);
    }
  });
}

/** An open breaker whose cooldown is over is half-open to the next call. */
function effectiveState(t: TargetState, now: number): 'closed' | 'half_open' | 'open' {
  const s = t.breaker.state;
  return s === 'open' && now >= t.breaker.openUntil ? 'half_open' : s;
}
