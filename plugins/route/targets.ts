/**
 * What `route` knows about each target (provider + upstream model) for the life of the process:
 * its circuit breaker, calls in flight, a moving average of its time to first byte, and its call
 * counts. Strategies read it to order targets, `invoke` writes it, the metrics and
 * `GET /admin/targets` show it. It is keyed by the target's identity, not by a config version, so
 * a reload keeps it; so does the per-group state of the strategies (`GroupState`).
 */
import { Breaker } from './breaker.js';

export class TargetState {
  readonly breaker = new Breaker();
  /** Calls started and not yet over (a stream counts until it ends). */
  inFlight = 0;
  /** Moving average (EWMA) of the time to first byte — to the first chunk for a stream — in ms; NaN before the first. */
  latencyMs = NaN;
  /** `performance.now()` of the last measurement; 0 when never measured. */
  measuredAt = 0;
  calls = 0;
  failures = 0;
  /**
   * Named by a config (`models:`), rather than only by a client through a glob or a
   * `provider/model` id: such targets are always kept and always in the metrics.
   */
  configured = false;

  constructor(
    readonly provider: string,
    readonly model: string,
    /** `provider/model`. */
    readonly id: string,
  ) {}

  /** A call's time to first byte (ms). */
  measured(ms: number, decay: number, now: number): void {
    this.latencyMs = Number.isNaN(this.latencyMs) ? ms : this.latencyMs + decay * (ms - this.latencyMs);
    this.measuredAt = now;
  }

  /**
   * A call that failed by the target's fault counts as at least twice the average: a target that
   * fails fast must not look fast. Before any measurement a failure says nothing about speed.
   */
  failedAfter(ms: number, decay: number, now: number): void {
    if (!Number.isNaN(this.latencyMs)) this.measured(Math.max(ms, 2 * this.latencyMs), decay, now);
  }
}

/**
 * Most target states kept for targets no config names. Globs and `provider/model` ids let clients
 * name targets, so the map is bounded: past this size, idle ones with a closed breaker are dropped.
 */
const MAX_UNCONFIGURED = 4096;

/** Most targets named only by clients that metrics and `/admin/targets` show. */
const MAX_LISTED_UNCONFIGURED = 100;

/** Every target's state, by `provider/model`. */
export class TargetRegistry {
  private readonly byId = new Map<string, TargetState>();
  private unconfigured = 0;

  /** The state of a target, created on first use. */
  get(provider: string, model: string): TargetState {
    const id = `${provider}/${model}`;
    let state = this.byId.get(id);
    if (!state) {
      if (this.unconfigured >= MAX_UNCONFIGURED) this.prune();
      state = new TargetState(provider, model, id);
      this.byId.set(id, state);
      this.unconfigured++;
    }
    return state;
  }

  /** The state of a target a config names (kept for good). */
  configured(provider: string, model: string): TargetState {
    const state = this.get(provider, model);
    if (!state.configured) {
      state.configured = true;
      this.unconfigured--;
    }
    return state;
  }

  find(id: string): TargetState | undefined {
    return this.byId.get(id);
  }

  values(): IterableIterator<TargetState> {
    return this.byId.values();
  }

  /**
   * The targets worth showing (metrics, `/admin/targets`), by id: every one a config names, and
   * at most `MAX_LISTED_UNCONFIGURED` named only by clients, while their breaker is not closed.
   * Bounded, so a metric's label sets are too.
   */
  listed(): TargetState[] {
    const out: TargetState[] = [];
    let others = 0;
    for (const t of this.byId.values()) {
      if (t.configured || (t.breaker.state !== 'closed' && others++ < MAX_LISTED_UNCONFIGURED)) out.push(t);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private prune(): void {
    for (const [id, s] of this.byId) {
      if (!s.configured && s.inFlight === 0 && s.breaker.state === 'closed') {
        this.byId.delete(id);
        this.unconfigured--;
      }
    }
  }
}

/** Per-process state of one group of targets (a `models:` key), across reloads: what its strategy remembers. */
export class GroupState {
  /** Smooth weighted round-robin: each member's current weight, by member identity. */
  private readonly current = new Map<string, { current: number }>();
  /** `least-latency`: accumulated share of exploration; a whole one sends a request exploring. */
  exploreCredit = 0;
  /** `least-busy`: the member picked last (the next scan starts after it, so tied members take turns). */
  rotation = -1;

  /** The round-robin slot of a member (created at zero). */
  slot(member: string): { current: number } {
    let slot = this.current.get(member);
    if (!slot) {
      slot = { current: 0 };
      this.current.set(member, slot);
    }
    return slot;
  }
}

/** Group states by `models:` key. Bounded by the keys configs have named. */
export class GroupRegistry {
  private readonly byKey = new Map<string, GroupState>();

  get(key: string): GroupState {
    let state = this.byKey.get(key);
    if (!state) {
      state = new GroupState();
      this.byKey.set(key, state);
    }
    return state;
  }
}
