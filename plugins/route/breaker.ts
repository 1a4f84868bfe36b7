/**
 * A circuit breaker per target (provider + upstream model), after Caddy's two-method breaker: ask
 * `enter()` before a call, tell `leave()` how it went. Each target's breaker is part of its
 * `TargetState` (`targets.ts`), `route`'s process state, so a reload keeps what it learnt; with a
 * Redis store its openings and closings are shared with the other replicas (`breaker-sync.ts`).
 *
 *   closed ──N consecutive failures, or failure rate ≥ r over ≥ m calls in a window──▶ open
 *   open ──cooldown over──▶ half-open: up to `probes` calls at once
 *   half-open ──a probe succeeds──▶ closed      half-open ──a probe fails──▶ open (cooldown again)
 */
import { parseDuration } from '../../core/config/units.js';
import type { RouteConfig } from '../../schemas/types/plugins/route.js';

/** Breaker thresholds, compiled once per config version. */
export interface BreakerSettings {
  readonly enabled: boolean;
  readonly failures: number;
  readonly failureRate: number;
  readonly minRequests: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly probes: number;
  /** Share openings, closings and probes with the other replicas (Redis store only). */
  readonly shared: boolean;
}

export function breakerSettings(config: RouteConfig['breaker']): BreakerSettings {
  return {
    enabled: config.enabled,
    failures: config.failures,
    failureRate: config.failure_rate,
    minRequests: config.min_requests,
    windowMs: parseDuration(config.window)!,
    cooldownMs: parseDuration(config.cooldown)!,
    probes: config.half_open_probes,
    shared: config.shared,
  };
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** How a call let through by `enter()` went: a target fault, a success, or neither (the client left, the deadline cut it). */
export type CallOutcome = 'success' | 'failure' | 'neutral';

/** What `enter()` granted: a normal call, a half-open probe, or nothing (skip the target). */
export type Admission = 'call' | 'probe' | false;

/** A change of state `leave()` caused, for the replicas to hear of. */
export type Transition = 'opened' | 'closed' | undefined;

export class Breaker {
  state: BreakerState = 'closed';
  private consecutive = 0;
  private windowStart = 0;
  private calls = 0;
  private failed = 0;
  /** When an open breaker lets probes through (ms, `performance.now()`). */
  openUntil = 0;
  private probing = 0;

  /** Whether a call may go to the target now. A `probe` must be followed by `leave()`. */
  enter(now: number, s: BreakerSettings): Admission {
    if (this.state === 'closed') return 'call';
    if (this.state === 'open') {
      if (now < this.openUntil) return false;
      this.state = 'half_open';
      this.probing = 0;
    }
    if (this.probing >= s.probes) return false;
    this.probing++;
    return 'probe';
  }

  /** Whether `enter()` would let a call through now (without taking a probe slot). */
  admits(now: number, s: BreakerSettings): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') return now >= this.openUntil;
    return this.probing < s.probes;
  }

  leave(admission: Admission, outcome: CallOutcome, now: number, s: BreakerSettings): Transition {
    if (admission === 'probe') {
      this.probing = Math.max(0, this.probing - 1);
      if (this.state !== 'half_open') return undefined;
      if (outcome === 'success') return this.close();
      if (outcome === 'failure') return this.open(now, s.cooldownMs);
      return undefined;
    }
    if (outcome === 'neutral' || this.state !== 'closed') return undefined;
    if (now - this.windowStart >= s.windowMs) {
      this.windowStart = now;
      this.calls = this.failed = 0;
    }
    this.calls++;
    if (outcome === 'success') {
      this.consecutive = 0;
      return undefined;
    }
    this.failed++;
    this.consecutive++;
    if (this.consecutive >= s.failures || (this.calls >= s.minRequests && this.failed / this.calls >= s.failureRate)) return this.open(now, s.cooldownMs);
    return undefined;
  }

  /** Another replica opened this target's breaker, for `ms` more: skip the target here too. */
  openedElsewhere(now: number, ms: number): void {
    if (this.state === 'open' && this.openUntil >= now + ms) return;
    this.open(now, ms);
  }

  /** Another replica's probe succeeded: the target is back. */
  closedElsewhere(): void {
    if (this.state !== 'closed') this.close();
  }

  private open(now: number, cooldownMs: number): Transition {
    this.state = 'open';
    this.openUntil = now + cooldownMs;
    this.probing = 0;
    return 'opened';
  }

  private close(): Transition {
    this.state = 'closed';
    this.consecutive = this.calls = this.failed = 0;
    this.windowStart = 0;
    return 'closed';
  }
}
