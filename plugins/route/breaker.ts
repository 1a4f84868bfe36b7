/**
 * A circuit breaker per target (provider + upstream model), after Caddy's two-method breaker: ask
 * `enter()` before a call, tell `leave()` how it went. Breakers are `route`'s process state, so a
 * reload keeps what they learnt; they live in this process only (replicas do not share them yet).
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
  };
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** How a call let through by `enter()` went: a target fault, a success, or neither (the client left, the deadline cut it). */
export type CallOutcome = 'success' | 'failure' | 'neutral';

/** What `enter()` granted: a normal call, a half-open probe, or nothing (skip the target). */
export type Admission = 'call' | 'probe' | false;

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

  leave(admission: Admission, outcome: CallOutcome, now: number, s: BreakerSettings): void {
    if (admission === 'probe') {
      this.probing = Math.max(0, this.probing - 1);
      if (this.state !== 'half_open') return;
      if (outcome === 'success') this.close();
      else if (outcome === 'failure') this.open(now, s);
      return;
    }
    if (outcome === 'neutral' || this.state !== 'closed') return;
    if (now - this.windowStart >= s.windowMs) {
      this.windowStart = now;
      this.calls = this.failed = 0;
    }
    this.calls++;
    if (outcome === 'success') {
      this.consecutive = 0;
      return;
    }
    this.failed++;
    this.consecutive++;
    if (this.consecutive >= s.failures || (this.calls >= s.minRequests && this.failed / this.calls >= s.failureRate)) this.open(now, s);
  }

  private open(now: number, s: BreakerSettings): void {
    this.state = 'open';
    this.openUntil = now + s.cooldownMs;
    this.probing = 0;
  }

  private close(): void {
    this.state = 'closed';
    this.consecutive = this.calls = this.failed = 0;
    this.windowStart = 0;
  }
}

/**
 * Most breakers kept. Globs and `provider/model` ids let clients name targets, so the map is
 * bounded: past this size, closed breakers (which remember only counts) are dropped.
 */
const MAX_BREAKERS = 4096;

/** Every target's breaker, by `provider/model`. */
export class Breakers {
  private readonly byTarget = new Map<string, Breaker>();

  for(provider: string, model: string): Breaker {
    const key = `${provider}/${model}`;
    let breaker = this.byTarget.get(key);
    if (!breaker) {
      if (this.byTarget.size >= MAX_BREAKERS) for (const [k, b] of this.byTarget) if (b.state === 'closed') this.byTarget.delete(k);
      breaker = new Breaker();
      this.byTarget.set(key, breaker);
    }
    return breaker;
  }
}
